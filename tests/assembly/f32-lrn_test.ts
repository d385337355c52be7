// f32-lrn family: LRN across channels (Krizhevsky et al. 2012 §3.3, ONNX
// window), forward and backward, against the f64 reference in
// tests/reference/lrn.ts, SIMD against scalar, 1 against 2 threads (bit
// identical), the backward against central finite differences of the f64
// forward, and the single-simd build against the default one.
//
// Tolerances (inputs in [-3, 3]): forward y and scale atol 1e-6, rtol 1e-5
// (pow versus the sqrt form for beta = 0.75, FMA in the relaxed build: a few
// ulp); backward atol 1e-5, rtol 1e-4 (a difference of two terms of similar
// size); finite differences h = 1e-4 in f64, same tolerance as the backward.
import assert from "node:assert/strict";
import type { Engine } from "../../runtime/engine/engine.ts";
import type { LaunchOptions } from "../../runtime/backends/wasm/_launch.ts";
import {
  lrnBackward,
  lrnForward,
  type LrnParams,
} from "../../runtime/backends/wasm/lrn.ts";
import { lrnBackwardRef, lrnRef } from "../reference/lrn.ts";
import { assertClose, finiteDifferences, randomArray } from "../_check.ts";
import { createTestEngine } from "../_engine.ts";

const FWD_TOL = { atol: 1e-6, rtol: 1e-5 };
const BWD_TOL = { atol: 1e-5, rtol: 1e-4 };

const ALEXNET: LrnParams = { size: 5, alpha: 1e-4, beta: 0.75, bias: 2 };
const PARAMS: LrnParams[] = [
  ALEXNET,
  { size: 5, alpha: 0.5, beta: 0.75, bias: 1 }, // strong normalisation
  { size: 4, alpha: 0.3, beta: 0.6, bias: 1.5 }, // even window, general pow
  { size: 3, alpha: 1, beta: 0.5, bias: 1 },
  { size: 1, alpha: 2, beta: 1, bias: 1 },
  { size: 7, alpha: 0.2, beta: 0.75, bias: 0.8 }, // wider than some inputs' C
];

type Dims = [number, number, number, number];
const DIMS: Dims[] = [
  [2, 7, 5, 5],
  [1, 3, 3, 7],
  [2, 16, 13, 13],
  [1, 5, 1, 1],
  [2, 24, 27, 27], // large enough for the threaded path
];

function scaled(n: number, seed: number, k: number): Float32Array {
  return randomArray(n, seed).map((v) => v * k);
}

interface LrnOut {
  y: Float32Array;
  scale: Float32Array;
  dx: Float32Array;
}

function runLrn(
  engine: Engine,
  [n, c, h, w]: Dims,
  p: LrnParams,
  x: Float32Array,
  dy: Float32Array,
  options?: LaunchOptions,
): LrnOut {
  const len = n * c * h * w;
  const px = engine.upload(x), pdy = engine.upload(dy);
  const py = engine.allocF32(len), ps = engine.allocF32(len);
  const pdx = engine.allocF32(len);
  try {
    lrnForward(engine, n, c, h, w, p, px, py, ps, options);
    lrnBackward(engine, n, c, h, w, p, px, py, ps, pdy, pdx, options);
    return {
      y: engine.download(py, len),
      scale: engine.download(ps, len),
      dx: engine.download(pdx, len),
    };
  } finally {
    for (const q of [px, pdy, py, ps, pdx]) engine.free(q);
  }
}

