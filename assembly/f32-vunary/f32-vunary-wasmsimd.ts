// Elementwise unary ops and activation backwards, f32x4. Layout: flat f32
// arrays of n elements; any n (a scalar tail of the same vector code handles
// n % 4 with the input splat to all four lanes, so SIMD results do not depend on
// where the tail falls). y may alias x, dx may alias dy.
import { expV, logV, sigmoidV, tanhV, vecShareEnd, vecShareStart } from "./f32-math-wasmsimd";

/** y = max(x, 0) */
export function f32_relu__wasmsimd(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const zero = f32x4.splat(0);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(px + o);
    v128.store(py + o, f32x4.max(v, zero));
  }
  for (; i < e; i++) {
    // The tail goes through the same vector code, one lane at a time.
    const o = <usize>i << 2;
    const v = f32x4.splat(load<f32>(px + o));
    store<f32>(py + o, f32x4.extract_lane(f32x4.max(v, zero), 0));
  }
}

/** y = x > 0 ? x : slope * x */
export function f32_leaky_relu__wasmsimd(px: usize, py: usize, n: i32, slope: f32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const zero = f32x4.splat(0), vs = f32x4.splat(slope);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(px + o);
    v128.store(py + o, v128.bitselect(v, f32x4.mul(vs, v), f32x4.gt(v, zero)));
  }
  for (; i < e; i++) {
    // The tail goes through the same vector code, one lane at a time.
    const o = <usize>i << 2;
    const v = f32x4.splat(load<f32>(px + o));
    store<f32>(py + o, f32x4.extract_lane(v128.bitselect(v, f32x4.mul(vs, v), f32x4.gt(v, zero)), 0));
  }
}

/** y = 1 / (1 + e^-x) */
export function f32_sigmoid__wasmsimd(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(px + o);
    v128.store(py + o, sigmoidV(v));
  }
  for (; i < e; i++) {
    // The tail goes through the same vector code, one lane at a time.
    const o = <usize>i << 2;
    const v = f32x4.splat(load<f32>(px + o));
    store<f32>(py + o, f32x4.extract_lane(sigmoidV(v), 0));
  }
}

/** y = tanh(x) */
export function f32_tanh__wasmsimd(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(px + o);
    v128.store(py + o, tanhV(v));
  }
  for (; i < e; i++) {
    // The tail goes through the same vector code, one lane at a time.
    const o = <usize>i << 2;
    const v = f32x4.splat(load<f32>(px + o));
    store<f32>(py + o, f32x4.extract_lane(tanhV(v), 0));
  }
}

/** y = e^x (SIMD saturates: see f32-math-wasmsimd.ts) */
export function f32_exp__wasmsimd(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(px + o);
    v128.store(py + o, expV(v));
  }
  for (; i < e; i++) {
    // The tail goes through the same vector code, one lane at a time.
    const o = <usize>i << 2;
    const v = f32x4.splat(load<f32>(px + o));
    store<f32>(py + o, f32x4.extract_lane(expV(v), 0));
  }
}

/** y = ln x */
export function f32_log__wasmsimd(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(px + o);
    v128.store(py + o, logV(v));
  }
  for (; i < e; i++) {
    // The tail goes through the same vector code, one lane at a time.
    const o = <usize>i << 2;
    const v = f32x4.splat(load<f32>(px + o));
    store<f32>(py + o, f32x4.extract_lane(logV(v), 0));
  }
}

/** y = sqrt(x) */
export function f32_sqrt__wasmsimd(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(px + o);
    v128.store(py + o, f32x4.sqrt(v));
  }
  for (; i < e; i++) {
    // The tail goes through the same vector code, one lane at a time.
    const o = <usize>i << 2;
    const v = f32x4.splat(load<f32>(px + o));
    store<f32>(py + o, f32x4.extract_lane(f32x4.sqrt(v), 0));
  }
}

/** y = |x| */
export function f32_abs__wasmsimd(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(px + o);
    v128.store(py + o, f32x4.abs(v));
  }
  for (; i < e; i++) {
    // The tail goes through the same vector code, one lane at a time.
    const o = <usize>i << 2;
    const v = f32x4.splat(load<f32>(px + o));
    store<f32>(py + o, f32x4.extract_lane(f32x4.abs(v), 0));
  }
}

/** y = x * x */
export function f32_square__wasmsimd(px: usize, py: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(px + o);
    v128.store(py + o, f32x4.mul(v, v));
  }
  for (; i < e; i++) {
    // The tail goes through the same vector code, one lane at a time.
    const o = <usize>i << 2;
    const v = f32x4.splat(load<f32>(px + o));
    store<f32>(py + o, f32x4.extract_lane(f32x4.mul(v, v), 0));
  }
}

/** dx = x > 0 ? dy : 0 (x: the forward input; the output works too) */
export function f32_relu_bwd__wasmsimd(px: usize, pdy: usize, pdx: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const zero = f32x4.splat(0);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const a = v128.load(px + o), g = v128.load(pdy + o);
    v128.store(pdx + o, v128.and(g, f32x4.gt(a, zero)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    const a = f32x4.splat(load<f32>(px + o)), g = f32x4.splat(load<f32>(pdy + o));
    store<f32>(pdx + o, f32x4.extract_lane(v128.and(g, f32x4.gt(a, zero)), 0));
  }
}

/** dx = x > 0 ? dy : slope * dy (x: the forward input) */
export function f32_leaky_relu_bwd__wasmsimd(px: usize, pdy: usize, pdx: usize, n: i32, slope: f32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const zero = f32x4.splat(0), vs = f32x4.splat(slope);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const a = v128.load(px + o), g = v128.load(pdy + o);
    v128.store(pdx + o, v128.bitselect(g, f32x4.mul(vs, g), f32x4.gt(a, zero)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    const a = f32x4.splat(load<f32>(px + o)), g = f32x4.splat(load<f32>(pdy + o));
    store<f32>(pdx + o, f32x4.extract_lane(v128.bitselect(g, f32x4.mul(vs, g), f32x4.gt(a, zero)), 0));
  }
}

/** dx = dy * y * (1 - y) (y: the forward output) */
export function f32_sigmoid_bwd__wasmsimd(py: usize, pdy: usize, pdx: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const one = f32x4.splat(1);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const a = v128.load(py + o), g = v128.load(pdy + o);
    v128.store(pdx + o, f32x4.mul(g, f32x4.mul(a, f32x4.sub(one, a))));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    const a = f32x4.splat(load<f32>(py + o)), g = f32x4.splat(load<f32>(pdy + o));
    store<f32>(pdx + o, f32x4.extract_lane(f32x4.mul(g, f32x4.mul(a, f32x4.sub(one, a))), 0));
  }
}

/** dx = dy * (1 - y^2) (y: the forward output) */
export function f32_tanh_bwd__wasmsimd(py: usize, pdy: usize, pdx: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const one = f32x4.splat(1);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const a = v128.load(py + o), g = v128.load(pdy + o);
    v128.store(pdx + o, f32x4.mul(g, f32x4.sub(one, f32x4.mul(a, a))));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    const a = f32x4.splat(load<f32>(py + o)), g = f32x4.splat(load<f32>(pdy + o));
    store<f32>(pdx + o, f32x4.extract_lane(f32x4.mul(g, f32x4.sub(one, f32x4.mul(a, a))), 0));
  }
}
