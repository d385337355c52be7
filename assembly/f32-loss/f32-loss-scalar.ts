// Losses, plain loops: the reference twins of f32-loss-wasmsimd.ts.
//
// Loss values are reduced deterministically like f32-reduce: REDUCE_CHUNKS
// fixed chunks (of elements, or of rows for the softmax losses), thread tid
// taking chunks c % nthreads == tid, one f32 partial per chunk; the caller sums
// the partials in order and multiplies by `scale` (1/n for a mean, 1 for a
// sum). Gradients (when grad != 0) are d(scale * sum)/d input, overwritten.
import { REDUCE_CHUNKS, chunkStart, shareEnd, shareStart } from "../common/partition";

/**
 * Mean/sum squared error. x, target, grad: n floats.
 * partials[c] = sum over chunk c of (x - target)^2; grad = 2 scale (x - target).
 */
export function f32_mse_partials__scalar(
  x: usize, target: usize, n: i32, scale: f32, grad: usize, partials: usize, tid: i32, nthreads: i32,
): void {
  const g2: f32 = 2 * scale;
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc: f32 = 0;
    for (let i = s; i < e; i++) {
      const o = <usize>i << 2;
      const d = load<f32>(x + o) - load<f32>(target + o);
      acc += d * d;
      if (grad) store<f32>(grad + o, g2 * d);
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/**
 * Binary cross-entropy on logits z with targets t in [0, 1], the numerically
 * stable form max(z, 0) - z t + log(1 + e^-|z|) (as in PyTorch's
 * BCEWithLogitsLoss); grad = scale (sigmoid(z) - t).
 */
export function f32_bce_logits_partials__scalar(
  z: usize, t: usize, n: i32, scale: f32, grad: usize, partials: usize, tid: i32, nthreads: i32,
): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const s = chunkStart(n, c), e = chunkStart(n, c + 1);
    let acc: f32 = 0;
    for (let i = s; i < e; i++) {
      const o = <usize>i << 2;
      const zi = load<f32>(z + o), ti = load<f32>(t + o);
      const en = Mathf.exp(-Mathf.abs(zi));
      acc += max<f32>(zi, 0) - zi * ti + Mathf.log1p(en);
      if (grad) {
        const r: f32 = 1 / (1 + en);
        const sig = zi < 0 ? en * r : r;
        store<f32>(grad + o, scale * (sig - ti));
      }
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}

/** Row-wise softmax of x[rows, cols] into y (may alias x), max-subtracted. */
export function f32_softmax__scalar(x: usize, y: usize, rows: i32, cols: i32, tid: i32, nthreads: i32): void {
  const s = shareStart(rows, tid, nthreads), e = shareEnd(rows, tid, nthreads);
  for (let r = s; r < e; r++) {
    const px = x + (<usize>r * <usize>cols << 2), py = y + (<usize>r * <usize>cols << 2);
    let m = load<f32>(px);
    for (let j = 1; j < cols; j++) m = max<f32>(m, load<f32>(px + (<usize>j << 2)));
    let sum: f32 = 0;
    for (let j = 0; j < cols; j++) {
      const v = Mathf.exp(load<f32>(px + (<usize>j << 2)) - m);
      store<f32>(py + (<usize>j << 2), v);
      sum += v;
    }
    const inv: f32 = 1 / sum;
    for (let j = 0; j < cols; j++) store<f32>(py + (<usize>j << 2), load<f32>(py + (<usize>j << 2)) * inv);
  }
}

/**
 * Softmax cross-entropy with integer class labels stored as f32 (labels[r] in
 * [0, cols), checked by the shim). Row loss = logsumexp(z_r) - z_r[label];
 * partials over chunks of rows; grad = scale (softmax(z_r) - onehot(label)).
 */
export function f32_softmax_xent_partials__scalar(
  logits: usize, labels: usize, rows: i32, cols: i32, scale: f32, grad: usize, partials: usize,
  tid: i32, nthreads: i32,
): void {
  for (let c = tid; c < REDUCE_CHUNKS; c += nthreads) {
    const rs = chunkStart(rows, c), re = chunkStart(rows, c + 1);
    let acc: f32 = 0;
    for (let r = rs; r < re; r++) {
      const px = logits + (<usize>r * <usize>cols << 2);
      const label = <i32>load<f32>(labels + (<usize>r << 2));
      let m = load<f32>(px);
      for (let j = 1; j < cols; j++) m = max<f32>(m, load<f32>(px + (<usize>j << 2)));
      let sum: f32 = 0;
      for (let j = 0; j < cols; j++) sum += Mathf.exp(load<f32>(px + (<usize>j << 2)) - m);
      acc += (m + Mathf.log(sum)) - load<f32>(px + (<usize>label << 2));
      if (grad) {
        const pg = grad + (<usize>r * <usize>cols << 2);
        const factor = scale / sum;
        for (let j = 0; j < cols; j++) {
          store<f32>(pg + (<usize>j << 2), Mathf.exp(load<f32>(px + (<usize>j << 2)) - m) * factor);
        }
        store<f32>(pg + (<usize>label << 2), load<f32>(pg + (<usize>label << 2)) - scale);
      }
    }
    store<f32>(partials + (<usize>c << 2), acc);
  }
}
