// Pooling, resampling, LRN, batch normalisation, losses and optimiser
// updates on WebGPU: one invocation per output element (gradients gather
// what their forward scattered, so no atomics and a fixed summation order),
// or one workgroup per channel / row where a kernel reduces.
// Semantics follow the wasm kernels and their f64 references in
// tests/reference/ (pool.ts, lrn.ts, batchnorm.ts, loss.ts, f32-optim.ts).
// This module is browser compatible.
import type { LrnAttrs, Pool2dAttrs } from "../../kernel_names.ts";
import { empty, type Shape, type Tensor } from "../../tensor.ts";
import { bind, gpu, groups1d, MAIN_1D, none, PARAMS, Params } from "./_wgsl.ts";
import { shader } from "./backend.ts";

function run(
  code: string,
  ts: [Tensor | null, boolean][],
  p: Params,
  groups: [number, number, number],
): void {
  gpu().dispatch(
    shader(code),
    ts.map(([t, w]) => (t ? bind(t, w) : none())),
    p.buffer,
    groups,
  );
}

// Pooling -----------------------------------------------------------------------

const POOL_HEAD = /* wgsl */ `
struct Pool { H: i32, W: i32, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32,
  sw: i32, pt: i32, pb: i32, pl: i32, pr: i32, inclPad: bool }
fn pool() -> Pool {
  return Pool(pi(1u), pi(2u), pi(3u), pi(4u), pi(5u), pi(6u), pi(7u), pi(8u),
    pi(9u), pi(10u), pi(11u), pi(12u), pu(13u) != 0u);
}
// Output rows/cols whose windows hold input index i: [first, last].
fn covering(i: i32, k: i32, s: i32, pad: i32, n: i32) -> vec2<i32> {
  let num = i + pad - k + 1;
  var lo = 0;
  if (num > 0) { lo = (num + s - 1) / s; }
  let hi = min((i + pad) / s, n - 1);
  return vec2<i32>(lo, hi);
}
fn divisor(q: Pool, oh: i32, ow: i32) -> f32 {
  let hs = oh * q.sh - q.pt; let ws = ow * q.sw - q.pl;
  if (q.inclPad) {
    let he = min(hs + q.kh, q.H + q.pb); let we = min(ws + q.kw, q.W + q.pr);
    return f32((he - hs) * (we - ws));
  }
  let h0 = max(hs, 0); let h1 = min(hs + q.kh, q.H);
  let w0 = max(ws, 0); let w1 = min(ws + q.kw, q.W);
  return f32((h1 - h0) * (w1 - w0));
}`;

const MAX_POOL = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg: array<i32>;
${POOL_HEAD}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let q = pool();
  let o = i32(gi % u32(q.OH * q.OW)); let plane = gi / u32(q.OH * q.OW);
  let hs = (o / q.OW) * q.sh - q.pt; let ws = (o % q.OW) * q.sw - q.pl;
  let h0 = max(hs, 0); let h1 = min(hs + q.kh, q.H);
  let w0 = max(ws, 0); let w1 = min(ws + q.kw, q.W);
  let base = plane * u32(q.H * q.W);
  var best = bitcast<f32>(0xff800000u);
  var bi = h0 * q.W + w0;
  for (var h = h0; h < h1; h = h + 1) {
    for (var w = w0; w < w1; w = w + 1) {
      let v = x[base + u32(h * q.W + w)];
      if (v > best) { best = v; bi = h * q.W + w; }
    }
  }
  y[gi] = best;
  arg[gi] = bi;
}`;

const MAX_POOL_GRAD = `${PARAMS}
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> arg: array<i32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
${POOL_HEAD}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let q = pool();
  let idx = i32(gi % u32(q.H * q.W)); let plane = gi / u32(q.H * q.W);
  let rows = covering(idx / q.W, q.kh, q.sh, q.pt, q.OH);
  let cols = covering(idx % q.W, q.kw, q.sw, q.pl, q.OW);
  let base = plane * u32(q.OH * q.OW);
  var s = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh = oh + 1) {
    for (var ow = cols.x; ow <= cols.y; ow = ow + 1) {
      let o = base + u32(oh * q.OW + ow);
      if (arg[o] == idx) { s = s + dy[o]; }
    }
  }
  dx[gi] = s;
}`;

const AVG_POOL = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${POOL_HEAD}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let q = pool();
  let o = i32(gi % u32(q.OH * q.OW)); let plane = gi / u32(q.OH * q.OW);
  let oh = o / q.OW; let ow = o % q.OW;
  let hs = oh * q.sh - q.pt; let ws = ow * q.sw - q.pl;
  let base = plane * u32(q.H * q.W);
  var s = 0.0;
  for (var h = max(hs, 0); h < min(hs + q.kh, q.H); h = h + 1) {
    for (var w = max(ws, 0); w < min(ws + q.kw, q.W); w = w + 1) {
      s = s + x[base + u32(h * q.W + w)];
    }
  }
  y[gi] = s / divisor(q, oh, ow);
}`;

