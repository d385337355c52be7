// f32-batchnorm family: 2-D batch normalisation (Ioffe & Szegedy 2015),
// training forward (batch statistics, PyTorch running-statistics update),
// inference forward and backward, against the f64 references in
// tests/reference/batchnorm.ts, SIMD against scalar, 1 against 2 threads
// (bit identical), the backward against central finite differences of the
// f64 training forward, and the single-simd build against the default one.
//
// Tolerances: mean, invStd, running statistics atol 1e-6, rtol 1e-5; y and
// dx atol 1e-5, rtol 1e-4 (x̂ carries the rounding of mean and invStd, up to
// ~4 in size); dgamma, dbeta (sums of up to 13k terms) atol 1e-4, rtol 1e-4.
// Finite differences h = 1e-3 in f64: the same tolerances.
import assert from "node:assert/strict";
import type { Engine } from "../../runtime/engine/engine.ts";
import type { LaunchOptions } from "../../runtime/backends/wasm/_launch.ts";
import {
  batchNormBackward,
  batchNormForwardEval,
  batchNormForwardTrain,
} from "../../runtime/backends/wasm/batchnorm.ts";
import {
  batchNormBackwardRef,
  batchNormEvalRef,
  batchNormTrainRef,
} from "../reference/batchnorm.ts";
import { assertClose, finiteDifferences, randomArray } from "../_check.ts";
import { createTestEngine } from "../_engine.ts";

const STAT_TOL = { atol: 1e-6, rtol: 1e-5 };
const ELEM_TOL = { atol: 1e-5, rtol: 1e-4 };
const SUM_TOL = { atol: 1e-4, rtol: 1e-4 };
const EPS = 1e-5, MOMENTUM = 0.1;

type Dims = [number, number, number, number];
const DIMS: Dims[] = [
  [2, 3, 5, 7],
  [1, 5, 1, 2], // M = 2, the smallest batch statistics allowed
  [3, 7, 1, 1],
  [4, 16, 14, 14], // large enough for the threaded path
  [8, 4, 9, 11],
];

interface Inputs {
  x: Float32Array;
  dy: Float32Array;
  gamma: Float32Array | null;
  beta: Float32Array | null;
  rm: Float32Array;
  rv: Float32Array;
}

function inputs(dims: Dims, seed: number, affine: boolean): Inputs {
  const [n, c, h, w] = dims;
  const len = n * c * h * w;
  // Channel means well away from 0 (offset 3) test the two-pass variance.
  return {
    x: randomArray(len, seed, 1, 5),
    dy: randomArray(len, seed + 1),
    gamma: affine ? randomArray(c, seed + 2, 0.5, 1.5) : null,
    beta: affine ? randomArray(c, seed + 3) : null,
    rm: randomArray(c, seed + 4),
    rv: randomArray(c, seed + 5, 0.5, 2),
  };
}

interface BnOut {
  y: Float32Array;
  mean: Float32Array;
  invStd: Float32Array;
  rm: Float32Array | null;
  rv: Float32Array | null;
  yEval: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
}

