// Work partitioning for the thread pool.
//
// Every parallel kernel receives (tid, nthreads) as its last two arguments and
// computes its own share. Shares are contiguous and depend only on the total
// and the thread count, so a kernel that does not reduce across shares gives
// bit-identical results for any thread count.

/** First item of thread `tid`'s share of `total` items split `nthreads` ways. */
// @ts-ignore: decorator
@inline
export function shareStart(total: i32, tid: i32, nthreads: i32): i32 {
  return <i32>((<i64>total * <i64>tid) / <i64>nthreads);
}

/** One past the last item of thread `tid`'s share. */
// @ts-ignore: decorator
@inline
export function shareEnd(total: i32, tid: i32, nthreads: i32): i32 {
  return <i32>((<i64>total * <i64>(tid + 1)) / <i64>nthreads);
}

/**
 * Reductions are split into this many fixed chunks whatever the thread count,
 * each chunk summed in order; the chunks are then combined in order. This
 * keeps sums bit-identical between 1 and N threads.
 */
export const REDUCE_CHUNKS: i32 = 64;

/** Start of reduction chunk `c` of `total` elements, rounded to 4 for SIMD. */
// @ts-ignore: decorator
@inline
export function chunkStart(total: i32, c: i32): i32 {
  if (c >= REDUCE_CHUNKS) return total;
  const per = (((total + REDUCE_CHUNKS - 1) / REDUCE_CHUNKS) + 3) & ~3;
  const s = per * c;
  return s < total ? s : total;
}
