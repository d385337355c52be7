// Elementwise unary ops and activation backwards, plain loops: the reference
// twins of f32-vunary-wasmsimd.ts (libm-quality Mathf functions, not the SIMD
// polynomials). Layout: flat f32 arrays of n elements; y may alias x, dx may
// alias dy.
import { shareStart, shareEnd } from "../common/partition";

/** 1 / (1 + e^-x) without overflow: e^-|x| is at most 1. */
// @ts-ignore: decorator
@inline
function sigmoidScalar(x: f32): f32 {
  const e = Mathf.exp(-Mathf.abs(x));
  const r: f32 = 1 / (1 + e);
  return x < 0 ? e * r : r;
}

/** y = max(x, 0) */
export function f32_relu__scalar(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(px + o);
    store<f32>(py + o, max<f32>(x, 0));
  }
}

/** y = x > 0 ? x : slope * x */
export function f32_leaky_relu__scalar(px: usize, py: usize, n: i32, slope: f32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(px + o);
    store<f32>(py + o, x > 0 ? x : slope * x);
  }
}

/** y = 1 / (1 + e^-x) */
export function f32_sigmoid__scalar(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(px + o);
    store<f32>(py + o, sigmoidScalar(x));
  }
}

/** y = tanh(x) */
export function f32_tanh__scalar(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(px + o);
    store<f32>(py + o, Mathf.tanh(x));
  }
}

/** y = e^x (SIMD saturates: see f32-math-wasmsimd.ts) */
export function f32_exp__scalar(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(px + o);
    store<f32>(py + o, Mathf.exp(x));
  }
}

/** y = ln x */
export function f32_log__scalar(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(px + o);
    store<f32>(py + o, Mathf.log(x));
  }
}

/** y = sqrt(x) */
export function f32_sqrt__scalar(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(px + o);
    store<f32>(py + o, Mathf.sqrt(x));
  }
}

/** y = |x| */
export function f32_abs__scalar(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(px + o);
    store<f32>(py + o, Mathf.abs(x));
  }
}

/** y = x * x */
export function f32_square__scalar(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(px + o);
    store<f32>(py + o, x * x);
  }
}

/** dx = x > 0 ? dy : 0 (x: the forward input; the output works too) */
export function f32_relu_bwd__scalar(px: usize, pdy: usize, pdx: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const a = load<f32>(px + o), g = load<f32>(pdy + o);
    store<f32>(pdx + o, a > 0 ? g : 0);
  }
}

/** dx = x > 0 ? dy : slope * dy (x: the forward input) */
export function f32_leaky_relu_bwd__scalar(px: usize, pdy: usize, pdx: usize, n: i32, slope: f32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const a = load<f32>(px + o), g = load<f32>(pdy + o);
    store<f32>(pdx + o, a > 0 ? g : slope * g);
  }
}

/** dx = dy * y * (1 - y) (y: the forward output) */
export function f32_sigmoid_bwd__scalar(py: usize, pdy: usize, pdx: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const a = load<f32>(py + o), g = load<f32>(pdy + o);
    store<f32>(pdx + o, g * (a * (1 - a)));
  }
}

/** dx = dy * (1 - y^2) (y: the forward output) */
export function f32_tanh_bwd__scalar(py: usize, pdy: usize, pdx: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    const a = load<f32>(py + o), g = load<f32>(pdy + o);
    store<f32>(pdx + o, g * (1 - a * a));
  }
}