Deno.test("LRN forward/backward: reference, SIMD ~ scalar, 1 = 2 threads", async () => {
  const engine = await createTestEngine();
  try {
    for (const [i, dims] of DIMS.entries()) {
      for (const [j, p] of PARAMS.entries()) {
        const len = dims.reduce((a, b) => a * b);
        const x = scaled(len, 10 * i + j, 3),
          dy = randomArray(len, 500 + 10 * i + j);
        const ref = lrnRef(x, dims[0], dims[1], dims[2] * dims[3], p);
        const dxRef = lrnBackwardRef(
          x,
          dy,
          dims[0],
          dims[1],
          dims[2] * dims[3],
          p,
        );
        const tag = `${dims.join("x")} ${JSON.stringify(p)}`;
        for (const impl of ["simd", "scalar"] as const) {
          const one = runLrn(engine, dims, p, x, dy, { impl, threads: 1 });
          const two = runLrn(engine, dims, p, x, dy, { impl, threads: 2 });
          assert.deepEqual(two, one, `threads ${impl} ${tag}`);
          assertClose(one.y, ref.y, { ...FWD_TOL, label: `y ${impl} ${tag}` });
          assertClose(one.scale, ref.scale, {
            ...FWD_TOL,
            label: `scale ${impl} ${tag}`,
          });
          assertClose(one.dx, dxRef, {
            ...BWD_TOL,
            label: `dx ${impl} ${tag}`,
          });
        }
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("LRN backward matches finite differences of the f64 forward", async () => {
  const engine = await createTestEngine();
  try {
    const dims: Dims = [2, 6, 3, 5];
    const len = 180, hw = 15;
    for (const [j, p] of PARAMS.entries()) {
      const x = scaled(len, 700 + j, 3), dy = randomArray(len, 800 + j);
      const fd = finiteDifferences(
        (v) => {
          const { y } = lrnRef(v, dims[0], dims[1], hw, p);
          return y.reduce((a, yk, k) => a + dy[k] * yk, 0);
        },
        x,
        1e-4,
      );
      const tag = JSON.stringify(p);
      assertClose(lrnBackwardRef(x, dy, dims[0], dims[1], hw, p), fd, {
        ...BWD_TOL,
        label: `reference FD ${tag}`,
      });
      for (const impl of ["simd", "scalar"] as const) {
        assertClose(runLrn(engine, dims, p, x, dy, { impl }).dx, fd, {
          ...BWD_TOL,
          label: `FD ${impl} ${tag}`,
        });
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("LRN: single-simd build agrees with the default build", async () => {
  const main = await createTestEngine();
  const single = await createTestEngine({ variant: "single-simd", threads: 1 });
  try {
    const dims: Dims = [2, 16, 13, 13];
    const len = 2 * 16 * 169;
    for (const [j, p] of PARAMS.entries()) {
      const x = scaled(len, 900 + j, 3), dy = randomArray(len, 950 + j);
      const a = runLrn(main, dims, p, x, dy),
        b = runLrn(single, dims, p, x, dy);
      assertClose(b.y, a.y, { ...FWD_TOL, label: "y" });
      assertClose(b.dx, a.dx, { ...BWD_TOL, label: "dx" });
    }
  } finally {
    main.dispose();
    single.dispose();
  }
});

Deno.test("LRN shims reject bad parameters with RangeError", async () => {
  const engine = await createTestEngine({ threads: 1 });
  try {
    const p = engine.allocF32(16);
    const bad = (q: Partial<LrnParams>, re: RegExp) =>
      assert.throws(
        () => lrnForward(engine, 1, 4, 2, 2, { ...ALEXNET, ...q }, p, p, p),
        (e: unknown) => e instanceof RangeError && re.test(e.message),
      );
    bad({ size: 0 }, /size/);
    bad({ bias: 0 }, /bias/);
    bad({ alpha: -1 }, /alpha/);
    bad({ beta: NaN }, /beta/);
    assert.throws(
      () => lrnForward(engine, 1, 0, 2, 2, ALEXNET, p, p, p),
      (e: unknown) => e instanceof RangeError && /channels/.test(e.message),
    );
    assert.throws(
      () => lrnBackward(engine, 1, 4, 2, 2, ALEXNET, p, p, p, p, 0),
      (e: unknown) => e instanceof RangeError && /dx/.test(e.message),
    );
    engine.free(p);
  } finally {
    engine.dispose();
  }
});
