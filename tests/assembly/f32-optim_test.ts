// f32-optim kernels: fused SGD and Adam updates and the L1 norm. SIMD against
// the scalar twin (bit-identical without relaxed SIMD, whose madd fuses),
// threaded against single-threaded (bit-identical), both against f64
// references (tests/reference/f32-optim.ts).
import assert from "node:assert/strict";
import type { Engine, EngineOptions } from "../../runtime/engine/engine.ts";
import {
  adamUpdate,
  asum,
  sgdUpdate,
  type SgdUpdateAttrs,
} from "../../runtime/backends/wasm/optim.ts";
import { createTestEngine } from "../_engine.ts";
import { assertClose, randomArray } from "../_check.ts";
import {
  adamUpdateRef,
  asumRef,
  sgdUpdateRef,
} from "../reference/f32-optim.ts";

// Sizes not multiples of 4, and one above the parallel threshold.
const SIZES = [1, 3, 4, 7, 65, 1003, 12347];
// One f32 update from identical inputs: only rounding separates f32 and f64.
const TOL = { atol: 1e-6, rtol: 1e-5 };

const CONFIGS: [string, EngineOptions][] = [
  ["2 threads", {}],
  ["1 thread", { threads: 1 }],
  ["single-simd", { variant: "single-simd", threads: 1 }],
];

type Impl = "simd" | "scalar";

/** Uploads `arrays`, runs `body(ptrs)`, downloads them and frees them. */
function withArrays(
  engine: Engine,
  arrays: Float32Array[],
  body: (ptrs: number[]) => void,
): Float32Array[] {
  const ptrs = arrays.map((a) => engine.upload(a));
  try {
    body(ptrs);
    return ptrs.map((p, i) => engine.download(p, arrays[i].length));
  } finally {
    ptrs.forEach((p) => engine.free(p));
  }
}

function compareImpls(
  engine: Engine,
  label: string,
  run: (impl: Impl, threads: number) => Float32Array[],
  reference: Float64Array[],
): void {
  const threaded = run("simd", engine.threads);
  const single = run("simd", 1);
  const scalar = run("scalar", engine.threads);
  threaded.forEach((t, i) => {
    assert.deepEqual(single[i], t, `${label}: threads changed the bits`);
    if (engine.variant.endsWith("relaxed")) {
      assertClose(scalar[i], t, { ...TOL, label: `${label} scalar/simd` });
    } else {
      assert.deepEqual(scalar[i], t, `${label}: scalar != simd`);
    }
    assertClose(t, reference[i], { ...TOL, label: `${label} simd/f64` });
    assertClose(scalar[i], reference[i], {
      ...TOL,
      label: `${label} scalar/f64`,
    });
  });
}

const SGD_CASES: Omit<SgdUpdateAttrs, "firstStep">[] = [
  { lr: 0.1, weightDecay: 0, momentum: 0, dampening: 0, nesterov: false },
  { lr: 0.05, weightDecay: 1e-2, momentum: 0, dampening: 0, nesterov: false },
  { lr: 0.01, weightDecay: 0, momentum: 0.9, dampening: 0, nesterov: false },
  {
    lr: 0.02,
    weightDecay: 5e-4,
    momentum: 0.5,
    dampening: 0.1,
    nesterov: false,
  },
  { lr: 0.03, weightDecay: 1e-3, momentum: 0.9, dampening: 0, nesterov: true },
];

for (const [name, options] of CONFIGS) {
  Deno.test(`f32_sgd_update matches its scalar twin and f64 (${name})`, async () => {
    const engine = await createTestEngine(options);
    try {
      let seed = 1;
      for (const n of SIZES) {
        for (const c of SGD_CASES) {
          for (const firstStep of [true, false]) {
            const a = { ...c, firstStep };
            const p = randomArray(n, seed++), g = randomArray(n, seed++);
            const b = randomArray(n, seed++);
            const ref = sgdUpdateRef(p, g, a.momentum ? b : null, a);
            const run = (impl: Impl, threads: number) =>
              withArrays(engine, [p, b], ([pp, pb]) => {
                const pg = engine.upload(g);
                sgdUpdate(engine, pp, pg, a.momentum ? pb : 0, n, a, {
                  impl,
                  threads,
                });
                engine.free(pg);
              });
            compareImpls(
              engine,
              `sgd n=${n} ${JSON.stringify(a)}`,
              run,
              [ref.param, ref.buf ?? Float64Array.from(b)],
            );
          }
        }
      }
    } finally {
      engine.dispose();
    }
  });

  Deno.test(`f32_adam_update matches its scalar twin and f64 (${name})`, async () => {
    const engine = await createTestEngine(options);
    try {
      let seed = 100;
      const cases = [
        { weightDecay: 0, decoupled: false, step: 1 },
        { weightDecay: 1e-2, decoupled: false, step: 3 },
        { weightDecay: 1e-2, decoupled: true, step: 7 },
        { weightDecay: 0, decoupled: true, step: 1000 },
      ];
      for (const n of SIZES) {
        for (const c of cases) {
          const a = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, ...c };
          const p = randomArray(n, seed++), g = randomArray(n, seed++);
          // Moments as after a few steps: v >= 0 and of the order of g^2.
          const m = c.step === 1
            ? new Float32Array(n)
            : randomArray(n, seed++, -0.1, 0.1);
          const v = c.step === 1
            ? new Float32Array(n)
            : randomArray(n, seed++, 0, 0.01);
          const ref = adamUpdateRef(p, g, m, v, a);
          const run = (impl: Impl, threads: number) =>
            withArrays(engine, [p, m, v], ([pp, pm, pv]) => {
              const pg = engine.upload(g);
              adamUpdate(engine, pp, pg, pm, pv, n, a, { impl, threads });
              engine.free(pg);
            });
          compareImpls(
            engine,
            `adam n=${n} ${JSON.stringify(c)}`,
            run,
            [ref.param, ref.expAvg, ref.expAvgSq],
          );
        }
      }
    } finally {
      engine.dispose();
    }
  });

  Deno.test(`f32_asum_partials: any thread count, scalar twin, f64 (${name})`, async () => {
    const engine = await createTestEngine(options);
    try {
      for (const n of [0, ...SIZES, 100003]) {
        const x = randomArray(n, 7 + n);
        const px = engine.upload(x);
        const threaded = asum(engine, px, n);
        assert.equal(asum(engine, px, n, { threads: 1 }), threaded);
        const scalar = asum(engine, px, n, { impl: "scalar" });
        const ref = asumRef(x);
        // f32 sums of n terms: error grows like n * 2^-24 at worst.
        const tol = { atol: 1e-6, rtol: 1e-5 };
        assertClose([threaded], [ref], { ...tol, label: `asum n=${n}` });
        assertClose([scalar], [ref], { ...tol, label: `asum scalar n=${n}` });
        engine.free(px);
      }
    } finally {
      engine.dispose();
    }
  });
}
