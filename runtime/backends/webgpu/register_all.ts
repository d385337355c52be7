// Registers the WebGPU implementation of every kernel in KernelSignatures
// (runtime/kernel_names.ts) and of the optimiser kernels (SgdUpdate,
// AdamUpdate, AbsSum; declared in runtime/backends/wasm/register_optim.ts).
// There is no silent fallback: a kernel missing here fails in runKernel
// with "Kernel X is not registered for backend webgpu".
// This module is browser compatible.
import "../wasm/register_optim.ts";
import type { KernelName, KernelSignatures } from "../../kernel_names.ts";
import { registerKernel } from "../../kernel_registry.ts";
import { empty, type Tensor } from "../../tensor.ts";
import {
  conv2dOutShape,
  convTranspose2dOutShape,
  pool2dOutShape,
} from "../../ops/shapes.ts";
import { bind, gpu } from "./_wgsl.ts";
import { WEBGPU_BACKEND } from "./backend.ts";
import * as conv from "./conv.ts";
import {
  addChannelBias,
  channelSum,
  elementwise,
  reduce,
} from "./elementwise.ts";
import type { GemmSpec } from "./gemm.ts";
import { runGemmPlain } from "./gemm.ts";
import * as nn from "./nn.ts";
import { ncs, rank, sameSize } from "../_checks.ts";

function register<K extends KernelName>(
  name: K,
  impl: KernelSignatures[K],
): void {
  registerKernel(WEBGPU_BACKEND, name, impl);
}

function nchw(op: string, t: Tensor): number[] {
  if (t.rank === 4) return [...t.shape];
  if (t.rank === 2) return [t.shape[0], t.shape[1], 1, 1];
  throw new RangeError(`${op}: needs [N, C, H, W] or [N, C], got [${t.shape}]`);
}

const ew = (expr: string, ts: Tensor[], s: number[] = []) =>
  elementwise(expr, ts, s)!;
const inPlace = (expr: string, ts: Tensor[], target: number, s: number[]) => {
  elementwise(expr, ts, s, target);
};

// Elementwise ----------------------------------------------------------------------

register("Add", (a, b) => (sameSize("Add", a, b), ew("a0 + a1", [a, b])));
register("Sub", (a, b) => (sameSize("Sub", a, b), ew("a0 - a1", [a, b])));
register("Mul", (a, b) => (sameSize("Mul", a, b), ew("a0 * a1", [a, b])));
register("Scale", (x, alpha) => ew("a0 * p0", [x], [alpha]));
register("AddScalar", (x, c) => ew("a0 + p0", [x], [c]));
register("Copy", (x) => {
  const y = empty(x.shape);
  gpu().copy(x.storage, x.offset * 4, y.storage, 0, x.size * 4);
  return y;
});
register("CopyInto", (src, dst, dstOffset) => {
  if (
    !Number.isInteger(dstOffset) || dstOffset < 0 ||
    dstOffset + src.size > dst.size
  ) {
    throw new RangeError(
      `CopyInto: ${src.size} values at offset ${dstOffset} overrun a tensor of ${dst.size}`,
    );
  }
  gpu().copy(
    src.storage,
    src.offset * 4,
    dst.storage,
    (dst.offset + dstOffset) * 4,
    src.size * 4,
  );
});
register("AxpyInPlace", (alpha, x, y) => {
  sameSize("AxpyInPlace", x, y);
  inPlace("p0 * a0 + a1", [x, y], 1, [alpha]);
});
register("AxpbyInPlace", (a, x, b, y) => {
  sameSize("AxpbyInPlace", x, y);
  inPlace("p0 * a0 + p1 * a1", [x, y], 1, [a, b]);
});
register("ScaleInPlace", (x, alpha) => inPlace("a0 * p0", [x], 0, [alpha]));
register("FillInPlace", (x, value) => inPlace("T(p0)", [x], 0, [value]));
register(
  "ClampInPlace",
  (x, min, max) => inPlace("clamp(a0, T(p0), T(p1))", [x], 0, [min, max]),
);
register("AddChannelBias", (x, b) => {
  const [, c, s] = ncs("AddChannelBias", x);
  if (b.size !== c) {
    throw new RangeError(`AddChannelBias: bias [${b.shape}] for ${c} channels`);
  }
  return addChannelBias(x, b, c, s);
});
register("ChannelSum", (dy) => {
  const [n, c, s] = ncs("ChannelSum", dy);
  return channelSum(dy, n, c, s);
});

