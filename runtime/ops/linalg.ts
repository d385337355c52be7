// Matrix products: matmul (2-D, optional transposes) and linear (PyTorch's
// nn.functional.linear: y = x Wᵀ + b with W [out, in]).
// This module is browser compatible.
import { needsGrad, record, save } from "../autograd.ts";
import { runKernel } from "../kernel_registry.ts";
import type { Tensor } from "../tensor.ts";

export interface MatMulOptions {
  transA?: boolean;
  transB?: boolean;
}

/** op(a) · op(b) for 2-D a, b; op transposes when asked. */
export function matmul(
  a: Tensor,
  b: Tensor,
  options: MatMulOptions = {},
): Tensor {
  const transA = options.transA ?? false, transB = options.transB ?? false;
  if (a.rank !== 2 || b.rank !== 2) {
    throw new RangeError(
      `matmul: needs 2-D tensors, got [${a.shape}] and [${b.shape}]`,
    );
  }
  const k = transA ? a.shape[0] : a.shape[1];
  const kb = transB ? b.shape[1] : b.shape[0];
  if (k !== kb) {
    throw new RangeError(
      `matmul: inner dimensions differ: [${a.shape}]${
        transA ? "ᵀ" : ""
      } · [${b.shape}]${transB ? "ᵀ" : ""}`,
    );
  }
  const y = runKernel("MatMul", a, b, transA, transB);
  if (!needsGrad([a, b])) return y;
  const sa = save(a), sb = save(b);
  // Y = A B: dA = dY Bᵀ, dB = Aᵀ dY; with transposes the same identities
  // applied to op(A), op(B) and transposed back where the input was.
  return record(y, "matmul", [a, b], (g) => {
    let da: Tensor | null = null, db: Tensor | null = null;
    if (a.requiresGrad) {
      da = transA
        ? runKernel("MatMul", sb, g, transB, true) // (dY op(B)ᵀ)ᵀ = op(B) dYᵀ
        : runKernel("MatMul", g, sb, false, !transB);
    }
    if (b.requiresGrad) {
      db = transB
        ? runKernel("MatMul", g, sa, true, transA) // (op(A)ᵀ dY)ᵀ = dYᵀ op(A)
        : runKernel("MatMul", sa, g, !transA, false);
    }
    return [da, db];
  }, [sa, sb]);
}

/** x [N, in] · Wᵀ + bias, W [out, in], bias [out] (PyTorch layout). */
export function linear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
): Tensor {
  if (x.rank !== 2 || weight.rank !== 2 || x.shape[1] !== weight.shape[1]) {
    throw new RangeError(
      `linear: input [${x.shape}] does not match weight [${weight.shape}]`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new RangeError(
      `linear: bias [${bias.shape}] does not match weight [${weight.shape}]`,
    );
  }
  const xw = runKernel("MatMul", x, weight, false, true);
  let y = xw;
  if (bias) {
    y = runKernel("AddChannelBias", xw, bias);
    xw.dispose();
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (!needsGrad(inputs)) return y;
  const sx = save(x), sw = save(weight);
  return record(y, "linear", inputs, (g) => [
    // dX = dY W, dW = dYᵀ X, db = Σ_n dY.
    x.requiresGrad ? runKernel("MatMul", g, sw, false, false) : null,
    weight.requiresGrad ? runKernel("MatMul", g, sx, true, false) : null,
    bias?.requiresGrad ? runKernel("ChannelSum", g) : null,
  ], [sx, sw]);
}
