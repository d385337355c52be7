// Batch normalisation over N, H, W per channel (Ioffe & Szegedy 2015),
// training forward, inference forward and backward, f32x4 over the H·W
// positions of each plane. Shapes, layout, null-pointer conventions and
// maths as f32-batchnorm-scalar.ts. Per-plane sums use two vector
// accumulators (8 partial sums combined in a fixed order) then f64 across
// planes: results differ from the scalar twin by rounding only and are
// identical for any thread count. Training forward and backward are parallel
// over channels, inference over (n, c) planes.
import { shareStart, shareEnd } from "../common/partition";
import { madd, hsum } from "../common/simd";

// @ts-ignore: decorator
@inline
function planeSum(p: usize, hw: i32): f32 {
  let a0 = f32x4.splat(0), a1 = a0;
  let i = 0;
  for (; i + 8 <= hw; i += 8) {
    const q = p + (<usize>i << 2);
    a0 = f32x4.add(a0, v128.load(q));
    a1 = f32x4.add(a1, v128.load(q, 16));
  }
  for (; i + 4 <= hw; i += 4) a0 = f32x4.add(a0, v128.load(p + (<usize>i << 2)));
  let s = hsum(f32x4.add(a0, a1));
  for (; i < hw; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}

// @ts-ignore: decorator
@inline
function planeSumSqDev(p: usize, hw: i32, mean: f32): f32 {
  const m = f32x4.splat(mean);
  let a0 = f32x4.splat(0), a1 = a0;
  let i = 0;
  for (; i + 8 <= hw; i += 8) {
    const q = p + (<usize>i << 2);
    const d0 = f32x4.sub(v128.load(q), m), d1 = f32x4.sub(v128.load(q, 16), m);
    a0 = madd(d0, d0, a0);
    a1 = madd(d1, d1, a1);
  }
  for (; i + 4 <= hw; i += 4) {
    const d = f32x4.sub(v128.load(p + (<usize>i << 2)), m);
    a0 = madd(d, d, a0);
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; i < hw; i++) {
    const d = load<f32>(p + (<usize>i << 2)) - mean;
    s += d * d;
  }
  return s;
}

/** y = (x − mean)·a + b over one plane. */
// @ts-ignore: decorator
@inline
function planeAffine(xp: usize, yp: usize, hw: i32, mean: f32, a: f32, b: f32): void {
  const vm = f32x4.splat(mean), va = f32x4.splat(a), vb = f32x4.splat(b);
  let i = 0;
  for (; i + 4 <= hw; i += 4) {
    const o = <usize>i << 2;
    v128.store(yp + o, madd(f32x4.sub(v128.load(xp + o), vm), va, vb));
  }
  for (; i < hw; i++) {
    const o = <usize>i << 2;
    store<f32>(yp + o, (load<f32>(xp + o) - mean) * a + b);
  }
}

export function f32_batchnorm_fwd_train__wasmsimd(
  x: usize, gamma: usize, beta: usize, y: usize, savedMean: usize, savedInvStd: usize,
  runningMean: usize, runningVar: usize, batch: i32, channels: i32, hw: i32,
  eps: f32, momentum: f32, tid: i32, nthreads: i32,
): void {
  const c0 = shareStart(channels, tid, nthreads), c1 = shareEnd(channels, tid, nthreads);
  const count = <f64>batch * <f64>hw;
  const imageStride = <usize>(channels * hw) << 2;
  for (let c = c0; c < c1; c++) {
    const first = <usize>(c * hw) << 2;
    let total: f64 = 0;
    for (let n = 0; n < batch; n++) total += planeSum(x + first + <usize>n * imageStride, hw);
    const mean = <f32>(total / count);
    let totalSq: f64 = 0;
    for (let n = 0; n < batch; n++) totalSq += planeSumSqDev(x + first + <usize>n * imageStride, hw, mean);
    const variance = <f32>(totalSq / count);
    const invStd = <f32>1 / Mathf.sqrt(variance + eps);
    const co = <usize>c << 2;
    store<f32>(savedMean + co, mean);
    store<f32>(savedInvStd + co, invStd);
    if (runningMean) {
      store<f32>(runningMean + co, (<f32>1 - momentum) * load<f32>(runningMean + co) + momentum * mean);
    }
    if (runningVar) {
      const unbiased = <f32>(totalSq / (count - 1));
      store<f32>(runningVar + co, (<f32>1 - momentum) * load<f32>(runningVar + co) + momentum * unbiased);
    }
    const a = gamma ? invStd * load<f32>(gamma + co) : invStd;
    const b: f32 = beta ? load<f32>(beta + co) : 0;
    for (let n = 0; n < batch; n++) {
      const o = first + <usize>n * imageStride;
      planeAffine(x + o, y + o, hw, mean, a, b);
    }
  }
}

export function f32_batchnorm_fwd_eval__wasmsimd(
  x: usize, gamma: usize, beta: usize, runningMean: usize, runningVar: usize, y: usize,
  batch: i32, channels: i32, hw: i32, eps: f32, tid: i32, nthreads: i32,
): void {
  const planes = batch * channels;
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  for (let p = p0; p < p1; p++) {
    const c = p % channels;
    const co = <usize>c << 2;
    const mean = load<f32>(runningMean + co);
    const invStd = <f32>1 / Mathf.sqrt(load<f32>(runningVar + co) + eps);
    const a = gamma ? invStd * load<f32>(gamma + co) : invStd;
    const b: f32 = beta ? load<f32>(beta + co) : 0;
    const plane = <usize>(p * hw) << 2;
    planeAffine(x + plane, y + plane, hw, mean, a, b);
  }
}

export function f32_batchnorm_bwd__wasmsimd(
  x: usize, gamma: usize, savedMean: usize, savedInvStd: usize, dy: usize,
  dx: usize, dgamma: usize, dbeta: usize, batch: i32, channels: i32, hw: i32,
  tid: i32, nthreads: i32,
): void {
  const c0 = shareStart(channels, tid, nthreads), c1 = shareEnd(channels, tid, nthreads);
  const count = <f64>batch * <f64>hw;
  const imageStride = <usize>(channels * hw) << 2;
  for (let c = c0; c < c1; c++) {
    const co = <usize>c << 2;
    const mean = load<f32>(savedMean + co), invStd = load<f32>(savedInvStd + co);
    const vm = f32x4.splat(mean);
    const start = <usize>(c * hw) << 2;
    let sumDy: f64 = 0, sumDyXmu: f64 = 0;
    for (let n = 0; n < batch; n++) {
      const q = start + <usize>n * imageStride;
      let a1 = f32x4.splat(0), a2 = a1;
      let i = 0;
      for (; i + 4 <= hw; i += 4) {
        const o = q + (<usize>i << 2);
        const g = v128.load(dy + o);
        a1 = f32x4.add(a1, g);
        a2 = madd(g, f32x4.sub(v128.load(x + o), vm), a2);
      }
      let s1 = hsum(a1), s2 = hsum(a2);
      for (; i < hw; i++) {
        const o = q + (<usize>i << 2);
        const g = load<f32>(dy + o);
        s1 += g;
        s2 += g * (load<f32>(x + o) - mean);
      }
      sumDy += s1;
      sumDyXmu += s2;
    }
    const dBeta = <f32>sumDy;
    const dGamma = <f32>sumDyXmu * invStd;
    if (dbeta) store<f32>(dbeta + co, dBeta);
    if (dgamma) store<f32>(dgamma + co, dGamma);
    const scale = gamma ? invStd * load<f32>(gamma + co) : invStd;
    const meanDy = <f32>(sumDy / count);
    const k = invStd * <f32>(<f64>dGamma / count);
    const vScale = f32x4.splat(scale), vMeanDy = f32x4.splat(meanDy), vNegK = f32x4.splat(-k);
    for (let n = 0; n < batch; n++) {
      const q = start + <usize>n * imageStride;
      let i = 0;
      for (; i + 4 <= hw; i += 4) {
        const o = q + (<usize>i << 2);
        const t = madd(f32x4.sub(v128.load(x + o), vm), vNegK, f32x4.sub(v128.load(dy + o), vMeanDy));
        v128.store(dx + o, f32x4.mul(vScale, t));
      }
      for (; i < hw; i++) {
        const o = q + (<usize>i << 2);
        store<f32>(dx + o, scale * (load<f32>(dy + o) - meanDy - (load<f32>(x + o) - mean) * k));
      }
    }
  }
}
