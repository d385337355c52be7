// f32-vunary kernels: activations, their backwards and elementwise math
// against f64 references (SIMD and scalar twins), ulp error of the SIMD
// exp/log polynomials, saturation (finite in, finite out), backwards against
// central finite differences, and 1 vs 2 threads bit-identical.
// Tolerances: relu/leaky/abs/square/sqrt: atol 1e-7, rtol 1e-6 (one rounding);
// exp: <= 2 ulp on [-87, 88]; log: <= 2 ulp on normal numbers;
// sigmoid/tanh: atol 1e-7, rtol 4e-7; backwards vs the f64 formula:
// atol 1e-7, rtol 1e-6; vs finite differences (h = 1e-3): atol 1e-5, rtol 1e-3.
import assert from "node:assert/strict";
import type { Engine } from "../../runtime/engine/engine.ts";
import * as vu from "../../runtime/backends/wasm/vunary.ts";
import type { LaunchOptions } from "../../runtime/backends/wasm/_launch.ts";
import { createTestEngine } from "../_engine.ts";
import { assertClose, finiteDifferences, randomArray } from "../_check.ts";
import { UNARY, UNARY_BACKWARD } from "../reference/elementwise.ts";

const SIZES = [1, 3, 4, 7, 17, 1000, 4099];
const IMPLS: LaunchOptions["impl"][] = ["simd", "scalar"];
const SLOPE = 0.1;

type UnaryShim = (
  e: Engine,
  x: number,
  y: number,
  n: number,
  o?: LaunchOptions,
) => void;
const FORWARD: Record<
  string,
  { shim: UnaryShim; lo: number; hi: number; atol: number; rtol: number }
> = {
  relu: { shim: vu.relu, lo: -2, hi: 2, atol: 1e-7, rtol: 1e-6 },
  leaky_relu: {
    shim: (e, x, y, n, o) => vu.leakyRelu(e, x, y, n, SLOPE, o),
    lo: -2,
    hi: 2,
    atol: 1e-7,
    rtol: 1e-6,
  },
  sigmoid: { shim: vu.sigmoid, lo: -30, hi: 30, atol: 1e-7, rtol: 4e-7 },
  tanh: { shim: vu.tanh, lo: -6, hi: 6, atol: 1e-7, rtol: 4e-7 },
  exp: { shim: vu.exp, lo: -80, hi: 80, atol: 0, rtol: 2.4e-7 },
  log: { shim: vu.log, lo: 1e-6, hi: 1e6, atol: 0, rtol: 2.4e-7 },
  sqrt: { shim: vu.sqrt, lo: 0, hi: 100, atol: 1e-7, rtol: 1e-6 },
  abs: { shim: vu.abs, lo: -2, hi: 2, atol: 0, rtol: 0 },
  square: { shim: vu.square, lo: -2, hi: 2, atol: 1e-7, rtol: 1e-6 },
};

type BackwardShim = (
  e: Engine,
  s: number,
  dy: number,
  dx: number,
  n: number,
  o?: LaunchOptions,
) => void;
const BACKWARD: Record<
  string,
  { shim: BackwardShim; forward: string; savesOutput: boolean }
> = {
  relu_bwd: { shim: vu.reluBackward, forward: "relu", savesOutput: false },
  leaky_relu_bwd: {
    shim: (e, s, dy, dx, n, o) =>
      vu.leakyReluBackward(e, s, dy, dx, n, SLOPE, o),
    forward: "leaky_relu",
    savesOutput: false,
  },
  sigmoid_bwd: {
    shim: vu.sigmoidBackward,
    forward: "sigmoid",
    savesOutput: true,
  },
  tanh_bwd: { shim: vu.tanhBackward, forward: "tanh", savesOutput: true },
};

/** Distance in units in the last place (of the f32 expected value). */
function ulps(actual: number, expected: number): number {
  const e = Math.fround(expected);
  if (actual === e) return 0;
  const buf = new Float32Array([e]);
  const bits = new Int32Array(buf.buffer);
  bits[0] += 1;
  const ulp = Math.abs(buf[0] - e) || 1.4e-45;
  return Math.abs(actual - expected) / ulp;
}

function maxUlps(
  actual: ArrayLike<number>,
  x: ArrayLike<number>,
  f: (v: number) => number,
): number {
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    worst = Math.max(worst, ulps(actual[i], f(x[i])));
  }
  return worst;
}

function run(
  engine: Engine,
  shim: UnaryShim,
  x: Float32Array,
  options?: LaunchOptions,
): Float32Array {
  const px = engine.upload(x), py = engine.allocF32(x.length);
  shim(engine, px, py, x.length, options);
  const y = engine.download(py, x.length);
  engine.free(px);
  engine.free(py);
  return y;
}

