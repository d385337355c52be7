// Gradient clipping by global norm and by value, as functions and as
// optimiser options, against f64 references.
import assert from "node:assert/strict";
import { getBackend } from "../../../runtime/backend.ts";
import {
  clipGradNorm,
  clipGradValue,
  gradNorm,
  SGD,
} from "../../../runtime/optim/mod.ts";
import { type Tensor, tensor } from "../../../runtime/tensor.ts";
import { assertClose, randomArray } from "../../_check.ts";
import { assertBitEqual, setGrad, setupBackend } from "./_setup.ts";

await setupBackend();

const SIZES = [13, 1, 4099]; // the last above the kernels' parallel threshold

function withGrads(scale: number): { ps: Tensor[]; gs: Float32Array[] } {
  const gs = SIZES.map((n, i) => randomArray(n, 40 + i, -scale, scale));
  const ps = SIZES.map((n) => tensor(new Float32Array(n)));
  ps.forEach((p, i) => setGrad(p, gs[i]));
  return { ps, gs };
}

function norm2(gs: Float32Array[]): number {
  let s = 0;
  for (const g of gs) for (const v of g) s += v * v;
  return Math.sqrt(s);
}

const free = (ps: Tensor[]) => ps.forEach((p) => p.dispose());

Deno.test("clipGradNorm rescales to the global norm and returns the pre-clip norm", () => {
  const { ps, gs } = withGrads(1);
  const expected = norm2(gs);
  assertClose([gradNorm(ps)], [expected], {
    atol: 0,
    rtol: 1e-6,
    label: "gradNorm",
  });
  const maxNorm = expected / 3;
  const before = clipGradNorm(ps, maxNorm);
  assertClose([before], [expected], {
    atol: 0,
    rtol: 1e-6,
    label: "pre-clip norm",
  });
  const coef = maxNorm / (expected + 1e-6);
  ps.forEach((p, i) => {
    assertClose(p.grad!.data(), Array.from(gs[i], (g) => g * coef), {
      atol: 1e-7,
      rtol: 1e-6,
      label: `clipped ${i}`,
    });
  });
  assertClose([gradNorm(ps)], [maxNorm], {
    atol: 0,
    rtol: 1e-5,
    label: "post-clip norm",
  });
  // Under the limit nothing changes, to the bit.
  const snapshot = ps.map((p) => p.grad!.data());
  clipGradNorm(ps, maxNorm * 2);
  ps.forEach((p, i) =>
    assertBitEqual(p.grad!.data(), snapshot[i], "unclipped")
  );
  // Max-abs norm.
  const inf = Math.max(...gs.map((g) => Math.max(...Array.from(g, Math.abs)))) *
    coef;
  assertClose([gradNorm(ps, "inf")], [inf], {
    atol: 0,
    rtol: 1e-6,
    label: "inf norm",
  });
  free(ps);
});

Deno.test("clipGradValue clamps every element and returns the pre-clip max |g|", () => {
  const { ps, gs } = withGrads(2);
  const largest = Math.max(
    ...gs.map((g) => Math.max(...Array.from(g, Math.abs))),
  );
  assert.equal(clipGradValue(ps, 0.5), largest);
  ps.forEach((p, i) => {
    assertBitEqual(
      p.grad!.data(),
      Float32Array.from(gs[i], (g) => Math.min(Math.max(g, -0.5), 0.5)),
      `clamped ${i}`,
    );
  });
  free(ps);
});

Deno.test("optimiser clipNorm/clipValue options clip before the update", () => {
  const { ps, gs } = withGrads(1);
  const expected = norm2(gs);
  const opt = new SGD(ps, { lr: 0.1, clipNorm: 1 });
  const returned = opt.step();
  assertClose([returned!], [expected], {
    atol: 0,
    rtol: 1e-6,
    label: "step() norm",
  });
  const coef = 1 / (expected + 1e-6);
  ps.forEach((p, i) => {
    assertClose(p.data(), Array.from(gs[i], (g) => -0.1 * g * coef), {
      atol: 1e-7,
      rtol: 1e-5,
      label: `update ${i}`,
    });
  });
  opt.dispose();
  free(ps);

  const v = withGrads(1);
  const byValue = new SGD(v.ps, { lr: 1, clipValue: 0.25 });
  assert.equal(byValue.step(), undefined);
  v.ps.forEach((p, i) => {
    assertBitEqual(
      p.data(),
      Float32Array.from(v.gs[i], (g) => -Math.min(Math.max(g, -0.25), 0.25)),
      `value-clipped update ${i}`,
    );
  });
  byValue.dispose();
  free(v.ps);
  getBackend().dispose();
});
