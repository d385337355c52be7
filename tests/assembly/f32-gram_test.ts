// f32-gram kernels through their shims: G = scale F F^T and its backward
// dF = scale (dG + dG^T) F against f64 references (SIMD and scalar twins),
// shapes that are not multiples of the 4x2 / 4x8 tiles and M spanning several
// panels; G exactly symmetric; the backward against central finite
// differences of sum(dG .* G(F)); 1 vs 2 threads bit-identical.
// Tolerance: per entry |x - f64| <= 1e-5 * (the same sum over |terms|) +
// 1e-7 (f32 accumulation over M or C terms); finite differences (h = 1e-3):
// atol 1e-4, rtol 1e-3.
import assert from "node:assert/strict";
import type { Engine } from "../../runtime/engine/engine.ts";
import * as gr from "../../runtime/backends/wasm/gram.ts";
import type { LaunchOptions } from "../../runtime/backends/wasm/_launch.ts";
import { createTestEngine } from "../_engine.ts";
import { finiteDifferences, randomArray } from "../_check.ts";
import * as ref from "../reference/gram.ts";

const IMPLS: LaunchOptions["impl"][] = ["simd", "scalar"];
const SHAPES = [
  [1, 1],
  [1, 7],
  [2, 3],
  [3, 4],
  [4, 5],
  [5, 8],
  [7, 17],
  [8, 100],
  [13, 1027],
  [33, 64],
  [130, 1500],
];

/** |actual - expected| <= 1e-5 * magnitude + 1e-7 per entry. */
function assertNear(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  magnitude: ArrayLike<number>,
  label: string,
) {
  for (let i = 0; i < expected.length; i++) {
    const tol = 1e-5 * magnitude[i] + 1e-7;
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(
        `${label}: entry ${i} is ${actual[i]}, expected ${
          expected[i]
        } (tol ${tol})`,
      );
    }
  }
}

function runGram(
  engine: Engine,
  f: Float32Array,
  c: number,
  m: number,
  scale: number,
  o?: LaunchOptions,
) {
  const pf = engine.upload(f), pg = engine.allocF32(c * c);
  engine.f32(pg, c * c).fill(NaN); // every entry must be written
  gr.gram(engine, pf, c, m, scale, pg, o);
  const g = engine.download(pg, c * c);
  engine.free(pf);
  engine.free(pg);
  return g;
}

function runBackward(
  engine: Engine,
  f: Float32Array,
  dg: Float32Array,
  c: number,
  m: number,
  scale: number,
  o?: LaunchOptions,
) {
  const pf = engine.upload(f),
    pdg = engine.upload(dg),
    pdf = engine.allocF32(c * m);
  engine.f32(pdf, c * m).fill(NaN);
  gr.gramBackward(engine, pf, pdg, c, m, scale, pdf, o);
  const df = engine.download(pdf, c * m);
  for (const p of [pf, pdg, pdf]) engine.free(p);
  return df;
}

