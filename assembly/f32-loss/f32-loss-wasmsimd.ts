// Losses, f32x4 (see f32-loss-scalar.ts for the reduction scheme and the
// formulas). Element tails go through the same vector code one lane at a time.
import { REDUCE_CHUNKS, chunkStart, shareEnd, shareStart } from "../common/partition";
import { hsum, madd } from "../common/simd";
import { expV, log1pV } from "../f32-vunary/f32-math-wasmsimd";

/** MSE: partials[c] = sum (x - target)^2 over chunk c; grad = 2 scale (x - target). */
export function f32_mse_partials__wasmsimd(
  x: usize, target: usize, n: i32, scale: f32, grad: usize, partials: usize, tid: i32, nthreads: i32,
): void {
  const g2: f32 = 2 * scale;
  const vg2 = f32x4.splat(g2);
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
    let i = s;
    for (; i + 8 <= e; i += 8) {
      const o = <usize>i << 2;
      const d0 = f32x4.sub(v128.load(x + o), v128.load(target + o));
      const d1 = f32x4.sub(v128.load(x + o, 16), v128.load(target + o, 16));
      acc0 = madd(d0, d0, acc0);
      acc1 = madd(d1, d1, acc1);
      if (grad) {
        v128.store(grad + o, f32x4.mul(vg2, d0));
        v128.store(grad + o, f32x4.mul(vg2, d1), 16);
      }
    }
    for (; i + 4 <= e; i += 4) {
      const o = <usize>i << 2;
      const d0 = f32x4.sub(v128.load(x + o), v128.load(target + o));
      acc0 = madd(d0, d0, acc0);
      if (grad) v128.store(grad + o, f32x4.mul(vg2, d0));
    }
    let acc = hsum(f32x4.add(acc0, acc1));
    for (; i < e; i++) {
      const o = <usize>i << 2;
      const d = load<f32>(x + o) - load<f32>(target + o);
      acc += d * d;
      if (grad) store<f32>(grad + o, g2 * d);
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/** Per-lane BCE-with-logits loss; writes scale (sigmoid(z) - t) to *gradOut. */
// @ts-ignore: decorator
@inline
function bceV(z: v128, t: v128, vscale: v128, grad: usize, o: usize): v128 {
  const en = expV(f32x4.neg(f32x4.abs(z)));
  const loss = f32x4.add(
    f32x4.sub(f32x4.max(z, f32x4.splat(0)), f32x4.mul(z, t)),
    log1pV(en),
  );
  if (grad) {
    const r = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), en));
    const sig = v128.bitselect(f32x4.mul(en, r), r, f32x4.lt(z, f32x4.splat(0)));
    v128.store(grad + o, f32x4.mul(vscale, f32x4.sub(sig, t)));
  }
  return loss;
}

/** BCE with logits: partials of max(z,0) - z t + log1p(e^-|z|); grad = scale (sigmoid(z) - t). */
export function f32_bce_logits_partials__wasmsimd(
  z: usize, t: usize, n: i32, scale: f32, grad: usize, partials: usize, tid: i32, nthreads: i32,
): void {
  const vscale = f32x4.splat(scale);
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc0 = f32x4.splat(0);
    let i = s;
    for (; i + 4 <= e; i += 4) {
      const o = <usize>i << 2;
      acc0 = f32x4.add(acc0, bceV(v128.load(z + o), v128.load(t + o), vscale, grad, o));
    }
    let acc = hsum(acc0);
    for (; i < e; i++) {
      const o = <usize>i << 2;
      const zi = f32x4.splat(load<f32>(z + o)), ti = f32x4.splat(load<f32>(t + o));
      // One lane: compute all four lanes alike and keep lane 0 (grad via a
      // 16-byte store would overrun, so the gradient is computed here).
      acc += f32x4.extract_lane(bceV(zi, ti, vscale, 0, 0), 0);
      if (grad) {
        const en = f32x4.extract_lane(expV(f32x4.neg(f32x4.abs(zi))), 0);
        const r: f32 = 1 / (1 + en);
        const zs = f32x4.extract_lane(zi, 0);
        store<f32>(grad + o, scale * ((zs < 0 ? en * r : r) - f32x4.extract_lane(ti, 0)));
      }
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/** Largest element of a row of `cols` floats. */
// @ts-ignore: decorator
@inline
function rowMax(px: usize, cols: i32): f32 {
  let vm = f32x4.splat(-Infinity);
  let j = 0;
  for (; j + 4 <= cols; j += 4) vm = f32x4.max(vm, v128.load(px + (<usize>j << 2)));
  let m = max<f32>(
    max<f32>(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)),
    max<f32>(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)),
  );
  for (; j < cols; j++) m = max<f32>(m, load<f32>(px + (<usize>j << 2)));
  return m;
}

