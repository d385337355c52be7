// conv2d forward, f32x4, as implicit GEMM over packed
// weights (driver: f32-conv2d-igemm-6x8-wasmsimd.ts).
// Shapes: X N x C x H x W, W K x C/G x R x S (KCRS = PyTorch OIHW),
// Y N x K x OH x OW, bias K; OH = (H + pt + pb - dh*(R-1) - 1)/sh + 1.
// Only the top/left padding enters the gather; the bottom/right padding
// is implied by OH/OW.
import { shareStart, shareEnd } from "../common/partition";
import { MR } from "../f32-gemm/f32-gemm-6x8-ukernel-wasmsimd";
import { GATHER_CONV, igemmConv, igemmWorkspace } from "./f32-conv2d-igemm-6x8-wasmsimd";

/** Bytes of packed weights for f32_conv2d_pack_weights with these sizes. */
export function f32_conv2d_packed_weights_bytes(G: i32, Mg: i32, Kdim: i32): i32 {
  return G * ((Mg + MR - 1) / MR * MR) * Kdim * 4;
}

/**
 * Packs conv weights into the micro-kernel's MR-row panels, once per call,
 * as the A operand of the implicit GEMM (a layout helper of the SIMD path:
 * plain loads and stores, so it has no separate scalar twin).
 * Row m < Mg of group g, column kk = (o, rs) with o < Kouter, rs < RS reads
 *   w[g*strideG + m*strideM + o*strideO + rs]
 * forward:       m = k, o = c:  strideG = Kg*Cg*RS, strideM = Cg*RS, strideO = RS
 * backward-data: m = c, o = k:  strideG = Kg*Cg*RS, strideM = RS,    strideO = Cg*RS
 * Panels of group g start at dst + g*MgPad*Kdim floats; rows past Mg are 0.
 */
export function f32_conv2d_pack_weights(
  w: usize, dst: usize, G: i32, Mg: i32, Kouter: i32, RS: i32,
  strideG: i32, strideM: i32, strideO: i32, tid: i32, nthreads: i32,
): void {
  const Kdim = Kouter * RS;
  const panels = (Mg + MR - 1) / MR;
  const items = G * panels;
  const i0 = shareStart(items, tid, nthreads), i1 = shareEnd(items, tid, nthreads);
  for (let item = i0; item < i1; item++) {
    const g = item / panels, q = item - g * panels;
    const panel = dst + ((<usize>item * <usize>MR * <usize>Kdim) << 2);
    for (let i = 0; i < MR; i++) {
      const m = q * MR + i;
      const o = panel + (<usize>i << 2);
      if (m >= Mg) {
        for (let kk = 0; kk < Kdim; kk++) store<f32>(o + (<usize>(kk * MR) << 2), 0);
        continue;
      }
      const row = w + ((<usize>g * <usize>strideG + <usize>m * <usize>strideM) << 2);
      let kk = 0;
      for (let oc = 0; oc < Kouter; oc++) {
        const src = row + ((<usize>oc * <usize>strideO) << 2);
        for (let rs = 0; rs < RS; rs++) {
          store<f32>(o + (<usize>(kk * MR) << 2), load<f32>(src + (<usize>rs << 2)));
          kk++;
        }
      }
    }
  }
}

/**
 * Workspace bytes per thread for the forward and backward-data SIMD kernels
 * with Mg output channels per group (forward: K/G; backward data: C/G).
 */
export function f32_conv2d_workspace(Mg: i32): i32 {
  return igemmWorkspace(Mg);
}

/** Y = conv(X, W) + bias (bias 0 = none); wp from f32_conv2d_pack_weights (forward layout). */
export function f32_conv2d_fwd__wasmsimd(
  x: usize, wp: usize, bias: usize, y: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, R: i32, S: i32, OH: i32, OW: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, G: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  igemmConv(
    GATHER_CONV, x, wp, bias, y, N, G, C / G, H, W, K / G, OH, OW,
    R, S, sh, sw, pt, pl, dh, dw, workspace, tid, nthreads,
  );
}
