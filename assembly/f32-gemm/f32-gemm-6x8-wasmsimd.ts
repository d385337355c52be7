// GEMM, f32x4: C = alpha * op(A) * op(B) + beta * C.
// Shapes: op(A) is m x k, op(B) is k x n, C is m x n; all row-major with
// leading dimensions lda, ldb, ldc (elements). op(X) = X or X^T.
//
// Blocking (Goto & van de Geijn 2008): the k dimension is cut into KC blocks
// so a packed A panel (MR x KC = 6 KiB) stays in L1, columns into NC blocks
// so a packed B block (KC x NC = 128 KiB) stays in L2, and rows into MC blocks
// (MC x KC = 72 KiB of packed A). The 6x8 micro-kernel adds each k block
// into C, which is first scaled by beta.
//
// Threads split C into contiguous ranges of MR-row or NR-column tiles
// (whichever dimension has more tiles). Every C element sees the same k
// blocks in the same order for any thread count: bit-identical results.
import { shareStart, shareEnd } from "../common/partition";
import { MR, NR, ukernel6x8, packA, packB } from "./f32-gemm-6x8-ukernel-wasmsimd";

const KC: i32 = 256;
const MC: i32 = 72;
const NC: i32 = 128;

/** Workspace bytes per thread for f32_gemm__wasmsimd. */
export function f32_gemm_workspace(m: i32, n: i32, k: i32): i32 {
  return (MC * KC + KC * NC + MR * NR) * 4;
}

export function f32_gemm__wasmsimd(
  transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f32,
  a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const mTiles = (m + MR - 1) / MR, nTiles = (n + NR - 1) / NR;
  let m0 = 0, m1 = m, n0 = 0, n1 = n;
  if (mTiles >= nTiles) {
    m0 = shareStart(mTiles, tid, nthreads) * MR;
    m1 = min(m, shareEnd(mTiles, tid, nthreads) * MR);
  } else {
    n0 = shareStart(nTiles, tid, nthreads) * NR;
    n1 = min(n, shareEnd(nTiles, tid, nthreads) * NR);
  }
  if (m0 >= m1 || n0 >= n1) return;
  const ws = workspace + <usize>tid * <usize>f32_gemm_workspace(m, n, k);
  const packedA = ws;
  const packedB = packedA + (<usize>(MC * KC) << 2);
  const tmp = packedB + (<usize>(KC * NC) << 2);

  // C = beta * C on this thread's region (beta == 0 ignores NaN/Inf in C).
  for (let i = m0; i < m1; i++) {
    const row = c + (<usize>i * <usize>ldc << 2);
    let j = n0;
    if (beta == 0) {
      for (; j + 4 <= n1; j += 4) v128.store(row + (<usize>j << 2), f32x4.splat(0));
      for (; j < n1; j++) store<f32>(row + (<usize>j << 2), 0);
    } else if (beta != 1) {
      const vb = f32x4.splat(beta);
      for (; j + 4 <= n1; j += 4) {
        const o = row + (<usize>j << 2);
        v128.store(o, f32x4.mul(vb, v128.load(o)));
      }
      for (; j < n1; j++) {
        const o = row + (<usize>j << 2);
        store<f32>(o, beta * load<f32>(o));
      }
    }
  }
  if (k <= 0 || alpha == 0) return;

  for (let jc = n0; jc < n1; jc += NC) {
    const nc = min(NC, n1 - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      packB(transB != 0, b, ldb, pc, kc, jc, nc, packedB);
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = min(MC, m1 - ic);
        packA(transA != 0, a, lda, ic, mc, pc, kc, alpha, packedA);
        for (let ir = 0; ir < mc; ir += MR) {
          const ap = packedA + (<usize>(ir * kc) << 2);
          const crow = c + ((<usize>(ic + ir) * <usize>ldc + <usize>jc) << 2);
          for (let jr = 0; jr < nc; jr += NR) {
            ukernel6x8(
              kc, ap, packedB + (<usize>(jr * kc) << 2), crow + (<usize>jr << 2), ldc,
              min(MR, mc - ir), min(NR, nc - jr), tmp,
            );
          }
        }
      }
    }
  }
}
