// GEMM, plain loops: C = alpha * op(A) * op(B) + beta * C. The reference
// twin of f32-gemm-6x8-wasmsimd.ts (same arguments, no workspace).
// Shapes: op(A) m x k, op(B) k x n, C m x n, row-major with leading
// dimensions lda, ldb, ldc in elements. Threads split the rows of C.
import { shareStart, shareEnd } from "../common/partition";

export function f32_gemm__scalar(
  transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f32,
  a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const i0 = shareStart(m, tid, nthreads), i1 = shareEnd(m, tid, nthreads);
  for (let i = i0; i < i1; i++) {
    for (let j = 0; j < n; j++) {
      let sum: f32 = 0;
      for (let p = 0; p < k; p++) {
        const av = transA != 0
          ? load<f32>(a + ((<usize>p * <usize>lda + <usize>i) << 2))
          : load<f32>(a + ((<usize>i * <usize>lda + <usize>p) << 2));
        const bv = transB != 0
          ? load<f32>(b + ((<usize>j * <usize>ldb + <usize>p) << 2))
          : load<f32>(b + ((<usize>p * <usize>ldb + <usize>j) << 2));
        sum += av * bv;
      }
      const o = c + ((<usize>i * <usize>ldc + <usize>j) << 2);
      store<f32>(o, beta == 0 ? alpha * sum : alpha * sum + beta * load<f32>(o));
    }
  }
}
