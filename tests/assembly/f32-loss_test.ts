// f32-loss kernels through their shims: MSE, BCE with logits, softmax and
// softmax cross-entropy (labels are class indices stored as f32) against f64
// references (SIMD and scalar twins); gradients against the f64 formula and
// central finite differences of the f64 loss; 1 vs 2 threads bit-identical.
// Tolerances: loss values |l - f64| <= 2e-6 * scale * sum |per-term losses| +
// 1e-7; gradients vs formula atol 2e-7 * scale, rtol 2e-6; softmax atol
// 1e-7, rtol 2e-6; finite differences (h = 1e-3): atol 1e-5, rtol 1e-3.
import assert from "node:assert/strict";
import type { Engine } from "../../runtime/engine/engine.ts";
import * as ls from "../../runtime/backends/wasm/loss.ts";
import type { LaunchOptions } from "../../runtime/backends/wasm/_launch.ts";
import { createTestEngine } from "../_engine.ts";
import { assertClose, finiteDifferences, randomArray, rng } from "../_check.ts";
import * as ref from "../reference/loss.ts";

const IMPLS: LaunchOptions["impl"][] = ["simd", "scalar"];

function nearLoss(
  actual: number,
  expected: number,
  magnitude: number,
  label: string,
): void {
  const tol = 2e-6 * magnitude + 1e-7;
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${label}: ${actual} vs ${expected} (tol ${tol})`,
  );
}

function labelsFor(rows: number, cols: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: rows }, () => Math.floor(r() * cols));
}

/** Runs a loss shim with and without a gradient buffer; returns both. */
function withGrad(
  engine: Engine,
  n: number,
  call: (grad: number) => number,
): { loss: number; grad: Float32Array } {
  const pg = engine.allocF32(Math.max(n, 1));
  const loss = call(pg);
  const grad = engine.download(pg, n);
  engine.free(pg);
  assert.equal(
    call(0),
    loss,
    "the loss does not depend on whether a gradient is asked",
  );
  return { loss, grad };
}

Deno.test("f32-loss", async (t) => {
  const engine = await createTestEngine();
  try {
    await t.step("mseLoss: value and gradient (simd, scalar)", () => {
      for (const n of [1, 3, 4, 7, 1000, 4099]) {
        const x = randomArray(n, n), target = randomArray(n, n + 1);
        const px = engine.upload(x), pt = engine.upload(target);
        const scale = 1 / n;
        const expected = ref.mse(x, target, scale);
        for (const impl of IMPLS) {
          const { loss, grad } = withGrad(
            engine,
            n,
            (g) => ls.mseLoss(engine, px, pt, n, scale, g, { impl }),
          );
          nearLoss(loss, expected.loss, expected.loss, `mse n=${n} ${impl}`);
          assertClose(grad, expected.grad, {
            atol: 2e-7 * scale,
            rtol: 2e-6,
            label: `mse grad ${impl}`,
          });
          if (n <= 64) {
            const fd = finiteDifferences(
              (xs) => ref.mse(xs, target, scale).loss,
              x,
            );
            assertClose(grad, fd, {
              atol: 1e-5,
              rtol: 1e-3,
              label: `mse fd ${impl}`,
            });
          }
        }
        engine.free(px);
        engine.free(pt);
      }
    });

    await t.step(
      "bceWithLogitsLoss: value and gradient, stable for large |z|",
      () => {
        for (const n of [1, 3, 4, 7, 1000, 4099]) {
          const z = randomArray(n, n + 2, -8, 8),
            target = randomArray(n, n + 3, 0, 1);
          if (n === 1000) z.set([100, -100, 1e4, -1e4, 1e30, -1e30, 0, 20]);
          const pz = engine.upload(z), pt = engine.upload(target);
          const scale = 1 / n;
          const expected = ref.bceWithLogits(z, target, scale);
          const magnitude = scale *
            Array.from(z).reduce((s, v) => s + Math.abs(v) + 1, 0);
          for (const impl of IMPLS) {
            const { loss, grad } = withGrad(
              engine,
              n,
              (g) =>
                ls.bceWithLogitsLoss(engine, pz, pt, n, scale, g, { impl }),
            );
            assert.ok(Number.isFinite(loss), `bce loss finite n=${n} ${impl}`);
            nearLoss(loss, expected.loss, magnitude, `bce n=${n} ${impl}`);
            assertClose(grad, expected.grad, {
              atol: 2e-7 * scale,
              rtol: 2e-6,
              label: `bce grad ${impl}`,
            });
            if (n <= 64) {
              const fd = finiteDifferences(
                (zs) => ref.bceWithLogits(zs, target, scale).loss,
                z,
              );
              assertClose(grad, fd, {
                atol: 1e-5,
                rtol: 1e-3,
                label: `bce fd ${impl}`,
              });
            }
          }
          engine.free(pz);
          engine.free(pt);
        }
      },
    );

    await t.step("softmax rows match f64 (simd, scalar), in place too", () => {
      for (
        const [rows, cols] of [[1, 1], [3, 3], [2, 4], [5, 7], [4, 1000], [
          33,
          10,
        ], [2, 4099]]
      ) {
        const x = randomArray(rows * cols, rows + cols, -10, 10);
        if (cols > 2) x.set([80, -80], 0); // large spreads stay finite (max-subtracted)
        const expected = ref.softmax(x, rows, cols);
        const px = engine.upload(x), py = engine.allocF32(rows * cols);
        for (const impl of IMPLS) {
          ls.softmax(engine, px, py, rows, cols, { impl });
          assertClose(engine.download(py, rows * cols), expected, {
            atol: 1e-7,
            rtol: 2e-6,
            label: `softmax ${rows}x${cols} ${impl}`,
          });
        }
        ls.softmax(engine, px, px, rows, cols);
        assertClose(engine.download(px, rows * cols), expected, {
          atol: 1e-7,
          rtol: 2e-6,
          label: "in place",
        });
        engine.free(px);
        engine.free(py);
      }
    });

    await t.step(
      "softmaxCrossEntropy: value and gradient (simd, scalar)",
      () => {
        for (
          const [rows, cols] of [[1, 1], [1, 3], [3, 4], [5, 7], [64, 10], [
            130,
            1000,
          ], [3, 4099]]
        ) {
          const n = rows * cols;
          const z = randomArray(n, n, -5, 5), labels = labelsFor(rows, cols, n);
          const pz = engine.upload(z), pl = engine.upload(labels);
          const scale = 1 / rows;
          const expected = ref.softmaxCrossEntropy(
            z,
            labels,
            rows,
            cols,
            scale,
          );
          for (const impl of IMPLS) {
            const { loss, grad } = withGrad(
              engine,
              n,
              (g) =>
                ls.softmaxCrossEntropy(engine, pz, pl, rows, cols, scale, g, {
                  impl,
                }),
            );
            nearLoss(
              loss,
              expected.loss,
              expected.loss + 10 * scale * rows,
              `xent ${rows}x${cols} ${impl}`,
            );
            assertClose(grad, expected.grad, {
              atol: 2e-7 * scale,
              rtol: 2e-6,
              label: `xent grad ${impl}`,
            });
            if (n <= 64) {
              const fd = finiteDifferences(
                (zs) =>
                  ref.softmaxCrossEntropy(zs, labels, rows, cols, scale).loss,
                z,
              );
              assertClose(grad, fd, {
                atol: 1e-5,
                rtol: 1e-3,
                label: `xent fd ${impl}`,
              });
            }
          }
          engine.free(pz);
          engine.free(pl);
        }
      },
    );

    await t.step(
      "1 and 2 threads give the same bits (losses and gradients)",
      () => {
        const rows = 300, cols = 37, n = rows * cols;
        const a = randomArray(n, 1, -4, 4),
          b = randomArray(n, 2, 0, 1),
          labels = labelsFor(rows, cols, 3);
        const pa = engine.upload(a),
          pb = engine.upload(b),
          pl = engine.upload(labels);
        const pg = engine.allocF32(n), pp = engine.allocF32(64);
        for (const isa of ["wasmsimd", "scalar"]) {
          for (
            const [kernel, args, outLength] of [
              ["f32_mse_partials", [pa, pb, n, 0.5, pg, pp], n],
              ["f32_bce_logits_partials", [pa, pb, n, 0.5, pg, pp], n],
              [
                "f32_softmax_xent_partials",
                [pa, pl, rows, cols, 0.5, pg, pp],
                n,
              ],
              ["f32_softmax", [pa, pg, rows, cols], n],
            ] as const
          ) {
            const results = [1, 2].map((threads) => {
              engine.run(`${kernel}__${isa}`, args, threads);
              return [engine.download(pg, outLength), engine.download(pp, 64)];
            });
            assert.deepEqual(results[0], results[1], `${kernel}__${isa}`);
          }
        }
        for (const p of [pa, pb, pl, pg, pp]) engine.free(p);
      },
    );

    await t.step("shims reject bad sizes and labels", () => {
      const p = engine.upload([0, 1, 2, 3]);
      assert.throws(() => ls.mseLoss(engine, p, p, -1, 1, 0), RangeError);
      assert.throws(() => ls.softmax(engine, p, p, 1, 0), RangeError);
      assert.throws(
        () => ls.softmaxCrossEntropy(engine, p, p, 2, 1, 1, 0),
        RangeError,
      ); // label 1 >= cols
      const labels = engine.upload([1.5]);
      assert.throws(
        () => ls.softmaxCrossEntropy(engine, p, labels, 1, 4, 1, 0),
        RangeError,
      );
      engine.free(p);
      engine.free(labels);
    });
  } finally {
    engine.dispose();
  }
});

Deno.test("f32-loss on the plain-SIMD single-thread build", async () => {
  const engine = await createTestEngine({ variant: "single-simd", threads: 1 });
  try {
    const rows = 17, cols = 13, n = rows * cols;
    const z = randomArray(n, 4, -8, 8),
      t = randomArray(n, 5, 0, 1),
      labels = labelsFor(rows, cols, 6);
    const pz = engine.upload(z),
      pt = engine.upload(t),
      pl = engine.upload(labels);
    const bce = ref.bceWithLogits(z, t, 1 / n);
    const { loss, grad } = withGrad(
      engine,
      n,
      (g) => ls.bceWithLogitsLoss(engine, pz, pt, n, 1 / n, g),
    );
    nearLoss(loss, bce.loss, bce.loss, "bce");
    assertClose(grad, bce.grad, {
      atol: 2e-7 / n,
      rtol: 2e-6,
      label: "bce grad",
    });
    const xent = ref.softmaxCrossEntropy(z, labels, rows, cols, 1);
    const r = withGrad(
      engine,
      n,
      (g) => ls.softmaxCrossEntropy(engine, pz, pl, rows, cols, 1, g),
    );
    nearLoss(r.loss, xent.loss, xent.loss, "xent");
    assertClose(r.grad, xent.grad, {
      atol: 2e-7,
      rtol: 2e-6,
      label: "xent grad",
    });
  } finally {
    engine.dispose();
  }
});
