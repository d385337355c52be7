// Reductions, f32x4. Layout: flat f32 arrays of n elements; partials:
// REDUCE_CHUNKS (64) slots, combined in order by the caller (see
// f32-reduce-scalar.ts). Chunk starts are multiples of 4; within a chunk four
// f32x4 accumulators (16 lanes) run over 16 elements a step, are combined in a
// fixed tree, then the tail is added in order.
import { REDUCE_CHUNKS, chunkStart } from "../common/partition";
import { hsum, madd } from "../common/simd";

/** Largest of the four lanes, in a fixed order. */
// @ts-ignore: decorator
@inline
function hmax(v: v128): f32 {
  return max<f32>(
    max<f32>(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
    max<f32>(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)),
  );
}

/** partials[c] = sum of x over chunk c. */
export function f32_sum_partials__wasmsimd(px: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
    let i = s;
    for (; i + 16 <= e; i += 16) {
      const b = <usize>i << 2;
      acc0 = f32x4.add(acc0, v128.load(px + b));
      acc1 = f32x4.add(acc1, v128.load(px + b, 16));
      acc2 = f32x4.add(acc2, v128.load(px + b, 32));
      acc3 = f32x4.add(acc3, v128.load(px + b, 48));
    }
    for (; i + 4 <= e; i += 4) {
      const b = <usize>i << 2;
      acc0 = f32x4.add(acc0, v128.load(px + b));
    }
    let acc = hsum(f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3)));
    for (; i < e; i++) {
      const b = <usize>i << 2;
      const x = load<f32>(px + b);
      acc += x;
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/** partials[c] = sum of x^2 over chunk c. */
export function f32_sumsq_partials__wasmsimd(px: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
    let i = s;
    for (; i + 16 <= e; i += 16) {
      const b = <usize>i << 2;
      const x0 = v128.load(px + b);
      acc0 = madd(x0, x0, acc0);
      const x1 = v128.load(px + b, 16);
      acc1 = madd(x1, x1, acc1);
      const x2 = v128.load(px + b, 32);
      acc2 = madd(x2, x2, acc2);
      const x3 = v128.load(px + b, 48);
      acc3 = madd(x3, x3, acc3);
    }
    for (; i + 4 <= e; i += 4) {
      const b = <usize>i << 2;
      const x0 = v128.load(px + b);
      acc0 = madd(x0, x0, acc0);
    }
    let acc = hsum(f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3)));
    for (; i < e; i++) {
      const b = <usize>i << 2;
      const x = load<f32>(px + b);
      acc += x * x;
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/** partials[c] = sum of a * b over chunk c. */
export function f32_dot_partials__wasmsimd(px: usize, py: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
    let i = s;
    for (; i + 16 <= e; i += 16) {
      const b = <usize>i << 2;
      acc0 = madd(v128.load(px + b), v128.load(py + b), acc0);
      acc1 = madd(v128.load(px + b, 16), v128.load(py + b, 16), acc1);
      acc2 = madd(v128.load(px + b, 32), v128.load(py + b, 32), acc2);
      acc3 = madd(v128.load(px + b, 48), v128.load(py + b, 48), acc3);
    }
    for (; i + 4 <= e; i += 4) {
      const b = <usize>i << 2;
      acc0 = madd(v128.load(px + b), v128.load(py + b), acc0);
    }
    let acc = hsum(f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3)));
    for (; i < e; i++) {
      const b = <usize>i << 2;
      const x = load<f32>(px + b);
      const y = load<f32>(py + b);
      acc += x * y;
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/** partials[c] = max |x| over chunk c (0 for an empty chunk; NaN if any NaN). */
export function f32_maxabs_partials__wasmsimd(px: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
    let i = s;
    for (; i + 16 <= e; i += 16) {
      const b = <usize>i << 2;
      acc0 = f32x4.max(acc0, f32x4.abs(v128.load(px + b)));
      acc1 = f32x4.max(acc1, f32x4.abs(v128.load(px + b, 16)));
      acc2 = f32x4.max(acc2, f32x4.abs(v128.load(px + b, 32)));
      acc3 = f32x4.max(acc3, f32x4.abs(v128.load(px + b, 48)));
    }
    for (; i + 4 <= e; i += 4) {
      const b = <usize>i << 2;
      acc0 = f32x4.max(acc0, f32x4.abs(v128.load(px + b)));
    }
    let acc = hmax(f32x4.max(f32x4.max(acc0, acc1), f32x4.max(acc2, acc3)));
    for (; i < e; i++) {
      const b = <usize>i << 2;
      const x = load<f32>(px + b);
      acc = max<f32>(acc, Mathf.abs(x));
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/** partials[c] (as i32) = how many x in chunk c are NaN or +-Inf. */
export function f32_count_nonfinite_partials__wasmsimd(px: usize, n: i32, partials: usize, tid: i32, nthreads: i32): void {
  const mask = i32x4.splat(0x7f800000);
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    // Lanes count down: a true compare is -1.
    let counts = i32x4.splat(0);
    let i = s;
    for (; i + 4 <= e; i += 4) {
      const v = v128.load(px + (<usize>i << 2));
      counts = i32x4.add(counts, i32x4.eq(v128.and(v, mask), mask));
    }
    let count = -(i32x4.extract_lane(counts, 0) + i32x4.extract_lane(counts, 1) +
      i32x4.extract_lane(counts, 2) + i32x4.extract_lane(counts, 3));
    for (; i < e; i++) {
      if ((load<u32>(px + (<usize>i << 2)) & 0x7f800000) == 0x7f800000) count++;
    }
    store<i32>(partials + (<usize>c << 2), count);
  }
}
