// Reflect padding (PyTorch padding_mode="reflect"), plain loops.
// Shapes: X planes x H x W -> Y planes x (H+pt+pb) x (W+pl+pr), every pad < its
// dimension. Y[i][j] = X[refl(i - pt, H)][refl(j - pl, W)] with
// refl(v, n) = -v for v < 0, 2(n-1) - v for v >= n (the edge is not repeated).
// The backward pass folds dY back: dX[refl(i)][refl(j)] += dY[i][j]; each
// plane belongs to one thread and is summed in a fixed order (deterministic).
import { shareStart, shareEnd } from "../common/partition";

// @ts-ignore: decorator
@inline
function reflectIndex(v: i32, n: i32): i32 {
  return v < 0 ? -v : (v >= n ? 2 * (n - 1) - v : v);
}

export function f32_pad2d_reflect__scalar(
  x: usize, y: usize, planes: i32, H: i32, W: i32, pt: i32, pb: i32, pl: i32, pr: i32,
  tid: i32, nthreads: i32,
): void {
  const OH = H + pt + pb, OW = W + pl + pr;
  const i0 = shareStart(planes, tid, nthreads), i1 = shareEnd(planes, tid, nthreads);
  for (let p = i0; p < i1; p++) {
    const xp = x + ((<usize>p * <usize>(H * W)) << 2);
    const yp = y + ((<usize>p * <usize>(OH * OW)) << 2);
    for (let i = 0; i < OH; i++) {
      const si = reflectIndex(i - pt, H);
      for (let j = 0; j < OW; j++) {
        const sj = reflectIndex(j - pl, W);
        store<f32>(yp + (<usize>(i * OW + j) << 2), load<f32>(xp + (<usize>(si * W + sj) << 2)));
      }
    }
  }
}

export function f32_pad2d_reflect_bwd__scalar(
  dy: usize, dx: usize, planes: i32, H: i32, W: i32, pt: i32, pb: i32, pl: i32, pr: i32,
  tid: i32, nthreads: i32,
): void {
  const OH = H + pt + pb, OW = W + pl + pr;
  const i0 = shareStart(planes, tid, nthreads), i1 = shareEnd(planes, tid, nthreads);
  for (let p = i0; p < i1; p++) {
    const dxp = dx + ((<usize>p * <usize>(H * W)) << 2);
    const dyp = dy + ((<usize>p * <usize>(OH * OW)) << 2);
    for (let i = 0; i < H * W; i++) store<f32>(dxp + (<usize>i << 2), 0);
    for (let i = 0; i < OH; i++) {
      const si = reflectIndex(i - pt, H);
      for (let j = 0; j < OW; j++) {
        const sj = reflectIndex(j - pl, W);
        const o = dxp + (<usize>(si * W + sj) << 2);
        store<f32>(o, load<f32>(o) + load<f32>(dyp + (<usize>(i * OW + j) << 2)));
      }
    }
  }
}