function runBn(
  engine: Engine,
  [n, c, h, w]: Dims,
  inp: Inputs,
  track: boolean,
  options?: LaunchOptions,
): BnOut {
  const len = n * c * h * w;
  const ptrs: number[] = [];
  const up = (a: Float32Array | null) => {
    if (!a) return 0;
    const p = engine.upload(a);
    ptrs.push(p);
    return p;
  };
  const alloc = (k: number) => {
    const p = engine.allocF32(k);
    ptrs.push(p);
    return p;
  };
  try {
    const px = up(inp.x),
      pdy = up(inp.dy),
      pg = up(inp.gamma),
      pb = up(inp.beta);
    const prm = track ? up(inp.rm) : 0, prv = track ? up(inp.rv) : 0;
    const py = alloc(len), pm = alloc(c), ps = alloc(c), pye = alloc(len);
    const pdx = alloc(len), pdg = alloc(c), pdb = alloc(c);
    batchNormForwardTrain(
      engine,
      n,
      c,
      h,
      w,
      EPS,
      MOMENTUM,
      px,
      pg,
      pb,
      py,
      pm,
      ps,
      prm,
      prv,
      options,
    );
    const erm = up(inp.rm), erv = up(inp.rv);
    batchNormForwardEval(
      engine,
      n,
      c,
      h,
      w,
      EPS,
      px,
      pg,
      pb,
      erm,
      erv,
      pye,
      options,
    );
    batchNormBackward(
      engine,
      n,
      c,
      h,
      w,
      px,
      pg,
      pm,
      ps,
      pdy,
      pdx,
      pdg,
      pdb,
      options,
    );
    return {
      y: engine.download(py, len),
      mean: engine.download(pm, c),
      invStd: engine.download(ps, c),
      rm: track ? engine.download(prm, c) : null,
      rv: track ? engine.download(prv, c) : null,
      yEval: engine.download(pye, len),
      dx: engine.download(pdx, len),
      dgamma: engine.download(pdg, c),
      dbeta: engine.download(pdb, c),
    };
  } finally {
    for (const p of ptrs) engine.free(p);
  }
}

