// Adam / AdamW: agreement with an f64 trajectory, convergence on a quadratic
// bowl (L2 decay shifts its minimum), and bit-identical continuation after
// stateDict()/loadStateDict().
import assert from "node:assert/strict";
import { getBackend } from "../../../runtime/backend.ts";
import { Adam, AdamW } from "../../../runtime/optim/mod.ts";
import { type Tensor, tensor } from "../../../runtime/tensor.ts";
import { assertClose } from "../../_check.ts";
import { adamUpdateRef } from "../../reference/f32-optim.ts";
import { assertBitEqual, bowl, setGrad, setupBackend } from "./_setup.ts";

await setupBackend();

const N = 41;
const B = bowl(N, 5);

function computeGrad(p: Tensor): void {
  setGrad(p, B.grad(p.data()));
}

const CASES = [
  { lr: 0.02, weightDecay: 0, decoupled: false },
  { lr: 0.02, weightDecay: 0.5, decoupled: false },
  { lr: 0.02, weightDecay: 0.01, decoupled: true },
];

Deno.test("Adam/AdamW follow the f64 trajectory; Adam reaches the bowl's minimum", () => {
  for (const c of CASES) {
    const p = tensor(new Float32Array(N).fill(0.5));
    const opt = new Adam([p], c);
    const h = { beta1: 0.9, beta2: 0.999, eps: 1e-8, ...c };
    let ref: Float64Array = Float64Array.from(p.data());
    let m: Float64Array = new Float64Array(N),
      v: Float64Array = new Float64Array(N);
    for (let k = 1; k <= 2000; k++) {
      computeGrad(p);
      opt.step();
      const r = adamUpdateRef(ref, B.grad(ref), m, v, { ...h, step: k });
      ref = r.param;
      m = r.expAvg;
      v = r.expAvgSq;
      if (k === 20) {
        assertClose(p.data(), ref, {
          atol: 1e-5,
          rtol: 1e-5,
          label: `${JSON.stringify(c)} k=${k}`,
        });
      }
    }
    if (!c.decoupled) {
      // Gradient zero at x* = a c / (a + wd); with a constant lr Adam keeps
      // circling the minimum at a distance of the order of lr / 100.
      const expected = B.c.map((ci, i) =>
        B.a[i] * ci / (B.a[i] + c.weightDecay)
      );
      assertClose(p.data(), expected, {
        atol: 1e-3,
        rtol: 0,
        label: `minimum ${JSON.stringify(c)}`,
      });
    }
    assert.equal(opt.stateDict().state[0].step, 2000);
    opt.dispose();
    p.dispose();
  }
});

Deno.test("AdamW is Adam with decoupled decay", () => {
  const p = tensor(new Float32Array(N).fill(0.5));
  const q = tensor(new Float32Array(N).fill(0.5));
  const a = new AdamW([p], { lr: 0.01, weightDecay: 0.1 });
  const b = new Adam([q], { lr: 0.01, weightDecay: 0.1, decoupled: true });
  for (let k = 0; k < 5; k++) {
    computeGrad(p);
    computeGrad(q);
    a.step();
    b.step();
  }
  assertBitEqual(p.data(), q.data(), "AdamW vs Adam(decoupled)");
  assert.equal(a.stateDict().type, "AdamW");
  a.dispose();
  b.dispose();
  p.dispose();
  q.dispose();
});

Deno.test("Adam stateDict/loadStateDict continues bit-identically", () => {
  const make = (
    x: Float32Array,
  ) => [tensor(x.slice(0, 30), [3, 10]), tensor(x.slice(30), [11])];
  const grads = (ps: Tensor[]) => {
    const x = new Float32Array(N);
    x.set(ps[0].data(), 0);
    x.set(ps[1].data(), 30);
    const g = B.grad(x);
    setGrad(ps[0], g.subarray(0, 30));
    setGrad(ps[1], g.subarray(30));
  };
  const flat = (ps: Tensor[]) =>
    Float32Array.from([...ps[0].data(), ...ps[1].data()]);
  const options = {
    lr: 0.05,
    weightDecay: 1e-2,
    decoupled: true,
    clipValue: 0.3,
  };
  const a = make(new Float32Array(N).fill(0.5));
  const optA = new Adam(
    [{ params: [a[0]], lr: 0.01 }, { params: [a[1]] }],
    options,
  );
  for (let k = 0; k < 7; k++) {
    grads(a);
    optA.step();
  }
  const saved = optA.stateDict();
  const b = make(flat(a));
  for (let k = 0; k < 9; k++) {
    grads(a);
    optA.step();
  }
  const optB = new Adam([{ params: [b[0]] }, { params: [b[1]] }]);
  optB.loadStateDict(saved);
  assert.equal(optB.paramGroups[0].lr, 0.01);
  assert.equal(optB.paramGroups[1].lr, 0.05);
  for (let k = 0; k < 9; k++) {
    grads(b);
    optB.step();
  }
  assertBitEqual(flat(b), flat(a), "continued run");
  assert.throws(
    () => new AdamW([b[0]]).loadStateDict(saved),
    /Adam state for a AdamW/,
  );
  optA.dispose();
  optB.dispose();
  [...a, ...b].forEach((p) => p.dispose());
  getBackend().dispose();
});
