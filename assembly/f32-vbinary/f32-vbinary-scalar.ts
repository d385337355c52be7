// Elementwise binary ops, plain loops: the reference twins of
// f32-vbinary-wasmsimd.ts. Layout: flat f32 arrays of n elements.
import { shareStart, shareEnd } from "../common/partition";

export function f32_vadd__scalar(a: usize, b: usize, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

export function f32_vmul__scalar(a: usize, b: usize, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** y = alpha * x + y */
export function f32_vaxpy__scalar(alpha: f32, x: usize, y: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, alpha * load<f32>(x + o) + load<f32>(y + o));
  }
}
