// Inverted dropout (Srivastava et al. 2014, with the 1/(1-p) scaling at
// training time so that eval is the identity). The mask comes from the
// seeded generator in runtime/random.ts, so runs are reproducible.
// This module is browser compatible.
import { needsGrad, record, save } from "../autograd.ts";
import { runKernel } from "../kernel_registry.ts";
import { defaultRandom, type Random } from "../random.ts";
import { type Tensor, tensor } from "../tensor.ts";

export interface DropoutOptions {
  /** Dropout is the identity unless training (default true). */
  training?: boolean;
  /** Generator for the mask (default: the global one, see manualSeed). */
  rng?: Random;
}

/** Zeroes each element with probability p and scales the rest by 1/(1-p). */
export function dropout(
  x: Tensor,
  p = 0.5,
  options: DropoutOptions = {},
): Tensor {
  if (!(p >= 0 && p <= 1)) {
    throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  }
  const training = options.training ?? true;
  if (!training || p === 0) {
    // Identity, but a fresh tensor so callers may dispose input and output
    // independently.
    const y = runKernel("Copy", x);
    if (!needsGrad([x])) return y;
    return record(y, "dropout", [x], (g) => [g.view(g.shape)]);
  }
  const rng = options.rng ?? defaultRandom();
  const keepScale = p === 1 ? 0 : 1 / (1 - p);
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) {
    mask[i] = rng.uniform() < p ? 0 : keepScale;
  }
  const m = tensor(mask, x.shape);
  const y = runKernel("Mul", x, m);
  if (!needsGrad([x])) {
    m.dispose();
    return y;
  }
  const sm = save(m);
  m.dispose();
  return record(y, "dropout", [x], (g) => [runKernel("Mul", g, sm)], [sm]);
}
