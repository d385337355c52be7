import assert from "node:assert/strict";
import { dropout } from "../../../runtime/ops/mod.ts";
import { Random } from "../../../runtime/random.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { randomArray } from "../../_check.ts";
import { disposeBackendAtEnd, gradcheck, setupBackend } from "../_gradcheck.ts";

await setupBackend();

Deno.test("dropout: seeded mask, inverted scaling, identity in eval", () => {
  const n = 4000, p = 0.3;
  const x = randomArray(n, 1);
  tidy(() => {
    const t = tensor(x);
    const a = dropout(t, p, { rng: new Random(42) }).data();
    const b = dropout(t, p, { rng: new Random(42) }).data();
    assert.deepEqual(a, b);
    // Mask from the same generator: each element is 0 or x/(1-p).
    const r = new Random(42);
    let zeros = 0;
    for (let i = 0; i < n; i++) {
      const dropped = r.uniform() < p;
      if (dropped) zeros++;
      // x·0 may be -0: compare with ===.
      const expected = dropped
        ? 0
        : Math.fround(x[i] * Math.fround(1 / (1 - p)));
      assert.ok(a[i] === expected, `element ${i}: ${a[i]} != ${expected}`);
    }
    // Binomial(4000, 0.3): mean 1200, sd 29.
    assert.ok(Math.abs(zeros - 1200) < 150, `dropped ${zeros}`);
    assert.deepEqual(
      dropout(t, p, { training: false }).data(),
      Float32Array.from(x),
    );
    assert.ok(
      dropout(t, 1, { rng: new Random(1) }).data().every((v) => v === 0),
    );
  });
  // Given the mask, dropout is linear: h = 0.25 exact (same seed each call).
  gradcheck(
    [{ shape: [5, 7] }],
    ([a]) => dropout(a, 0.5, { rng: new Random(7) }),
    {
      h: 0.25,
      atol: 1e-6,
      rtol: 1e-6,
      label: "dropout",
    },
  );
});

disposeBackendAtEnd();