const AVG_POOL_GRAD = `${PARAMS}
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
${POOL_HEAD}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let q = pool();
  let idx = i32(gi % u32(q.H * q.W)); let plane = gi / u32(q.H * q.W);
  let ih = idx / q.W; let iw = idx % q.W;
  let rows = covering(ih, q.kh, q.sh, q.pt, q.OH);
  let cols = covering(iw, q.kw, q.sw, q.pl, q.OW);
  let base = plane * u32(q.OH * q.OW);
  var s = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh = oh + 1) {
    // A window clipped by the input must still reach this index.
    for (var ow = cols.x; ow <= cols.y; ow = ow + 1) {
      s = s + dy[base + u32(oh * q.OW + ow)] / divisor(q, oh, ow);
    }
  }
  dx[gi] = s;
}`;

function poolParams(
  total: number,
  x: Shape,
  out: Shape,
  a: Pool2dAttrs,
  inclPad = false,
): Params {
  return new Params().u(total).i(
    x[2],
    x[3],
    out[2],
    out[3],
    a.kernelH,
    a.kernelW,
    a.strideH,
    a.strideW,
    a.padTop,
    a.padBottom,
    a.padLeft,
    a.padRight,
  ).b(inclPad);
}

export function maxPool(
  x: Tensor,
  a: Pool2dAttrs,
  out: Shape,
): { y: Tensor; argmax: Tensor } {
  const y = empty(out), argmax = empty(out);
  run(
    MAX_POOL,
    [[x, false], [y, true], [argmax, true]],
    poolParams(y.size, x.shape, out, a),
    groups1d(y.size),
  );
  return { y, argmax };
}

export function maxPoolGrad(
  dy: Tensor,
  argmax: Tensor,
  xShape: Shape,
  a: Pool2dAttrs,
): Tensor {
  const dx = empty(xShape);
  run(
    MAX_POOL_GRAD,
    [[dy, false], [argmax, false], [dx, true]],
    poolParams(dx.size, xShape, dy.shape, a),
    groups1d(dx.size),
  );
  return dx;
}

export function avgPool(
  x: Tensor,
  a: Pool2dAttrs,
  out: Shape,
  inclPad: boolean,
): Tensor {
  const y = empty(out);
  run(
    AVG_POOL,
    [[x, false], [y, true]],
    poolParams(y.size, x.shape, out, a, inclPad),
    groups1d(y.size),
  );
  return y;
}

export function avgPoolGrad(
  dy: Tensor,
  xShape: Shape,
  a: Pool2dAttrs,
  inclPad: boolean,
): Tensor {
  const dx = empty(xShape);
  run(
    AVG_POOL_GRAD,
    [[dy, false], [dx, true]],
    poolParams(dx.size, xShape, dy.shape, a, inclPad),
    groups1d(dx.size),
  );
  return dx;
}

const GAP_GRAD = `${PARAMS}
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  dx[gi] = dy[gi / pu(1u)] / f32(pu(1u));
}`;

export function globalAvgPoolGrad(dy: Tensor, xShape: Shape): Tensor {
  const dx = empty(xShape);
  const hw = xShape[2] * xShape[3];
  run(
    GAP_GRAD,
    [[dy, false], [dx, true]],
    new Params().u(dx.size, hw),
    groups1d(dx.size),
  );
  return dx;
}