// Activations ------------------------------------------------------------------------

register("Relu", (x) => ew("max(a0, T(0.0))", [x]));
register(
  "ReluGrad",
  (
    x,
    dy,
  ) => (sameSize("ReluGrad", x, dy),
    ew("select(T(0.0), a1, a0 > T(0.0))", [x, dy])),
);
register(
  "LeakyRelu",
  (x, slope) => ew("select(a0 * p0, a0, a0 > T(0.0))", [x], [slope]),
);
register("LeakyReluGrad", (x, dy, slope) => {
  sameSize("LeakyReluGrad", x, dy);
  return ew("select(a1 * p0, a1, a0 > T(0.0))", [x, dy], [slope]);
});
register("Sigmoid", (x) => ew("T(1.0) / (T(1.0) + exp(-a0))", [x]));
register(
  "SigmoidGrad",
  (
    y,
    dy,
  ) => (sameSize("SigmoidGrad", y, dy), ew("a1 * a0 * (T(1.0) - a0)", [y, dy])),
);
// tanh's exp-based formula overflows past |x| ≈ 44; tanh(±15) is ±1 in f32.
register("Tanh", (x) => ew("tanh(clamp(a0, T(-15.0), T(15.0)))", [x]));
register(
  "TanhGrad",
  (
    y,
    dy,
  ) => (sameSize("TanhGrad", y, dy), ew("a1 * (T(1.0) - a0 * a0)", [y, dy])),
);

// Reductions ---------------------------------------------------------------------------

register("Sum", (x) => reduce("a0", [x], "sum"));
register(
  "Dot",
  (a, b) => (sameSize("Dot", a, b), reduce("a0 * a1", [a, b], "sum")),
);
register("SquaredNorm", (x) => reduce("a0 * a0", [x], "sum"));
register("MaxAbs", (x) => reduce("abs(a0)", [x], "max"));
register(
  "CountNonFinite",
  (x) =>
    reduce(
      "select(0.0, 1.0, (bitcast<u32>(a0) & 0x7f800000u) == 0x7f800000u)",
      [x],
      "sum",
    ),
);
register("AbsSum", (x) => reduce("abs(a0)", [x], "sum"));

// Linear algebra --------------------------------------------------------------------

const AB_BINDINGS = `@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;`;

// Words 8, 9: leading dimensions of a and b.
const MATMUL: Record<string, GemmSpec> = {};
for (const ta of [false, true]) {
  for (const tb of [false, true]) {
    MATMUL[`${ta}${tb}`] = {
      bindings: AB_BINDINGS,
      loadA: ta ? "return a[k * pu(8u) + m];" : "return a[m * pu(8u) + k];",
      loadB: tb ? "return b[n * pu(9u) + k];" : "return b[k * pu(9u) + n];",
      aKFast: !ta,
      bKFast: tb,
    };
  }
}

register("MatMul", (a, b, transA, transB) => {
  rank("MatMul", a, 2);
  rank("MatMul", b, 2);
  const m = transA ? a.shape[1] : a.shape[0];
  const k = transA ? a.shape[0] : a.shape[1];
  const kb = transB ? b.shape[1] : b.shape[0];
  const n = transB ? b.shape[0] : b.shape[1];
  if (k !== kb) {
    throw new RangeError(
      `MatMul: [${a.shape}] and [${b.shape}] do not multiply`,
    );
  }
  const c = empty([m, n]);
  if (m === 0 || n === 0) return c;
  if (k === 0) {
    inPlace("T(0.0)", [c], 0, []);
    return c;
  }
  runGemmPlain(
    MATMUL[`${transA}${transB}`],
    m,
    n,
    k,
    1,
    1,
    [bind(a), bind(b)],
    c,
    (p) => p.u(a.shape[1], b.shape[1]),
  );
  return c;
});

