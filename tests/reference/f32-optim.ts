// f64 plain-loop references for the f32-optim kernels (one update each, on
// copies; returns the new values).

export interface SgdRefAttrs {
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  firstStep: boolean;
}

/** torch.optim.SGD's update of one parameter. */
export function sgdUpdateRef(
  param: ArrayLike<number>,
  grad: ArrayLike<number>,
  buf: ArrayLike<number> | null,
  a: SgdRefAttrs,
): { param: Float64Array; buf: Float64Array | null } {
  const n = param.length;
  const p = Float64Array.from(param);
  const b = buf ? Float64Array.from(buf) : null;
  for (let i = 0; i < n; i++) {
    let g = grad[i];
    if (a.weightDecay !== 0) g += a.weightDecay * p[i];
    if (a.momentum !== 0) {
      b![i] = a.firstStep ? g : a.momentum * b![i] + (1 - a.dampening) * g;
      g = a.nesterov ? g + a.momentum * b![i] : b![i];
    }
    p[i] -= a.lr * g;
  }
  return { param: p, buf: b };
}

export interface AdamRefAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  step: number;
}

/** torch.optim.Adam (decoupled: AdamW) update of one parameter. */
export function adamUpdateRef(
  param: ArrayLike<number>,
  grad: ArrayLike<number>,
  expAvg: ArrayLike<number>,
  expAvgSq: ArrayLike<number>,
  a: AdamRefAttrs,
): { param: Float64Array; expAvg: Float64Array; expAvgSq: Float64Array } {
  const n = param.length;
  const p = Float64Array.from(param);
  const m = Float64Array.from(expAvg);
  const v = Float64Array.from(expAvgSq);
  const bias1 = 1 - Math.pow(a.beta1, a.step);
  const bias2 = 1 - Math.pow(a.beta2, a.step);
  for (let i = 0; i < n; i++) {
    if (a.decoupled) p[i] *= 1 - a.lr * a.weightDecay;
    let g = grad[i];
    if (!a.decoupled && a.weightDecay !== 0) g += a.weightDecay * p[i];
    m[i] = a.beta1 * m[i] + (1 - a.beta1) * g;
    v[i] = a.beta2 * v[i] + (1 - a.beta2) * g * g;
    const denom = Math.sqrt(v[i]) / Math.sqrt(bias2) + a.eps;
    p[i] -= (a.lr / bias1) * m[i] / denom;
  }
  return { param: p, expAvg: m, expAvgSq: v };
}

/** Sum of |x| in f64. */
export function asumRef(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]);
  return s;
}
