import assert from "node:assert/strict";
import {
  bceWithLogits,
  mseLoss,
  softmax,
  softmaxCrossEntropy,
} from "../../../runtime/ops/mod.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { assertClose, randomArray } from "../../_check.ts";
import { disposeBackendAtEnd, gradcheck, setupBackend } from "../_gradcheck.ts";

await setupBackend();

// Smooth losses: h = 1e-2, truncation ≲ h²/6·|f'''| ≈ 2e-5, rounding
// ≈ 6e-8·|L|/h; atol 2e-4, rtol 1e-3.
const smooth = { h: 1e-2, atol: 2e-4, rtol: 1e-3 };

Deno.test("mseLoss: value and gradients (input and target)", () => {
  const x = randomArray(13, 1), t = randomArray(13, 2);
  const ref = Array.from(x, (v, i) => (v - t[i]) ** 2).reduce((a, b) => a + b);
  tidy(() => {
    assertClose([mseLoss(tensor(x), tensor(t)).item()], [ref / 13], {
      atol: 1e-6,
      label: "mean",
    });
    assertClose([mseLoss(tensor(x), tensor(t), "sum").item()], [ref], {
      atol: 1e-5,
      label: "sum",
    });
  });
  // Quadratic: exact with h = 0.25.
  gradcheck([{ shape: [13] }, { shape: [13] }], ([a, b]) => mseLoss(a, b), {
    h: 0.25,
    atol: 1e-5,
    rtol: 1e-5,
    label: "mseLoss",
  });
});

Deno.test("bceWithLogits: value and gradient", () => {
  const z = randomArray(10, 3, -4, 4), t = randomArray(10, 4, 0, 1);
  const ref = Array.from(
    z,
    (v, i) => Math.max(v, 0) - v * t[i] + Math.log1p(Math.exp(-Math.abs(v))),
  )
    .reduce((a, b) => a + b) / 10;
  tidy(() => {
    assertClose([bceWithLogits(tensor(z), tensor(t)).item()], [ref], {
      atol: 1e-5,
      label: "bce",
    });
  });
  gradcheck(
    [{ shape: [2, 5], values: z }, { shape: [2, 5], values: t, grad: false }],
    ([a, b]) => bceWithLogits(a, b),
    { ...smooth, label: "bceWithLogits" },
  );
});

Deno.test("softmaxCrossEntropy and softmax", () => {
  const [n, c] = [4, 5];
  const z = randomArray(n * c, 5, -3, 3);
  const labels = [0, 4, 2, 2];
  let ref = 0;
  const sm: number[] = [];
  for (let r = 0; r < n; r++) {
    const row = Array.from(z.slice(r * c, r * c + c));
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
    ref += lse - row[labels[r]];
    for (const v of row) sm.push(Math.exp(v - lse));
  }
  tidy(() => {
    assertClose([softmaxCrossEntropy(tensor(z, [n, c]), labels).item()], [
      ref / n,
    ], {
      atol: 1e-5,
      label: "xent",
    });
    assertClose(
      [softmaxCrossEntropy(tensor(z, [n, c]), tensor(labels), "sum").item()],
      [ref],
      {
        atol: 1e-5,
        label: "xent sum, tensor labels",
      },
    );
    assertClose(softmax(tensor(z, [n, c])).data(), sm, {
      atol: 1e-6,
      label: "softmax",
    });
    assert.throws(
      () => softmaxCrossEntropy(tensor(z, [n, c]), [0, 1, 2, 5]),
      /not a class/,
    );
  });
  gradcheck(
    [{ shape: [n, c], values: z }],
    ([a]) => softmaxCrossEntropy(a, labels),
    {
      ...smooth,
      label: "softmaxCrossEntropy",
    },
  );
  gradcheck([{ shape: [n, c], values: z }], ([a]) => softmax(a), {
    ...smooth,
    label: "softmax",
  });
  gradcheck([{ shape: [2, 3, 4] }], ([a]) => softmax(a), {
    ...smooth,
    label: "softmax rank 3",
  });
});

disposeBackendAtEnd();
