// GAN losses on discriminator logits (Goodfellow et al. 2014, eq. 1 and
// Algorithm 1), in numerically stable log-sigmoid forms through the
// bceWithLogits op: with D(x) = σ(l),
//   -log D(x)       = softplus(-l) = bce(l, 1)
//   -log(1 - D(x))  = softplus(l)  = bce(l, 0)
// both computed as max(l, 0) - l·t + log(1 + e^-|l|), which never takes the
// log of a rounded-to-zero probability.
//
// Discriminator (Algorithm 1 ascends (1/m)Σ[log D(x) + log(1 - D(G(z)))];
// we descend its negative):
//   L_D = mean(-log D(x_i)) + mean(-log(1 - D(G(z_i))))
// Generator:
//   minimax         L_G = mean(log(1 - D(G(z))))     = -bce(l_fake, 0)
//   non-saturating  L_G = mean(-log D(G(z)))          =  bce(l_fake, 1)
// Both have the same fixed point; early in training, when D rejects the
// samples confidently (l_fake ≪ 0), the minimax gradient
// d/dl log(1 - σ(l)) = -σ(l) vanishes while the non-saturating one,
// -(1 - σ(l)), stays near -1 (the paper's §3 remark).
// This module is browser compatible.
import { add, neg } from "../../runtime/ops/elementwise.ts";
import { bceWithLogits } from "../../runtime/ops/loss.ts";
import { full, type Tensor } from "../../runtime/tensor.ts";

export type GeneratorLossKind = "non-saturating" | "minimax";

export const GENERATOR_LOSSES: readonly GeneratorLossKind[] = [
  "non-saturating",
  "minimax",
];

function bceAgainst(logits: Tensor, target: 0 | 1): Tensor {
  const t = full(logits.shape, target);
  try {
    return bceWithLogits(logits, t, "mean");
  } finally {
    t.dispose();
  }
}

/** L_D on the logits of a real and a generated minibatch. */
export function discriminatorLoss(
  realLogits: Tensor,
  fakeLogits: Tensor,
): Tensor {
  const real = bceAgainst(realLogits, 1);
  const fake = bceAgainst(fakeLogits, 0);
  try {
    return add(real, fake);
  } finally {
    real.dispose();
    fake.dispose();
  }
}

/** L_G on the logits D gave to generated samples. */
export function generatorLoss(
  fakeLogits: Tensor,
  kind: GeneratorLossKind = "non-saturating",
): Tensor {
  if (kind === "non-saturating") return bceAgainst(fakeLogits, 1);
  if (kind === "minimax") {
    const l = bceAgainst(fakeLogits, 0);
    try {
      return neg(l);
    } finally {
      l.dispose();
    }
  }
  throw new RangeError(
    `Unknown generator loss "${kind}" (non-saturating or minimax)`,
  );
}

/** Host-side f64 references (tests): log σ(l) and log(1 - σ(l)), stable. */
export function logSigmoid(l: number): number {
  return l >= 0 ? -Math.log1p(Math.exp(-l)) : l - Math.log1p(Math.exp(l));
}

/** Mean of σ(l) over the logits: D's average probability of "real". */
export function meanProbability(logits: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += 1 / (1 + Math.exp(-logits[i]));
  return s / logits.length;
}