const UPSAMPLE = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let h = pu(1u); let w = pu(2u); let fh = pu(3u); let fw = pu(4u);
  let oh = h * fh; let ow = w * fw;
  let plane = gi / (oh * ow); let o = gi % (oh * ow);
  y[gi] = x[(plane * h + (o / ow) / fh) * w + (o % ow) / fw];
}`;

const UPSAMPLE_GRAD = `${PARAMS}
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let h = pu(1u); let w = pu(2u); let fh = pu(3u); let fw = pu(4u);
  let ow = w * fw;
  let plane = gi / (h * w); let i = (gi % (h * w)) / w; let j = gi % w;
  let base = plane * h * fh * ow;
  var s = 0.0;
  for (var a = 0u; a < fh; a = a + 1u) {
    for (var b = 0u; b < fw; b = b + 1u) {
      s = s + dy[base + (i * fh + a) * ow + j * fw + b];
    }
  }
  dx[gi] = s;
}`;

export function upsampleNearest(x: Tensor, fh: number, fw: number): Tensor {
  const [n, c, h, w] = x.shape;
  const y = empty([n, c, h * fh, w * fw]);
  run(
    UPSAMPLE,
    [[x, false], [y, true]],
    new Params().u(y.size, h, w, fh, fw),
    groups1d(y.size),
  );
  return y;
}

export function upsampleNearestGrad(
  dy: Tensor,
  xShape: Shape,
  fh: number,
  fw: number,
): Tensor {
  const dx = empty(xShape);
  run(
    UPSAMPLE_GRAD,
    [[dy, false], [dx, true]],
    new Params().u(dx.size, xShape[2], xShape[3], fh, fw),
    groups1d(dx.size),
  );
  return dx;
}

// LRN (Krizhevsky et al. 2012 §3.3) ------------------------------------------------

const LRN_HEAD = /* wgsl */ `
struct Lrn { c: i32, hw: u32, lo: i32, hi: i32, alpha: f32, beta: f32,
  bias: f32, size: f32 }
fn lrn() -> Lrn {
  return Lrn(pi(1u), pu(2u), pi(3u), pi(4u), pf(5u), pf(6u), pf(7u), pf(8u));
}`;

const LRN_FWD = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> scale: array<f32>;
${LRN_HEAD}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let q = lrn();
  let i = gi % q.hw; let ch = i32((gi / q.hw) % u32(q.c));
  let b = gi / (q.hw * u32(q.c));
  var s = 0.0;
  for (var j = max(0, ch - q.lo); j <= min(q.c - 1, ch + q.hi); j = j + 1) {
    let v = x[(b * u32(q.c) + u32(j)) * q.hw + i];
    s = s + v * v;
  }
  let sc = q.bias + q.alpha / q.size * s;
  scale[gi] = sc;
  y[gi] = x[gi] * pow(sc, -q.beta);
}`;

