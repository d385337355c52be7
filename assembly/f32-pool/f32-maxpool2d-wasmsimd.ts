// Max pooling 2-D, forward and backward-data, f32x4. Shapes, layout, tie and
// NaN rules as f32-maxpool2d-scalar.ts, whose results these match bit for bit.
// Forward: four neighbouring output columns at a time wherever their windows
// lie wholly inside the input columns (strided loads, see loadStrided); the
// border columns go through the scalar per-window loop.
// Parallel over planes.
import { shareStart, shareEnd } from "../common/partition";
import { loadStrided, interiorStart, interiorEnd } from "./pool-helpers";

// @ts-ignore: decorator
@inline
function maxWindow(
  xp: usize, yp: usize, ap: usize, inW: i32, outW: i32,
  oh: i32, ow: i32, hs: i32, he: i32, kW: i32, sW: i32, padLeft: i32,
): void {
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

export function f32_maxpool2d_fwd__wasmsimd(
  x: usize, y: usize, argmax: usize, planes: i32,
  inH: i32, inW: i32, outH: i32, outW: i32,
  kH: i32, kW: i32, sH: i32, sW: i32, padTop: i32, padLeft: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const inPlane = inH * inW, outPlane = outH * outW;
  const owLo = interiorStart(outW, sW, padLeft);
  const owHi = interiorEnd(inW, outW, kW, sW, padLeft, owLo);
  // Lane l of a vector of columns starting at ow looks at input column
  // ow·sW − padLeft + l·sW + kw.
  let laneStep = i32x4.splat(0);
  laneStep = i32x4.replace_lane(laneStep, 1, sW);
  laneStep = i32x4.replace_lane(laneStep, 2, 2 * sW);
  laneStep = i32x4.replace_lane(laneStep, 3, 3 * sW);
  const negInf = f32x4.splat(-Infinity);
  for (let p = p0; p < p1; p++) {
    const xp = x + (<usize>(p * inPlane) << 2);
    const yp = y + (<usize>(p * outPlane) << 2);
    const ap = argmax + (<usize>(p * outPlane) << 2);
    for (let oh = 0; oh < outH; oh++) {
      const hs0 = oh * sH - padTop;
      const hs = max(hs0, 0), he = min(hs0 + kH, inH);
      let ow = 0;
      for (; ow < owLo; ow++) maxWindow(xp, yp, ap, inW, outW, oh, ow, hs, he, kW, sW, padLeft);
      for (; ow + 4 <= owHi; ow += 4) {
        const ws0 = ow * sW - padLeft;
        let best = negInf;
        let bestIdx = i32x4.add(i32x4.splat(hs * inW + ws0), laneStep);
        for (let h = hs; h < he; h++) {
          const rowIdx = h * inW + ws0;
          const rowp = xp + (<usize>rowIdx << 2);
          for (let kw = 0; kw < kW; kw++) {
            const v = loadStrided(rowp + (<usize>kw << 2), sW);
            // v > best || v is NaN: the scalar twin's update rule, lane-wise.
            const take = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
            best = v128.bitselect(v, best, take);
            const idx = i32x4.add(i32x4.splat(rowIdx + kw), laneStep);
            bestIdx = v128.bitselect(idx, bestIdx, take);
          }
        }
        const o = <usize>(oh * outW + ow) << 2;
        v128.store(yp + o, best);
        v128.store(ap + o, bestIdx);
      }
      for (; ow < outW; ow++) maxWindow(xp, yp, ap, inW, outW, oh, ow, hs, he, kW, sW, padLeft);
    }
  }
}

/**
 * As the scalar twin: dx = 0 (vector stores), then the argmax scatter-add in
 * row-major output order, which has no vector form without conflicts.
 */
export function f32_maxpool2d_bwd_data__wasmsimd(
  dy: usize, argmax: usize, dx: usize, planes: i32,
  inH: i32, inW: i32, outH: i32, outW: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const inPlane = inH * inW, outPlane = outH * outW;
  const zero = f32x4.splat(0);
  for (let p = p0; p < p1; p++) {
    const dxp = dx + (<usize>(p * inPlane) << 2);
    const dyp = dy + (<usize>(p * outPlane) << 2);
    const ap = argmax + (<usize>(p * outPlane) << 2);
    let i = 0;
    for (; i + 4 <= inPlane; i += 4) v128.store(dxp + (<usize>i << 2), zero);
    for (; i < inPlane; i++) store<f32>(dxp + (<usize>i << 2), 0);
    for (let o = 0; o < outPlane; o++) {
      const g = load<f32>(dyp + (<usize>o << 2));
      const t = dxp + (<usize>load<i32>(ap + (<usize>o << 2)) << 2);
      store<f32>(t, load<f32>(t) + g);
    }
  }
}
