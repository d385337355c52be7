// f64 plain-loop reference for GEMM: C = alpha * op(A) * op(B) + beta * C,
// row-major with leading dimensions (elements).
export function gemmRef(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: ArrayLike<number>,
  lda: number,
  b: ArrayLike<number>,
  ldb: number,
  beta: number,
  c: ArrayLike<number>,
  ldc: number,
): Float64Array {
  const out = Float64Array.from(c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * lda + i] : a[i * lda + p];
        const bv = transB ? b[j * ldb + p] : b[p * ldb + j];
        sum += av * bv;
      }
      const o = i * ldc + j;
      out[o] = alpha * sum + (beta === 0 ? 0 : beta * c[o]);
    }
  }
  return out;
}
