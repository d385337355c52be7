// SIMD helpers shared by every kernel family.
//
// `madd` is the one place that chooses between relaxed-SIMD fused multiply-add
// and plain mul+add; ASC_FEATURE_RELAXED_SIMD is a compile-time constant, so
// each build contains exactly one of the two paths.

// @ts-ignore: decorator
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  }
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Horizontal sum of the four lanes, in a fixed order (0+1)+(2+3). */
// @ts-ignore: decorator
@inline
export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}