// Style: G = scale F Fᵀ (word 8: F's columns M); dF = scale (dG + dGᵀ) F.
const GRAM: GemmSpec = {
  bindings: `@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;`,
  loadA: "return f[m * pu(8u) + k];",
  loadB: "return f[n * pu(8u) + k];",
  aKFast: true,
  bKFast: true,
};

register("Gram", (f, scale) => {
  rank("Gram", f, 2);
  const [c, m] = f.shape;
  const g = empty([c, c]);
  if (m === 0) {
    inPlace("T(0.0)", [g], 0, []);
    return g;
  }
  runGemmPlain(GRAM, c, c, m, 1, scale, [bind(f)], g, (p) => p.u(m, c));
  return g;
});

register("GramGrad", (f, dg, scale) => {
  rank("GramGrad", f, 2);
  const [c, m] = f.shape;
  if (dg.size !== c * c) {
    throw new RangeError(`GramGrad: dG [${dg.shape}] for ${c} channels`);
  }
  // dG F + dGᵀ F as two plain GEMMs (the fused (dG + dGᵀ) load hung
  // llvmpipe 15; the extra C×C×M multiply-adds are small next to the
  // convolutions).
  const a = empty(f.shape), b = empty(f.shape);
  for (const [out, trans] of [[a, false], [b, true]] as const) {
    runGemmPlain(
      MATMUL[`${trans}false`],
      c,
      m,
      c,
      1,
      scale,
      [bind(dg), bind(f)],
      out,
      (p) => p.u(c, m),
    );
  }
  const df = ew("a0 + a1", [a, b]);
  a.dispose();
  b.dispose();
  return df;
});

// Convolutions ------------------------------------------------------------------------

register("Conv2D", (x, w, bias, a) => {
  rank("Conv2D", x, 4);
  rank("Conv2D", w, 4);
  return conv.conv2d(x, w, bias, a, conv2dOutShape(x.shape, w.shape, a));
});
register(
  "Conv2DBackpropInput",
  (dy, w, xShape, a) => conv.conv2dBackpropInput(dy, w, xShape, a),
);
register("Conv2DBackpropFilter", (x, dy, wShape, withBias, a) => {
  const dw = conv.conv2dBackpropFilter(x, dy, wShape, a);
  const [n, k, s] = ncs("Conv2DBackpropFilter", dy);
  return { dw, db: withBias ? channelSum(dy, n, k, s) : null };
});
register("ConvTranspose2D", (x, w, bias, a) => {
  rank("ConvTranspose2D", x, 4);
  rank("ConvTranspose2D", w, 4);
  return conv.convTranspose2d(
    x,
    w,
    bias,
    a,
    convTranspose2dOutShape(x.shape, w.shape, a),
  );
});
register(
  "ConvTranspose2DBackpropInput",
  (dy, w, xShape, a) => conv.convTranspose2dBackpropInput(dy, w, xShape, a),
);
register("ConvTranspose2DBackpropFilter", (x, dy, wShape, withBias, a) => {
  const dw = conv.convTranspose2dBackpropFilter(x, dy, wShape, a);
  const [n, k, s] = ncs("ConvTranspose2DBackpropFilter", dy);
  return { dw, db: withBias ? channelSum(dy, n, k, s) : null };
});

// Pooling and resampling ------------------------------------------------------------

register("MaxPool", (x, a) => {
  rank("MaxPool", x, 4);
  return nn.maxPool(x, a, pool2dOutShape(x.shape, a));
});
register("MaxPoolGrad", (dy, argmax, xShape, a) => {
  sameSize("MaxPoolGrad", dy, argmax);
  return nn.maxPoolGrad(dy, argmax, xShape, a);
});
register("AvgPool", (x, a, countIncludePad) => {
  rank("AvgPool", x, 4);
  return nn.avgPool(x, a, pool2dOutShape(x.shape, a), countIncludePad);
});
register(
  "AvgPoolGrad",
  (dy, xShape, a, countIncludePad) =>
    nn.avgPoolGrad(dy, xShape, a, countIncludePad),
);
register("GlobalAvgPool", (x) => {
  rank("GlobalAvgPool", x, 4);
  const [n, c, h, w] = x.shape;
  const planes = x.view([1, n * c, h * w]);
  const sums = channelSum(planes, 1, n * c, h * w);
  planes.dispose();
  const y = ew("a0 * p0", [sums], [1 / (h * w)]);
  sums.dispose();
  const out = y.view([n, c, 1, 1]);
  y.dispose();
  return out;
});
register("GlobalAvgPoolGrad", (dy, xShape) => {
  rank("GlobalAvgPoolGrad", xShape, 4);
  return nn.globalAvgPoolGrad(dy, xShape);
});
register("UpsampleNearest", (x, fh, fw) => {
  rank("UpsampleNearest", x, 4);
  return nn.upsampleNearest(x, fh, fw);
});
register("UpsampleNearestGrad", (dy, xShape, fh, fw) => {
  rank("UpsampleNearestGrad", xShape, 4);
  return nn.upsampleNearestGrad(dy, xShape, fh, fw);
});

