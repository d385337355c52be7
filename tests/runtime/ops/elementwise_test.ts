import assert from "node:assert/strict";
import {
  add,
  addScalar,
  mul,
  neg,
  scale,
  sub,
} from "../../../runtime/ops/mod.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { grad } from "../../../runtime/grad.ts";
import { assertClose, randomArray } from "../../_check.ts";
import {
  disposeBackendAtEnd,
  gradcheck,
  liveCount,
  setupBackend,
} from "../_gradcheck.ts";

await setupBackend();

// All of these are polynomials of degree ≤ 2 in any single element, so
// central differences are exact up to f32 rounding: h = 0.25, atol 1e-5.
const tight = { h: 0.25, atol: 1e-5, rtol: 1e-5 };

Deno.test("add, sub, mul, scale, addScalar, neg: forward against f64", () => {
  const n = 37;
  const a = randomArray(n, 1), b = randomArray(n, 2);
  tidy(() => {
    const ta = tensor(a, [n]), tb = tensor(b, [n]);
    const cases: [string, Float32Array, (i: number) => number][] = [
      ["add", add(ta, tb).data(), (i) => a[i] + b[i]],
      ["sub", sub(ta, tb).data(), (i) => a[i] - b[i]],
      ["mul", mul(ta, tb).data(), (i) => a[i] * b[i]],
      ["scale", scale(ta, 1.5).data(), (i) => 1.5 * a[i]],
      ["addScalar", addScalar(ta, -0.25).data(), (i) => a[i] - 0.25],
      ["neg", neg(ta).data(), (i) => -a[i]],
    ];
    for (const [label, got, ref] of cases) {
      assertClose(got, Array.from({ length: n }, (_, i) => ref(i)), {
        atol: 1e-6,
        rtol: 1e-6,
        label,
      });
    }
  });
});

Deno.test("elementwise backward matches finite differences", () => {
  const s = [3, 7];
  gradcheck([{ shape: s }, { shape: s }], ([a, b]) => add(a, b), {
    ...tight,
    label: "add",
  });
  gradcheck([{ shape: s }, { shape: s }], ([a, b]) => sub(a, b), {
    ...tight,
    label: "sub",
  });
  gradcheck([{ shape: s }, { shape: s }], ([a, b]) => mul(a, b), {
    ...tight,
    label: "mul",
  });
  gradcheck([{ shape: s }], ([a]) => scale(a, -2.5), {
    ...tight,
    label: "scale",
  });
  gradcheck([{ shape: s }], ([a]) => addScalar(a, 3), {
    ...tight,
    label: "addScalar",
  });
  gradcheck([{ shape: s }], ([a]) => neg(a), { ...tight, label: "neg" });
  // Only one input requires grad.
  gradcheck([{ shape: s }, { shape: s, grad: false }], ([a, b]) => mul(a, b), {
    ...tight,
    label: "mul, b constant",
  });
});

Deno.test("an input used twice gets the sum of both gradients", () => {
  // y = a·a + a: dy/da = 2a + 1.
  const v = randomArray(11, 5);
  const g = gradcheck([{ shape: [11], values: v }], ([a]) => {
    const sq = mul(a, a);
    const y = add(sq, a);
    sq.dispose();
    return y;
  }, { ...tight, label: "a*a + a" });
  assert.equal(g.length, 1);
});

Deno.test("add's two input gradients never share storage", () => {
  const before = liveCount();
  tidy(() => {
    const a = tensor([1, 2, 3]), b = tensor([4, 5, 6]);
    a.requiresGrad = b.requiresGrad = true;
    const [ga, gb] = grad(add(a, b), [a, b], tensor([1, 1, 1]));
    assert.notEqual(ga.storage, gb.storage);
    assert.deepEqual([...ga.data()], [1, 1, 1]);
    assert.deepEqual([...gb.data()], [1, 1, 1]);
  });
  assert.equal(liveCount(), before);
});

Deno.test("shape mismatches throw", () => {
  tidy(() => {
    assert.throws(() => add(tensor([1, 2]), tensor([1, 2, 3])), /shapes/);
    assert.throws(
      () => mul(tensor([1, 2], [2, 1]), tensor([1, 2], [1, 2])),
      /shapes/,
    );
  });
});

disposeBackendAtEnd();
