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

export function f32_vsub__scalar(a: usize, b: usize, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) - load<f32>(b + o));
  }
}

/** out = alpha * x */
export function f32_vscale__scalar(alpha: f32, x: usize, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, alpha * load<f32>(x + o));
  }
}

/** y = alpha * x + beta * y */
export function f32_vaxpby__scalar(alpha: f32, x: usize, beta: f32, y: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, alpha * load<f32>(x + o) + beta * load<f32>(y + o));
  }
}

/** out[i] = value */
export function f32_vfill__scalar(value: f32, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) store<f32>(out + (<usize>i << 2), value);
}

/** out = x (x and out must not overlap unless equal) */
export function f32_vcopy__scalar(x: usize, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o));
  }
}

/** out = x + value (add a constant; "c" as in XNNPACK's vaddc) */
export function f32_vaddc__scalar(x: usize, value: f32, out: usize, n: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) + value);
  }
}

/** out = min(max(x, lo), hi); NaN stays NaN. */
export function f32_vclamp__scalar(x: usize, out: usize, n: i32, lo: f32, hi: f32, tid: i32, nthreads: i32): void {
  const s = shareStart(n, tid, nthreads), e = shareEnd(n, tid, nthreads);
  for (let i = s; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, min<f32>(max<f32>(load<f32>(x + o), lo), hi));
  }
}

/**
 * Per-channel broadcast add, NCHW: out[b, c, p] = x[b, c, p] + bias[c] for
 * b < batch, c < channels, p < spatial (= H*W). Split over the batch*channels
 * planes. out may alias x.
 */
export function f32_vadd_channel__scalar(
  x: usize, bias: usize, out: usize, batch: i32, channels: i32, spatial: i32, tid: i32, nthreads: i32,
): void {
  const planes = batch * channels;
  const s = shareStart(planes, tid, nthreads), e = shareEnd(planes, tid, nthreads);
  for (let plane = s; plane < e; plane++) {
    const b = load<f32>(bias + (<usize>(plane % channels) << 2));
    const base = <usize>plane * <usize>spatial << 2;
    for (let p = 0; p < spatial; p++) {
      const o = base + (<usize>p << 2);
      store<f32>(out + o, load<f32>(x + o) + b);
    }
  }
}

/**
 * Backward of f32_vadd_channel for the bias: dbias[c] = sum over b, p of
 * dy[b, c, p]. Split over channels (each sum stays on one thread, in order),
 * so any thread count gives the same bits.
 */
export function f32_vchannel_sum__scalar(
  dy: usize, dbias: usize, batch: i32, channels: i32, spatial: i32, tid: i32, nthreads: i32,
): void {
  const s = shareStart(channels, tid, nthreads), e = shareEnd(channels, tid, nthreads);
  for (let c = s; c < e; c++) {
    let acc: f32 = 0;
    for (let b = 0; b < batch; b++) {
      const base = dy + (<usize>(b * channels + c) * <usize>spatial << 2);
      for (let p = 0; p < spatial; p++) acc += load<f32>(base + (<usize>p << 2));
    }
    store<f32>(dbias + (<usize>c << 2), acc);
  }
}
