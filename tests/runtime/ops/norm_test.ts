import assert from "node:assert/strict";
import { batchNorm2d, lrn } from "../../../runtime/ops/mod.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { assertClose, randomArray } from "../../_check.ts";
import { disposeBackendAtEnd, gradcheck, setupBackend } from "../_gradcheck.ts";

await setupBackend();

Deno.test("lrn: forward against f64 and backward", () => {
  const [n, c, h, w] = [2, 6, 3, 2];
  const x = randomArray(n * c * h * w, 1, -2, 2);
  const p = { size: 3, alpha: 0.5, beta: 0.75, bias: 2 };
  const ref: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < h * w; i++) {
        let s = 0;
        for (let j = Math.max(0, ch - 1); j <= Math.min(c - 1, ch + 1); j++) {
          s += x[(b * c + j) * h * w + i] ** 2;
        }
        ref.push(
          x[(b * c + ch) * h * w + i] /
            (p.bias + p.alpha / p.size * s) ** p.beta,
        );
      }
    }
  }
  tidy(() => {
    assertClose(lrn(tensor(x, [n, c, h, w]), p).data(), ref, {
      atol: 1e-5,
      label: "lrn",
    });
  });
  // Smooth: h = 1e-2, truncation ~h²·|f'''| ≲ 1e-4; atol 5e-4, rtol 1e-3.
  gradcheck([{ shape: [n, c, h, w], values: x }], ([a]) => lrn(a, p), {
    h: 1e-2,
    atol: 5e-4,
    rtol: 1e-3,
    label: "lrn",
  });
});

Deno.test("batchNorm2d training: normalises, updates running stats, backward", () => {
  const [n, c, h, w] = [3, 2, 2, 3];
  const x = randomArray(n * c * h * w, 2, -2, 2);
  const m = h * w * n;
  tidy(() => {
    const rm = tensor([0, 0]), rv = tensor([1, 1]);
    const y = batchNorm2d(
      tensor(x, [n, c, h, w]),
      tensor([2, 3]),
      tensor([0.5, -1]),
      rm,
      rv,
      {
        momentum: 0.1,
      },
    ).data();
    for (let ch = 0; ch < c; ch++) {
      const vals: number[] = [];
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < h * w; i++) {
          vals.push(x[(b * c + ch) * h * w + i]);
        }
      }
      const mu = vals.reduce((a, v) => a + v) / m;
      const v = vals.reduce((a, u) => a + (u - mu) ** 2, 0) / m;
      const got: number[] = [];
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < h * w; i++) got.push(y[(b * c + ch) * h * w + i]);
      }
      const gamma = [2, 3][ch], beta = [0.5, -1][ch];
      assertClose(
        got,
        vals.map((u) => gamma * (u - mu) / Math.sqrt(v + 1e-5) + beta),
        {
          atol: 1e-5,
          label: `bn channel ${ch}`,
        },
      );
      // PyTorch: running_var uses the unbiased variance.
      assertClose([rm.data()[ch], rv.data()[ch]], [
        0.1 * mu,
        0.9 + 0.1 * v * m / (m - 1),
      ], {
        atol: 1e-6,
        label: "running stats",
      });
    }
  });
  // Smooth but with a 1/σ coupling over the batch: h = 1e-2, atol 1e-3.
  gradcheck(
    [{ shape: [n, c, h, w], values: x }, { shape: [c] }, { shape: [c] }],
    ([a, g, b]) => batchNorm2d(a, g, b, null, null, { training: true }),
    { h: 1e-2, atol: 1e-3, rtol: 2e-3, label: "batchNorm2d train" },
  );
  gradcheck(
    [{ shape: [4, 3] }],
    ([a]) => batchNorm2d(a, null, null, null, null),
    { h: 1e-2, atol: 1e-3, rtol: 2e-3, label: "batchNorm2d [N, C], no affine" },
  );
});

Deno.test("batchNorm2d eval: running stats, backward (linear in x and γ)", () => {
  const [n, c, h, w] = [2, 3, 2, 2];
  const rmv = [0.1, -0.2, 0.3], rvv = [0.5, 2, 1.5];
  tidy(() => {
    const rm = tensor(rmv), rv = tensor(rvv);
    const x = randomArray(n * c * h * w, 3);
    const y = batchNorm2d(
      tensor(x, [n, c, h, w]),
      tensor([1, 2, 3]),
      tensor([0, 1, 2]),
      rm,
      rv,
      {
        training: false,
      },
    ).data();
    const ref = Array.from(x, (v, i) => {
      const ch = Math.floor(i / (h * w)) % c;
      return [1, 2, 3][ch] * (v - rmv[ch]) / Math.sqrt(rvv[ch] + 1e-5) +
        [0, 1, 2][ch];
    });
    assertClose(y, ref, { atol: 1e-5, label: "bn eval" });
    assert.deepEqual(
      [...rm.data()].map((v) => Math.fround(v)),
      rmv.map(Math.fround),
    );
  });
  const rm = tensor(rmv), rv = tensor(rvv);
  gradcheck(
    [{ shape: [n, c, h, w] }, { shape: [c] }, { shape: [c] }],
    ([a, g, b]) => batchNorm2d(a, g, b, rm, rv, { training: false }),
    { h: 0.25, atol: 1e-5, rtol: 1e-5, label: "batchNorm2d eval" },
  );
  rm.dispose();
  rv.dispose();
});

disposeBackendAtEnd();
