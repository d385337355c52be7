// Average pooling 2-D, forward and backward-data, plain loops: the reference
// twins of f32-avgpool2d-wasmsimd.ts (bit-identical to them).
// Shapes and layout as f32-maxpool2d-scalar.ts: x, dx [P][IH][IW];
// y, dy [P][OH][OW]. The window sums the input elements it covers; the
// divisor (PyTorch's and Caffe's rule) is
//   countIncludePad != 0: the window clipped to the padded input
//     [−padTop, IH + padBottom) × [−padLeft, IW + padRight) — in ceil mode
//     the last window may stick out past the bottom/right padding and that
//     part is not counted;
//   countIncludePad == 0: the number of real input elements covered.
// Each window sums in row-major order starting from 0 and divides once.
// Parallel over planes.
import { shareStart, shareEnd } from "../common/partition";

export function f32_avgpool2d_fwd__scalar(
  x: usize, y: usize, planes: i32,
  inH: i32, inW: i32, outH: i32, outW: i32,
  kH: i32, kW: i32, sH: i32, sW: i32,
  padTop: i32, padBottom: i32, padLeft: i32, padRight: i32, countIncludePad: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const inPlane = inH * inW, outPlane = outH * outW;
  for (let p = p0; p < p1; p++) {
    const xp = x + (<usize>(p * inPlane) << 2);
    const yp = y + (<usize>(p * outPlane) << 2);
    for (let oh = 0; oh < outH; oh++) {
      const hs0 = oh * sH - padTop;
      const hs = max(hs0, 0), he = min(hs0 + kH, inH);
      const rows = countIncludePad ? min(hs0 + kH, inH + padBottom) - hs0 : he - hs;
      for (let ow = 0; ow < outW; ow++) {
        const ws0 = ow * sW - padLeft;
        const ws = max(ws0, 0), we = min(ws0 + kW, inW);
        const cols = countIncludePad ? min(ws0 + kW, inW + padRight) - ws0 : we - ws;
        let sum: f32 = 0;
        for (let h = hs; h < he; h++) {
          for (let w = ws; w < we; w++) sum += load<f32>(xp + (<usize>(h * inW + w) << 2));
        }
        store<f32>(yp + (<usize>(oh * outW + ow) << 2), sum / <f32>(rows * cols));
      }
    }
  }
}

/**
 * dx = 0, then every output's dy / divisor is added to each input element of
 * its window, outputs in row-major order (deterministic: one thread per plane).
 */
export function f32_avgpool2d_bwd_data__scalar(
  dy: usize, dx: usize, planes: i32,
  inH: i32, inW: i32, outH: i32, outW: i32,
  kH: i32, kW: i32, sH: i32, sW: i32,
  padTop: i32, padBottom: i32, padLeft: i32, padRight: i32, countIncludePad: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const inPlane = inH * inW, outPlane = outH * outW;
  for (let p = p0; p < p1; p++) {
    const dxp = dx + (<usize>(p * inPlane) << 2);
    const dyp = dy + (<usize>(p * outPlane) << 2);
    for (let i = 0; i < inPlane; i++) store<f32>(dxp + (<usize>i << 2), 0);
    for (let oh = 0; oh < outH; oh++) {
      const hs0 = oh * sH - padTop;
      const hs = max(hs0, 0), he = min(hs0 + kH, inH);
      const rows = countIncludePad ? min(hs0 + kH, inH + padBottom) - hs0 : he - hs;
      for (let ow = 0; ow < outW; ow++) {
        const ws0 = ow * sW - padLeft;
        const ws = max(ws0, 0), we = min(ws0 + kW, inW);
        const cols = countIncludePad ? min(ws0 + kW, inW + padRight) - ws0 : we - ws;
        const g = load<f32>(dyp + (<usize>(oh * outW + ow) << 2)) / <f32>(rows * cols);
        for (let h = hs; h < he; h++) {
          for (let w = ws; w < we; w++) {
            const t = dxp + (<usize>(h * inW + w) << 2);
            store<f32>(t, load<f32>(t) + g);
          }
        }
      }
    }
  }
}