Deno.test("batch norm train/eval/backward: reference, SIMD ~ scalar, 1 = 2 threads", async () => {
  const engine = await createTestEngine();
  try {
    for (const [i, dims] of DIMS.entries()) {
      const [n, c, h, w] = dims;
      const hw = h * w;
      for (const affine of [true, false]) {
        const track = affine || i % 2 === 0;
        const inp = inputs(dims, 10 * i + (affine ? 0 : 5), affine);
        const ref = batchNormTrainRef(
          inp.x,
          n,
          c,
          hw,
          EPS,
          MOMENTUM,
          inp.gamma,
          inp.beta,
          inp.rm,
          inp.rv,
        );
        const yEval = batchNormEvalRef(
          inp.x,
          n,
          c,
          hw,
          EPS,
          inp.gamma,
          inp.beta,
          inp.rm,
          inp.rv,
        );
        const bwd = batchNormBackwardRef(
          inp.x,
          inp.dy,
          n,
          c,
          hw,
          EPS,
          inp.gamma,
        );
        const tag = `${dims.join("x")} affine=${affine} track=${track}`;
        for (const impl of ["simd", "scalar"] as const) {
          const one = runBn(engine, dims, inp, track, { impl, threads: 1 });
          const two = runBn(engine, dims, inp, track, { impl, threads: 2 });
          assert.deepEqual(two, one, `threads ${impl} ${tag}`);
          const t = `${impl} ${tag}`;
          assertClose(one.mean, ref.mean, { ...STAT_TOL, label: `mean ${t}` });
          assertClose(one.invStd, ref.invStd, {
            ...STAT_TOL,
            label: `invStd ${t}`,
          });
          if (track) {
            assertClose(one.rm!, ref.runningMean, {
              ...STAT_TOL,
              label: `runningMean ${t}`,
            });
            assertClose(one.rv!, ref.runningVar, {
              ...STAT_TOL,
              label: `runningVar ${t}`,
            });
          }
          assertClose(one.y, ref.y, { ...ELEM_TOL, label: `y ${t}` });
          assertClose(one.yEval, yEval, { ...ELEM_TOL, label: `yEval ${t}` });
          assertClose(one.dx, bwd.dx, { ...ELEM_TOL, label: `dx ${t}` });
          assertClose(one.dgamma, bwd.dgamma, {
            ...SUM_TOL,
            label: `dgamma ${t}`,
          });
          assertClose(one.dbeta, bwd.dbeta, {
            ...SUM_TOL,
            label: `dbeta ${t}`,
          });
        }
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("batch norm backward matches finite differences of the f64 training forward", async () => {
  const engine = await createTestEngine();
  try {
    for (
      const [i, dims] of ([[2, 3, 3, 5], [3, 2, 1, 1]] as Dims[]).entries()
    ) {
      const [n, c, h, w] = dims;
      const hw = h * w, len = n * c * hw;
      const inp = inputs(dims, 300 + i, true);
      const loss = (y: ArrayLike<number>) => {
        let l = 0;
        for (let k = 0; k < len; k++) l += inp.dy[k] * y[k];
        return l;
      };
      const zeros = new Float64Array(c);
      const f = (
        x: ArrayLike<number>,
        g: ArrayLike<number>,
        b: ArrayLike<number>,
      ) => loss(batchNormTrainRef(x, n, c, hw, EPS, 0, g, b, zeros, zeros).y);
      const fdX = finiteDifferences((v) => f(v, inp.gamma!, inp.beta!), inp.x);
      const fdG = finiteDifferences((v) => f(inp.x, v, inp.beta!), inp.gamma!);
      const fdB = finiteDifferences((v) => f(inp.x, inp.gamma!, v), inp.beta!);
      const tag = dims.join("x");
      const ref = batchNormBackwardRef(inp.x, inp.dy, n, c, hw, EPS, inp.gamma);
      assertClose(ref.dx, fdX, {
        ...ELEM_TOL,
        label: `reference dx FD ${tag}`,
      });
      for (const impl of ["simd", "scalar"] as const) {
        const r = runBn(engine, dims, inp, true, { impl });
        assertClose(r.dx, fdX, { ...ELEM_TOL, label: `dx FD ${impl} ${tag}` });
        assertClose(r.dgamma, fdG, {
          ...SUM_TOL,
          label: `dgamma FD ${impl} ${tag}`,
        });
        assertClose(r.dbeta, fdB, {
          ...SUM_TOL,
          label: `dbeta FD ${impl} ${tag}`,
        });
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("batch norm: single-simd build agrees with the default build", async () => {
  const main = await createTestEngine();
  const single = await createTestEngine({ variant: "single-simd", threads: 1 });
  try {
    const dims: Dims = [4, 16, 14, 14];
    const inp = inputs(dims, 400, true);
    const a = runBn(main, dims, inp, true), b = runBn(single, dims, inp, true);
    assertClose(b.y, a.y, { ...ELEM_TOL, label: "y" });
    assertClose(b.invStd, a.invStd, { ...STAT_TOL, label: "invStd" });
    assertClose(b.dx, a.dx, { ...ELEM_TOL, label: "dx" });
    assertClose(b.dgamma, a.dgamma, { ...SUM_TOL, label: "dgamma" });
  } finally {
    main.dispose();
    single.dispose();
  }
});

Deno.test("batch norm shims reject bad values with RangeError", async () => {
  const engine = await createTestEngine({ threads: 1 });
  try {
    const p = engine.allocF32(16);
    const train = (n: number, h: number, eps: number, momentum: number) =>
      batchNormForwardTrain(
        engine,
        n,
        2,
        h,
        1,
        eps,
        momentum,
        p,
        0,
        0,
        p,
        p,
        p,
        0,
        0,
      );
    const rejects = (f: () => void, re: RegExp) =>
      assert.throws(
        f,
        (e: unknown) => e instanceof RangeError && re.test(e.message),
      );
    rejects(() => train(1, 1, EPS, MOMENTUM), /batch·height·width/);
    rejects(() => train(2, 1, 0, MOMENTUM), /eps/);
    rejects(() => train(2, 1, EPS, 1.5), /momentum/);
    rejects(() => train(2, 0, EPS, MOMENTUM), /height/);
    rejects(
      () => batchNormForwardEval(engine, 1, 2, 2, 2, EPS, p, 0, 0, 0, p, p),
      /runningMean/,
    );
    rejects(
      () => batchNormBackward(engine, 1, 2, 2, 2, p, 0, p, p, p, 6, 0, 0),
      /dx/,
    );
    engine.free(p);
  } finally {
    engine.dispose();
  }
});
