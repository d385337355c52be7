// Elementwise binary ops, f32x4. Layout: flat f32 arrays of n elements; any n
// (a scalar tail handles n % 4). out may alias a or b.
import { shareStart, shareEnd } from "../common/partition";
import { madd } from "../common/simd";

// Shares are rounded to multiples of 4 so that every thread but the last
// runs whole vectors.
// @ts-ignore: decorator
@inline
function vecShareStart(n: i32, tid: i32, nthreads: i32): i32 {
  return tid == 0 ? 0 : (shareStart(n, tid, nthreads) & ~3);
}
// @ts-ignore: decorator
@inline
function vecShareEnd(n: i32, tid: i32, nthreads: i32): i32 {
  return tid == nthreads - 1 ? n : (shareEnd(n, tid, nthreads) & ~3);
}

export function f32_vadd__wasmsimd(a: usize, b: usize, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

export function f32_vmul__wasmsimd(a: usize, b: usize, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** y = alpha * x + y */
export function f32_vaxpy__wasmsimd(alpha: f32, x: usize, y: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const va = f32x4.splat(alpha);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, madd(va, v128.load(x + o), v128.load(y + o)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, alpha * load<f32>(x + o) + load<f32>(y + o));
  }
}
