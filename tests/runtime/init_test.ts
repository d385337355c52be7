import assert from "node:assert/strict";
import * as init from "../../runtime/init.ts";
import { Random } from "../../runtime/random.ts";
import { empty } from "../../runtime/tensor.ts";
import { disposeBackendAtEnd, setupBackend } from "./_gradcheck.ts";

await setupBackend();

function stats(v: Float32Array) {
  let s = 0, q = 0, lo = Infinity, hi = -Infinity;
  for (const x of v) {
    s += x;
    q += x * x;
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(q / v.length - mean * mean), lo, hi };
}

Deno.test("fans: linear [out, in] and conv [K, C, R, S]", () => {
  assert.deepEqual(init.fans([10, 20]), { fanIn: 20, fanOut: 10 });
  assert.deepEqual(init.fans([64, 3, 3, 5]), { fanIn: 45, fanOut: 960 });
  assert.throws(() => init.fans([5]), /rank/);
  assert.equal(init.calculateGain("relu"), Math.SQRT2);
  assert.equal(
    init.calculateGain("leaky_relu", Math.sqrt(5)),
    Math.sqrt(1 / 3),
  );
});

Deno.test("initialisers: bounds and standard deviations (PyTorch formulas)", () => {
  const w = empty([64, 32, 3, 3]); // fan_in 288, fan_out 576, 18432 values
  const rng = new Random(1);
  const fanIn = 288, fanOut = 576;
  // Sample std of 18432 values is within ~1% of the target (tolerance 3%).
  const near = (a: number, b: number, label: string) =>
    assert.ok(Math.abs(a - b) < 0.03 * b, `${label}: ${a} vs ${b}`);

  let s = stats(init.kaimingUniform(w, { rng }).data());
  const kb = Math.sqrt(2) * Math.sqrt(3 / fanIn);
  assert.ok(s.lo >= -kb && s.hi < kb);
  near(s.std, kb / Math.sqrt(3), "kaimingUniform");

  s = stats(init.kaimingNormal(w, { rng, mode: "fan_out" }).data());
  near(s.std, Math.sqrt(2 / fanOut), "kaimingNormal fan_out");

  s = stats(init.xavierUniform(w, { rng, gain: 2 }).data());
  const xb = 2 * Math.sqrt(6 / (fanIn + fanOut));
  assert.ok(s.lo >= -xb && s.hi < xb);
  near(s.std, xb / Math.sqrt(3), "xavierUniform");

  s = stats(init.xavierNormal(w, { rng }).data());
  near(s.std, Math.sqrt(2 / (fanIn + fanOut)), "xavierNormal");

  s = stats(init.normal(w, 0.02, 1, { rng }).data());
  near(s.std, 0.02, "normal std");
  assert.ok(Math.abs(s.mean - 1) < 1e-3);

  s = stats(init.uniform(w, -3, -1, { rng }).data());
  assert.ok(s.lo >= -3 && s.hi < -1);
  assert.ok(Math.abs(s.mean + 2) < 0.02);

  assert.ok(init.zeros(w).data().every((v) => v === 0));
  assert.ok(init.ones(w).data().every((v) => v === 1));
  w.dispose();
});

Deno.test("initialisers are reproducible from a seed", () => {
  const a = empty([8, 4]), b = empty([8, 4]);
  init.kaimingUniform(a, { rng: new Random(5) });
  init.kaimingUniform(b, { rng: new Random(5) });
  assert.deepEqual(a.data(), b.data());
  // The values are the generator's uniforms scaled to the bound.
  const r = new Random(5), bound = Math.sqrt(2) * Math.sqrt(3 / 4);
  const expected = Float32Array.from(
    { length: 32 },
    () => r.uniform(-bound, bound),
  );
  assert.deepEqual(a.data(), expected);
  a.dispose();
  b.dispose();
});

disposeBackendAtEnd();
