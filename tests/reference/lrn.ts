// f64 plain-loop reference for local response normalisation across channels
// (Krizhevsky et al. 2012 §3.3; ONNX LRN window), NCHW, and its gradient.

export interface LrnRefParams {
  size: number;
  alpha: number;
  beta: number;
  bias: number;
}

/** y and scale = bias + alpha/size · Σ_{window} x². */
export function lrnRef(
  x: ArrayLike<number>,
  n: number,
  c: number,
  hw: number,
  p: LrnRefParams,
): { y: Float64Array; scale: Float64Array } {
  const y = new Float64Array(n * c * hw), scale = new Float64Array(n * c * hw);
  const lo = Math.floor((p.size - 1) / 2), hi = Math.ceil((p.size - 1) / 2);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < hw; i++) {
        let sum = 0;
        for (let j = Math.max(0, ch - lo); j <= Math.min(c - 1, ch + hi); j++) {
          sum += x[(b * c + j) * hw + i] ** 2;
        }
        const k = (b * c + ch) * hw + i;
        scale[k] = p.bias + (p.alpha / p.size) * sum;
        y[k] = x[k] * scale[k] ** -p.beta;
      }
    }
  }
  return { y, scale };
}

/**
 * dx for upstream dy, by the chain rule written out element by element:
 * dx_i = Σ_k dy_k ∂y_k/∂x_i with ∂y_k/∂x_i = δ_ik s_k^−β
 * − β x_k s_k^(−β−1) (2α/size) x_i [i ∈ W(k)].
 */
export function lrnBackwardRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  n: number,
  c: number,
  hw: number,
  p: LrnRefParams,
): Float64Array {
  const { scale } = lrnRef(x, n, c, hw, p);
  const dx = new Float64Array(n * c * hw);
  const lo = Math.floor((p.size - 1) / 2), hi = Math.ceil((p.size - 1) / 2);
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      for (let s = 0; s < hw; s++) {
        const ik = (b * c + k) * hw + s;
        dx[ik] += dy[ik] * scale[ik] ** -p.beta;
        for (let i = Math.max(0, k - lo); i <= Math.min(c - 1, k + hi); i++) {
          const ii = (b * c + i) * hw + s;
          dx[ii] -= dy[ik] * p.beta * x[ik] * scale[ik] ** (-p.beta - 1) *
            (2 * p.alpha / p.size) * x[ii];
        }
      }
    }
  }
  return dx;
}
