// Sum of absolute values, f32x4 (see f32-asum-scalar.ts). Chunk starts are
// multiples of 4; four accumulators (16 lanes) per step, combined in a fixed
// tree, then the tail in order.
import { REDUCE_CHUNKS, chunkStart } from "../common/partition";
import { hsum } from "../common/simd";

/** partials[c] = sum of |x| over chunk c. */
export function f32_asum_partials__wasmsimd(px: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
    let i = s;
    for (; i + 16 <= e; i += 16) {
      const b = px + (<usize>i << 2);
      acc0 = f32x4.add(acc0, f32x4.abs(v128.load(b)));
      acc1 = f32x4.add(acc1, f32x4.abs(v128.load(b, 16)));
      acc2 = f32x4.add(acc2, f32x4.abs(v128.load(b, 32)));
      acc3 = f32x4.add(acc3, f32x4.abs(v128.load(b, 48)));
    }
    for (; i + 4 <= e; i += 4) acc0 = f32x4.add(acc0, f32x4.abs(v128.load(px + (<usize>i << 2))));
    let acc = hsum(f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3)));
    for (; i < e; i++) acc += abs<f32>(load<f32>(px + (<usize>i << 2)));
    store<f32>(partials + (<usize>c << 2), acc);
  }
}
