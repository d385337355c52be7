// conv2d backward-data, f32x4: dX = conv^T(dY, W), as implicit GEMM over
// weights packed by f32_conv2d_pack_weights in the backward-data layout
// (driver: f32-conv2d-igemm-6x8-wasmsimd.ts). Each dX pixel gathers the dY
// pixels it fed (no col2im scatter): threads write disjoint outputs.
// Shapes: dY N x K x OH x OW, W K x C/G x R x S, dX N x C x H x W.
// Workspace: f32_conv2d_workspace() bytes per thread.
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
