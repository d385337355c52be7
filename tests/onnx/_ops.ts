// ONNX operator adapters for the conformance test: one per op type, mapping
// a decoded NodeProto (attributes, opset) and host tensors onto the wasm
// shims in runtime/backends/wasm/, and the results back to ONNX layout.
//
// An adapter throws Unsupported(reason) for a case our engine does not
// cover (1-D/3-D spatial, MaxPool dilations, ...): the test counts it as
// skipped with that reason. Shims are loaded at run time (see loadShims), so
// an op whose shim or kernel does not exist yet is reported as "not yet
// available" instead of breaking the whole suite.
import type { Engine } from "../../runtime/engine/engine.ts";
import type { LaunchOptions } from "../../runtime/backends/wasm/_launch.ts";
import {
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  type OnnxNode,
} from "../../runtime/io/onnx.ts";

type Conv2dShim = typeof import("../../runtime/backends/wasm/conv2d.ts");
type ConvTranspose2dShim =
  typeof import("../../runtime/backends/wasm/conv_transpose2d.ts");
type GemmShim = typeof import("../../runtime/backends/wasm/gemm.ts");
type PoolShim = typeof import("../../runtime/backends/wasm/pool.ts");
type LrnShim = typeof import("../../runtime/backends/wasm/lrn.ts");
type BatchNormShim = typeof import("../../runtime/backends/wasm/batchnorm.ts");
type VunaryShim = typeof import("../../runtime/backends/wasm/vunary.ts");
type LossShim = typeof import("../../runtime/backends/wasm/loss.ts");

/** The shim modules the adapters use, by file name (without .ts). */
export interface Shims {
  conv2d: Conv2dShim;
  conv_transpose2d: ConvTranspose2dShim;
  gemm: GemmShim;
  pool: PoolShim;
  lrn: LrnShim;
  batchnorm: BatchNormShim;
  vunary: VunaryShim;
  loss: LossShim;
}

/** The functions each adapter needs from each shim module. */
const NEEDED: { [K in keyof Shims]: (keyof Shims[K])[] } = {
  conv2d: ["conv2dForward", "conv2dOutputSize"],
  conv_transpose2d: ["convTranspose2dForward", "convTranspose2dOutputSize"],
  gemm: ["gemm"],
  pool: [
    "pool2dOutputSize",
    "maxPool2dForward",
    "avgPool2dForward",
    "globalAvgPoolForward",
  ],
  lrn: ["lrnForward"],
  batchnorm: ["batchNormForwardEval", "batchNormForwardTrain"],
  vunary: ["relu", "leakyRelu", "sigmoid", "tanh"],
  loss: ["softmax"],
};

/**
 * Imports every shim module; a module that is missing, fails to load or
 * lacks a needed function is listed in `missing` with the reason.
 */
export async function loadShims(): Promise<{
  shims: Partial<Shims>;
  missing: Partial<Record<keyof Shims, string>>;
}> {
  const shims: Partial<Shims> = {};
  const missing: Partial<Record<keyof Shims, string>> = {};
  for (const name of Object.keys(NEEDED) as (keyof Shims)[]) {
    // A computed specifier: a missing file must not stop the test loading.
    const url = new URL(
      `../../runtime/backends/wasm/${name}.ts`,
      import.meta.url,
    );
    try {
      const mod = await import(url.href);
      const absent = (NEEDED[name] as string[]).filter((f) =>
        typeof mod[f] !== "function"
      );
      if (absent.length) {
        missing[name] = `${name}.ts has no ${absent.join(", ")}`;
      } else (shims as Record<string, unknown>)[name] = mod;
    } catch (e) {
      missing[name] = `${name}.ts cannot be loaded (${
        String((e as Error).message ?? e).split("\n")[0]
      })`;
    }
  }
  return { shims, missing };
}

/** A dense row-major f32 tensor on the host. */
export interface HostTensor {
  dims: number[];
  data: Float32Array;
}

/** A case our engine does not cover; the reason is reported. */
export class Unsupported extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "Unsupported";
  }
}