Deno.test("f32-vunary", async (t) => {
  const engine = await createTestEngine();
  try {
    for (const [op, spec] of Object.entries(FORWARD)) {
      await t.step(`${op} matches the f64 reference (simd, scalar)`, () => {
        for (const n of SIZES) {
          const x = randomArray(n, n + 11, spec.lo, spec.hi);
          const expected = Float64Array.from(x, (v) => UNARY[op](v, SLOPE));
          for (const impl of IMPLS) {
            assertClose(run(engine, spec.shim, x, { impl }), expected, {
              atol: spec.atol,
              rtol: spec.rtol,
              label: `${op} n=${n} ${impl}`,
            });
          }
        }
      });
    }

    await t.step("SIMD exp and log stay within 2 ulp over their ranges", () => {
      const n = 200000;
      const xe = randomArray(n, 1, -87, 88);
      const ue = maxUlps(run(engine, vu.exp, xe), xe, Math.exp);
      // log over many binades, including subnormals (scaled internally).
      const xl = Float32Array.from(
        randomArray(n, 2, -149, 127),
        (v) => Math.pow(2, v),
      );
      const ul = maxUlps(run(engine, vu.log, xl), xl, Math.log);
      console.log(
        `max error: exp ${ue.toFixed(2)} ulp, log ${ul.toFixed(2)} ulp`,
      );
      assert.ok(ue <= 2, `exp error ${ue} ulp`);
      assert.ok(ul <= 2, `log error ${ul} ulp`);
    });

    await t.step(
      "special values: saturation, no NaN or Inf from finite input",
      () => {
        const big = [
          -3.4e38,
          -1e4,
          -100,
          -88.5,
          -87.5,
          87.5,
          88.5,
          100,
          1e4,
          3.4e38,
          0,
          -0,
        ];
        const x = Float32Array.from(big);
        const ex = run(engine, vu.exp, x);
        for (let i = 0; i < x.length; i++) {
          assert.ok(Number.isFinite(ex[i]), `exp(${x[i]}) = ${ex[i]}`);
          if (x[i] < -87.4) assert.equal(ex[i], 0, `exp(${x[i]}) flushes to 0`);
        }
        assert.ok(ex[big.indexOf(100)] > 1e38, "exp saturates high");
        for (
          const [name, shim] of [["sigmoid", vu.sigmoid], [
            "tanh",
            vu.tanh,
          ]] as const
        ) {
          for (const impl of IMPLS) {
            const y = run(engine, shim, x, { impl });
            for (let i = 0; i < x.length; i++) {
              assert.ok(
                Number.isFinite(y[i]),
                `${name}(${x[i]}) = ${y[i]} (${impl})`,
              );
              assert.ok(
                Math.abs(y[i] - UNARY[name](x[i], 0)) <= 1e-7,
                `${name}(${x[i]}) = ${y[i]}`,
              );
            }
          }
        }
        const specials = Float32Array.from([0, -1, Infinity, NaN, 1e-45, 1]);
        const lg = run(engine, vu.log, specials);
        assert.deepEqual(Array.from(lg.slice(0, 3)), [
          -Infinity,
          NaN,
          Infinity,
        ]);
        assert.ok(Number.isNaN(lg[3]));
        assertClose([lg[4], lg[5]], [Math.log(specials[4]), 0], {
          atol: 0,
          rtol: 2.4e-7,
        });
        assert.ok(
          Number.isNaN(run(engine, vu.exp, Float32Array.from([NaN]))[0]),
        );
      },
    );

    for (const [op, spec] of Object.entries(BACKWARD)) {
      await t.step(
        `${op} against its formula and central finite differences`,
        () => {
          for (const n of [1, 7, 64, 1001]) {
            // Keep |x| >= 0.05 so that the relu kink is farther than h.
            const x = Float32Array.from(
              randomArray(n, n, -3, 3),
              (v) => Math.abs(v) < 0.05 ? v + 0.1 : v,
            );
            const dy = randomArray(n, n + 1);
            const f = (v: number) => UNARY[spec.forward](v, SLOPE);
            const y = Float32Array.from(x, f);
            const saved = spec.savesOutput ? y : x;
            const expected = Float64Array.from(
              saved,
              (s, i) => UNARY_BACKWARD[op](s, dy[i], SLOPE),
            );
            const fd = finiteDifferences((xs) => {
              let s = 0;
              for (let i = 0; i < xs.length; i++) s += dy[i] * f(xs[i]);
              return s;
            }, x);
            const ps = engine.upload(saved),
              pdy = engine.upload(dy),
              pdx = engine.allocF32(n);
            for (const impl of IMPLS) {
              spec.shim(engine, ps, pdy, pdx, n, { impl });
              const dx = engine.download(pdx, n);
              assertClose(dx, expected, {
                atol: 1e-7,
                rtol: 1e-6,
                label: `${op} ${impl} formula`,
              });
              assertClose(dx, fd, {
                atol: 1e-5,
                rtol: 1e-3,
                label: `${op} ${impl} finite differences`,
              });
            }
            for (const p of [ps, pdy, pdx]) engine.free(p);
          }
        },
      );
    }

    await t.step(
      "1 and 2 threads give the same bits (every kernel, both twins)",
      () => {
        const names = [...Object.keys(FORWARD), ...Object.keys(BACKWARD)];
        for (const n of [5, 1001, 40003]) {
          const x = randomArray(n, 8, 0.01, 3), dy = randomArray(n, 9);
          const px = engine.upload(x),
            pdy = engine.upload(dy),
            pout = engine.allocF32(n);
          for (const op of names) {
            for (const isa of ["wasmsimd", "scalar"]) {
              const args = op in BACKWARD ? [px, pdy, pout, n] : [px, pout, n];
              if (op.startsWith("leaky")) args.push(SLOPE);
              const r = [1, 2].map((threads) => {
                engine.run(`f32_${op}__${isa}`, args, threads);
                return engine.download(pout, n);
              });
              assert.deepEqual(r[0], r[1], `${op}__${isa} n=${n}`);
            }
          }
          for (const p of [px, pdy, pout]) engine.free(p);
        }
      },
    );
  } finally {
    engine.dispose();
  }
});

Deno.test("f32-vunary on the plain-SIMD single-thread build", async () => {
  const engine = await createTestEngine({ variant: "single-simd", threads: 1 });
  try {
    for (const [op, spec] of Object.entries(FORWARD)) {
      const x = randomArray(1003, 3, spec.lo, spec.hi);
      assertClose(
        run(engine, spec.shim, x),
        Float64Array.from(x, (v) => UNARY[op](v, SLOPE)),
        {
          atol: spec.atol,
          rtol: spec.rtol,
          label: op,
        },
      );
    }
  } finally {
    engine.dispose();
  }
});
