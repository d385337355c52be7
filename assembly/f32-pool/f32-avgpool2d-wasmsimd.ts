// Average pooling 2-D, forward and backward-data, f32x4. Shapes, layout and
// divisor rule as f32-avgpool2d-scalar.ts, whose results these match bit for
// bit (same summation order, one division per output).
// Forward: four neighbouring output columns at a time wherever their windows
// lie wholly inside the input columns (there the divisor is the same for the
// four); border columns go through the scalar per-window loop.
// Backward: the scatter-add of dy / divisor over each window, window rows in
// f32x4 chunks (per element the same additions in the same order as scalar).
// Parallel over planes.
import { shareStart, shareEnd } from "../common/partition";
import { loadStrided, interiorStart, interiorEnd } from "./pool-helpers";

// @ts-ignore: decorator
@inline
function avgWindow(
  xp: usize, yp: usize, inW: i32, outW: i32, oh: i32, ow: i32,
  hs: i32, he: i32, rows: i32, kW: i32, sW: i32, padLeft: i32, padRight: i32,
  countIncludePad: i32,
): void {
  const ws0 = ow * sW - padLeft;
  const ws = max(ws0, 0), we = min(ws0 + kW, inW);
  const cols = countIncludePad ? min(ws0 + kW, inW + padRight) - ws0 : we - ws;
  let sum: f32 = 0;
  for (let h = hs; h < he; h++) {
    for (let w = ws; w < we; w++) sum += load<f32>(xp + (<usize>(h * inW + w) << 2));
  }
  store<f32>(yp + (<usize>(oh * outW + ow) << 2), sum / <f32>(rows * cols));
}

export function f32_avgpool2d_fwd__wasmsimd(
  x: usize, y: usize, planes: i32,
  inH: i32, inW: i32, outH: i32, outW: i32,
  kH: i32, kW: i32, sH: i32, sW: i32,
  padTop: i32, padBottom: i32, padLeft: i32, padRight: i32, countIncludePad: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const inPlane = inH * inW, outPlane = outH * outW;
  const owLo = interiorStart(outW, sW, padLeft);
  const owHi = interiorEnd(inW, outW, kW, sW, padLeft, owLo);
  for (let p = p0; p < p1; p++) {
    const xp = x + (<usize>(p * inPlane) << 2);
    const yp = y + (<usize>(p * outPlane) << 2);
    for (let oh = 0; oh < outH; oh++) {
      const hs0 = oh * sH - padTop;
      const hs = max(hs0, 0), he = min(hs0 + kH, inH);
      const rows = countIncludePad ? min(hs0 + kH, inH + padBottom) - hs0 : he - hs;
      // Interior windows cover kW real columns whatever countIncludePad says.
      const divisor = f32x4.splat(<f32>(rows * kW));
      let ow = 0;
      for (; ow < owLo; ow++) {
        avgWindow(xp, yp, inW, outW, oh, ow, hs, he, rows, kW, sW, padLeft, padRight, countIncludePad);
      }
      for (; ow + 4 <= owHi; ow += 4) {
        const ws0 = ow * sW - padLeft;
        let sum = f32x4.splat(0);
        for (let h = hs; h < he; h++) {
          const rowp = xp + (<usize>(h * inW + ws0) << 2);
          for (let kw = 0; kw < kW; kw++) {
            sum = f32x4.add(sum, loadStrided(rowp + (<usize>kw << 2), sW));
          }
        }
        v128.store(yp + (<usize>(oh * outW + ow) << 2), f32x4.div(sum, divisor));
      }
      for (; ow < outW; ow++) {
        avgWindow(xp, yp, inW, outW, oh, ow, hs, he, rows, kW, sW, padLeft, padRight, countIncludePad);
      }
    }
  }
}

export function f32_avgpool2d_bwd_data__wasmsimd(
  dy: usize, dx: usize, planes: i32,
  inH: i32, inW: i32, outH: i32, outW: i32,
  kH: i32, kW: i32, sH: i32, sW: i32,
  padTop: i32, padBottom: i32, padLeft: i32, padRight: i32, countIncludePad: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const inPlane = inH * inW, outPlane = outH * outW;
  const zero = f32x4.splat(0);
  for (let p = p0; p < p1; p++) {
    const dxp = dx + (<usize>(p * inPlane) << 2);
    const dyp = dy + (<usize>(p * outPlane) << 2);
    let i = 0;
    for (; i + 4 <= inPlane; i += 4) v128.store(dxp + (<usize>i << 2), zero);
    for (; i < inPlane; i++) store<f32>(dxp + (<usize>i << 2), 0);
    for (let oh = 0; oh < outH; oh++) {
      const hs0 = oh * sH - padTop;
      const hs = max(hs0, 0), he = min(hs0 + kH, inH);
      const rows = countIncludePad ? min(hs0 + kH, inH + padBottom) - hs0 : he - hs;
      for (let ow = 0; ow < outW; ow++) {
        const ws0 = ow * sW - padLeft;
        const ws = max(ws0, 0), we = min(ws0 + kW, inW);
        const cols = countIncludePad ? min(ws0 + kW, inW + padRight) - ws0 : we - ws;
        const g = load<f32>(dyp + (<usize>(oh * outW + ow) << 2)) / <f32>(rows * cols);
        const gv = f32x4.splat(g);
        for (let h = hs; h < he; h++) {
          const rowp = dxp + (<usize>(h * inW) << 2);
          let w = ws;
          for (; w + 4 <= we; w += 4) {
            const t = rowp + (<usize>w << 2);
            v128.store(t, f32x4.add(v128.load(t), gv));
          }
          for (; w < we; w++) {
            const t = rowp + (<usize>w << 2);
            store<f32>(t, load<f32>(t) + g);
          }
        }
      }
    }
  }
}
