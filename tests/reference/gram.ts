// f64 plain-loop references for the Gram kernels (assembly/f32-gram/).

type Arr = ArrayLike<number>;

/** G = scale F F^T, F [c, m]. */
export function gram(
  f: Arr,
  c: number,
  m: number,
  scale: number,
): Float64Array {
  const g = new Float64Array(c * c);
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let k = 0; k < m; k++) s += f[i * m + k] * f[j * m + k];
      g[i * c + j] = scale * s;
    }
  }
  return g;
}

/** dF = scale (dG + dG^T) F. */
export function gramBackward(
  f: Arr,
  dg: Arr,
  c: number,
  m: number,
  scale: number,
): Float64Array {
  const df = new Float64Array(c * m);
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      const s = scale * (dg[i * c + j] + dg[j * c + i]);
      for (let k = 0; k < m; k++) df[i * m + k] += s * f[j * m + k];
    }
  }
  return df;
}

/** Sum of dG .* G: the scalar whose gradient with respect to F is dF. */
export function gramLoss(
  f: Arr,
  dg: Arr,
  c: number,
  m: number,
  scale: number,
): number {
  const g = gram(f, c, m, scale);
  let s = 0;
  for (let i = 0; i < c * c; i++) s += dg[i] * g[i];
  return s;
}
