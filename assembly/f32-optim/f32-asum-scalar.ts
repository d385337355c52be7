// Sum of absolute values (the L1 norm), plain loops: the reference twin of
// f32-asum-wasmsimd.ts. L-BFGS uses it for its first step length,
// min(1, 1/||g||_1) * lr. Layout: flat f32 array of n elements; partials:
// REDUCE_CHUNKS (64) slots combined in order by the caller, so any thread
// count gives the same bits (see common/partition.ts).
import { REDUCE_CHUNKS, chunkStart } from "../common/partition";

/** partials[c] = sum of |x| over chunk c. */
export function f32_asum_partials__scalar(px: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc: f32 = 0;
    for (let i = s; i < e; i++) acc += abs<f32>(load<f32>(px + (<usize>i << 2)));
    store<f32>(partials + (<usize>c << 2), acc);
  }
}
