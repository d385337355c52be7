// Reductions, plain loops: the reference twins of f32-reduce-wasmsimd.ts.
// Layout: flat f32 arrays of n elements; partials: REDUCE_CHUNKS (64) slots.
//
// Determinism for any thread count: the n elements are cut into
// REDUCE_CHUNKS fixed chunks (common/partition.ts chunkStart); thread tid
// reduces the chunks c with c % nthreads == tid, each in order, into
// partials[c]; the caller combines the 64 partials in order.
import { REDUCE_CHUNKS, chunkStart } from "../common/partition";

/** partials[c] = sum of x over chunk c. */
export function f32_sum_partials__scalar(px: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc: f32 = 0;
    for (let i = s; i < e; i++) {
      const b = <usize>i << 2;
      const x = load<f32>(px + b);
      acc += x;
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/** partials[c] = sum of x^2 over chunk c. */
export function f32_sumsq_partials__scalar(px: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc: f32 = 0;
    for (let i = s; i < e; i++) {
      const b = <usize>i << 2;
      const x = load<f32>(px + b);
      acc += x * x;
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/** partials[c] = sum of a * b over chunk c. */
export function f32_dot_partials__scalar(px: usize, py: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc: f32 = 0;
    for (let i = s; i < e; i++) {
      const b = <usize>i << 2;
      const x = load<f32>(px + b);
      const y = load<f32>(py + b);
      acc += x * y;
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/** partials[c] = max |x| over chunk c (0 for an empty chunk; NaN if any NaN). */
export function f32_maxabs_partials__scalar(px: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc: f32 = 0;
    for (let i = s; i < e; i++) {
      const b = <usize>i << 2;
      const x = load<f32>(px + b);
      acc = max<f32>(acc, Mathf.abs(x));
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/**
 * partials[c] (as i32) = how many x in chunk c are NaN or +-Inf (exponent
 * bits all ones).
 */
export function f32_count_nonfinite_partials__scalar(px: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let count = 0;
    for (let i = s; i < e; i++) {
      if ((load<u32>(px + (<usize>i << 2)) & 0x7f800000) == 0x7f800000) count++;
    }
    store<i32>(partials + (<usize>c << 2), count);
  }
}
