// SGD: convergence on a quadratic bowl against an f64 trajectory, weight
// decay's shifted minimum, the momentum schedule, parameter groups, and
// bit-identical continuation after stateDict()/loadStateDict().
import assert from "node:assert/strict";
import { getBackend } from "../../../runtime/backend.ts";
import { linearScheduleValue, SGD } from "../../../runtime/optim/mod.ts";
import { type Tensor, tensor } from "../../../runtime/tensor.ts";
import { assertClose } from "../../_check.ts";
import { sgdUpdateRef } from "../../reference/f32-optim.ts";
import { assertBitEqual, bowl, setGrad, setupBackend } from "./_setup.ts";

await setupBackend();

const N1 = 30, N2 = 7; // two parameters, sizes not multiples of 4
const B = bowl(N1 + N2, 11);

function makeParams(init?: Float32Array): Tensor[] {
  const x = init ?? new Float32Array(N1 + N2).fill(0.25);
  return [tensor(x.slice(0, N1), [5, 6]), tensor(x.slice(N1), [N2])];
}

function flat(ps: Tensor[]): Float32Array {
  const out = new Float32Array(N1 + N2);
  out.set(ps[0].data(), 0);
  out.set(ps[1].data(), N1);
  return out;
}

/** Sets the bowl's gradient at the parameters' current values. */
function computeGrads(ps: Tensor[]): void {
  const g = B.grad(flat(ps));
  setGrad(ps[0], g.subarray(0, N1));
  setGrad(ps[1], g.subarray(N1));
}

const CASES = [
  { lr: 0.2, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
  { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
  { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0 },
  { lr: 0.1, momentum: 0.5, dampening: 0.1, nesterov: false, weightDecay: 0.3 },
];

Deno.test("SGD follows the f64 trajectory and reaches the bowl's minimum", () => {
  for (const c of CASES) {
    const ps = makeParams();
    const opt = new SGD(ps, c);
    let ref: Float64Array = Float64Array.from(flat(ps));
    let buf: Float64Array | null = null;
    for (let k = 0; k < 300; k++) {
      computeGrads(ps);
      opt.step();
      const r = sgdUpdateRef(
        ref,
        B.grad(ref),
        c.momentum ? (buf ?? new Float64Array(ref.length)) : null,
        {
          ...c,
          firstStep: k === 0,
        },
      );
      ref = r.param;
      buf = r.buf;
      // The map is a contraction: f32 and f64 runs stay close throughout.
      if (k === 4 || k === 299) {
        assertClose(flat(ps), ref, {
          atol: 1e-5,
          rtol: 1e-5,
          label: `${JSON.stringify(c)} k=${k}`,
        });
      }
    }
    // Minimum of ½a(x-c)² + ½wd x²: x* = a c / (a + wd).
    const expected = B.c.map((ci, i) => B.a[i] * ci / (B.a[i] + c.weightDecay));
    assertClose(flat(ps), expected, {
      atol: 1e-5,
      rtol: 0,
      label: `minimum ${JSON.stringify(c)}`,
    });
    opt.dispose();
    ps.forEach((p) => p.dispose());
  }
});

Deno.test("SGD momentum schedule rises linearly (Goodfellow et al. 2014)", () => {
  const ps = makeParams();
  const schedule = { initial: 0.5, final: 0.7, steps: 10 };
  const opt = new SGD(ps, { lr: 0.01, momentumSchedule: schedule });
  let ref: Float64Array = Float64Array.from(flat(ps));
  let buf: Float64Array = new Float64Array(ref.length);
  for (let k = 0; k < 15; k++) {
    computeGrads(ps);
    opt.step();
    const momentum = linearScheduleValue(schedule, k);
    assert.equal(opt.paramGroups[0].momentum, momentum);
    const r = sgdUpdateRef(ref, B.grad(ref), buf, {
      lr: 0.01,
      momentum,
      dampening: 0,
      nesterov: false,
      weightDecay: 0,
      firstStep: k === 0,
    });
    ref = r.param;
    buf = r.buf!;
  }
  assert.equal(opt.paramGroups[0].momentum, 0.7);
  assert.equal(linearScheduleValue(schedule, 5), 0.6);
  assertClose(flat(ps), ref, { atol: 1e-6, rtol: 1e-5, label: "scheduled" });
  opt.dispose();
  ps.forEach((p) => p.dispose());
});

Deno.test("SGD parameter groups override the defaults", () => {
  const ps = makeParams();
  const opt = new SGD([{ params: [ps[0]], lr: 0.1 }, { params: [ps[1]] }], {
    lr: 0.01,
  });
  assert.equal(opt.paramGroups[0].lr, 0.1);
  assert.equal(opt.paramGroups[1].lr, 0.01);
  const before = flat(ps);
  computeGrads(ps);
  const g = B.grad(before);
  opt.step();
  const expected = Array.from(
    before,
    (x, i) => x - (i < N1 ? 0.1 : 0.01) * g[i],
  );
  assertClose(flat(ps), expected, { atol: 1e-7, rtol: 1e-6, label: "groups" });
  // zeroGrad frees the gradients; a step without gradients changes nothing.
  opt.zeroGrad();
  assert.equal(ps[0].grad, null);
  const after = flat(ps);
  opt.step();
  assertBitEqual(flat(ps), after, "no gradients");
  assert.throws(() => new SGD(ps, { lr: 0.1, nesterov: true }), RangeError);
  opt.dispose();
  ps.forEach((p) => p.dispose());
});

Deno.test("SGD stateDict/loadStateDict continues bit-identically", () => {
  const options = {
    lr: 0.03,
    nesterov: true,
    weightDecay: 1e-3,
    momentumSchedule: { initial: 0.5, final: 0.9, steps: 8 },
    clipNorm: 0.5,
  };
  const groups = (
    ps: Tensor[],
  ) => [{ params: [ps[0]], lr: 0.05 }, { params: [ps[1]] }];
  const a = makeParams();
  const optA = new SGD(groups(a), options);
  for (let k = 0; k < 6; k++) {
    computeGrads(a);
    optA.step();
  }
  const saved = optA.stateDict();
  const savedParams = flat(a);
  for (let k = 0; k < 10; k++) {
    computeGrads(a);
    optA.step();
  }
  // A fresh optimiser over fresh parameters holding the saved values.
  const b = makeParams(savedParams);
  const optB = new SGD(groups(b), { lr: 1 });
  optB.loadStateDict(structuredClone(saved));
  assert.equal(optB.steps, 6);
  for (let k = 0; k < 10; k++) {
    computeGrads(b);
    optB.step();
  }
  assertBitEqual(flat(b), flat(a), "continued run");
  assertBitEqual(
    optB.stateDict().state[0].momentumBuffer as Float32Array,
    optA.stateDict().state[0].momentumBuffer as Float32Array,
    "momentum buffer",
  );
  optA.dispose();
  optB.dispose();
  [...a, ...b].forEach((p) => p.dispose());
});

Deno.test({
  name: "SGD tests leave no storage behind",
  fn: () => {
    const live = getBackend().memory().liveCount;
    const ps = makeParams();
    const opt = new SGD(ps, {
      lr: 0.1,
      momentum: 0.9,
      clipNorm: 1,
      clipValue: 0.5,
    });
    computeGrads(ps);
    opt.step();
    opt.dispose();
    ps.forEach((p) => p.dispose());
    assert.equal(getBackend().memory().liveCount, live);
    getBackend().dispose();
  },
});