/** Engine allocations of one case, freed together afterwards. */
export class Scratch {
  readonly engine: Engine;
  #ptrs: number[] = [];
  constructor(engine: Engine) {
    this.engine = engine;
  }
  /** Copies `data` into engine memory. */
  upload(data: ArrayLike<number>): number {
    const p = this.alloc(data.length);
    this.engine.f32(p, data.length).set(data);
    return p;
  }
  /** Room for `n` f32 (or i32) values. */
  alloc(n: number): number {
    const p = this.engine.allocF32(Math.max(1, n));
    this.#ptrs.push(p);
    return p;
  }
  download(ptr: number, n: number): Float32Array {
    return this.engine.download(ptr, n);
  }
  downloadI32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.engine.u8(ptr, n * 4).slice().buffer);
  }
  freeAll(): void {
    for (const p of this.#ptrs) this.engine.free(p);
    this.#ptrs = [];
  }
}

export interface OpContext {
  engine: Engine;
  node: OnnxNode;
  /** The model's ai.onnx opset version. */
  opset: number;
  /** Node inputs in order; null for an omitted optional input. */
  inputs: (HostTensor | null)[];
  /** simd or scalar kernels, thread cap. */
  options: LaunchOptions;
  mem: Scratch;
}

export interface OpAdapter {
  /** Shim modules this adapter calls. */
  shims: (keyof Shims)[];
  /**
   * Runs the node; returns one tensor per node output (null: an optional
   * output this adapter does not produce, which is then not compared).
   */
  run(ctx: OpContext, shims: Shims): (HostTensor | null)[];
}

// ---- attribute and shape helpers ----

function input(ctx: OpContext, i: number, what: string): HostTensor {
  const t = ctx.inputs[i];
  if (!t) {
    throw new Error(`${ctx.node.opType}: input ${i} (${what}) is missing`);
  }
  return t;
}

