// f32x4 transcendental functions shared by the vunary and loss kernels, and
// the vector-share helpers of the elementwise kernels. Not kernels: every
// function here is inlined into its callers.
//
// exp and log follow Cephes (S. L. Moshier, Cephes Math Library, expf.c and
// logf.c): Cody-Waite range reduction with a split ln 2 and a minimax
// polynomial on the reduced interval; the same scheme as the widely used
// SSE ports (sse_mathfun). Measured error against f64: exp <= 2 ulp on
// [-87, 88], log <= 2 ulp on normal numbers (tests/assembly/f32-vunary_test.ts).
import { shareStart, shareEnd } from "../common/partition";
import { madd } from "../common/simd";

/** First element of a thread's share, a multiple of 4 (vector aligned). */
// @ts-ignore: decorator
@inline
export function vecShareStart(n: i32, tid: i32, nthreads: i32): i32 {
  return tid == 0 ? 0 : (shareStart(n, tid, nthreads) & ~3);
}

/** One past the last element of a thread's share. */
// @ts-ignore: decorator
@inline
export function vecShareEnd(n: i32, tid: i32, nthreads: i32): i32 {
  return tid == nthreads - 1 ? n : (shareEnd(n, tid, nthreads) & ~3);
}

// exp saturates instead of overflowing: above 127 ln 2 the result is held at
// 2^127 (~1.7e38); below -126 ln 2 (smallest normal) it is flushed to 0. So
// finite inputs never give Inf or NaN, and 1 + exp(x) stays finite.
// @ts-ignore: decorator
@inline export const EXP_HI: f32 = 88.02969193111305; // 127 ln 2
// @ts-ignore: decorator
@inline export const EXP_LO: f32 = -87.33654475055310; // -126 ln 2

/** e^x per lane (Cephes expf). NaN in, NaN out. */
// @ts-ignore: decorator
@inline
export function expV(x: v128): v128 {
  const xc = f32x4.max(f32x4.min(x, f32x4.splat(EXP_HI)), f32x4.splat(EXP_LO));
  // n = round(x / ln 2); r = x - n ln 2 with ln 2 split in two (Cody-Waite):
  // 0.693359375 has 9 significant bits, so n * C1 is exact.
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  let r = madd(n, f32x4.splat(-0.693359375), xc);
  r = madd(n, f32x4.splat(2.12194440e-4), r);
  // e^r = 1 + r + r^2 P(r), |r| <= ln2 / 2 (Cephes coefficients).
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  const r2 = f32x4.mul(r, r);
  const y = f32x4.add(madd(p, r2, r), f32x4.splat(1));
  // 2^n built in the exponent field; n is in [-126, 127].
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  const result = f32x4.mul(y, pow2n);
  // Flush to 0 below the range (x < EXP_LO); NaN lanes compare false and are
  // kept through the select below.
  return v128.andnot(result, f32x4.lt(x, f32x4.splat(EXP_LO)));
}

/**
 * Natural log per lane (Cephes logf). log(0) = -Inf, log(x < 0) = NaN,
 * log(+Inf) = +Inf, NaN in, NaN out; subnormals are scaled up first.
 */
