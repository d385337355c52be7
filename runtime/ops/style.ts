// Gram matrix of a feature map (Gatys et al. 2016, eq. 3): with F the
// [C, H·W] view of a [1, C, H, W] map, G = scale · F Fᵀ.
// This module is browser compatible.
import { needsGrad, record, save } from "../autograd.ts";
import { runKernel } from "../kernel_registry.ts";
import type { Tensor } from "../tensor.ts";

/**
 * G [C, C] = scale · F Fᵀ for a [1, C, H, W] feature map (or an already
 * flattened [C, M] matrix). Style losses commonly use scale = 1/(C·H·W).
 */
export function gram(features: Tensor, scale = 1): Tensor {
  let c: number;
  if (features.rank === 4) {
    if (features.shape[0] !== 1) {
      throw new RangeError(
        `gram: needs a batch of one, got [${features.shape}]`,
      );
    }
    c = features.shape[1];
  } else if (features.rank === 2) {
    c = features.shape[0];
  } else {
    throw new RangeError(
      `gram: needs [1, C, H, W] or [C, M], got [${features.shape}]`,
    );
  }
  const f = features.view([c, features.size / c]);
  const y = runKernel("Gram", f, scale);
  if (!needsGrad([features])) {
    f.dispose();
    return y;
  }
  const sf = save(f);
  f.dispose();
  // dF = scale · (dG + dGᵀ) F; the rule returns [C, M] and the tape
  // reshapes it to the input's shape.
  return record(
    y,
    "gram",
    [features],
    (g) => [runKernel("GramGrad", sf, g, scale)],
    [sf],
  );
}
