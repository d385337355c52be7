// Registers the wasm implementations of the optimiser kernels and declares
// their signatures by merging into KernelSignatures (runtime/kernel_names.ts
// is owned elsewhere; this keeps the optimiser's kernels beside their shims).
// This module is browser compatible.
import { getBackend } from "../../backend.ts";
import { registerKernel } from "../../kernel_registry.ts";
import { type Tensor, tensor } from "../../tensor.ts";
import { WASM_BACKEND, type WasmBackend } from "./backend.ts";
import {
  adamUpdate,
  type AdamUpdateAttrs,
  asum,
  sgdUpdate,
  type SgdUpdateAttrs,
} from "./optim.ts";

export type { AdamUpdateAttrs, SgdUpdateAttrs } from "./optim.ts";

declare module "../../kernel_names.ts" {
  interface KernelSignatures {
    /**
     * Fused SGD step, in place on param (and momentumBuffer, which may be
     * null when momentum is 0). grad is read only.
     */
    SgdUpdate: (
      param: Tensor,
      grad: Tensor,
      momentumBuffer: Tensor | null,
      a: SgdUpdateAttrs,
    ) => void;
    /** Fused Adam/AdamW step, in place on param, expAvg and expAvgSq. */
    AdamUpdate: (
      param: Tensor,
      grad: Tensor,
      expAvg: Tensor,
      expAvgSq: Tensor,
      a: AdamUpdateAttrs,
    ) => void;
    /** Σ |x_i| (shape [1]). */
    AbsSum: (x: Tensor) => Tensor;
  }
}

function engine() {
  return (getBackend() as WasmBackend).engine;
}

function checkSize(op: string, a: Tensor, b: Tensor | null): void {
  if (b && b.size !== a.size) {
    throw new RangeError(`${op}: sizes ${a.size} and ${b.size} differ`);
  }
}

registerKernel(WASM_BACKEND, "SgdUpdate", (param, grad, buf, a) => {
  checkSize("SgdUpdate", param, grad);
  checkSize("SgdUpdate", param, buf);
  sgdUpdate(engine(), param.ptr, grad.ptr, buf?.ptr ?? 0, param.size, a);
});

registerKernel(
  WASM_BACKEND,
  "AdamUpdate",
  (param, grad, expAvg, expAvgSq, a) => {
    checkSize("AdamUpdate", param, grad);
    checkSize("AdamUpdate", param, expAvg);
    checkSize("AdamUpdate", param, expAvgSq);
    adamUpdate(
      engine(),
      param.ptr,
      grad.ptr,
      expAvg.ptr,
      expAvgSq.ptr,
      param.size,
      a,
    );
  },
);

registerKernel(
  WASM_BACKEND,
  "AbsSum",
  (x) => tensor([asum(engine(), x.ptr, x.size)], [1]),
);