/**
 * Writes e^(x_j - m) to out (when out != 0) and returns their sum: vector lanes
 * first, combined in a fixed order, then the tail.
 */
// @ts-ignore: decorator
@inline
function rowExpSum(px: usize, out: usize, cols: i32, m: f32): f32 {
  const vm = f32x4.splat(m);
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= cols; j += 4) {
    const o = <usize>j << 2;
    const v = expV(f32x4.sub(v128.load(px + o), vm));
    if (out) v128.store(out + o, v);
    acc = f32x4.add(acc, v);
  }
  let sum = hsum(acc);
  for (; j < cols; j++) {
    const o = <usize>j << 2;
    const v = f32x4.extract_lane(expV(f32x4.splat(load<f32>(px + o) - m)), 0);
    if (out) store<f32>(out + o, v);
    sum += v;
  }
  return sum;
}

/** Multiplies a row of `cols` floats by f in place. */
// @ts-ignore: decorator
@inline
function rowScale(p: usize, cols: i32, f: f32): void {
  const vf = f32x4.splat(f);
  let j = 0;
  for (; j + 4 <= cols; j += 4) {
    const o = <usize>j << 2;
    v128.store(p + o, f32x4.mul(v128.load(p + o), vf));
  }
  for (; j < cols; j++) store<f32>(p + (<usize>j << 2), load<f32>(p + (<usize>j << 2)) * f);
}

/** Row-wise softmax of x[rows, cols] into y (may alias x), max-subtracted. */
export function f32_softmax__wasmsimd(x: usize, y: usize, rows: i32, cols: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(rows, tid, nthreads), e = shareEnd(rows, tid, nthreads);
  for (let r = s; r < e; r++) {
    const off = <usize>r * <usize>cols << 2;
    const m = rowMax(x + off, cols);
    const sum = rowExpSum(x + off, y + off, cols, m);
    rowScale(y + off, cols, 1 / sum);
  }
}

/** Softmax cross-entropy with f32 class labels; see the scalar twin. */
export function f32_softmax_xent_partials__wasmsimd(
  logits: usize, labels: usize, rows: i32, cols: i32, scale: f32, grad: usize, partials: usize,
  tid: i32, nthreads: i32,
): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const rs = chunkStart(rows, c), re = chunkStart(rows, c + 1);
    let acc: f32 = 0;
    for (let r = rs; r < re; r++) {
      const off = <usize>r * <usize>cols << 2;
      const px = logits + off;
      const label = <i32>load<f32>(labels + (<usize>r << 2));
      const m = rowMax(px, cols);
      const pg = grad ? grad + off : 0;
      const sum = rowExpSum(px, pg, cols, m);
      acc += (m + Mathf.log(sum)) - load<f32>(px + (<usize>label << 2));
      if (grad) {
        rowScale(pg, cols, scale / sum);
        store<f32>(pg + (<usize>label << 2), load<f32>(pg + (<usize>label << 2)) - scale);
      }
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}
