import { leakyRelu, relu, sigmoid, tanh } from "../../../runtime/ops/mod.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { assertClose } from "../../_check.ts";
import {
  awayFromZero,
  disposeBackendAtEnd,
  gradcheck,
  setupBackend,
} from "../_gradcheck.ts";

await setupBackend();

Deno.test("activations: forward against f64", () => {
  const x = awayFromZero(29, 3, 0.01, 3);
  tidy(() => {
    const t = tensor(x);
    const ref = (f: (v: number) => number) => Array.from(x, f);
    assertClose(relu(t).data(), ref((v) => Math.max(v, 0)), { label: "relu" });
    assertClose(leakyRelu(t, 0.2).data(), ref((v) => (v > 0 ? v : 0.2 * v)), {
      label: "leakyRelu",
    });
    // The engine's exp/tanh approximations: 1e-6 absolute.
    assertClose(sigmoid(t).data(), ref((v) => 1 / (1 + Math.exp(-v))), {
      atol: 1e-6,
      rtol: 1e-5,
      label: "sigmoid",
    });
    assertClose(tanh(t).data(), ref(Math.tanh), {
      atol: 1e-6,
      rtol: 1e-5,
      label: "tanh",
    });
  });
});

Deno.test("activation backward matches finite differences", () => {
  // ReLU/leaky ReLU are linear on each side of 0: inputs kept ≥ 0.1 from
  // the kink and h = 0.05 make the differences exact.
  const x = awayFromZero(30, 4, 0.1, 1);
  const pw = { h: 0.05, atol: 1e-5, rtol: 1e-5 };
  gradcheck([{ shape: [5, 6], values: x }], ([a]) => relu(a), {
    ...pw,
    label: "relu",
  });
  gradcheck([{ shape: [5, 6], values: x }], ([a]) => leakyRelu(a, 0.1), {
    ...pw,
    label: "leakyRelu",
  });
  // Smooth: h = 1e-2 gives truncation ≲ h²/6·|f'''| ≈ 2e-5 and rounding
  // ≈ 6e-8·Σ|w y|/h ≈ 2e-4 for 30 outputs; atol 5e-4, rtol 1e-3.
  const smooth = { h: 1e-2, atol: 5e-4, rtol: 1e-3 };
  gradcheck([{ shape: [5, 6] }], ([a]) => sigmoid(a), {
    ...smooth,
    label: "sigmoid",
  });
  gradcheck([{ shape: [5, 6] }], ([a]) => tanh(a), {
    ...smooth,
    label: "tanh",
  });
});

disposeBackendAtEnd();
