// GEMM kernels (assembly/f32-gemm/) through the shim: SIMD and scalar twins
// against the f64 reference for every transpose combination, odd sizes,
// leading dimensions wider than the rows, alpha/beta, and sizes that cross
// the KC/MC/NC blocks; 1 vs 2 threads bit-identical.
// Tolerance: atol 1e-4 + rtol 1e-4 (f32 sums of up to 300 products in [-1, 1]).
import assert from "node:assert/strict";
import { createTestEngine } from "../_engine.ts";
import { assertClose, randomArray } from "../_check.ts";
import { gemm } from "../../runtime/backends/wasm/gemm.ts";
import { gemmRef } from "../reference/gemm.ts";

const TOL = { atol: 1e-4, rtol: 1e-4 };

Deno.test("gemm: SIMD and scalar match the f64 reference; threads bit-identical", async () => {
  const engine = await createTestEngine();
  try {
    const sizes: [number, number, number, number, number][] = [
      // m, n, k, alpha, beta
      [1, 1, 1, 1, 0],
      [5, 7, 3, 1, 0],
      [13, 9, 17, 0.5, 1],
      [4, 8, 16, 1, -0.75],
      [33, 70, 29, 2, 0.25],
      [70, 150, 300, 1, 0], // crosses MC = 72, NC = 128, KC = 256
      [3, 200, 50, 1, 1], // more column tiles than row tiles
    ];
    let seed = 1;
    for (const [m, n, k, alpha, beta] of sizes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1;
          const ldc = n + 2;
          const a = randomArray((transA ? k : m) * lda, seed++);
          const b = randomArray((transB ? n : k) * ldb, seed++);
          const c = randomArray(m * ldc, seed++);
          if (beta === 0) c[0] = NaN; // beta = 0 must ignore C
          const want = gemmRef(
            transA,
            transB,
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
          );
          if (beta === 0) {
            want[0] = gemmRef(
              transA,
              transB,
              1,
              1,
              k,
              alpha,
              a,
              lda,
              b,
              ldb,
              0,
              [0],
              1,
            )[0];
          }
          const pa = engine.upload(a), pb = engine.upload(b);
          const pc = engine.allocF32(c.length);
          const results: Float32Array[] = [];
          for (const impl of ["simd", "scalar"] as const) {
            for (const threads of [1, 2]) {
              engine.f32(pc, c.length).set(c);
              gemm(
                engine,
                transA,
                transB,
                m,
                n,
                k,
                alpha,
                pa,
                lda,
                pb,
                ldb,
                beta,
                pc,
                ldc,
                { impl, threads },
              );
              const got = engine.download(pc, c.length);
              const label =
                `gemm ${m}x${n}x${k} tA=${transA} tB=${transB} ${impl} threads=${threads}`;
              // Compare only the m x n block; padding columns must be untouched.
              for (let i = 0; i < m; i++) {
                assertClose(
                  got.subarray(i * ldc, i * ldc + n),
                  want.subarray(i * ldc, i * ldc + n),
                  { ...TOL, label: `${label} row ${i}` },
                );
                for (let j = n; j < ldc; j++) {
                  assert.equal(
                    got[i * ldc + j],
                    c[i * ldc + j],
                    `${label}: padding`,
                  );
                }
              }
              results.push(got);
            }
          }
          assert.deepEqual(results[0], results[1], "simd: 1 vs 2 threads");
          assert.deepEqual(results[2], results[3], "scalar: 1 vs 2 threads");
          engine.free(pa);
          engine.free(pb);
          engine.free(pc);
        }
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("gemm: sizes are validated", async () => {
  const engine = await createTestEngine({ threads: 1 });
  try {
    assert.throws(
      () => gemm(engine, false, false, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1),
      /gemm: m must be/,
    );
    assert.throws(
      () => gemm(engine, false, false, 2, 3, 4, 1, 0, 3, 0, 3, 0, 0, 3),
      /gemm: lda must be an integer >= 4, got 3/,
    );
  } finally {
    engine.dispose();
  }
});
