// Local response normalisation across channels, forward and backward-data,
// plain loops: the reference twins of f32-lrn-wasmsimd.ts.
// Shapes: N images, C channels, HW = H·W positions. Layout: x, y, scale, dy,
// dx [N][C][HW].
// Krizhevsky, Sutskever & Hinton 2012, §3.3, with ONNX LRN / Caffe
// ACROSS_CHANNELS window conventions:
//   s_c = bias + (alpha / size) · Σ_{j ∈ W(c)} x_j²,   y_c = x_c · s_c^(−beta),
//   W(c) = [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉] ∩ [0, C).
// `scale` keeps s for the backward pass. Parallel over (n, c) planes: each
// output sums its own window directly, so shares never interact.
import { shareStart, shareEnd } from "../common/partition";

export function f32_lrn_fwd__scalar(
  x: usize, y: usize, scale: usize, batch: i32, channels: i32, hw: i32,
  size: i32, alpha: f32, beta: f32, bias: f32, tid: i32, nthreads: i32,
): void {
  const planes = batch * channels;
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const before = (size - 1) >> 1, after = size - 1 - before;
  const alphaOverSize = alpha / <f32>size;
  for (let p = p0; p < p1; p++) {
    const n = p / channels, c = p - n * channels;
    const jlo = max(c - before, 0), jhi = min(c + after, channels - 1);
    const base = <usize>(n * channels) * <usize>hw << 2;
    const plane = <usize>(p * hw) << 2;
    for (let i = 0; i < hw; i++) {
      const o = <usize>i << 2;
      let sum: f32 = 0;
      for (let j = jlo; j <= jhi; j++) {
        const v = load<f32>(x + base + (<usize>(j * hw) << 2) + o);
        sum += v * v;
      }
      const s = bias + alphaOverSize * sum;
      store<f32>(scale + plane + o, s);
      store<f32>(y + plane + o, load<f32>(x + plane + o) * Mathf.pow(s, -beta));
    }
  }
}

/**
 * Gradient (Krizhevsky et al. 2012 §3.3 differentiated; Caffe's
 * LRNLayer::CrossChannelBackward): with ∂s_j/∂x_c = (2·alpha/size)·x_c for
 * c ∈ W(j),
 *   dx_c = dy_c · s_c^(−beta)
 *          − (2·alpha·beta/size) · x_c · Σ_{j : c ∈ W(j)} dy_j · y_j / s_j,
 * using y_j / s_j = x_j · s_j^(−beta−1). c ∈ W(j) ⇔ j ∈ [c − ⌈(size−1)/2⌉,
 * c + ⌊(size−1)/2⌋] (the window reflected).
 */
export function f32_lrn_bwd_data__scalar(
  x: usize, y: usize, scale: usize, dy: usize, dx: usize,
  batch: i32, channels: i32, hw: i32, size: i32, alpha: f32, beta: f32,
  tid: i32, nthreads: i32,
): void {
  const planes = batch * channels;
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  const before = (size - 1) >> 1, after = size - 1 - before;
  const coef = <f32>2 * alpha * beta / <f32>size;
  for (let p = p0; p < p1; p++) {
    const n = p / channels, c = p - n * channels;
    const jlo = max(c - after, 0), jhi = min(c + before, channels - 1);
    const base = <usize>(n * channels) * <usize>hw << 2;
    const plane = <usize>(p * hw) << 2;
    for (let i = 0; i < hw; i++) {
      const o = <usize>i << 2;
      let acc: f32 = 0;
      for (let j = jlo; j <= jhi; j++) {
        const q = base + (<usize>(j * hw) << 2) + o;
        acc += load<f32>(dy + q) * load<f32>(y + q) / load<f32>(scale + q);
      }
      const s = load<f32>(scale + plane + o);
      const g = load<f32>(dy + plane + o) * Mathf.pow(s, -beta) - coef * load<f32>(x + plane + o) * acc;
      store<f32>(dx + plane + o, g);
    }
  }
}
