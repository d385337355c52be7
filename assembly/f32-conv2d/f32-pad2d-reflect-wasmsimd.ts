// Reflect padding, f32x4: the interior of each row is a vector copy (or
// add), the reflected borders scalar. Same layout, arguments and order of
// additions as f32-pad2d-reflect-scalar.ts, so results are identical to it.
import { shareStart, shareEnd } from "../common/partition";

// @ts-ignore: decorator
@inline
function reflectIndex(v: i32, n: i32): i32 {
  return v < 0 ? -v : (v >= n ? 2 * (n - 1) - v : v);
}

export function f32_pad2d_reflect__wasmsimd(
  x: usize, y: usize, planes: i32, H: i32, W: i32, pt: i32, pb: i32, pl: i32, pr: i32,
  tid: i32, nthreads: i32,
): void {
  const OH = H + pt + pb, OW = W + pl + pr;
  const i0 = shareStart(planes, tid, nthreads), i1 = shareEnd(planes, tid, nthreads);
  for (let p = i0; p < i1; p++) {
    const xp = x + ((<usize>p * <usize>(H * W)) << 2);
    const yp = y + ((<usize>p * <usize>(OH * OW)) << 2);
    for (let i = 0; i < OH; i++) {
      const src = xp + ((<usize>reflectIndex(i - pt, H) * <usize>W) << 2);
      const dst = yp + ((<usize>i * <usize>OW) << 2);
      for (let j = 0; j < pl; j++) {
        store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>reflectIndex(j - pl, W) << 2)));
      }
      const mid = dst + (<usize>pl << 2);
      let j = 0;
      for (; j + 4 <= W; j += 4) v128.store(mid + (<usize>j << 2), v128.load(src + (<usize>j << 2)));
      for (; j < W; j++) store<f32>(mid + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
      for (let j2 = pl + W; j2 < OW; j2++) {
        store<f32>(dst + (<usize>j2 << 2), load<f32>(src + (<usize>reflectIndex(j2 - pl, W) << 2)));
      }
    }
  }
}

export function f32_pad2d_reflect_bwd__wasmsimd(
  dy: usize, dx: usize, planes: i32, H: i32, W: i32, pt: i32, pb: i32, pl: i32, pr: i32,
  tid: i32, nthreads: i32,
): void {
  const OH = H + pt + pb, OW = W + pl + pr;
  const i0 = shareStart(planes, tid, nthreads), i1 = shareEnd(planes, tid, nthreads);
  for (let p = i0; p < i1; p++) {
    const dxp = dx + ((<usize>p * <usize>(H * W)) << 2);
    const dyp = dy + ((<usize>p * <usize>(OH * OW)) << 2);
    let z = 0;
    for (; z + 4 <= H * W; z += 4) v128.store(dxp + (<usize>z << 2), f32x4.splat(0));
    for (; z < H * W; z++) store<f32>(dxp + (<usize>z << 2), 0);
    // Same (i, j) order as the scalar twin: every dX element receives its
    // contributions in the same sequence, so sums match bit for bit.
    for (let i = 0; i < OH; i++) {
      const dst = dxp + ((<usize>reflectIndex(i - pt, H) * <usize>W) << 2);
      const src = dyp + ((<usize>i * <usize>OW) << 2);
      for (let j = 0; j < pl; j++) {
        const o = dst + (<usize>reflectIndex(j - pl, W) << 2);
        store<f32>(o, load<f32>(o) + load<f32>(src + (<usize>j << 2)));
      }
      const mid = src + (<usize>pl << 2);
      let j = 0;
      for (; j + 4 <= W; j += 4) {
        const o = dst + (<usize>j << 2);
        v128.store(o, f32x4.add(v128.load(o), v128.load(mid + (<usize>j << 2))));
      }
      for (; j < W; j++) {
        const o = dst + (<usize>j << 2);
        store<f32>(o, load<f32>(o) + load<f32>(mid + (<usize>j << 2)));
      }
      for (let j2 = pl + W; j2 < OW; j2++) {
        const o = dst + (<usize>reflectIndex(j2 - pl, W) << 2);
        store<f32>(o, load<f32>(o) + load<f32>(src + (<usize>j2 << 2)));
      }
    }
  }
}