// Normalisation -----------------------------------------------------------------------

register("LRN", (x, a) => (rank("LRN", x, 4), nn.lrnForward(x, a)));
register("LRNGrad", (x, y, scale, dy, a) => {
  rank("LRNGrad", x, 4);
  sameSize("LRNGrad", x, y, scale, dy);
  return nn.lrnGrad(x, y, scale, dy, a);
});
register(
  "BatchNormTrain",
  (x, gamma, beta, runningMean, runningVar, eps, momentum) =>
    nn.batchNormTrain(
      x,
      nchw("BatchNormTrain", x),
      gamma,
      beta,
      runningMean,
      runningVar,
      eps,
      momentum,
    ),
);
register(
  "BatchNormEval",
  (x, gamma, beta, runningMean, runningVar, eps) =>
    nn.batchNormEval(
      x,
      nchw("BatchNormEval", x),
      gamma,
      beta,
      runningMean,
      runningVar,
      eps,
    ),
);
register("BatchNormGrad", (x, gamma, mean, invStd, dy) => {
  sameSize("BatchNormGrad", x, dy);
  return nn.batchNormGrad(x, nchw("BatchNormGrad", x), gamma, mean, invStd, dy);
});

// Losses ------------------------------------------------------------------------------

register("MseLoss", (x, target, scale) => {
  sameSize("MseLoss", x, target);
  return {
    loss: reduce("(a0 - a1) * (a0 - a1)", [x, target], "sum", scale),
    grad: ew("p0 * (a0 - a1)", [x, target], [2 * scale]),
  };
});
register("BceWithLogitsLoss", (logits, targets, scale) => {
  sameSize("BceWithLogitsLoss", logits, targets);
  return {
    loss: reduce(
      "max(a0, 0.0) - a0 * a1 + log(1.0 + exp(-abs(a0)))",
      [logits, targets],
      "sum",
      scale,
    ),
    grad: ew("p0 * (T(1.0) / (T(1.0) + exp(-a0)) - a1)", [logits, targets], [
      scale,
    ]),
  };
});
register("SoftmaxCrossEntropy", (logits, labels, scale) => {
  rank("SoftmaxCrossEntropy", logits, 2);
  const [rows] = logits.shape;
  if (labels.size !== rows) {
    throw new RangeError(
      `SoftmaxCrossEntropy: ${labels.size} labels for ${rows} rows`,
    );
  }
  const r = nn.softmaxCrossEntropyRows(logits, labels, scale);
  const loss = reduce("a0", [r.rows], "sum", scale);
  r.rows.dispose();
  return { loss, grad: r.grad };
});
register("Softmax", (x) => {
  if (x.rank < 1) throw new RangeError("Softmax: needs at least one axis");
  return nn.softmax(x);
});

// Optimiser updates ---------------------------------------------------------------------

register("SgdUpdate", (param, grad, buf, a) => {
  sameSize("SgdUpdate", param, grad);
  if (buf) sameSize("SgdUpdate", param, buf);
  nn.sgdUpdate(param, grad, buf, a);
});
register("AdamUpdate", (param, grad, expAvg, expAvgSq, a) => {
  sameSize("AdamUpdate", param, grad, expAvg, expAvgSq);
  nn.adamUpdate(param, grad, expAvg, expAvgSq, a);
});
