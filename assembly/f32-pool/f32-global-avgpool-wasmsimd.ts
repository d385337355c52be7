// Global average pooling, forward and backward-data, f32x4. Shapes and layout
// as f32-global-avgpool-scalar.ts. The forward sums each plane in four
// vector accumulators (16 partial sums, combined in a fixed order), so it
// rounds differently from the scalar twin but identically for any thread
// count. Parallel over planes.
import { shareStart, shareEnd } from "../common/partition";
import { hsum } from "../common/simd";

export function f32_global_avgpool_fwd__wasmsimd(
  x: usize, y: usize, planes: i32, hw: i32, tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  for (let p = p0; p < p1; p++) {
    const xp = x + (<usize>(p * hw) << 2);
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    let i = 0;
    for (; i + 16 <= hw; i += 16) {
      const q = xp + (<usize>i << 2);
      a0 = f32x4.add(a0, v128.load(q));
      a1 = f32x4.add(a1, v128.load(q, 16));
      a2 = f32x4.add(a2, v128.load(q, 32));
      a3 = f32x4.add(a3, v128.load(q, 48));
    }
    for (; i + 4 <= hw; i += 4) a0 = f32x4.add(a0, v128.load(xp + (<usize>i << 2)));
    let sum = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
    for (; i < hw; i++) sum += load<f32>(xp + (<usize>i << 2));
    store<f32>(y + (<usize>p << 2), sum / <f32>hw);
  }
}

export function f32_global_avgpool_bwd_data__wasmsimd(
  dy: usize, dx: usize, planes: i32, hw: i32, tid: i32, nthreads: i32,
): void {
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  for (let p = p0; p < p1; p++) {
    const dxp = dx + (<usize>(p * hw) << 2);
    const g = load<f32>(dy + (<usize>p << 2)) / <f32>hw;
    const gv = f32x4.splat(g);
    let i = 0;
    for (; i + 4 <= hw; i += 4) v128.store(dxp + (<usize>i << 2), gv);
    for (; i < hw; i++) store<f32>(dxp + (<usize>i << 2), g);
  }
}
