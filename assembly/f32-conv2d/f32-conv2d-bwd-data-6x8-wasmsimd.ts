// conv2d backward-data, f32x4: dX = conv^T(dY, W), as implicit GEMM over
// weights packed by f32_conv2d_pack_weights in the backward-data layout
// (driver: f32-conv2d-igemm-6x8-wasmsimd.ts). Each dX pixel gathers the dY
// pixels it fed (no col2im scatter): threads write disjoint outputs.
// Shapes: dY N x K x OH x OW, W K x C/G x R x S, dX N x C x H x W.
// Workspace: f32_conv2d_workspace(C/G) bytes per thread.
import { shareStart, shareEnd } from "../common/partition";
import { GATHER_TRANSPOSED, igemmConv } from "./f32-conv2d-igemm-6x8-wasmsimd";

/**
 * dX = conv^T(dY, W) (+ bias over dX's channels, used by the transposed
 * conv's forward; 0 = none); wp from f32_conv2d_pack_weights (backward-data
 * layout). Sizes are the forward conv's.
 */
export function f32_conv2d_bwd_data__wasmsimd(
  dy: usize, wp: usize, bias: usize, dx: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, R: i32, S: i32, OH: i32, OW: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, G: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  igemmConv(
    GATHER_TRANSPOSED, dy, wp, bias, dx, N, G, K / G, OH, OW, C / G, H, W,
    R, S, sh, sw, pt, pl, dh, dw, workspace, tid, nthreads,
  );
}

// Backward data of a strided conv by stride phases (sub-pixel
// decomposition; Shi et al. 2016, "Real-time single image and video
// super-resolution using an efficient sub-pixel CNN", and the transposed-conv
// equivalence in Dumoulin & Visin 2016, "A guide to convolution arithmetic",
// section 4). With dilation 1, dX row ih only meets the taps r with
// r = (ih + pt) mod sh (mod sh), so the dX pixels of one phase
// (ih = ih0 + i*sh, iw = iw0 + j*sw) form a stride-1 transposed conv of dY
// with the sub-kernel W[.][.][rho_h + m*sh][rho_w + n*sw]: no multiply by a
// zero tap (the plain gather wastes (sh*sw - 1)/(sh*sw) of its work). The
// shim runs, per phase: f32_conv2d_phase_weights, the forward kernel with
// negated offsets (stride-1 transposed gather) into a compact buffer, then
// f32_conv2d_phase_scatter.

/**
 * Sub-kernel of phase (rho_h, rho_w): the taps W[.][.][rho_h + m*sh][rho_w + n*sw]
 * for m < Rp = ceil((R - rho_h)/sh), n < Sp, of W (K x Cg x R x S, G groups).
 * transposed = 0 keeps the layout: dst[k][c][m][n] (K x Cg x Rp x Sp, for
 * f32_conv2d_pack_weights' backward-data layout); 1 writes each group's
 * transpose dst[g*Cg + c][k - g*Kg][m][n] (C x Kg x Rp x Sp: a forward conv's
 * KCRS weights, for f32_conv2d_fwd_rows__wasmsimd). Threads split the K*Cg
 * filters. A layout helper (plain loads and stores).
 */
export function f32_conv2d_phase_weights(
  w: usize, dst: usize, K: i32, Cg: i32, G: i32, R: i32, S: i32, rh: i32, rw: i32,
  sh: i32, sw: i32, transposed: i32, tid: i32, nthreads: i32,
): void {
  const Rp = (R - rh + sh - 1) / sh, Sp = (S - rw + sw - 1) / sw;
  const Kg = K / G;
  const f0 = shareStart(K * Cg, tid, nthreads), f1 = shareEnd(K * Cg, tid, nthreads);
  for (let f = f0; f < f1; f++) {
    const k = f / Cg, c = f - k * Cg, g = k / Kg;
    const d = transposed != 0 ? (g * Cg + c) * Kg + (k - g * Kg) : f;
    const src = w + ((<usize>f * <usize>(R * S)) << 2);
    const out = dst + ((<usize>d * <usize>(Rp * Sp)) << 2);
    for (let m = 0; m < Rp; m++) {
      for (let n = 0; n < Sp; n++) {
        store<f32>(
          out + (<usize>(m * Sp + n) << 2),
          load<f32>(src + (<usize>((rh + m * sh) * S + rw + n * sw) << 2)),
        );
      }
    }
  }
}

/**
 * dst[p][ih0 + i*sh][iw0 + j*sw] = src[p][i][j] for p < planes, i < Hp,
 * j < Wp (dst planes H x W). Threads split the planes.
 */
export function f32_conv2d_phase_scatter(
  src: usize, dst: usize, planes: i32, H: i32, W: i32, Hp: i32, Wp: i32,
  ih0: i32, iw0: i32, sh: i32, sw: i32, tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  for (let p = p0; p < p1; p++) {
    const s = src + ((<usize>p * <usize>(Hp * Wp)) << 2);
    const d = dst + ((<usize>p * <usize>(H * W)) << 2);
    for (let i = 0; i < Hp; i++) {
      const row = d + ((<usize>(ih0 + i * sh) * <usize>W + <usize>iw0) << 2);
      const srow = s + ((<usize>(i * Wp)) << 2);
      const step = <usize>sw << 2;
      for (let j = 0; j < Wp; j++) {
        store<f32>(row + <usize>j * step, load<f32>(srow + (<usize>j << 2)));
      }
    }
  }
}
