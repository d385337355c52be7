// conv2d, plain loops: the reference twins of the SIMD kernels (the oracle
// inside the engine and the fallback). Same arguments as the SIMD kernels,
// except that weights are the raw KCRS tensor (not packed) and the
// workspace is unused.
// Shapes: X N x C x H x W, W K x C/G x R x S (PyTorch OIHW), Y/dY N x K x OH x OW,
// bias/db K (bwd_data's bias: C). ih = oh*sh - pt + r*dh, iw = ow*sw - pl + s*dw.
import { shareStart, shareEnd } from "../common/partition";

export function f32_conv2d_fwd__scalar(
  x: usize, w: usize, bias: usize, y: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, R: i32, S: i32, OH: i32, OW: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, G: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const Cg = C / G, Kg = K / G;
  const i0 = shareStart(N * K, tid, nthreads), i1 = shareEnd(N * K, tid, nthreads);
  for (let item = i0; item < i1; item++) {
    const n = item / K, k = item - n * K, g = k / Kg;
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>k << 2)) : 0;
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let sum: f32 = 0;
        for (let c = 0; c < Cg; c++) {
          const xc = x + ((<usize>(n * C + g * Cg + c) * <usize>(H * W)) << 2);
          const wc = w + ((<usize>((k * Cg + c) * R * S)) << 2);
          for (let r = 0; r < R; r++) {
            const ih = oh * sh - pt + r * dh;
            if (ih < 0 || ih >= H) continue;
            for (let s = 0; s < S; s++) {
              const iw = ow * sw - pl + s * dw;
              if (iw < 0 || iw >= W) continue;
              sum += load<f32>(xc + (<usize>(ih * W + iw) << 2)) * load<f32>(wc + (<usize>(r * S + s) << 2));
            }
          }
        }
        store<f32>(y + ((<usize>(item * OH + oh) * <usize>OW + <usize>ow) << 2), sum + b);
      }
    }
  }
}

/** dX = conv^T(dY, W) (+ bias[c], 0 = none); sizes are the forward conv's. */
export function f32_conv2d_bwd_data__scalar(
  dy: usize, w: usize, bias: usize, dx: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, R: i32, S: i32, OH: i32, OW: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, G: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const Cg = C / G, Kg = K / G;
  const i0 = shareStart(N * C, tid, nthreads), i1 = shareEnd(N * C, tid, nthreads);
  for (let item = i0; item < i1; item++) {
    const n = item / C, ch = item - n * C, g = ch / Cg, c = ch - g * Cg;
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>ch << 2)) : 0;
    for (let ih = 0; ih < H; ih++) {
      for (let iw = 0; iw < W; iw++) {
        let sum: f32 = 0;
        for (let kk = 0; kk < Kg; kk++) {
          const k = g * Kg + kk;
          const dyk = dy + ((<usize>(n * K + k) * <usize>(OH * OW)) << 2);
          const wk = w + ((<usize>((k * Cg + c) * R * S)) << 2);
          for (let r = 0; r < R; r++) {
            const yn = ih + pt - r * dh;
            if (yn < 0 || yn % sh != 0) continue;
            const oh = yn / sh;
            if (oh >= OH) continue;
            for (let s = 0; s < S; s++) {
              const xn = iw + pl - s * dw;
              if (xn < 0 || xn % sw != 0) continue;
              const ow = xn / sw;
              if (ow >= OW) continue;
              sum += load<f32>(dyk + (<usize>(oh * OW + ow) << 2)) * load<f32>(wk + (<usize>(r * S + s) << 2));
            }
          }
        }
        store<f32>(dx + ((<usize>(item * H + ih) * <usize>W + <usize>iw) << 2), sum + b);
      }
    }
  }
}

/** dW = sum over images and pixels of dY * im2col(X); threads split K. */
export function f32_conv2d_bwd_filter__scalar(
  x: usize, dy: usize, dw: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, R: i32, S: i32, OH: i32, OW: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dwl: i32, G: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const Cg = C / G, Kg = K / G;
  const k0 = shareStart(K, tid, nthreads), k1 = shareEnd(K, tid, nthreads);
  for (let k = k0; k < k1; k++) {
    const g = k / Kg;
    for (let c = 0; c < Cg; c++) {
      for (let r = 0; r < R; r++) {
        for (let s = 0; s < S; s++) {
          let sum: f32 = 0;
          for (let n = 0; n < N; n++) {
            const xc = x + ((<usize>(n * C + g * Cg + c) * <usize>(H * W)) << 2);
            const dyk = dy + ((<usize>(n * K + k) * <usize>(OH * OW)) << 2);
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * sh - pt + r * dh;
              if (ih < 0 || ih >= H) continue;
              for (let ow = 0; ow < OW; ow++) {
                const iw = ow * sw - pl + s * dwl;
                if (iw < 0 || iw >= W) continue;
                sum += load<f32>(dyk + (<usize>(oh * OW + ow) << 2)) * load<f32>(xc + (<usize>(ih * W + iw) << 2));
              }
            }
          }
          store<f32>(dw + (<usize>(((k * Cg + c) * R + r) * S + s) << 2), sum);
        }
      }
    }
  }
}

/** db[k] = sum over images and pixels of dY[n][k]; threads split k. */
export function f32_conv2d_bwd_bias__scalar(
  dy: usize, db: usize, N: i32, K: i32, P: i32, tid: i32, nthreads: i32,
): void {
  const k0 = shareStart(K, tid, nthreads), k1 = shareEnd(K, tid, nthreads);
  for (let k = k0; k < k1; k++) {
    let sum: f32 = 0;
    for (let n = 0; n < N; n++) {
      const row = dy + ((<usize>(n * K + k) * <usize>P) << 2);
      for (let i = 0; i < P; i++) sum += load<f32>(row + (<usize>i << 2));
    }
    store<f32>(db + (<usize>k << 2), sum);
  }
}
