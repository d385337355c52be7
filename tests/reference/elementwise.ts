// f64 plain-loop references for the elementwise (vbinary, vunary) and
// reduction kernels.

type Arr = ArrayLike<number>;

/** out[i] = f(i) for i < n, in f64. */
export function map(n: number, f: (i: number) => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(i);
  return out;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Unary ops by kernel name (f32_<name>), forward, in f64. */
export const UNARY: Record<string, (x: number, slope: number) => number> = {
  relu: (x) => Math.max(x, 0),
  leaky_relu: (x, s) => x > 0 ? x : s * x,
  sigmoid: (x) => sigmoid(x),
  tanh: (x) => Math.tanh(x),
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  abs: (x) => Math.abs(x),
  square: (x) => x * x,
};

/** Activation backwards: dx from the saved tensor (x or y), dy and slope. */
export const UNARY_BACKWARD: Record<
  string,
  (saved: number, dy: number, slope: number) => number
> = {
  relu_bwd: (x, dy) => x > 0 ? dy : 0,
  leaky_relu_bwd: (x, dy, s) => x > 0 ? dy : s * dy,
  sigmoid_bwd: (y, dy) => dy * y * (1 - y),
  tanh_bwd: (y, dy) => dy * (1 - y * y),
};

/** out[b, c, p] = x[b, c, p] + bias[c]. */
export function addChannel(
  x: Arr,
  bias: Arr,
  batch: number,
  channels: number,
  spatial: number,
): Float64Array {
  const out = new Float64Array(batch * channels * spatial);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < spatial; p++) {
        const i = (b * channels + c) * spatial + p;
        out[i] = x[i] + bias[c];
      }
    }
  }
  return out;
}

/** dbias[c] = sum over b, p of dy[b, c, p]. */
export function channelSum(
  dy: Arr,
  batch: number,
  channels: number,
  spatial: number,
): Float64Array {
  const out = new Float64Array(channels);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < spatial; p++) {
        out[c] += dy[(b * channels + c) * spatial + p];
      }
    }
  }
  return out;
}

export function sum(x: Arr): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

export function sumAbs(x: Arr): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]);
  return s;
}

export function dot(a: Arr, b: Arr): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function maxAbs(x: Arr): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}