// @ts-ignore: decorator
@inline
export function logV(x: v128): v128 {
  // Subnormals: multiply by 2^23 and take 23 off the exponent.
  const tiny = f32x4.lt(x, f32x4.splat(1.17549435e-38));
  const xs = v128.bitselect(f32x4.mul(x, f32x4.splat(8388608.0)), x, tiny);
  const exponentBias = v128.bitselect(i32x4.splat(126 + 23), i32x4.splat(126), tiny);
  // x = m 2^e with m in [0.5, 1).
  let e = i32x4.sub(i32x4.shr_u(xs, 23), exponentBias);
  let m = v128.or(v128.and(xs, i32x4.splat(0x007fffff)), i32x4.splat(0x3f000000));
  // If m < sqrt(1/2): e -= 1, m = 2m - 1; else m = m - 1.
  const small = f32x4.lt(m, f32x4.splat(0.707106781186547524));
  e = i32x4.add(e, small); // small lanes are all ones = -1
  m = f32x4.sub(f32x4.add(m, v128.and(m, small)), f32x4.splat(1));
  const ef = f32x4.convert_i32x4_s(e);
  const z = f32x4.mul(m, m);
  let p = f32x4.splat(7.0376836292e-2);
  p = madd(p, m, f32x4.splat(-1.1514610310e-1));
  p = madd(p, m, f32x4.splat(1.1676998740e-1));
  p = madd(p, m, f32x4.splat(-1.2420140846e-1));
  p = madd(p, m, f32x4.splat(1.4249322787e-1));
  p = madd(p, m, f32x4.splat(-1.6668057665e-1));
  p = madd(p, m, f32x4.splat(2.0000714765e-1));
  p = madd(p, m, f32x4.splat(-2.4999993993e-1));
  p = madd(p, m, f32x4.splat(3.3333331174e-1));
  let y = f32x4.mul(f32x4.mul(p, m), z);
  y = madd(ef, f32x4.splat(-2.12194440e-4), y);
  y = madd(z, f32x4.splat(-0.5), y);
  let result = f32x4.add(m, y);
  result = madd(ef, f32x4.splat(0.693359375), result);
  // Special values: 0 -> -Inf, negative -> NaN, +Inf -> +Inf, NaN -> NaN.
  result = v128.bitselect(f32x4.splat(-Infinity), result, f32x4.eq(x, f32x4.splat(0)));
  result = v128.bitselect(f32x4.splat(Infinity), result, f32x4.eq(x, f32x4.splat(Infinity)));
  const invalid = v128.or(f32x4.lt(x, f32x4.splat(0)), f32x4.ne(x, x));
  return v128.bitselect(f32x4.splat(NaN), result, invalid);
}

/** log(1 + u) for u >= 0, accurate for small u (Goldberg's trick:
 *  log1p(u) = log(w) * u / (w - 1) with w = 1 + u rounded; u where w == 1). */
// @ts-ignore: decorator
@inline
export function log1pV(u: v128): v128 {
  const w = f32x4.add(u, f32x4.splat(1));
  const d = f32x4.sub(w, f32x4.splat(1));
  const exact = f32x4.eq(d, f32x4.splat(0));
  const q = f32x4.div(f32x4.mul(logV(w), u), v128.bitselect(f32x4.splat(1), d, exact));
  return v128.bitselect(u, q, exact);
}

/** 1 / (1 + e^-x), from e = e^-|x| so that nothing overflows. */
// @ts-ignore: decorator
@inline
export function sigmoidV(x: v128): v128 {
  const e = expV(f32x4.neg(f32x4.abs(x)));
  const r = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  // x >= 0: 1 / (1 + e); x < 0: e / (1 + e) = 1 - 1 / (1 + e) computed as e * r.
  return v128.bitselect(f32x4.mul(e, r), r, f32x4.lt(x, f32x4.splat(0)));
}

/**
 * tanh per lane. |x| < 0.625: Cephes tanhf odd polynomial (no cancellation
 * near 0); otherwise 1 - 2 / (e^{2|x|} + 1) with the sign of x. Saturates to
 * +-1 for large |x|.
 */
// @ts-ignore: decorator
@inline
export function tanhV(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = madd(p, z, f32x4.splat(2.06390887954e-2));
  p = madd(p, z, f32x4.splat(-5.37397155531e-2));
  p = madd(p, z, f32x4.splat(1.33314422036e-1));
  p = madd(p, z, f32x4.splat(-3.33332819422e-1));
  const small = madd(f32x4.mul(p, z), x, x);
  const e = expV(f32x4.add(ax, ax));
  const large = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1))));
  // copysign(large, x)
  const signed = v128.or(large, v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(0.625)));
}
