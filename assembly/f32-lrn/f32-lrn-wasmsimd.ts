// Local response normalisation across channels, forward and backward-data,
// f32x4 over the H·W positions of a plane. Shapes, layout and maths as
// f32-lrn-scalar.ts (Krizhevsky et al. 2012 §3.3; gradient derived there).
// s^(−beta) has no vector instruction: beta = 0.75 (AlexNet, Caffe default)
// is 1 / (√s · √√s), beta = 0.5 is 1 / √s, beta = 1 is 1 / s; any other beta
// falls back to Mathf.pow per lane. Results agree with the scalar twin to a
// few ulp (FMA in the relaxed build, sqrt instead of pow), and are
// identical for any thread count. Parallel over (n, c) planes.
import { shareStart, shareEnd } from "../common/partition";
import { madd } from "../common/simd";

// @ts-ignore: decorator
@inline
function powNegBeta(s: v128, beta: f32): v128 {
  const one = f32x4.splat(1);
  if (beta == 0.75) {
    const r = f32x4.sqrt(s);
    return f32x4.div(one, f32x4.mul(r, f32x4.sqrt(r)));
  }
  if (beta == 0.5) return f32x4.div(one, f32x4.sqrt(s));
  if (beta == 1) return f32x4.div(one, s);
  let v = f32x4.splat(Mathf.pow(f32x4.extract_lane(s, 0), -beta));
  v = f32x4.replace_lane(v, 1, Mathf.pow(f32x4.extract_lane(s, 1), -beta));
  v = f32x4.replace_lane(v, 2, Mathf.pow(f32x4.extract_lane(s, 2), -beta));
  v = f32x4.replace_lane(v, 3, Mathf.pow(f32x4.extract_lane(s, 3), -beta));
  return v;
}

// @ts-ignore: decorator
@inline
function powNegBetaScalar(s: f32, beta: f32): f32 {
  if (beta == 0.75) {
    const r = Mathf.sqrt(s);
    return <f32>1 / (r * Mathf.sqrt(r));
  }
  if (beta == 0.5) return <f32>1 / Mathf.sqrt(s);
  if (beta == 1) return <f32>1 / s;
  return Mathf.pow(s, -beta);
}

export function f32_lrn_fwd__wasmsimd(
  x: usize, y: usize, scale: usize, batch: i32, channels: i32, hw: i32,
  size: i32, alpha: f32, beta: f32, bias: f32, tid: i32, nthreads: i32,
): void {
  const planes = batch * channels;
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const before = (size - 1) >> 1, after = size - 1 - before;
  const alphaOverSize = alpha / <f32>size;
  const vAlpha = f32x4.splat(alphaOverSize), vBias = f32x4.splat(bias);
  const chanStride = <usize>hw << 2;
  for (let p = p0; p < p1; p++) {
    const n = p / channels, c = p - n * channels;
    const jlo = max(c - before, 0), jhi = min(c + after, channels - 1);
    const first = x + (<usize>(n * channels + jlo) * <usize>hw << 2);
    const plane = <usize>(p * hw) << 2;
    let i = 0;
    for (; i + 4 <= hw; i += 4) {
      const o = <usize>i << 2;
      let sum = f32x4.splat(0);
      let q = first + o;
      for (let j = jlo; j <= jhi; j++, q += chanStride) {
        const v = v128.load(q);
        sum = madd(v, v, sum);
      }
      const s = madd(vAlpha, sum, vBias);
      v128.store(scale + plane + o, s);
      v128.store(y + plane + o, f32x4.mul(v128.load(x + plane + o), powNegBeta(s, beta)));
    }
    for (; i < hw; i++) {
      const o = <usize>i << 2;
      let sum: f32 = 0;
      let q = first + o;
      for (let j = jlo; j <= jhi; j++, q += chanStride) {
        const v = load<f32>(q);
        sum += v * v;
      }
      const s = bias + alphaOverSize * sum;
      store<f32>(scale + plane + o, s);
      store<f32>(y + plane + o, load<f32>(x + plane + o) * powNegBetaScalar(s, beta));
    }
  }
}

export function f32_lrn_bwd_data__wasmsimd(
  x: usize, y: usize, scale: usize, dy: usize, dx: usize,
  batch: i32, channels: i32, hw: i32, size: i32, alpha: f32, beta: f32,
  tid: i32, nthreads: i32,
): void {
  const planes = batch * channels;
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const before = (size - 1) >> 1, after = size - 1 - before;
  const coef = <f32>2 * alpha * beta / <f32>size;
  const vNegCoef = f32x4.splat(-coef);
  const chanStride = <usize>hw << 2;
  for (let p = p0; p < p1; p++) {
    const n = p / channels, c = p - n * channels;
    const jlo = max(c - after, 0), jhi = min(c + before, channels - 1);
    const first = <usize>(n * channels + jlo) * <usize>hw << 2;
    const plane = <usize>(p * hw) << 2;
    let i = 0;
    for (; i + 4 <= hw; i += 4) {
      const o = <usize>i << 2;
      let acc = f32x4.splat(0);
      let q = first + o;
      for (let j = jlo; j <= jhi; j++, q += chanStride) {
        acc = madd(v128.load(dy + q), f32x4.div(v128.load(y + q), v128.load(scale + q)), acc);
      }
      const s = v128.load(scale + plane + o);
      const direct = f32x4.mul(v128.load(dy + plane + o), powNegBeta(s, beta));
      v128.store(dx + plane + o, madd(f32x4.mul(vNegCoef, v128.load(x + plane + o)), acc, direct));
    }
    for (; i < hw; i++) {
      const o = <usize>i << 2;
      let acc: f32 = 0;
      let q = first + o;
      for (let j = jlo; j <= jhi; j++, q += chanStride) {
        acc += load<f32>(dy + q) * (load<f32>(y + q) / load<f32>(scale + q));
      }
      const s = load<f32>(scale + plane + o);
      const g = load<f32>(dy + plane + o) * powNegBetaScalar(s, beta) - coef * load<f32>(x + plane + o) * acc;
      store<f32>(dx + plane + o, g);
    }
  }
}
