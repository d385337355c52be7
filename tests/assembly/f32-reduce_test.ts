// f32-reduce kernels through their shims: sum, dot, squaredNorm, maxAbs,
// countNonFinite against f64 references (SIMD and scalar twins), on sizes
// around the chunk boundaries; results bit-identical for 1, 2 and 3 threads.
// Tolerance: |result - f64| <= 1e-6 * (sum of |terms|) + 1e-30 (f32
// accumulation over at most ~n/64/16 terms per lane); maxAbs and counts exact.
import assert from "node:assert/strict";
import type { Engine } from "../../runtime/engine/engine.ts";
import * as rd from "../../runtime/backends/wasm/reduce.ts";
import type { LaunchOptions } from "../../runtime/backends/wasm/_launch.ts";
import { createTestEngine } from "../_engine.ts";
import { randomArray } from "../_check.ts";
import * as ref from "../reference/elementwise.ts";

const SIZES = [0, 1, 3, 4, 7, 63, 64, 65, 257, 1000, 4099, 100003];
const IMPLS: LaunchOptions["impl"][] = ["simd", "scalar"];

function near(
  actual: number,
  expected: number,
  scale: number,
  label: string,
): void {
  const tol = 1e-6 * scale + 1e-30;
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${label}: ${actual} vs ${expected} (tol ${tol})`,
  );
}

/** The partials of a reduction kernel run directly on `threads` threads. */
function partials(
  engine: Engine,
  kernel: string,
  args: number[],
  threads: number,
): Float32Array {
  const p = engine.allocF32(64);
  engine.run(kernel, [...args, p], threads);
  const r = engine.download(p, 64);
  engine.free(p);
  return r;
}

Deno.test("f32-reduce", async (t) => {
  const engine = await createTestEngine();
  try {
    await t.step(
      "sum, dot, squaredNorm, maxAbs match f64 (simd, scalar)",
      () => {
        for (const n of SIZES) {
          const a = randomArray(n, n + 1, -2, 3), b = randomArray(n, n + 2);
          const pa = engine.upload(a), pb = engine.upload(b);
          for (const impl of IMPLS) {
            const o = { impl };
            const label = `n=${n} ${impl}`;
            near(
              rd.sum(engine, pa, n, o),
              ref.sum(a),
              ref.sumAbs(a),
              `sum ${label}`,
            );
            near(
              rd.dot(engine, pa, pb, n, o),
              ref.dot(a, b),
              ref.dot(a.map(Math.abs), b.map(Math.abs)),
              `dot ${label}`,
            );
            near(
              rd.squaredNorm(engine, pa, n, o),
              ref.dot(a, a),
              ref.dot(a, a),
              `squaredNorm ${label}`,
            );
            assert.equal(
              rd.maxAbs(engine, pa, n, o),
              ref.maxAbs(a),
              `maxAbs ${label}`,
            );
            assert.equal(
              rd.countNonFinite(engine, pa, n, o),
              0,
              `countNonFinite ${label}`,
            );
          }
          engine.free(pa);
          engine.free(pb);
        }
      },
    );

    await t.step(
      "countNonFinite finds NaN and +-Inf anywhere; maxAbs propagates NaN",
      () => {
        for (const n of [1, 5, 64, 1001, 100003]) {
          const x = randomArray(n, n);
          const bad = [0, Math.floor(n / 3), n - 1].filter((v, i, s) =>
            s.indexOf(v) === i
          );
          const values = [NaN, Infinity, -Infinity];
          bad.forEach((i, k) => (x[i] = values[k]));
          const px = engine.upload(x);
          for (const impl of IMPLS) {
            assert.equal(
              rd.countNonFinite(engine, px, n, { impl }),
              bad.length,
              `n=${n} ${impl}`,
            );
            assert.ok(
              Number.isNaN(rd.maxAbs(engine, px, n, { impl })),
              `maxAbs NaN n=${n} ${impl}`,
            );
          }
          x[bad[0]] = 3.4e38; // the largest finite values count as finite
          engine.f32(px, n).set(x);
          assert.equal(rd.countNonFinite(engine, px, n), bad.length - 1);
          engine.free(px);
        }
      },
    );

    await t.step("partials are bit-identical for 1, 2 and 3 threads", () => {
      for (const n of [7, 1000, 4099, 100003]) {
        const a = randomArray(n, 5), b = randomArray(n, 6);
        const pa = engine.upload(a), pb = engine.upload(b);
        for (const isa of ["wasmsimd", "scalar"]) {
          for (
            const [op, args] of [
              ["sum", [pa, n]],
              ["sumsq", [pa, n]],
              ["dot", [pa, pb, n]],
              ["maxabs", [pa, n]],
              ["count_nonfinite", [pa, n]],
            ] as const
          ) {
            const kernel = `f32_${op}_partials__${isa}`;
            const one = partials(engine, kernel, [...args], 1);
            for (const threads of [2, 3]) {
              // threads above the pool size are capped by the engine.
              assert.deepEqual(
                partials(engine, kernel, [...args], threads),
                one,
                `${kernel} n=${n}`,
              );
            }
          }
        }
        // And through the shims with threading allowed.
        const s1 = rd.sum(engine, pa, n, { threads: 1 }),
          s2 = rd.sum(engine, pa, n);
        assert.equal(s1, s2);
        assert.equal(
          rd.dot(engine, pa, pb, n, { threads: 1 }),
          rd.dot(engine, pa, pb, n),
        );
        engine.free(pa);
        engine.free(pb);
      }
    });

    await t.step("shims reject bad sizes and leak nothing", () => {
      const p = engine.allocF32(4);
      const live = engine.heap.liveBytes;
      assert.throws(() => rd.sum(engine, p, -1), RangeError);
      assert.throws(() => rd.dot(engine, p, p, 1e12), RangeError);
      rd.sum(engine, p, 4);
      assert.equal(engine.heap.liveBytes, live);
      engine.free(p);
    });
  } finally {
    engine.dispose();
  }
});

Deno.test("f32-reduce on the plain-SIMD single-thread build", async () => {
  const engine = await createTestEngine({ variant: "single-simd", threads: 1 });
  try {
    const n = 4099;
    const a = randomArray(n, 1), b = randomArray(n, 2);
    const pa = engine.upload(a), pb = engine.upload(b);
    near(rd.sum(engine, pa, n), ref.sum(a), ref.sumAbs(a), "sum");
    near(rd.dot(engine, pa, pb, n), ref.dot(a, b), n, "dot");
    near(
      rd.squaredNorm(engine, pa, n),
      ref.dot(a, a),
      ref.dot(a, a),
      "squaredNorm",
    );
    assert.equal(rd.maxAbs(engine, pa, n), ref.maxAbs(a));
  } finally {
    engine.dispose();
  }
});
