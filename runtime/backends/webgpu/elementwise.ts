// Elementwise kernels and reductions on WebGPU.
// Elementwise: one shader per expression, in a vec4 variant (four values
// per invocation, 16-byte loads) used when every operand's size and offset
// are multiples of 4, and a scalar one otherwise. Expressions are written
// over the type alias T (f32 or vec4<f32>) so one text serves both.
// Reductions: two passes, deterministic (fixed order): 256-invocation
// workgroups reduce grid-strided slices to partials in workgroup memory
// (tree reduction), then one workgroup reduces the partials.
// This module is browser compatible.
import { empty, type Tensor } from "../../tensor.ts";
import { bind, gpu, groups1d, MAIN_1D, PARAMS, Params } from "./_wgsl.ts";
import { shader } from "./backend.ts";

const ewCache = new Map<string, string>();

function ewSource(
  expr: string,
  inputs: number,
  inPlace: number,
  vec4: boolean,
): string {
  const k = `${expr}|${inputs}|${inPlace}|${vec4}`;
  let code = ewCache.get(k);
  if (code) return code;
  const t = vec4 ? "vec4<f32>" : "f32";
  const decl: string[] = [];
  for (let i = 0; i < inputs; i++) {
    const rw = i === inPlace ? "read_write" : "read";
    decl.push(
      `@group(0) @binding(${i + 1}) var<storage, ${rw}> in${i}: array<${t}>;`,
    );
  }
  if (inPlace < 0) {
    decl.push(
      `@group(0) @binding(${
        inputs + 1
      }) var<storage, read_write> out: array<${t}>;`,
    );
  }
  const loads = Array.from(
    { length: inputs },
    (_, i) => `let a${i} = in${i}[gi];`,
  ).join(" ");
  const target = inPlace < 0 ? "out" : `in${inPlace}`;
  code = `${PARAMS}
alias T = ${t};
${decl.join("\n")}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let p0 = pf(1u); let p1 = pf(2u); let p2 = pf(3u);
  ${loads}
  ${target}[gi] = ${expr};
}`;
  ewCache.set(k, code);
  return code;
}

function vec4Ok(ts: Tensor[]): boolean {
  return ts.every((t) => t.size % 4 === 0 && t.offset % 4 === 0);
}

/**
 * Runs `expr` (over a0.., p0..p2, type T) elementwise. Writes a new tensor
 * of `like`'s shape, or in place into inputs[inPlace].
 */
export function elementwise(
  expr: string,
  inputs: Tensor[],
  scalars: number[] = [],
  inPlace = -1,
  like: Tensor = inputs[0],
): Tensor | null {
  const n = like.size;
  for (const t of inputs) {
    if (t.size !== n) {
      throw new RangeError(
        `elementwise: sizes differ ([${like.shape}] vs [${t.shape}])`,
      );
    }
  }
  const out = inPlace < 0 ? empty(like.shape) : null;
  if (n === 0) return out;
  const all = out ? [...inputs, out] : inputs;
  const v4 = vec4Ok(all);
  const count = v4 ? n / 4 : n;
  const p = new Params().u(count).f(...scalars);
  const bindings = inputs.map((t, i) => bind(t, i === inPlace));
  if (out) bindings.push(bind(out, true));
  gpu().dispatch(
    shader(ewSource(expr, inputs.length, inPlace, v4)),
    bindings,
    p.buffer,
    groups1d(count),
  );
  return out;
}

// Reductions ------------------------------------------------------------------

export type ReduceOp = "sum" | "max";

