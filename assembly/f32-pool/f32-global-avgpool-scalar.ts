// Global average pooling, forward and backward-data, plain loops: the
// reference twins of f32-global-avgpool-wasmsimd.ts.
// Shapes: P = N·C planes of HW = H·W elements. Layout: x, dx [P][HW];
// y, dy [P]. y[p] = Σ x[p] / HW; dx[p][i] = dy[p] / HW.
// Parallel over planes.
import { shareStart, shareEnd } from "../common/partition";

export function f32_global_avgpool_fwd__scalar(
  x: usize, y: usize, planes: i32, hw: i32, tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  for (let p = p0; p < p1; p++) {
    const xp = x + (<usize>(p * hw) << 2);
    let sum: f32 = 0;
    for (let i = 0; i < hw; i++) sum += load<f32>(xp + (<usize>i << 2));
    store<f32>(y + (<usize>p << 2), sum / <f32>hw);
  }
}

export function f32_global_avgpool_bwd_data__scalar(
  dy: usize, dx: usize, planes: i32, hw: i32, tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  for (let p = p0; p < p1; p++) {
    const dxp = dx + (<usize>(p * hw) << 2);
    const g = load<f32>(dy + (<usize>p << 2)) / <f32>hw;
    for (let i = 0; i < hw; i++) store<f32>(dxp + (<usize>i << 2), g);
  }
}
