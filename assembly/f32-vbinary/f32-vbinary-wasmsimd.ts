// Elementwise binary ops, f32x4. Layout: flat f32 arrays of n elements; any n
// (a scalar tail handles n % 4). out may alias a or b.
import { shareStart, shareEnd } from "../common/partition";
import { hsum, madd } from "../common/simd";

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

export function f32_vsub__wasmsimd(a: usize, b: usize, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.sub(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) - load<f32>(b + o));
  }
}

/** out = alpha * x */
export function f32_vscale__wasmsimd(alpha: f32, x: usize, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const va = f32x4.splat(alpha);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(va, v128.load(x + o)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, alpha * load<f32>(x + o));
  }
}

/** y = alpha * x + beta * y */
export function f32_vaxpby__wasmsimd(alpha: f32, x: usize, beta: f32, y: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const va = f32x4.splat(alpha), vb = f32x4.splat(beta);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, madd(va, v128.load(x + o), f32x4.mul(vb, v128.load(y + o))));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, alpha * load<f32>(x + o) + beta * load<f32>(y + o));
  }
}

/** out[i] = value */
export function f32_vfill__wasmsimd(value: f32, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const v = f32x4.splat(value);
  let i = s;
  for (; i + 4 <= e; i += 4) v128.store(out + (<usize>i << 2), v);
  for (; i < e; i++) store<f32>(out + (<usize>i << 2), value);
}

/** out = x (x and out must not overlap unless equal) */
export function f32_vcopy__wasmsimd(x: usize, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  if (e > s) memory.copy(out + (<usize>s << 2), x + (<usize>s << 2), <usize>(e - s) << 2);
}

/** out = x + value */
export function f32_vaddc__wasmsimd(x: usize, value: f32, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const v = f32x4.splat(value);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(x + o), v));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) + value);
  }
}

/** out = min(max(x, lo), hi); NaN stays NaN (wasm min/max propagate NaN). */
export function f32_vclamp__wasmsimd(x: usize, out: usize, n: i32, lo: f32, hi: f32, tid: i32, nthreads: i32): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.min(f32x4.max(v128.load(x + o), vlo), vhi));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, min<f32>(max<f32>(load<f32>(x + o), lo), hi));
  }
}

/** NCHW per-channel broadcast add: out[b, c, p] = x[b, c, p] + bias[c]. */
export function f32_vadd_channel__wasmsimd(
  x: usize, bias: usize, out: usize, batch: i32, channels: i32, spatial: i32, tid: i32, nthreads: i32,
): void {
  const planes = batch * channels;
  const s = shareStart(planes, tid, nthreads), e = shareEnd(planes, tid, nthreads);
  for (let plane = s; plane < e; plane++) {
    const b = load<f32>(bias + (<usize>(plane % channels) << 2));
    const vb = f32x4.splat(b);
    const px = x + (<usize>plane * <usize>spatial << 2);
    const po = out + (<usize>plane * <usize>spatial << 2);
    let p = 0;
    for (; p + 4 <= spatial; p += 4) {
      const o = <usize>p << 2;
      v128.store(po + o, f32x4.add(v128.load(px + o), vb));
    }
    for (; p < spatial; p++) {
      const o = <usize>p << 2;
      store<f32>(po + o, load<f32>(px + o) + b);
    }
  }
}

/**
 * dbias[c] = sum over b, p of dy[b, c, p]; split over channels. Each plane is
 * summed in four lanes, the lanes combined in a fixed order, then added to the
 * channel's running sum in batch order.
 */
export function f32_vchannel_sum__wasmsimd(
  dy: usize, dbias: usize, batch: i32, channels: i32, spatial: i32, tid: i32, nthreads: i32,
): void {
  const s = shareStart(channels, tid, nthreads), e = shareEnd(channels, tid, nthreads);
  for (let c = s; c < e; c++) {
    let total: f32 = 0;
    for (let b = 0; b < batch; b++) {
      const base = dy + (<usize>(b * channels + c) * <usize>spatial << 2);
      let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
      let p = 0;
      for (; p + 8 <= spatial; p += 8) {
        const o = <usize>p << 2;
        acc0 = f32x4.add(acc0, v128.load(base + o));
        acc1 = f32x4.add(acc1, v128.load(base + o, 16));
      }
      for (; p + 4 <= spatial; p += 4) acc0 = f32x4.add(acc0, v128.load(base + (<usize>p << 2)));
      let plane = hsum(f32x4.add(acc0, acc1));
      for (; p < spatial; p++) plane += load<f32>(base + (<usize>p << 2));
      total += plane;
    }
    store<f32>(dbias + (<usize>c << 2), total);
  }
}
