// Shim for the f32-gemm kernels (assembly/f32-gemm/).
// C = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T.
// Arguments are byte addresses in engine memory; sizes and leading
// dimensions are in elements. C is overwritten (beta = 0 ignores its old
// contents, NaNs included). This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import {
  kernelName,
  type LaunchOptions,
  threadsFor,
  withWorkspace,
} from "./_launch.ts";

function checkSize(name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(
      `gemm: ${name} must be an integer >= ${min}, got ${v}`,
    );
  }
}

/** C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C. */
export function gemm(
  engine: Engine,
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: number,
  lda: number,
  b: number,
  ldb: number,
  beta: number,
  c: number,
  ldc: number,
  options?: LaunchOptions,
): void {
  checkSize("m", m);
  checkSize("n", n);
  checkSize("k", k);
  checkSize("lda", lda, transA ? m : k);
  checkSize("ldb", ldb, transB ? k : n);
  checkSize("ldc", ldc, n);
  const threads = threadsFor(engine, m * n * k, options);
  const scalar = options?.impl === "scalar";
  const bytes = scalar ? 0 : engine.call("f32_gemm_workspace", m, n, k);
  withWorkspace(engine, bytes, threads, (ws) =>
    engine.run(
      kernelName("f32_gemm", options),
      [
        transA ? 1 : 0,
        transB ? 1 : 0,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
        ws,
      ],
      threads,
    ));
}
