import assert from "node:assert/strict";
import { dot, mean, squaredNorm, sum } from "../../../runtime/ops/mod.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { randomArray } from "../../_check.ts";
import { disposeBackendAtEnd, gradcheck, setupBackend } from "../_gradcheck.ts";

await setupBackend();

Deno.test("sum, mean, dot, squaredNorm: forward against f64", () => {
  const n = 1001;
  const a = randomArray(n, 1), b = randomArray(n, 2);
  let s = 0, d = 0, q = 0;
  for (let i = 0; i < n; i++) {
    s += a[i];
    d += a[i] * b[i];
    q += a[i] * a[i];
  }
  tidy(() => {
    const ta = tensor(a), tb = tensor(b);
    // f32 accumulation over 1001 terms: 1e-4 absolute.
    assert.ok(Math.abs(sum(ta).item() - s) < 1e-4);
    assert.ok(Math.abs(mean(ta).item() - s / n) < 1e-6);
    assert.ok(Math.abs(dot(ta, tb).item() - d) < 1e-4);
    assert.ok(Math.abs(squaredNorm(ta).item() - q) < 1e-4);
    assert.deepEqual(sum(ta).shape, [1]);
  });
});

Deno.test("reduction backward matches finite differences", () => {
  // sum, mean and dot are linear and squaredNorm quadratic per element:
  // exact differences with h = 0.25.
  const o = { h: 0.25, atol: 1e-5, rtol: 1e-5 };
  gradcheck([{ shape: [4, 5] }], ([a]) => sum(a), { ...o, label: "sum" });
  gradcheck([{ shape: [4, 5] }], ([a]) => mean(a), { ...o, label: "mean" });
  gradcheck([{ shape: [19] }, { shape: [19] }], ([a, b]) => dot(a, b), {
    ...o,
    label: "dot",
  });
  gradcheck([{ shape: [19] }], ([a]) => squaredNorm(a), {
    ...o,
    label: "squaredNorm",
  });
  // dot(a, a): the same tensor as both inputs.
  gradcheck([{ shape: [9] }], ([a]) => dot(a, a), { ...o, label: "dot(a, a)" });
});

disposeBackendAtEnd();