function reduceSource(expr: string, inputs: number, op: ReduceOp): string {
  const decl = Array.from(
    { length: inputs },
    (_, i) =>
      `@group(0) @binding(${i + 1}) var<storage, read> in${i}: array<f32>;`,
  ).join("\n");
  const loads = Array.from(
    { length: inputs },
    (_, i) => `let a${i} = in${i}[i];`,
  ).join(" ");
  const combine = op === "sum" ? "a + b" : "max(a, b)";
  return `${PARAMS}
${decl}
@group(0) @binding(${inputs + 1}) var<storage, read_write> out: array<f32>;
var<workgroup> tmp: array<f32, 256>;
fn combine(a: f32, b: f32) -> f32 { return ${combine}; }
fn element(i: u32) -> f32 {
  let p0 = pf(2u);
  ${loads}
  return ${expr};
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let n = pu(0u);
  var acc = 0.0;
  for (var i = wid.x * 256u + li; i < n; i = i + nwg.x * 256u) {
    acc = combine(acc, element(i));
  }
  tmp[li] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (li < s) { tmp[li] = combine(tmp[li], tmp[li + s]); }
    workgroupBarrier();
  }
  if (li == 0u) { out[wid.x] = tmp[0] * pf(1u); }
}`;
}

const reduceCache = new Map<string, string>();

function reduceShader(expr: string, inputs: number, op: ReduceOp) {
  const k = `${expr}|${inputs}|${op}`;
  let code = reduceCache.get(k);
  if (!code) reduceCache.set(k, code = reduceSource(expr, inputs, op));
  return shader(code);
}

/**
 * Reduces `expr` (over a0.., p0) across all elements to a [1] tensor times
 * `scale`. The identity of "max" is 0 (used for absolute values, counts).
 */
export function reduce(
  expr: string,
  inputs: Tensor[],
  op: ReduceOp,
  scale = 1,
  p0 = 0,
): Tensor {
  const n = inputs[0].size;
  for (const t of inputs) {
    if (t.size !== n) {
      throw new RangeError(
        `reduce: sizes differ ([${inputs[0].shape}] vs [${t.shape}])`,
      );
    }
  }
  const out = empty([1]);
  const parts = Math.max(1, Math.min(1024, Math.ceil(n / 4096)));
  const partial = parts > 1 ? empty([parts]) : out;
  gpu().dispatch(
    reduceShader(expr, inputs.length, op),
    [...inputs.map((t) => bind(t)), bind(partial, true)],
    new Params().u(n).f(parts > 1 ? 1 : scale, p0).buffer,
    [parts, 1, 1],
  );
  if (parts > 1) {
    gpu().dispatch(
      reduceShader("a0", 1, op),
      [bind(partial), bind(out, true)],
      new Params().u(parts).f(scale).buffer,
      [1, 1, 1],
    );
    partial.dispose();
  }
  return out;
}

// Per-channel sums over [N, C, S] --------------------------------------------

const CHANNEL_SUM = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> tmp: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let n = pu(0u); let c = pu(1u); let s = pu(2u);
  let ch = wid.x;
  var acc = 0.0;
  for (var b = 0u; b < n; b = b + 1u) {
    let base = (b * c + ch) * s;
    for (var i = li; i < s; i = i + 256u) { acc = acc + x[base + i]; }
  }
  tmp[li] = acc;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k = k >> 1u) {
    if (li < k) { tmp[li] = tmp[li] + tmp[li + k]; }
    workgroupBarrier();
  }
  if (li == 0u) { out[ch] = tmp[0]; }
}`;

/** Σ over all dims but C of x [N, C, S...] → [C]. */
export function channelSum(x: Tensor, n: number, c: number, s: number): Tensor {
  const out = empty([c]);
  if (c === 0) return out;
  const groupsX = Math.min(c, 65535);
  if (c > groupsX) throw new RangeError(`ChannelSum: ${c} channels`);
  gpu().dispatch(
    shader(CHANNEL_SUM),
    [bind(x), bind(out, true)],
    new Params().u(n, c, s).buffer,
    [c, 1, 1],
  );
  return out;
}

const CHANNEL_BIAS = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  y[gi] = x[gi] + b[(gi / pu(2u)) % pu(1u)];
}`;

/** x [N, C, S...] + b [C]. */
export function addChannelBias(
  x: Tensor,
  b: Tensor,
  c: number,
  s: number,
): Tensor {
  const y = empty(x.shape);
  gpu().dispatch(
    shader(CHANNEL_BIAS),
    [bind(x), bind(b), bind(y, true)],
    new Params().u(x.size, c, s).buffer,
    groups1d(x.size),
  );
  return y;
}
