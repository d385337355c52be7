// Gradient clipping over a set of parameters' gradients, in place, through
// kernels; only per-tensor norms come back to the host.
// This module is browser compatible.
import { runKernel } from "../kernel_registry.ts";
import type { Tensor } from "../tensor.ts";

function grads(params: readonly Tensor[]): Tensor[] {
  return params.flatMap((p) => (p.grad ? [p.grad] : []));
}

function scalar(t: Tensor): number {
  try {
    return t.item();
  } finally {
    t.dispose();
  }
}

/**
 * The global norm of the gradients of `params` taken as one vector: L2
 * (default) or max-abs ("inf"). Parameters without a gradient are skipped.
 */
export function gradNorm(
  params: readonly Tensor[],
  normType: 2 | "inf" = 2,
): number {
  let acc = 0;
  for (const g of grads(params)) {
    if (normType === "inf") acc = Math.max(acc, scalar(runKernel("MaxAbs", g)));
    else acc += scalar(runKernel("SquaredNorm", g)); // per-tensor sums, f64 total
  }
  return normType === "inf" ? acc : Math.sqrt(acc);
}

/**
 * Scales all gradients by maxNorm / (norm + 1e-6) when their global norm
 * exceeds maxNorm (PyTorch's clip_grad_norm_). Returns the norm before
 * clipping (NaN or Infinity pass through: the gradients are then scaled by
 * a non-finite or zero factor, as in PyTorch).
 */
export function clipGradNorm(
  params: readonly Tensor[],
  maxNorm: number,
  normType: 2 | "inf" = 2,
): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: maxNorm ${maxNorm}`);
  const total = gradNorm(params, normType);
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1 || Number.isNaN(coef)) {
    for (const g of grads(params)) runKernel("ScaleInPlace", g, coef);
  }
  return total;
}

/**
 * Clamps every gradient element to [-clipValue, clipValue]
 * (clip_grad_value_). Returns the largest |element| before clipping.
 */
export function clipGradValue(
  params: readonly Tensor[],
  clipValue: number,
): number {
  if (!(clipValue > 0)) throw new RangeError(`clipGradValue: ${clipValue}`);
  let largest = 0;
  for (const g of grads(params)) {
    largest = Math.max(largest, scalar(runKernel("MaxAbs", g)));
    runKernel("ClampInPlace", g, -clipValue, clipValue);
  }
  return largest;
}
