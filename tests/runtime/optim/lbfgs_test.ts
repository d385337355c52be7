// L-BFGS with the strong-Wolfe line search: the cubic interpolation step,
// a quadratic bowl, Rosenbrock from (-1.2, 1) against SGD, parameters
// split over several tensors, the fixed-step mode, the progress callback,
// and bit-identical continuation after stateDict()/loadStateDict().
import assert from "node:assert/strict";
import { getBackend } from "../../../runtime/backend.ts";
import {
  cubicInterpolate,
  LBFGS,
  type LbfgsProgress,
  SGD,
} from "../../../runtime/optim/mod.ts";
import { type Tensor, tensor } from "../../../runtime/tensor.ts";
import { assertClose } from "../../_check.ts";
import { assertBitEqual, bowl, setGrad, setupBackend } from "./_setup.ts";

await setupBackend();

/** Extended Rosenbrock Σ 100 (x_{i+1} - x_i²)² + (1 - x_i)², in f64. */
function rosenbrock(x: ArrayLike<number>): { f: number; g: Float64Array } {
  const n = x.length;
  let f = 0;
  const g = new Float64Array(n);
  for (let i = 0; i + 1 < n; i++) {
    const r = x[i + 1] - x[i] * x[i];
    f += 100 * r * r + (1 - x[i]) ** 2;
    g[i] += -400 * x[i] * r - 2 * (1 - x[i]);
    g[i + 1] += 200 * r;
  }
  return { f, g };
}

/** A closure over parameters whose concatenation is the objective's x. */
function closureFor(
  ps: Tensor[],
  objective: (x: Float64Array) => { f: number; g: Float64Array },
): () => number {
  return () => {
    const x = Float64Array.from(ps.flatMap((p) => Array.from(p.data())));
    const { f, g } = objective(x);
    let off = 0;
    for (const p of ps) {
      setGrad(p, g.subarray(off, off + p.size));
      off += p.size;
    }
    return f;
  };
}

const flat = (ps: Tensor[]) =>
  Float32Array.from(ps.flatMap((p) => Array.from(p.data())));

Deno.test("cubicInterpolate finds the minimiser of a cubic and of a quadratic", () => {
  // f = x³ - 3x: f(0) = 0, f'(0) = -3, f(2) = 2, f'(2) = 9; minimum at 1.
  assert.ok(Math.abs(cubicInterpolate(0, 0, -3, 2, 2, 9) - 1) < 1e-12);
  assert.ok(Math.abs(cubicInterpolate(2, 2, 9, 0, 0, -3) - 1) < 1e-12);
  // f = (x - 0.3)²: the interpolant is the quadratic itself.
  assert.ok(
    Math.abs(cubicInterpolate(0, 0.09, -0.6, 1, 0.49, 1.4) - 0.3) < 1e-12,
  );
  // Clamped to the bounds.
  assert.equal(cubicInterpolate(0, 0, -3, 2, 2, 9, [1.5, 3]), 1.5);
});

Deno.test("L-BFGS minimises a quadratic bowl (two parameter tensors)", () => {
  const B = bowl(41, 3);
  const ps = [
    tensor(new Float32Array(30).fill(0.5), [5, 6]),
    tensor(new Float32Array(11).fill(0.5)),
  ];
  const opt = new LBFGS(ps, {
    maxIter: 100,
    historySize: 20,
    // The defaults stop once the loss changes by < 1e-9, about 1e-5 away.
    toleranceChange: 1e-14,
    toleranceGrad: 1e-9,
  });
  const closure = closureFor(ps, (x) => ({ f: B.loss(x), g: B.grad(x) }));
  const first = opt.step(closure);
  assert.equal(first, B.loss(new Float64Array(41).fill(0.5)));
  assertClose(flat(ps), B.c, { atol: 1e-5, rtol: 0, label: "bowl minimum" });
  console.log(
    `bowl: ${opt.iterations} iterations, ${opt.funcEvals} evaluations`,
  );
  assert.ok(opt.iterations <= 30, `${opt.iterations} iterations`);
  opt.dispose();
  ps.forEach((p) => p.dispose());
});

Deno.test("L-BFGS without line search (fixed step) minimises the bowl", () => {
  const B = bowl(41, 4);
  const ps = [tensor(new Float32Array(41).fill(0.5))];
  const opt = new LBFGS(ps, {
    lr: 0.2,
    maxIter: 200,
    lineSearch: "none",
    toleranceChange: 1e-14,
    toleranceGrad: 1e-9,
  });
  opt.step(closureFor(ps, (x) => ({ f: B.loss(x), g: B.grad(x) })));
  assertClose(flat(ps), B.c, {
    atol: 1e-5,
    rtol: 0,
    label: "fixed-step minimum",
  });
  opt.dispose();
  ps.forEach((p) => p.dispose());
});

