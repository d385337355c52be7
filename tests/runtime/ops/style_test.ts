import assert from "node:assert/strict";
import { gram } from "../../../runtime/ops/mod.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { assertClose, randomArray } from "../../_check.ts";
import { disposeBackendAtEnd, gradcheck, setupBackend } from "../_gradcheck.ts";

await setupBackend();

Deno.test("gram: forward against f64 and backward", () => {
  const [c, h, w] = [5, 3, 3];
  const f = randomArray(c * h * w, 1);
  const scale = 1 / (c * h * w);
  const ref: number[] = [];
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let p = 0; p < h * w; p++) s += f[i * h * w + p] * f[j * h * w + p];
      ref.push(scale * s);
    }
  }
  tidy(() => {
    const g = gram(tensor(f, [1, c, h, w]), scale);
    assert.deepEqual(g.shape, [c, c]);
    assertClose(g.data(), ref, { atol: 1e-6, label: "gram" });
    assert.throws(
      () => gram(tensor(f.slice(0, 2 * 9), [2, 1, 3, 3])),
      /batch of one/,
    );
  });
  // G is quadratic in each element of F: h = 0.25 is exact.
  gradcheck([{ shape: [1, c, h, w], values: f }], ([x]) => gram(x, scale), {
    h: 0.25,
    atol: 1e-5,
    rtol: 1e-5,
    label: "gram [1,C,H,W]",
  });
  gradcheck([{ shape: [4, 7] }], ([x]) => gram(x, 0.5), {
    h: 0.25,
    atol: 1e-5,
    rtol: 1e-5,
    label: "gram [C,M]",
  });
});

disposeBackendAtEnd();