// dx_i = dy_i s_i^−β − (2αβ/size) x_i Σ_{k: i ∈ W(k)} dy_k y_k / s_k
// (y_k / s_k = x_k s_k^(−β−1)).
const LRN_GRAD = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
${LRN_HEAD}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let q = lrn();
  let i = gi % q.hw; let ch = i32((gi / q.hw) % u32(q.c));
  let b = gi / (q.hw * u32(q.c));
  var s = 0.0;
  for (var k = max(0, ch - q.hi); k <= min(q.c - 1, ch + q.lo); k = k + 1) {
    let o = (b * u32(q.c) + u32(k)) * q.hw + i;
    s = s + dy[o] * y[o] / scale[o];
  }
  dx[gi] = dy[gi] * pow(scale[gi], -q.beta) -
    2.0 * q.alpha * q.beta / q.size * x[gi] * s;
}`;

function lrnParams(total: number, x: Shape, a: LrnAttrs): Params {
  return new Params().u(total).i(
    x[1],
    x[2] * x[3],
    Math.floor((a.size - 1) / 2),
    Math.ceil((a.size - 1) / 2),
  ).f(a.alpha, a.beta, a.bias, a.size);
}

export function lrnForward(
  x: Tensor,
  a: LrnAttrs,
): { y: Tensor; scale: Tensor } {
  const y = empty(x.shape), scale = empty(x.shape);
  run(
    LRN_FWD,
    [[x, false], [y, true], [scale, true]],
    lrnParams(x.size, x.shape, a),
    groups1d(x.size),
  );
  return { y, scale };
}

export function lrnGrad(
  x: Tensor,
  y: Tensor,
  scale: Tensor,
  dy: Tensor,
  a: LrnAttrs,
): Tensor {
  const dx = empty(x.shape);
  run(
    LRN_GRAD,
    [[x, false], [y, false], [scale, false], [dy, false], [dx, true]],
    lrnParams(x.size, x.shape, a),
    groups1d(x.size),
  );
  return dx;
}

// Batch normalisation (Ioffe & Szegedy 2015), one workgroup per channel ----------

const BN_STATS = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> invStd: array<f32>;
@group(0) @binding(4) var<storage, read_write> rm: array<f32>;
@group(0) @binding(5) var<storage, read_write> rv: array<f32>;
var<workgroup> tmp: array<f32, 256>;
fn total(v: f32, li: u32) -> f32 {
  tmp[li] = v;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k = k >> 1u) {
    if (li < k) { tmp[li] = tmp[li] + tmp[li + k]; }
    workgroupBarrier();
  }
  let t = tmp[0];
  workgroupBarrier();
  return t;
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let n = pu(0u); let c = pu(1u); let hw = pu(2u);
  let eps = pf(3u); let momentum = pf(4u); let running = pu(5u) != 0u;
  let ch = wid.x; let m = f32(n * hw);
  var s = 0.0;
  for (var b = 0u; b < n; b = b + 1u) {
    for (var i = li; i < hw; i = i + 256u) { s = s + x[(b * c + ch) * hw + i]; }
  }
  let mu = total(s, li) / m;
  var v = 0.0;
  for (var b = 0u; b < n; b = b + 1u) {
    for (var i = li; i < hw; i = i + 256u) {
      let d = x[(b * c + ch) * hw + i] - mu;
      v = v + d * d;
    }
  }
  let ss = total(v, li);
  if (li == 0u) {
    mean[ch] = mu;
    invStd[ch] = 1.0 / sqrt(ss / m + eps);
    if (running) {
      rm[ch] = (1.0 - momentum) * rm[ch] + momentum * mu;
      rv[ch] = (1.0 - momentum) * rv[ch] + momentum * ss / (m - 1.0);
    }
  }
}`;

const BN_APPLY = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> stat: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let ch = (gi / pu(2u)) % pu(1u);
  var g = 1.0; var b = 0.0;
  if (pu(3u) != 0u) { g = gamma[ch]; }
  if (pu(4u) != 0u) { b = beta[ch]; }
  // stat: invStd (training) or running variance (evaluation, word 5 = 1).
  var istd = stat[ch];
  if (pu(5u) != 0u) { istd = 1.0 / sqrt(stat[ch] + pf(6u)); }
  y[gi] = g * (x[gi] - mean[ch]) * istd + b;
}`;

const BN_GRAD = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> invStd: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbeta: array<f32>;
var<workgroup> t1: array<f32, 256>;
var<workgroup> t2: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let n = pu(0u); let c = pu(1u); let hw = pu(2u);
  let ch = wid.x; let m = f32(n * hw);
  let mu = mean[ch]; let istd = invStd[ch];
  var sdy = 0.0; var sdyx = 0.0;
  for (var b = 0u; b < n; b = b + 1u) {
    for (var i = li; i < hw; i = i + 256u) {
      let k = (b * c + ch) * hw + i;
      sdy = sdy + dy[k];
      sdyx = sdyx + dy[k] * (x[k] - mu) * istd;
    }
  }
  t1[li] = sdy; t2[li] = sdyx;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (li < s) { t1[li] = t1[li] + t1[li + s]; t2[li] = t2[li] + t2[li + s]; }
    workgroupBarrier();
  }
  let Sdy = t1[0]; let Sdyx = t2[0];
  if (li == 0u) { dbeta[ch] = Sdy; dgamma[ch] = Sdyx; }
  var g = 1.0;
  if (pu(3u) != 0u) { g = gamma[ch]; }
  for (var b = 0u; b < n; b = b + 1u) {
    for (var i = li; i < hw; i = i + 256u) {
      let k = (b * c + ch) * hw + i;
      let xhat = (x[k] - mu) * istd;
      dx[k] = g * istd * (dy[k] - Sdy / m - xhat * Sdyx / m);
    }
  }
}`;