Deno.test("Rosenbrock from (-1.2, 1): L-BFGS reaches (1, 1) to 1e-6 in far fewer iterations than SGD", () => {
  const tol = 1e-6;
  const x = tensor([-1.2, 1]);
  const progress: LbfgsProgress[] = [];
  const opt = new LBFGS([x], {
    maxIter: 500,
    maxEval: 1000,
    toleranceGrad: 1e-9,
    toleranceChange: 1e-12,
    historySize: 10,
    onIteration: (p) => progress.push(p),
  });
  opt.step(closureFor([x], rosenbrock));
  const lbfgsIters = opt.iterations;
  assertClose(x.data(), [1, 1], { atol: tol, rtol: 0, label: "L-BFGS" });
  assert.equal(progress.length, lbfgsIters);
  assert.deepEqual(
    progress.map((p) => p.iteration),
    progress.map((_, i) => i + 1),
  );
  assert.ok(progress.at(-1)!.newLoss < 1e-12);

  // SGD with heavy-ball momentum, tuned (lr 1e-3, momentum 0.95).
  const y = tensor([-1.2, 1]);
  const sgd = new SGD([y], { lr: 1e-3, momentum: 0.95 });
  const sgdGrad = closureFor([y], rosenbrock);
  let sgdIters = 0;
  const limit = 20000;
  for (; sgdIters < limit; sgdIters++) {
    const d = y.data();
    if (Math.max(Math.abs(d[0] - 1), Math.abs(d[1] - 1)) <= tol) break;
    sgdGrad();
    sgd.step();
  }
  console.log(
    `Rosenbrock to ${tol}: L-BFGS ${lbfgsIters} iterations (${opt.funcEvals} evaluations), SGD ${sgdIters} iterations`,
  );
  assert.ok(sgdIters < limit, "SGD reached the minimum");
  assert.ok(lbfgsIters <= 60, `L-BFGS took ${lbfgsIters} iterations`);
  assert.ok(
    sgdIters >= 10 * lbfgsIters,
    `SGD ${sgdIters} vs L-BFGS ${lbfgsIters}`,
  );
  opt.dispose();
  sgd.dispose();
  x.dispose();
  y.dispose();
});

Deno.test("L-BFGS stateDict/loadStateDict continues bit-identically (history included)", () => {
  const init = Float32Array.from({ length: 10 }, (_, i) => (i % 2 ? 1 : -1.2));
  const make = (
    x: Float32Array,
  ) => [tensor(x.slice(0, 4)), tensor(x.slice(4), [2, 3])];
  const options = { maxIter: 6, historySize: 4 };
  const a = make(init);
  const optA = new LBFGS(a, options);
  const closureA = closureFor(a, rosenbrock);
  optA.step(closureA);
  optA.step(closureA);
  const saved = optA.stateDict();
  assert.equal(saved.oldDirs.length, 4); // the history is full and wraps
  const b = make(flat(a));
  optA.step(closureA);
  optA.step(closureA);

  const optB = new LBFGS(b, { maxIter: 1 });
  optB.loadStateDict(structuredClone(saved));
  const closureB = closureFor(b, rosenbrock);
  optB.step(closureB);
  optB.step(closureB);
  assertBitEqual(flat(b), flat(a), "continued parameters");
  const sa = optA.stateDict(), sb = optB.stateDict();
  assert.equal(sb.nIter, sa.nIter);
  assert.equal(sb.funcEvals, sa.funcEvals);
  assert.deepEqual(sb.ro, sa.ro);
  sa.oldDirs.forEach((v, i) => assertBitEqual(sb.oldDirs[i], v, `y ${i}`));
  assertBitEqual(sb.d!, sa.d!, "direction");
  optA.dispose();
  optB.dispose();
  [...a, ...b].forEach((p) => p.dispose());
});

Deno.test("L-BFGS frees everything it allocates", () => {
  const live = getBackend().memory().liveCount;
  const x = tensor([-1.2, 1, 0.5]);
  const opt = new LBFGS([x], { maxIter: 15, historySize: 3 });
  opt.step(closureFor([x], rosenbrock));
  opt.dispose();
  x.grad?.dispose();
  x.dispose();
  assert.equal(getBackend().memory().liveCount, live);
  getBackend().dispose();
});