function count(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Rejects spatial ranks other than 2 (NCHW). */
function require2d(op: string, x: HostTensor): void {
  if (x.dims.length !== 4) {
    throw new Unsupported(
      `${x.dims.length - 2}-D ${op} (the engine implements 2-D only)`,
    );
  }
}

/** A pair attribute (H, W), or the default. */
function pair(node: OnnxNode, name: string, fallback: number): number[] {
  const v = attrInts(node, name, null);
  if (!v) return [fallback, fallback];
  if (v.length !== 2) {
    throw new Error(`${node.opType}: ${name} has ${v.length} values, want 2`);
  }
  return v;
}

/**
 * Explicit pads [top, left, bottom, right] from pads/auto_pad (ONNX
 * Conv/Pool): SAME_* pads so that out = ceil(in / stride), the odd pixel at
 * the end (SAME_UPPER) or the beginning (SAME_LOWER); VALID pads nothing.
 */
function resolvePads(
  node: OnnxNode,
  inSize: number[],
  kernel: number[],
  strides: number[],
  dilations: number[],
): number[] {
  const autoPad = attrString(node, "auto_pad", "NOTSET");
  if (autoPad === "NOTSET") {
    const pads = attrInts(node, "pads", null) ?? [0, 0, 0, 0];
    if (pads.length !== 4) {
      throw new Error(`${node.opType}: pads has ${pads.length} values, want 4`);
    }
    return pads;
  }
  if (autoPad === "VALID") return [0, 0, 0, 0];
  if (autoPad !== "SAME_UPPER" && autoPad !== "SAME_LOWER") {
    throw new Error(`${node.opType}: unknown auto_pad ${autoPad}`);
  }
  const begin: number[] = [], end: number[] = [];
  for (let i = 0; i < 2; i++) {
    const out = Math.ceil(inSize[i] / strides[i]);
    const total = Math.max(
      0,
      (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - inSize[i],
    );
    const small = Math.floor(total / 2);
    begin.push(autoPad === "SAME_UPPER" ? small : total - small);
    end.push(autoPad === "SAME_UPPER" ? total - small : small);
  }
  return [begin[0], begin[1], end[0], end[1]];
}

function checkOutputSize(
  op: string,
  got: { outHeight: number; outWidth: number },
  outH: number,
  outW: number,
): void {
  if (got.outHeight !== outH || got.outWidth !== outW) {
    throw new Error(
      `${op}: shim output size ${got.outHeight}x${got.outWidth} differs from ONNX ${outH}x${outW}`,
    );
  }
}

// ---- adapters ----

const Conv: OpAdapter = {
  shims: ["conv2d"],
  run(ctx, { conv2d }) {
    const { node } = ctx;
    const x = input(ctx, 0, "X"), w = input(ctx, 1, "W");
    const b = ctx.inputs[2] ?? null;
    require2d("convolution", x);
    const [N, C, H, W] = x.dims;
    const [M, , R, S] = w.dims;
    const kernel = attrInts(node, "kernel_shape", null) ?? [R, S];
    if (kernel[0] !== R || kernel[1] !== S) {
      throw new Error(
        `Conv: kernel_shape ${kernel} does not match W ${w.dims}`,
      );
    }
    const strides = pair(node, "strides", 1);
    const dilations = pair(node, "dilations", 1);
    const [pt, pl, pb, pr] = resolvePads(
      node,
      [H, W],
      kernel,
      strides,
      dilations,
    );
    const s = {
      batch: N,
      inChannels: C,
      inHeight: H,
      inWidth: W,
      outChannels: M,
      kernelH: R,
      kernelW: S,
      strideH: strides[0],
      strideW: strides[1],
      padTop: pt,
      padBottom: pb,
      padLeft: pl,
      padRight: pr,
      dilationH: dilations[0],
      dilationW: dilations[1],
      groups: attrInt(node, "group", 1),
      padMode: "zero" as const,
    };
    const { outHeight, outWidth } = conv2d.conv2dOutputSize(s);
    const n = N * M * outHeight * outWidth;
    const { mem } = ctx;
    const y = mem.alloc(n);
    conv2d.conv2dForward(
      ctx.engine,
      s,
      mem.upload(x.data),
      mem.upload(w.data),
      b ? mem.upload(b.data) : 0,
      y,
      ctx.options,
    );
    return [{ dims: [N, M, outHeight, outWidth], data: mem.download(y, n) }];
  },
};

/**
 * ConvTranspose pads per ONNX (opset 1-11): explicit pads; or, given
 * output_shape (or SAME_* auto_pad, which asks for out = in * stride),
 * total = stride·(in−1) + output_padding + (k−1)·d + 1 − out split
 * SAME_UPPER: begin = ⌊total/2⌋, otherwise begin = total − ⌊total/2⌋. A
 * negative total (an output larger than the natural one) becomes extra
 * output padding at the end, which is what the reference computes.
 */
function convTransposePads(
  node: OnnxNode,
  inSize: number[],
  kernel: number[],
  strides: number[],
  dilations: number[],
  outputPadding: number[],
): { begin: number[]; end: number[]; outPad: number[] } {
  const autoPad = attrString(node, "auto_pad", "NOTSET");
  let target = attrInts(node, "output_shape", null);
  if (target && target.length !== 2) {
    // output_shape may include N and C.
    target = target.slice(-2);
  }
  if (!target && (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER")) {
    target = [inSize[0] * strides[0], inSize[1] * strides[1]];
  }
  if (!target) {
    const pads = autoPad === "VALID"
      ? [0, 0, 0, 0]
      : attrInts(node, "pads", null) ?? [0, 0, 0, 0];
    return {
      begin: [pads[0], pads[1]],
      end: [pads[2], pads[3]],
      outPad: outputPadding.slice(),
    };
  }
  const begin: number[] = [], end: number[] = [], outPad: number[] = [];
  for (let i = 0; i < 2; i++) {
    const total = strides[i] * (inSize[i] - 1) + outputPadding[i] +
      (kernel[i] - 1) * dilations[i] + 1 - target[i];
    if (total < 0) {
      begin.push(0);
      end.push(0);
      outPad.push(outputPadding[i] - total);
      continue;
    }
    const half = Math.floor(total / 2);
    begin.push(autoPad === "SAME_UPPER" ? half : total - half);
    end.push(autoPad === "SAME_UPPER" ? total - half : half);
    outPad.push(outputPadding[i]);
  }
  return { begin, end, outPad };
}

const ConvTranspose: OpAdapter = {
  shims: ["conv_transpose2d"],
  run(ctx, { conv_transpose2d }) {
    const { node } = ctx;
    const x = input(ctx, 0, "X"), w = input(ctx, 1, "W");
    const b = ctx.inputs[2] ?? null;
    require2d("transposed convolution", x);
    const [N, C, H, W] = x.dims;
    const [, Mg, R, S] = w.dims;
    const groups = attrInt(node, "group", 1);
    const kernel = attrInts(node, "kernel_shape", null) ?? [R, S];
    if (kernel[0] !== R || kernel[1] !== S) {
      throw new Error(
        `ConvTranspose: kernel_shape ${kernel} does not match W ${w.dims}`,
      );
    }
    const strides = pair(node, "strides", 1);
    const dilations = pair(node, "dilations", 1);
    const outputPadding = pair(node, "output_padding", 0);
    const { begin, end, outPad } = convTransposePads(
      node,
      [H, W],
      kernel,
      strides,
      dilations,
      outputPadding,
    );
    const M = Mg * groups;
    const s = {
      batch: N,
      inChannels: C,
      inHeight: H,
      inWidth: W,
      outChannels: M,
      kernelH: R,
      kernelW: S,
      strideH: strides[0],
      strideW: strides[1],
      padTop: begin[0],
      padBottom: end[0],
      padLeft: begin[1],
      padRight: end[1],
      dilationH: dilations[0],
      dilationW: dilations[1],
      groups,
      outputPadH: outPad[0],
      outputPadW: outPad[1],
    };
    const { outHeight, outWidth } = conv_transpose2d.convTranspose2dOutputSize(
      s,
    );
    const n = N * M * outHeight * outWidth;
    const { mem } = ctx;
    const y = mem.alloc(n);
    conv_transpose2d.convTranspose2dForward(
      ctx.engine,
      s,
      mem.upload(x.data),
      mem.upload(w.data),
      b ? mem.upload(b.data) : 0,
      y,
      ctx.options,
    );
    return [{ dims: [N, M, outHeight, outWidth], data: mem.download(y, n) }];
  },
};

/** Pool2dShape for MaxPool/AveragePool, with ONNX's output size checked. */
function poolShape(ctx: OpContext, pool: PoolShim, x: HostTensor) {
  const { node } = ctx;
  require2d("pooling", x);
  const dilations = pair(node, "dilations", 1);
  if (dilations[0] !== 1 || dilations[1] !== 1) {
    throw new Unsupported(
      "dilations other than 1 (Pool2dShape has no dilation)",
    );
  }
  const [N, C, H, W] = x.dims;
  const kernel = attrInts(node, "kernel_shape", null);
  if (!kernel || kernel.length !== 2) {
    throw new Error(`${node.opType}: kernel_shape must have 2 values`);
  }
  const strides = pair(node, "strides", 1);
  const [pt, pl, pb, pr] = resolvePads(node, [H, W], kernel, strides, [1, 1]);
  const ceilMode = attrInt(node, "ceil_mode", 0) === 1;
  const s = {
    batch: N,
    channels: C,
    inHeight: H,
    inWidth: W,
    kernelH: kernel[0],
    kernelW: kernel[1],
    strideH: strides[0],
    strideW: strides[1],
    padTop: pt,
    padBottom: pb,
    padLeft: pl,
    padRight: pr,
    ceilMode,
  };
  // ONNX: floor or ceil((in + pads − k) / stride) + 1.
  const round = ceilMode ? Math.ceil : Math.floor;
  const outH = round((H + pt + pb - kernel[0]) / strides[0]) + 1;
  const outW = round((W + pl + pr - kernel[1]) / strides[1]) + 1;
  const got = pool.pool2dOutputSize(s);
  checkOutputSize(node.opType, got, outH, outW);
  return { s, n: N * C * outH * outW, dims: [N, C, outH, outW] };
}

const MaxPool: OpAdapter = {
  shims: ["pool"],
  run(ctx, { pool }) {
    const x = input(ctx, 0, "X");
    const { s, n, dims } = poolShape(ctx, pool, x);
    const { mem } = ctx;
    const y = mem.alloc(n), argmax = mem.alloc(n);
    pool.maxPool2dForward(
      ctx.engine,
      s,
      mem.upload(x.data),
      y,
      argmax,
      ctx.options,
    );
    const out: (HostTensor | null)[] = [{ dims, data: mem.download(y, n) }];
    if (ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== "") {
      // Indices: flat index into X, row-major (storage_order 0) or with
      // H and W swapped (1); the shim gives h·W + w within the plane.
      const within = mem.downloadI32(argmax, n);
      const columnMajor = attrInt(ctx.node, "storage_order", 0) === 1;
      const plane = s.inHeight * s.inWidth;
      const perPlane = dims[2] * dims[3];
      const indices = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const p = Math.floor(i / perPlane), k = within[i];
        const h = Math.floor(k / s.inWidth), w = k % s.inWidth;
        indices[i] = p * plane + (columnMajor ? w * s.inHeight + h : k);
      }
      out.push({ dims, data: indices });
    }
    return out;
  },
};

const AveragePool: OpAdapter = {
  shims: ["pool"],
  run(ctx, { pool }) {
    const x = input(ctx, 0, "X");
    const { s, n, dims } = poolShape(ctx, pool, x);
    const { mem } = ctx;
    const y = mem.alloc(n);
    pool.avgPool2dForward(
      ctx.engine,
      s,
      attrInt(ctx.node, "count_include_pad", 0) === 1,
      mem.upload(x.data),
      y,
      ctx.options,
    );
    return [{ dims, data: mem.download(y, n) }];
  },
};

const GlobalAveragePool: OpAdapter = {
  shims: ["pool"],
  run(ctx, { pool }) {
    const x = input(ctx, 0, "X");
    require2d("global pooling", x);
    const [N, C, H, W] = x.dims;
    const { mem } = ctx;
    const y = mem.alloc(N * C);
    pool.globalAvgPoolForward(
      ctx.engine,
      N,
      C,
      H,
      W,
      mem.upload(x.data),
      y,
      ctx.options,
    );
    return [{ dims: [N, C, 1, 1], data: mem.download(y, N * C) }];
  },
};

// LRN normalises across channels only, so any spatial rank maps onto
// (N, C, D1·…·Dk, 1) exactly.
const LRN: OpAdapter = {
  shims: ["lrn"],
  run(ctx, { lrn }) {
    const { node } = ctx;
    const x = input(ctx, 0, "X");
    const [N, C] = x.dims;
    const spatial = count(x.dims.slice(2));
    const params = {
      size: attrInt(node, "size", 0),
      alpha: attrFloat(node, "alpha", 1e-4),
      beta: attrFloat(node, "beta", 0.75),
      bias: attrFloat(node, "bias", 1),
    };
    const { mem } = ctx;
    const n = x.data.length;
    const y = mem.alloc(n), scale = mem.alloc(n);
    lrn.lrnForward(
      ctx.engine,
      N,
      C,
      spatial,
      1,
      params,
      mem.upload(x.data),
      y,
      scale,
      ctx.options,
    );
    return [{ dims: x.dims, data: mem.download(y, n) }];
  },
};

/** C broadcast (unidirectionally, ONNX Gemm) to m x n on the host. */
function broadcastTo(c: HostTensor, m: number, n: number): Float32Array {
  const dims = c.dims.length === 0
    ? [1, 1]
    : c.dims.length === 1
    ? [1, c.dims[0]]
    : c.dims;
  if (dims.length !== 2) throw new Error(`Gemm: C has rank ${dims.length}`);
  const [cm, cn] = dims;
  if ((cm !== 1 && cm !== m) || (cn !== 1 && cn !== n)) {
    throw new Error(`Gemm: C ${c.dims} does not broadcast to ${m}x${n}`);
  }
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      out[i * n + j] = c.data[(cm === 1 ? 0 : i) * cn + (cn === 1 ? 0 : j)];
    }
  }
  return out;
}

