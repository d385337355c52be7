// f64 plain-loop references for the loss kernels (assembly/f32-loss/).
import { sigmoid } from "./elementwise.ts";

type Arr = ArrayLike<number>;

/** scale * sum (x - t)^2 and its gradient 2 scale (x - t). */
export function mse(
  x: Arr,
  t: Arr,
  scale: number,
): { loss: number; grad: Float64Array } {
  let s = 0;
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - t[i];
    s += d * d;
    grad[i] = 2 * scale * d;
  }
  return { loss: scale * s, grad };
}

/** scale * sum of -(t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))), stably. */
export function bceWithLogits(
  z: Arr,
  t: Arr,
  scale: number,
): { loss: number; grad: Float64Array } {
  let s = 0;
  const grad = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) {
    s += Math.max(z[i], 0) - z[i] * t[i] +
      Math.log1p(Math.exp(-Math.abs(z[i])));
    grad[i] = scale * (sigmoid(z[i]) - t[i]);
  }
  return { loss: scale * s, grad };
}

/** Row-wise softmax. */
export function softmax(x: Arr, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) {
      y[r * cols + j] = Math.exp(x[r * cols + j] - m);
      s += y[r * cols + j];
    }
    for (let j = 0; j < cols; j++) y[r * cols + j] /= s;
  }
  return y;
}

/** scale * sum over rows of -log softmax(z_r)[label_r], and its gradient. */
export function softmaxCrossEntropy(
  z: Arr,
  labels: Arr,
  rows: number,
  cols: number,
  scale: number,
): { loss: number; grad: Float64Array } {
  const p = softmax(z, rows, cols);
  let s = 0;
  const grad = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, z[r * cols + j]);
    let e = 0;
    for (let j = 0; j < cols; j++) e += Math.exp(z[r * cols + j] - m);
    s += m + Math.log(e) - z[r * cols + labels[r]];
    for (let j = 0; j < cols; j++) {
      grad[r * cols + j] = scale *
        (p[r * cols + j] - (j === labels[r] ? 1 : 0));
    }
  }
  return { loss: scale * s, grad };
}
