// Helpers shared by the SIMD pooling kernels of this family.

/**
 * Four f32 at p, p + s, p + 2s, p + 3s (s in elements). Strides 1 and 2 (the
 * common pooling strides) use whole-vector loads; stride 2 reads elements
 * 0…6 only, never past the last one it needs, so it cannot run off the end
 * of memory.
 */
// @ts-ignore: decorator
@inline
export function loadStrided(p: usize, s: i32): v128 {
  if (s == 1) return v128.load(p);
  if (s == 2) {
    const a = v128.load(p);
    const b = v128.load(p, 12);
    return v128.shuffle<f32>(a, b, 0, 2, 5, 7);
  }
  const step = <usize>s << 2;
  let v = f32x4.splat(load<f32>(p));
  v = f32x4.replace_lane(v, 1, load<f32>(p + step));
  v = f32x4.replace_lane(v, 2, load<f32>(p + 2 * step));
  v = f32x4.replace_lane(v, 3, load<f32>(p + 3 * step));
  return v;
}

/**
 * First output column whose window starts inside the input (ws0 >= 0):
 * ceil(padLeft / sW), at most outW.
 */
// @ts-ignore: decorator
@inline
export function interiorStart(outW: i32, sW: i32, padLeft: i32): i32 {
  return min((padLeft + sW - 1) / sW, outW);
}

/**
 * One past the last output column whose window ends inside the input
 * (ws0 + kW <= inW), at least `start`.
 */
// @ts-ignore: decorator
@inline
export function interiorEnd(inW: i32, outW: i32, kW: i32, sW: i32, padLeft: i32, start: i32): i32 {
  const room = inW - kW + padLeft;
  const end = room >= 0 ? min(room / sW + 1, outW) : 0;
  return max(end, start);
}