const Gemm: OpAdapter = {
  shims: ["gemm"],
  run(ctx, { gemm }) {
    const { node, mem } = ctx;
    const a = input(ctx, 0, "A"), b = input(ctx, 1, "B");
    const c = ctx.inputs[2] ?? null;
    const transA = attrInt(node, "transA", 0) === 1;
    const transB = attrInt(node, "transB", 0) === 1;
    const alpha = attrFloat(node, "alpha", 1);
    const beta = c ? attrFloat(node, "beta", 1) : 0;
    const [m, k] = transA ? [a.dims[1], a.dims[0]] : a.dims;
    const n = transB ? b.dims[0] : b.dims[1];
    const y = c ? mem.upload(broadcastTo(c, m, n)) : mem.alloc(m * n);
    gemm.gemm(
      ctx.engine,
      transA,
      transB,
      m,
      n,
      k,
      alpha,
      mem.upload(a.data),
      a.dims[1],
      mem.upload(b.data),
      b.dims[1],
      beta,
      y,
      n,
      ctx.options,
    );
    return [{ dims: [m, n], data: mem.download(y, m * n) }];
  },
};

// 2-D MatMul is one gemm; stacks with identical leading dimensions run one
// gemm per matrix. Broadcast batch dimensions and 1-D operands are not
// covered.
const MatMul: OpAdapter = {
  shims: ["gemm"],
  run(ctx, { gemm }) {
    const a = input(ctx, 0, "A"), b = input(ctx, 1, "B");
    if (a.dims.length < 2 || b.dims.length < 2) {
      throw new Unsupported("1-D MatMul operand");
    }
    const batchDims = a.dims.slice(0, -2);
    if (
      batchDims.length !== b.dims.length - 2 ||
      batchDims.some((d, i) => d !== b.dims[i])
    ) {
      throw new Unsupported("broadcast batch dimensions in MatMul");
    }
    const [m, k] = a.dims.slice(-2);
    const n = b.dims[b.dims.length - 1];
    const batches = count(batchDims);
    const { mem } = ctx;
    const pa = mem.upload(a.data), pb = mem.upload(b.data);
    const y = mem.alloc(batches * m * n);
    for (let i = 0; i < batches; i++) {
      gemm.gemm(
        ctx.engine,
        false,
        false,
        m,
        n,
        k,
        1,
        pa + i * m * k * 4,
        k,
        pb + i * k * n * 4,
        n,
        0,
        y + i * m * n * 4,
        n,
        ctx.options,
      );
    }
    return [{
      dims: [...batchDims, m, n],
      data: mem.download(y, batches * m * n),
    }];
  },
};

