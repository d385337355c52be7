// Work split shared by the Gram kernels (not re-exported by index.ts).

/**
 * First row of thread t's share when rows come in blocks of `block` rows and
 * row i costs C - i (the upper triangle): contiguous shares of about equal
 * area. Depends only on (C, block, t, nthreads).
 */
// @ts-ignore: decorator
@inline
export function triangleShare(C: i32, block: i32, t: i32, nthreads: i32): i32 {
  if (t <= 0) return 0;
  const blocks = (C + block - 1) / block;
  if (t >= nthreads) return blocks * block;
  let total: i64 = 0;
  for (let b = 0; b < blocks; b++) total += <i64>(C - b * block);
  const target = total * <i64>t;
  let acc: i64 = 0;
  for (let b = 0; b < blocks; b++) {
    if (acc * <i64>nthreads >= target) return b * block;
    acc += <i64>(C - b * block);
  }
  return blocks * block;
}
