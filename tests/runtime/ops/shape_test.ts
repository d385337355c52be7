import assert from "node:assert/strict";
import { concat, flatten, mul, reshape } from "../../../runtime/ops/mod.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { randomArray } from "../../_check.ts";
import { disposeBackendAtEnd, gradcheck, setupBackend } from "../_gradcheck.ts";

await setupBackend();

// Copies and views are linear: h = 0.25 exact.
const lin = { h: 0.25, atol: 1e-6, rtol: 1e-6 };

Deno.test("reshape and flatten are views with gradients", () => {
  tidy(() => {
    const x = tensor(randomArray(24, 1), [2, 3, 4]);
    const r = reshape(x, [4, -1]);
    assert.deepEqual(r.shape, [4, 6]);
    assert.equal(r.storage, x.storage);
    assert.deepEqual(flatten(x).shape, [2, 12]);
    assert.deepEqual(flatten(x, 0).shape, [24]);
    assert.deepEqual(flatten(x, 0, 1).shape, [6, 4]);
  });
  gradcheck([{ shape: [2, 3, 4] }], ([x]) => reshape(x, [6, 4]), {
    ...lin,
    label: "reshape",
  });
  gradcheck([{ shape: [2, 3, 4] }], ([x]) => flatten(x), {
    ...lin,
    label: "flatten",
  });
  // Two views of one tensor in one graph: y = view1 ⊙ view2 = x², dy/dx = 2x.
  gradcheck(
    [{ shape: [2, 6] }],
    ([x]) => mul(reshape(x, [3, 4]), reshape(reshape(x, [4, 3]), [3, 4])),
    {
      ...lin,
      label: "product of two views of x",
    },
  );
});

Deno.test("concat along every axis: values and gradients", () => {
  const shapes = [[2, 3, 4], [2, 1, 4], [2, 2, 4]];
  for (const axis of [0, 1, 2, -1]) {
    const ss = shapes.map((s) =>
      s.map((d, i) => (i === (axis + 3) % 3 ? d : [2, 3, 4][i]))
    );
    const vals = ss.map((s, i) =>
      randomArray(s.reduce((a, d) => a * d), 10 + i)
    );
    tidy(() => {
      const y = concat(vals.map((v, i) => tensor(v, ss[i])), axis);
      const ax = (axis + 3) % 3;
      const outShape = [2, 3, 4];
      outShape[ax] = ss.reduce((a, s) => a + s[ax], 0);
      assert.deepEqual(y.shape, outShape);
      // Reference: element (i, j, k) of the output from its source.
      const d = y.data();
      let idx = 0;
      for (let i = 0; i < outShape[0]; i++) {
        for (let j = 0; j < outShape[1]; j++) {
          for (let k = 0; k < outShape[2]; k++) {
            const pos = [i, j, k];
            let which = 0;
            while (pos[ax] >= ss[which][ax]) pos[ax] -= ss[which++][ax];
            const s = ss[which];
            assert.equal(
              d[idx++],
              vals[which][(pos[0] * s[1] + pos[1]) * s[2] + pos[2]],
            );
          }
        }
      }
    });
    gradcheck(ss.map((shape) => ({ shape })), (xs) => concat(xs, axis), {
      ...lin,
      label: `concat axis ${axis}`,
    });
  }
  // One input without grad, and an input used twice.
  gradcheck(
    [{ shape: [3, 2] }, { shape: [3, 1], grad: false }],
    ([a, b]) => concat([a, b, a], 1),
    {
      ...lin,
      label: "concat [a, b, a]",
    },
  );
});

disposeBackendAtEnd();