function elementwise(
  run: (ctx: OpContext, v: VunaryShim, x: number, y: number, n: number) => void,
): OpAdapter {
  return {
    shims: ["vunary"],
    run(ctx, { vunary }) {
      const x = input(ctx, 0, "X");
      const n = x.data.length;
      const { mem } = ctx;
      const y = mem.alloc(n);
      run(ctx, vunary, mem.upload(x.data), y, n);
      return [{ dims: x.dims, data: mem.download(y, n) }];
    },
  };
}

const Relu = elementwise((ctx, v, x, y, n) =>
  v.relu(ctx.engine, x, y, n, ctx.options)
);
const LeakyRelu = elementwise((ctx, v, x, y, n) =>
  v.leakyRelu(
    ctx.engine,
    x,
    y,
    n,
    attrFloat(ctx.node, "alpha", 0.01),
    ctx.options,
  )
);
const Sigmoid = elementwise((ctx, v, x, y, n) =>
  v.sigmoid(ctx.engine, x, y, n, ctx.options)
);
const Tanh = elementwise((ctx, v, x, y, n) =>
  v.tanh(ctx.engine, x, y, n, ctx.options)
);

/**
 * Softmax as rows × cols. Opset < 13 flattens to 2-D at `axis` (default 1):
 * rows = Π dims[:axis], cols = Π dims[axis:]. Opset ≥ 13 normalises along
 * the single axis `axis` (default −1): the last axis is rows × cols as is;
 * another axis is moved last on the host (pre × axis × post → pre × post ×
 * axis), normalised, and moved back.
 */
