import assert from "node:assert/strict";
import {
  avgPool2d,
  globalAvgPool,
  maxPool2d,
  upsampleNearest,
} from "../../../runtime/ops/mod.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { assertClose, randomArray } from "../../_check.ts";
import {
  disposeBackendAtEnd,
  distinctValues,
  gradcheck,
  setupBackend,
} from "../_gradcheck.ts";

await setupBackend();

// Pooling is linear (average, upsample) or linear away from ties (max):
// inputs for max pooling are distinct and ≥ 0.05 apart, h = 0.02 < half
// the gap, so no window changes its winner and the differences are exact.
const lin = { h: 0.25, atol: 1e-5, rtol: 1e-5 };

Deno.test("maxPool2d: forward on a known example, ceil mode and padding", () => {
  tidy(() => {
    const x = tensor(Array.from({ length: 16 }, (_, i) => i), [1, 1, 4, 4]);
    assert.deepEqual([...maxPool2d(x, 2).data()], [5, 7, 13, 15]);
    // Kernel 3, stride 2, ceil mode: windows start at 0 and 2 → 2x2.
    const y = maxPool2d(x, 3, { stride: 2, ceilMode: true });
    assert.deepEqual(y.shape, [1, 1, 2, 2]);
    assert.deepEqual([...y.data()], [10, 11, 14, 15]);
    const p = maxPool2d(x, 2, { stride: 2, padding: 1 });
    assert.deepEqual([...p.data()], [0, 2, 3, 8, 10, 11, 12, 14, 15]);
  });
});

Deno.test("pool backward matches finite differences", () => {
  const shape = [2, 3, 5, 6];
  const n = shape.reduce((a, d) => a * d);
  const x = distinctValues(n, 9);
  for (
    const opts of [{}, { stride: 1 }, { stride: 2, padding: 1, ceilMode: true }]
  ) {
    gradcheck([{ shape, values: x }], ([a]) => maxPool2d(a, 2, opts), {
      h: 0.02,
      atol: 1e-5,
      rtol: 1e-5,
      label: `maxPool2d ${JSON.stringify(opts)}`,
    });
    for (const countIncludePad of [true, false]) {
      gradcheck(
        [{ shape }],
        ([a]) => avgPool2d(a, [2, 3], { ...opts, countIncludePad }),
        {
          ...lin,
          label: `avgPool2d ${JSON.stringify(opts)} ${countIncludePad}`,
        },
      );
    }
  }
  gradcheck([{ shape }], ([a]) => globalAvgPool(a), {
    ...lin,
    label: "globalAvgPool",
  });
  gradcheck([{ shape: [1, 2, 3, 2] }], ([a]) => upsampleNearest(a, [2, 3]), {
    ...lin,
    label: "upsampleNearest",
  });
});

Deno.test("avgPool2d countIncludePad, globalAvgPool and upsampleNearest forward", () => {
  const x = randomArray(2 * 3 * 3, 3);
  tidy(() => {
    const t = tensor(x, [1, 2, 3, 3]);
    // Corner window with padding 1: 1 real element of 4.
    const inc = avgPool2d(t, 2, { stride: 2, padding: 1 }).data();
    const exc = avgPool2d(t, 2, {
      stride: 2,
      padding: 1,
      countIncludePad: false,
    }).data();
    assertClose([inc[0]], [x[0] / 4], { label: "include pad" });
    assertClose([exc[0]], [x[0]], { label: "exclude pad" });
    const g = globalAvgPool(t);
    assert.deepEqual(g.shape, [1, 2, 1, 1]);
    assertClose(
      g.data(),
      [0, 1].map((c) => x.slice(c * 9, c * 9 + 9).reduce((a, b) => a + b) / 9),
      {
        label: "globalAvgPool",
      },
    );
    const u = upsampleNearest(t, 2);
    assert.deepEqual(u.shape, [1, 2, 6, 6]);
    assert.equal(u.data()[6 * 3 + 5], x[1 * 3 + 2]);
  });
});

disposeBackendAtEnd();
