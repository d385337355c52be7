// Max pooling 2-D, forward and backward-data, plain loops: the reference
// twins of f32-maxpool2d-wasmsimd.ts (bit-identical to them).
// Shapes: P = N·C planes, input IH×IW, output OH×OW (computed by the shim,
// floor or Caffe/PyTorch ceil mode), window KH×KW, stride SH×SW. Window
// (oh, ow) covers input rows oh·SH − padTop … + KH − 1 and columns likewise,
// clipped to the input: padding never wins a max (it acts as −∞).
// Layout: x, dx [P][IH][IW]; y, dy, argmax [P][OH][OW]; argmax is i32, the
// index h·IW + w of the maximum inside its plane (PyTorch's convention).
// Ties keep the first maximum in row-major order; NaN propagates (as PyTorch).
// Parallel over planes.
import { shareStart, shareEnd } from "../common/partition";

export function f32_maxpool2d_fwd__scalar(
  x: usize, y: usize, argmax: usize, planes: i32,
  inH: i32, inW: i32, outH: i32, outW: i32,
  kH: i32, kW: i32, sH: i32, sW: i32, padTop: i32, padLeft: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const inPlane = inH * inW, outPlane = outH * outW;
  for (let p = p0; p < p1; p++) {
    const xp = x + (<usize>(p * inPlane) << 2);
    const yp = y + (<usize>(p * outPlane) << 2);
    const ap = argmax + (<usize>(p * outPlane) << 2);
    for (let oh = 0; oh < outH; oh++) {
      const hs0 = oh * sH - padTop;
      const hs = max(hs0, 0), he = min(hs0 + kH, inH);
      for (let ow = 0; ow < outW; ow++) {
        const ws0 = ow * sW - padLeft;
        const ws = max(ws0, 0), we = min(ws0 + kW, inW);
        let best: f32 = -Infinity;
        let bestIdx = hs * inW + ws;
        for (let h = hs; h < he; h++) {
          for (let w = ws; w < we; w++) {
            const idx = h * inW + w;
            const v = load<f32>(xp + (<usize>idx << 2));
            if (v > best || v != v) {
              best = v;
              bestIdx = idx;
            }
          }
        }
        const o = <usize>(oh * outW + ow) << 2;
        store<f32>(yp + o, best);
        store<i32>(ap + o, bestIdx);
      }
    }
  }
}

/**
 * dx = 0, then dx[argmax[o]] += dy[o] for every output o of the plane, in
 * row-major order: overlapping windows (3×3/2) add up deterministically
 * because one thread owns the whole plane.
 */
export function f32_maxpool2d_bwd_data__scalar(
  dy: usize, argmax: usize, dx: usize, planes: i32,
  inH: i32, inW: i32, outH: i32, outW: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const inPlane = inH * inW, outPlane = outH * outW;
  for (let p = p0; p < p1; p++) {
    const dxp = dx + (<usize>(p * inPlane) << 2);
    const dyp = dy + (<usize>(p * outPlane) << 2);
    const ap = argmax + (<usize>(p * outPlane) << 2);
    for (let i = 0; i < inPlane; i++) store<f32>(dxp + (<usize>i << 2), 0);
    for (let o = 0; o < outPlane; o++) {
      const g = load<f32>(dyp + (<usize>o << 2));
      const t = dxp + (<usize>load<i32>(ap + (<usize>o << 2)) << 2);
      store<f32>(t, load<f32>(t) + g);
    }
  }
}
