// f64 plain-loop references for 2-D batch normalisation (Ioffe & Szegedy
// 2015), NCHW, with PyTorch's running-statistics update.

export interface BnRefTrain {
  y: Float64Array;
  mean: Float64Array;
  invStd: Float64Array;
  runningMean: Float64Array;
  runningVar: Float64Array;
}

/** Training forward; gamma/beta null means no affine transform. */
export function batchNormTrainRef(
  x: ArrayLike<number>,
  n: number,
  c: number,
  hw: number,
  eps: number,
  momentum: number,
  gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
): BnRefTrain {
  const m = n * hw;
  const y = new Float64Array(n * c * hw);
  const mean = new Float64Array(c), invStd = new Float64Array(c);
  const rm = Float64Array.from(runningMean), rv = Float64Array.from(runningVar);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) s += x[(b * c + ch) * hw + i];
    }
    const mu = s / m;
    let v = 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) v += (x[(b * c + ch) * hw + i] - mu) ** 2;
    }
    mean[ch] = mu;
    invStd[ch] = 1 / Math.sqrt(v / m + eps);
    rm[ch] = (1 - momentum) * rm[ch] + momentum * mu;
    rv[ch] = (1 - momentum) * rv[ch] + momentum * v / (m - 1);
    const g = gamma ? gamma[ch] : 1, bt = beta ? beta[ch] : 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        const k = (b * c + ch) * hw + i;
        y[k] = g * (x[k] - mu) * invStd[ch] + bt;
      }
    }
  }
  return { y, mean, invStd, runningMean: rm, runningVar: rv };
}

export function batchNormEvalRef(
  x: ArrayLike<number>,
  n: number,
  c: number,
  hw: number,
  eps: number,
  gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
): Float64Array {
  const y = new Float64Array(n * c * hw);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const g = gamma ? gamma[ch] : 1, bt = beta ? beta[ch] : 0;
      const is = 1 / Math.sqrt(runningVar[ch] + eps);
      for (let i = 0; i < hw; i++) {
        const k = (b * c + ch) * hw + i;
        y[k] = g * (x[k] - runningMean[ch]) * is + bt;
      }
    }
  }
  return y;
}

/** Backward of the training forward (batch statistics recomputed in f64). */
export function batchNormBackwardRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  n: number,
  c: number,
  hw: number,
  eps: number,
  gamma: ArrayLike<number> | null,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const m = n * hw;
  const zeros = new Float64Array(c);
  const { mean, invStd } = batchNormTrainRef(
    x,
    n,
    c,
    hw,
    eps,
    0,
    null,
    null,
    zeros,
    zeros,
  );
  const dx = new Float64Array(n * c * hw);
  const dgamma = new Float64Array(c), dbeta = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let sdy = 0, sdyx = 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        const k = (b * c + ch) * hw + i;
        sdy += dy[k];
        sdyx += dy[k] * (x[k] - mean[ch]) * invStd[ch];
      }
    }
    dbeta[ch] = sdy;
    dgamma[ch] = sdyx;
    const g = gamma ? gamma[ch] : 1;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        const k = (b * c + ch) * hw + i;
        const xhat = (x[k] - mean[ch]) * invStd[ch];
        dx[k] = g * invStd[ch] * (dy[k] - sdy / m - xhat * sdyx / m);
      }
    }
  }
  return { dx, dgamma, dbeta };
}