Deno.test("f32-gram", async (t) => {
  const engine = await createTestEngine();
  try {
    await t.step(
      "gram matches f64 and is exactly symmetric (simd, scalar)",
      () => {
        for (const [c, m] of SHAPES) {
          const f = randomArray(c * m, c * 31 + m);
          const scale = 1 / (c * m);
          const expected = ref.gram(f, c, m, scale);
          const magnitude = ref.gram(f.map(Math.abs), c, m, scale);
          for (const impl of IMPLS) {
            const g = runGram(engine, f, c, m, scale, { impl });
            assertNear(g, expected, magnitude, `gram C=${c} M=${m} ${impl}`);
            for (let i = 0; i < c; i++) {
              for (let j = 0; j < i; j++) {
                assert.equal(g[i * c + j], g[j * c + i], `symmetric ${i},${j}`);
              }
            }
          }
        }
      },
    );

    await t.step("gramBackward matches f64 (simd, scalar)", () => {
      for (const [c, m] of SHAPES) {
        const f = randomArray(c * m, c + 7 * m), dg = randomArray(c * c, c);
        const scale = 0.5;
        const expected = ref.gramBackward(f, dg, c, m, scale);
        const magnitude = ref.gramBackward(
          f.map(Math.abs),
          dg.map(Math.abs),
          c,
          m,
          scale,
        );
        for (const impl of IMPLS) {
          assertNear(
            runBackward(engine, f, dg, c, m, scale, { impl }),
            expected,
            magnitude,
            `bwd C=${c} M=${m} ${impl}`,
          );
        }
      }
    });

    await t.step(
      "gramBackward against central finite differences of sum(dG .* G)",
      () => {
        for (const [c, m] of [[1, 3], [3, 5], [5, 9]]) {
          const f = randomArray(c * m, 3 * c + m),
            dg = randomArray(c * c, c + 1);
          const scale = 1 / m;
          const fd = finiteDifferences(
            (fs) => ref.gramLoss(fs, dg, c, m, scale),
            f,
          );
          for (const impl of IMPLS) {
            const df = runBackward(engine, f, dg, c, m, scale, { impl });
            for (let i = 0; i < df.length; i++) {
              assert.ok(
                Math.abs(df[i] - fd[i]) <= 1e-4 + 1e-3 * Math.abs(fd[i]),
                `fd C=${c} M=${m} ${impl} entry ${i}`,
              );
            }
          }
        }
      },
    );

    await t.step("1 and 2 threads give the same bits", () => {
      for (const [c, m] of [[5, 37], [13, 1027], [64, 2051], [130, 700]]) {
        const f = randomArray(c * m, c * m), dg = randomArray(c * c, c);
        const pf = engine.upload(f), pdg = engine.upload(dg);
        const pg = engine.allocF32(c * c),
          ps = engine.allocF32(c * c),
          pdf = engine.allocF32(c * m);
        const ws = engine.heap.alloc(
          2 * engine.call("f32_gram_bwd_workspace", c, m),
        );
        for (const isa of ["wasmsimd", "scalar"]) {
          const runs = [1, 2].map((threads) => {
            engine.run(`f32_gram__${isa}`, [pf, c, m, 0.25, pg], threads);
            engine.run(`f32_gram_sym__${isa}`, [pdg, ps, c, 0.25], threads);
            engine.run(
              `f32_gram_bwd__${isa}`,
              [ps, pf, pdf, c, m, ws],
              threads,
            );
            return [
              engine.download(pg, c * c),
              engine.download(ps, c * c),
              engine.download(pdf, c * m),
            ];
          });
          assert.deepEqual(runs[0], runs[1], `C=${c} M=${m} ${isa}`);
        }
        for (const p of [pf, pdg, pg, ps, pdf, ws]) {
          engine.free(p);
        }
      }
    });

    await t.step("shims reject bad sizes and leak nothing", () => {
      const p = engine.allocF32(16);
      const live = engine.heap.liveBytes;
      assert.throws(() => gr.gram(engine, p, 0, 4, 1, p), RangeError);
      assert.throws(() => gr.gram(engine, p, 4, 1e9, 1, p), RangeError);
      assert.throws(
        () => gr.gramBackward(engine, p, p, 2, -3, 1, p),
        RangeError,
      );
      gr.gramBackward(engine, p, p, 2, 2, 1, p + 32);
      assert.equal(engine.heap.liveBytes, live);
      engine.free(p);
    });
  } finally {
    engine.dispose();
  }
});

Deno.test("f32-gram on the plain-SIMD single-thread build", async () => {
  const engine = await createTestEngine({ variant: "single-simd", threads: 1 });
  try {
    const c = 13, m = 1027;
    const f = randomArray(c * m, 1), dg = randomArray(c * c, 2);
    assertNear(
      runGram(engine, f, c, m, 1),
      ref.gram(f, c, m, 1),
      ref.gram(f.map(Math.abs), c, m, 1),
      "gram",
    );
    assertNear(
      runBackward(engine, f, dg, c, m, 1),
      ref.gramBackward(f, dg, c, m, 1),
      ref.gramBackward(f.map(Math.abs), dg.map(Math.abs), c, m, 1),
      "bwd",
    );
  } finally {
    engine.dispose();
  }
});