function perChannel(c: number): [number, number, number] {
  if (c > 65535) throw new RangeError(`batch norm: ${c} channels`);
  return [c, 1, 1];
}

export function batchNormTrain(
  x: Tensor,
  [n, c, h, w]: number[],
  gamma: Tensor | null,
  beta: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  eps: number,
  momentum: number,
): { y: Tensor; mean: Tensor; invStd: Tensor } {
  const hw = h * w;
  const y = empty(x.shape), mean = empty([c]), invStd = empty([c]);
  const running = runningMean !== null && runningVar !== null;
  // Distinct scratch when absent: writable bindings may not alias.
  const rm = runningMean ?? empty([c]), rv = runningVar ?? empty([c]);
  run(
    BN_STATS,
    [[x, false], [mean, true], [invStd, true], [rm, true], [rv, true]],
    new Params().u(n, c, hw).f(eps, momentum).b(running),
    perChannel(c),
  );
  if (!runningMean) rm.dispose();
  if (!runningVar) rv.dispose();
  run(
    BN_APPLY,
    [
      [x, false],
      [gamma, false],
      [beta, false],
      [mean, false],
      [invStd, false],
      [
        y,
        true,
      ],
    ],
    new Params().u(x.size, c, hw).b(gamma !== null, beta !== null, false).f(
      eps,
    ),
    groups1d(x.size),
  );
  return { y, mean, invStd };
}

export function batchNormEval(
  x: Tensor,
  [, c, h, w]: number[],
  gamma: Tensor | null,
  beta: Tensor | null,
  runningMean: Tensor,
  runningVar: Tensor,
  eps: number,
): Tensor {
  const y = empty(x.shape);
  run(
    BN_APPLY,
    [[x, false], [gamma, false], [beta, false], [runningMean, false], [
      runningVar,
      false,
    ], [y, true]],
    new Params().u(x.size, c, h * w).b(gamma !== null, beta !== null, true)
      .f(eps),
    groups1d(x.size),
  );
  return y;
}

export function batchNormGrad(
  x: Tensor,
  [n, c, h, w]: number[],
  gamma: Tensor | null,
  mean: Tensor,
  invStd: Tensor,
  dy: Tensor,
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const dx = empty(x.shape), dgamma = empty([c]), dbeta = empty([c]);
  run(
    BN_GRAD,
    [
      [x, false],
      [gamma, false],
      [mean, false],
      [invStd, false],
      [dy, false],
      [
        dx,
        true,
      ],
      [dgamma, true],
      [dbeta, true],
    ],
    new Params().u(n, c, h * w).b(gamma !== null),
    perChannel(c),
  );
  return { dx, dgamma, dbeta };
}

// Row-wise softmax and cross-entropy (one invocation per row) -------------------

const SOFTMAX = `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${MAIN_1D}
  let rows = pu(0u); let cols = pu(1u);
  if (gi >= rows) { return; }
  let base = gi * cols;
  var m = bitcast<f32>(0xff800000u);
  for (var j = 0u; j < cols; j = j + 1u) { m = max(m, x[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < cols; j = j + 1u) { s = s + exp(x[base + j] - m); }
  for (var j = 0u; j < cols; j = j + 1u) {
    y[base + j] = exp(x[base + j] - m) / s;
  }
}`;

