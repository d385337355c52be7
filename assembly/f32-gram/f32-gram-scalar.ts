// Gram matrix and its backward, plain loops: the reference twins of
// f32-gram-wasmsimd.ts.
//
// Shapes: F [C, M] row-major (C channels, M = H*W positions), G and dG [C, C].
//   G  = scale * F F^T                       (Gatys et al. 2016, eq. 3, with
//                                             the normalisation in `scale`)
//   dF = scale * (dG + dG^T) F               (d/dF of sum(dG .* G))
// The backward runs in two calls: f32_gram_sym forms S = scale (dG + dG^T)
// in a [C, C] buffer, then f32_gram_bwd computes dF = S F.
import { shareEnd, shareStart } from "../common/partition";
import { triangleShare } from "./f32-gram-common";

/** G = scale * F F^T; each upper entry a plain sequential dot, mirrored. */
export function f32_gram__scalar(f: usize, C: i32, M: i32, scale: f32, g: usize, tid: i32, nthreads: i32): void {
  const r0 = triangleShare(C, 1, tid, nthreads), r1 = min(triangleShare(C, 1, tid + 1, nthreads), C);
  const rowBytes = <usize>M << 2;
  for (let i = r0; i < r1; i++) {
    const pa = f + <usize>i * rowBytes;
    for (let j = i; j < C; j++) {
      const pb = f + <usize>j * rowBytes;
      let acc: f32 = 0;
      for (let k = 0; k < M; k++) acc += load<f32>(pa + (<usize>k << 2)) * load<f32>(pb + (<usize>k << 2));
      const v = acc * scale;
      store<f32>(g + ((<usize>i * <usize>C + <usize>j) << 2), v);
      store<f32>(g + ((<usize>j * <usize>C + <usize>i) << 2), v);
    }
  }
}

/** S = scale * (dG + dG^T), split over rows of S. */
export function f32_gram_sym__scalar(dg: usize, s: usize, C: i32, scale: f32, tid: i32, nthreads: i32): void {
  const r0 = shareStart(C, tid, nthreads), r1 = shareEnd(C, tid, nthreads);
  for (let i = r0; i < r1; i++) {
    for (let j = 0; j < C; j++) {
      const v = load<f32>(dg + ((<usize>i * <usize>C + <usize>j) << 2)) +
        load<f32>(dg + ((<usize>j * <usize>C + <usize>i) << 2));
      store<f32>(s + ((<usize>i * <usize>C + <usize>j) << 2), scale * v);
    }
  }
}

/**
 * dF = S F (S [C, C] from f32_gram_sym), split over rows of dF. df must not
 * alias f. `workspace` is unused (same arguments as the SIMD kernel).
 */
export function f32_gram_bwd__scalar(
  s: usize, f: usize, df: usize, C: i32, M: i32, workspace: usize, tid: i32, nthreads: i32,
): void {
  const r0 = shareStart(C, tid, nthreads), r1 = shareEnd(C, tid, nthreads);
  const rowBytes = <usize>M << 2;
  for (let i = r0; i < r1; i++) {
    const po = df + <usize>i * rowBytes;
    for (let k = 0; k < M; k++) store<f32>(po + (<usize>k << 2), 0);
    for (let j = 0; j < C; j++) {
      const sij = load<f32>(s + ((<usize>i * <usize>C + <usize>j) << 2));
      const pf = f + <usize>j * rowBytes;
      for (let k = 0; k < M; k++) {
        const o = <usize>k << 2;
        store<f32>(po + o, load<f32>(po + o) + sij * load<f32>(pf + o));
      }
    }
  }
}
