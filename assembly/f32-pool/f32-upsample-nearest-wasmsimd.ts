// Nearest-neighbour upsampling by integer factors, forward and backward-data,
// f32x4. Shapes, layout and summation order as
// f32-upsample-nearest-scalar.ts, whose results these match bit for bit.
// Forward: each output row is built once per input row (FW = 1 copies,
// FW = 2 duplicates lanes with shuffles, FW >= 4 stores splats) and then
// copied to the other FH − 1 rows. Backward: vector paths for FW = 1 and
// FW = 2 (pairwise lane sums), other factors use the scalar loop.
// Parallel over planes.
import { shareStart, shareEnd } from "../common/partition";

// @ts-ignore: decorator
@inline
function copyRow(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

export function f32_upsample_nearest_fwd__wasmsimd(
  x: usize, y: usize, planes: i32, inH: i32, inW: i32, fH: i32, fW: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const outH = inH * fH, outW = inW * fW;
  for (let p = p0; p < p1; p++) {
    const xp = x + (<usize>(p * inH * inW) << 2);
    const yp = y + (<usize>(p * outH * outW) << 2);
    for (let h = 0; h < inH; h++) {
      const src = xp + (<usize>(h * inW) << 2);
      const dst = yp + (<usize>(h * fH * outW) << 2);
      if (fW == 1) {
        copyRow(src, dst, inW);
      } else if (fW == 2) {
        let w = 0;
        for (; w + 4 <= inW; w += 4) {
          const v = v128.load(src + (<usize>w << 2));
          const q = dst + (<usize>(w << 1) << 2);
          v128.store(q, v128.shuffle<f32>(v, v, 0, 0, 1, 1));
          v128.store(q, v128.shuffle<f32>(v, v, 2, 2, 3, 3), 16);
        }
        for (; w < inW; w++) {
          const v = load<f32>(src + (<usize>w << 2));
          const q = dst + (<usize>(w << 1) << 2);
          store<f32>(q, v);
          store<f32>(q, v, 4);
        }
      } else {
        for (let w = 0; w < inW; w++) {
          const v = load<f32>(src + (<usize>w << 2));
          const vv = f32x4.splat(v);
          const q = dst + (<usize>(w * fW) << 2);
          let j = 0;
          for (; j + 4 <= fW; j += 4) v128.store(q + (<usize>j << 2), vv);
          for (; j < fW; j++) store<f32>(q + (<usize>j << 2), v);
        }
      }
      for (let i = 1; i < fH; i++) copyRow(dst, dst + (<usize>(i * outW) << 2), outW);
    }
  }
}

export function f32_upsample_nearest_bwd_data__wasmsimd(
  dy: usize, dx: usize, planes: i32, inH: i32, inW: i32, fH: i32, fW: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const outH = inH * fH, outW = inW * fW;
  for (let p = p0; p < p1; p++) {
    const dxp = dx + (<usize>(p * inH * inW) << 2);
    const dyp = dy + (<usize>(p * outH * outW) << 2);
    for (let h = 0; h < inH; h++) {
      let w = 0;
      if (fW <= 2) {
        for (; w + 4 <= inW; w += 4) {
          let sum = f32x4.splat(0);
          for (let i = 0; i < fH; i++) {
            const rowp = dyp + (<usize>((h * fH + i) * outW + w * fW) << 2);
            if (fW == 1) {
              sum = f32x4.add(sum, v128.load(rowp));
            } else {
              const a = v128.load(rowp), b = v128.load(rowp, 16);
              // (e0 + e1, e2 + e3, e4 + e5, e6 + e7): the scalar row sums.
              const pairs = f32x4.add(v128.shuffle<f32>(a, b, 0, 2, 4, 6), v128.shuffle<f32>(a, b, 1, 3, 5, 7));
              sum = f32x4.add(sum, pairs);
            }
          }
          v128.store(dxp + (<usize>(h * inW + w) << 2), sum);
        }
      }
      for (; w < inW; w++) {
        let sum: f32 = 0;
        for (let i = 0; i < fH; i++) {
          const rowp = dyp + (<usize>((h * fH + i) * outW + w * fW) << 2);
          let rowSum: f32 = 0;
          for (let j = 0; j < fW; j++) rowSum += load<f32>(rowp + (<usize>j << 2));
          sum += rowSum;
        }
        store<f32>(dxp + (<usize>(h * inW + w) << 2), sum);
      }
    }
  }
}