const Softmax: OpAdapter = {
  shims: ["loss"],
  run(ctx, { loss }) {
    const x = input(ctx, 0, "X");
    const rank = x.dims.length;
    const legacy = ctx.opset < 13;
    let axis = attrInt(ctx.node, "axis", legacy ? 1 : -1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) throw new Error(`Softmax: bad axis ${axis}`);
    const pre = count(x.dims.slice(0, axis));
    const len = x.dims[axis];
    const post = count(x.dims.slice(axis + 1));
    const moveAxis = !legacy && post > 1;
    let data = x.data;
    if (moveAxis) data = swapLastTwo(data, pre, len, post);
    const [rows, cols] = legacy ? [pre, len * post] : [pre * post, len];
    const { mem } = ctx;
    const y = mem.alloc(rows * cols);
    loss.softmax(ctx.engine, mem.upload(data), y, rows, cols, ctx.options);
    let out = mem.download(y, rows * cols);
    if (moveAxis) out = swapLastTwo(out, pre, post, len);
    return [{ dims: x.dims, data: out }];
  },
};

/** [pre, a, b] → [pre, b, a] (row-major). */
function swapLastTwo(
  data: Float32Array,
  pre: number,
  a: number,
  b: number,
): Float32Array {
  const out = new Float32Array(data.length);
  for (let p = 0; p < pre; p++) {
    const base = p * a * b;
    for (let i = 0; i < a; i++) {
      for (let j = 0; j < b; j++) {
        out[base + j * a + i] = data[base + i * b + j];
      }
    }
  }
  return out;
}

