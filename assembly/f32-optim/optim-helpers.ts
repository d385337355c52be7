// Work split for the elementwise optimiser updates: every thread but the last
// gets a multiple of 4 elements so the SIMD loops run whole vectors. The
// updates are elementwise, so any thread count gives the same bits.
import { shareStart, shareEnd } from "../common/partition";

// @ts-ignore: decorator
@inline
export function vecShareStart(n: i32, tid: i32, nthreads: i32): i32 {
  return tid == 0 ? 0 : (shareStart(n, tid, nthreads) & ~3);
}

// @ts-ignore: decorator
@inline
export function vecShareEnd(n: i32, tid: i32, nthreads: i32): i32 {
  return tid == nthreads - 1 ? n : (shareEnd(n, tid, nthreads) & ~3);
}
