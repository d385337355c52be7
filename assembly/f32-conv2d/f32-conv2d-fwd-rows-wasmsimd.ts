// conv2d forward for stride 1 and few output channels per group, f32x4:
// a direct convolution along output rows (4 pixels per vector), no im2col
// and no weight packing. With 1-3 output channels the implicit GEMM uses 1-3
// of the micro-kernel's 6 rows and is bound by its per-lane im2col gather
// (the generator's last transposed conv, 64 -> 1 channel, ran at ~1 GFLOP/s).
// Here each multiply-add costs one unaligned vector load of the input row and
// one weight splat.
// Same arguments as f32_conv2d_fwd__scalar (its plain-loop twin): raw KCRS
// weights, stride 1, any dilation including negative (the stride-1
// transposed gather of the backward-data stride phases), no workspace.
// Shapes: X N x C x H x W, W K x C/G x R x S, Y N x K x OH x OW, bias K.
//   Y[n][k][oh][ow] = bias[k] + sum_{c,r,s} X[n][c][oh - pt + r*dh][ow - pl + s*dw] * W[k][c][r][s]
// Threads split the (n, k) output planes.
import { shareStart, shareEnd } from "../common/partition";
import { madd } from "../common/simd";

export function f32_conv2d_fwd_rows__wasmsimd(
  x: usize, w: usize, bias: usize, y: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, R: i32, S: i32, OH: i32, OW: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, G: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const Cg = C / G, Kg = K / G;
  const plane = <usize>(H * W) << 2;
  const i0 = shareStart(N * K, tid, nthreads), i1 = shareEnd(N * K, tid, nthreads);
  // Output columns whose 4-pixel vectors read inside the row for every s:
  // ow - pl + s*dw >= 0 and ow + 3 - pl + s*dw < W for all s < S.
  const sLo = min(0, (S - 1) * dw), sHi = max(0, (S - 1) * dw);
  const owA = max(0, pl - sLo), owB = min(OW, W + pl - sHi);
  for (let item = i0; item < i1; item++) {
    const n = item / K, k = item - n * K, g = k / Kg;
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>k << 2)) : 0;
    const xg = x + <usize>(n * C + g * Cg) * plane;
    const wk = w + ((<usize>(k * Cg) * <usize>(R * S)) << 2);
    const yp = y + ((<usize>item * <usize>(OH * OW)) << 2);
    for (let oh = 0; oh < OH; oh++) {
      const yrow = yp + ((<usize>oh * <usize>OW) << 2);
      // Vector part: 4 pixels at a time where every tap's input is in the row.
      let ow = owA;
      for (; ow + 4 <= owB; ow += 4) {
        let acc = f32x4.splat(b);
        for (let c = 0; c < Cg; c++) {
          const xc = xg + <usize>c * plane;
          const wc = wk + ((<usize>(c * R * S)) << 2);
          for (let r = 0; r < R; r++) {
            const ih = oh - pt + r * dh;
            if (<u32>ih >= <u32>H) continue;
            const xrow = xc + ((<usize>ih * <usize>W) << 2);
            const wr = wc + (<usize>(r * S) << 2);
            for (let s = 0; s < S; s++) {
              const iw = ow - pl + s * dw;
              acc = madd(v128.load32_splat(wr + (<usize>s << 2)), v128.load(xrow + (<usize>iw << 2)), acc);
            }
          }
        }
        v128.store(yrow + (<usize>ow << 2), acc);
      }
      // Borders and the tail: one pixel at a time, in the same tap order.
      for (let o = 0; o < OW; o++) {
        if (o >= owA && o < ow) { o = ow - 1; continue; }
        let sum: f32 = b;
        for (let c = 0; c < Cg; c++) {
          const xc = xg + <usize>c * plane;
          const wc = wk + ((<usize>(c * R * S)) << 2);
          for (let r = 0; r < R; r++) {
            const ih = oh - pt + r * dh;
            if (<u32>ih >= <u32>H) continue;
            const xrow = xc + ((<usize>ih * <usize>W) << 2);
            for (let s = 0; s < S; s++) {
              const iw = o - pl + s * dw;
              if (<u32>iw >= <u32>W) continue;
              sum += load<f32>(wc + (<usize>(r * S + s) << 2)) * load<f32>(xrow + (<usize>iw << 2));
            }
          }
        }
        store<f32>(yrow + (<usize>o << 2), sum);
      }
    }
  }
}