/**
 * BatchNormalization over (N, C, D1·…·Dk) — any spatial rank maps onto
 * (N, C, H·W, 1) exactly. Inference mode uses the running statistics.
 * Training mode (opset ≥ 14, training_mode = 1) returns Y, running_mean,
 * running_var; ONNX updates r ← momentum·r + (1 − momentum)·batchStat with
 * the biased batch variance, our kernel r ← (1 − m)·r + m·batchStat with
 * the unbiased one (PyTorch), so m = 1 − momentum and running_var is
 * converted: onnx = M·r₀ + (ours − M·r₀)·(n − 1)/n, n = N·H·W.
 */
const BatchNormalization: OpAdapter = {
  shims: ["batchnorm"],
  run(ctx, { batchnorm }) {
    const { node, opset, mem } = ctx;
    const x = input(ctx, 0, "X");
    const gamma = input(ctx, 1, "scale"), beta = input(ctx, 2, "B");
    const mean = input(ctx, 3, "mean"), variance = input(ctx, 4, "var");
    if (x.dims.length < 2) {
      throw new Unsupported("BatchNormalization of rank < 2");
    }
    if (attrInt(node, "spatial", 1) !== 1) {
      throw new Unsupported("spatial = 0 (per-activation statistics)");
    }
    const [N, C] = x.dims;
    const spatial = count(x.dims.slice(2));
    const eps = attrFloat(node, "epsilon", 1e-5);
    const training = opset >= 14
      ? attrInt(node, "training_mode", 0) === 1
      : opset < 7
      ? attrInt(node, "is_test", 0) === 0
      : node.outputs.length > 1;
    const n = x.data.length;
    const px = mem.upload(x.data), y = mem.alloc(n);
    const pg = mem.upload(gamma.data), pbeta = mem.upload(beta.data);
    const pm = mem.upload(mean.data), pv = mem.upload(variance.data);
    if (!training) {
      batchnorm.batchNormForwardEval(
        ctx.engine,
        N,
        C,
        spatial,
        1,
        eps,
        px,
        pg,
        pbeta,
        pm,
        pv,
        y,
        ctx.options,
      );
      return [{ dims: x.dims, data: mem.download(y, n) }];
    }
    if (opset < 14) {
      throw new Unsupported(
        "training-mode outputs before opset 14 (saved mean/var semantics)",
      );
    }
    const momentum = attrFloat(node, "momentum", 0.9);
    const savedMean = mem.alloc(C), savedInvStd = mem.alloc(C);
    batchnorm.batchNormForwardTrain(
      ctx.engine,
      N,
      C,
      spatial,
      1,
      eps,
      1 - momentum,
      px,
      pg,
      pbeta,
      y,
      savedMean,
      savedInvStd,
      pm,
      pv,
      ctx.options,
    );
    const runningVar = mem.download(pv, C);
    const m = N * spatial;
    for (let c = 0; c < C; c++) {
      const start = momentum * variance.data[c];
      runningVar[c] = start + (runningVar[c] - start) * (m - 1) / m;
    }
    return [
      { dims: x.dims, data: mem.download(y, n) },
      { dims: [C], data: mem.download(pm, C) },
      { dims: [C], data: runningVar },
    ];
  },
};

/** Adapters by ONNX op type. */
export const ADAPTERS: Record<string, OpAdapter> = {
  Conv,
  ConvTranspose,
  MaxPool,
  AveragePool,
  GlobalAveragePool,
  LRN,
  Gemm,
  MatMul,
  Relu,
  LeakyRelu,
  Sigmoid,
  Tanh,
  Softmax,
  BatchNormalization,
};