const SOFTMAX_CE = `${PARAMS}
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>;
${MAIN_1D}
  let rows = pu(0u); let cols = pu(1u); let scale = pf(2u);
  if (gi >= rows) { return; }
  let base = gi * cols;
  let label = u32(labels[gi]);
  var m = bitcast<f32>(0xff800000u);
  for (var j = 0u; j < cols; j = j + 1u) { m = max(m, z[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < cols; j = j + 1u) { s = s + exp(z[base + j] - m); }
  for (var j = 0u; j < cols; j = j + 1u) {
    var t = 0.0;
    if (j == label) { t = 1.0; }
    grad[base + j] = scale * (exp(z[base + j] - m) / s - t);
  }
  rowLoss[gi] = m + log(s) - z[base + label];
}`;

export function softmax(x: Tensor): Tensor {
  const cols = x.shape[x.rank - 1];
  const y = empty(x.shape);
  if (x.size === 0) return y;
  const rows = x.size / cols;
  run(
    SOFTMAX,
    [[x, false], [y, true]],
    new Params().u(rows, cols),
    groups1d(rows),
  );
  return y;
}

/** The per-row losses and the gradient; the caller sums the rows. */
export function softmaxCrossEntropyRows(
  logits: Tensor,
  labels: Tensor,
  scale: number,
): { rows: Tensor; grad: Tensor } {
  const [r, cols] = logits.shape;
  const grad = empty(logits.shape), rows = empty([r]);
  run(
    SOFTMAX_CE,
    [[logits, false], [labels, false], [grad, true], [rows, true]],
    new Params().u(r, cols).f(scale),
    groups1d(r),
  );
  return { rows, grad };
}

// Optimiser updates (torch.optim.SGD / Adam / AdamW) -------------------------------

const SGD = `${PARAMS}
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let lr = pf(1u); let wd = pf(2u); let mom = pf(3u); let damp = pf(4u);
  let nesterov = pu(5u) != 0u; let first = pu(6u) != 0u;
  var g = grad[gi];
  if (wd != 0.0) { g = g + wd * param[gi]; }
  if (mom != 0.0) {
    var b = g;
    if (!first) { b = mom * buf[gi] + (1.0 - damp) * g; }
    buf[gi] = b;
    if (nesterov) { g = g + mom * b; } else { g = b; }
  }
  param[gi] = param[gi] - lr * g;
}`;

const ADAM = `${PARAMS}
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let lr = pf(1u); let b1 = pf(2u); let b2 = pf(3u); let eps = pf(4u);
  let wd = pf(5u); let decoupled = pu(6u) != 0u;
  let stepSize = pf(7u); let sqrtBias2 = pf(8u);
  var p = param[gi];
  if (decoupled) { p = p * (1.0 - lr * wd); }
  var g = grad[gi];
  if (!decoupled && wd != 0.0) { g = g + wd * p; }
  let mm = b1 * m[gi] + (1.0 - b1) * g;
  let vv = b2 * v[gi] + (1.0 - b2) * g * g;
  m[gi] = mm; v[gi] = vv;
  param[gi] = p - stepSize * mm / (sqrt(vv) / sqrtBias2 + eps);
}`;

export interface SgdAttrs {
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  firstStep: boolean;
}

export interface AdamAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  step: number;
}

export function sgdUpdate(
  param: Tensor,
  grad: Tensor,
  buf: Tensor | null,
  a: SgdAttrs,
): void {
  if (a.momentum !== 0 && !buf) {
    throw new Error("SgdUpdate: momentum needs a buffer");
  }
  run(
    SGD,
    [[param, true], [grad, false], [buf, true]],
    new Params().u(param.size).f(a.lr, a.weightDecay, a.momentum, a.dampening)
      .b(a.nesterov, a.firstStep),
    groups1d(param.size),
  );
}

export function adamUpdate(
  param: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  a: AdamAttrs,
): void {
  if (!(a.step >= 1)) throw new RangeError("AdamUpdate: step must be >= 1");
  const bias1 = 1 - Math.pow(a.beta1, a.step);
  const bias2 = 1 - Math.pow(a.beta2, a.step);
  run(
    ADAM,
    [[param, true], [grad, false], [m, true], [v, true]],
    new Params().u(param.size).f(a.lr, a.beta1, a.beta2, a.eps, a.weightDecay)
      .b(a.decoupled).f(a.lr / bias1, Math.sqrt(bias2)),
    groups1d(param.size),
  );
}
