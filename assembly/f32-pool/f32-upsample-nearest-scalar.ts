// Nearest-neighbour upsampling by integer factors, forward and backward-data,
// plain loops: the reference twins of f32-upsample-nearest-wasmsimd.ts
// (bit-identical to them).
// Shapes: P = N·C planes, input H×W, output (H·FH)×(W·FW).
// Layout: x, dx [P][H][W]; y, dy [P][H·FH][W·FW].
// Forward: y[p][oh][ow] = x[p][oh / FH][ow / FW].
// Backward: dx[p][h][w] = Σ_i (Σ_j dy[p][h·FH + i][w·FW + j]), each row's FW
// terms summed first, then the FH row sums in order.
// Parallel over planes.
import { shareStart, shareEnd } from "../common/partition";

export function f32_upsample_nearest_fwd__scalar(
  x: usize, y: usize, planes: i32, inH: i32, inW: i32, fH: i32, fW: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const outH = inH * fH, outW = inW * fW;
  for (let p = p0; p < p1; p++) {
    const xp = x + (<usize>(p * inH * inW) << 2);
    const yp = y + (<usize>(p * outH * outW) << 2);
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const v = load<f32>(xp + (<usize>((oh / fH) * inW + ow / fW) << 2));
        store<f32>(yp + (<usize>(oh * outW + ow) << 2), v);
      }
    }
  }
}

export function f32_upsample_nearest_bwd_data__scalar(
  dy: usize, dx: usize, planes: i32, inH: i32, inW: i32, fH: i32, fW: i32,
  tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const outH = inH * fH, outW = inW * fW;
  for (let p = p0; p < p1; p++) {
    const dxp = dx + (<usize>(p * inH * inW) << 2);
    const dyp = dy + (<usize>(p * outH * outW) << 2);
    for (let h = 0; h < inH; h++) {
      for (let w = 0; w < inW; w++) {
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
