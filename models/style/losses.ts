// The three terms of Gatys, Ecker & Bethge, "Image Style Transfer Using
// Convolutional Neural Networks" (CVPR 2016), built from differentiable ops
// so that autograd gives their gradient with respect to the image:
//
//   content (eq. 1):  L_content = 1/2 Σ_ij (F^l_ij − P^l_ij)²
//   style (eqs. 3-5): G^l = F^l F^lᵀ,
//                     E_l = 1/(4 N_l² M_l²) Σ_ij (G^l_ij − A^l_ij)²,
//                     L_style = Σ_l w_l E_l
//   total (eq. 7):    L = α L_content + β L_style  (+ λ_TV · TV)
//
// F^l is the [N_l, M_l] feature map of the generated image at layer l (N_l
// channels, M_l = H_l·W_l positions), P^l that of the content image, A^l the
// Gram matrix of the style image. When the style image has another size than
// the output, its M_l differs; 1/M_l² · (G − A)² is then written as
// (G/M_l − A/M'_l)², each Gram normalised by its own number of positions
// (which is the paper's formula exactly when the sizes agree). So the code
// keeps normalised Grams Ĝ = G/M and computes E_l = 1/(4 N_l²) Σ (Ĝ − Â)².
// This module is browser compatible.
import { conv2d } from "../../runtime/ops/conv.ts";
import { add, scale } from "../../runtime/ops/elementwise.ts";
import { mseLoss } from "../../runtime/ops/loss.ts";
import { squaredNorm } from "../../runtime/ops/reduce.ts";
import { gram } from "../../runtime/ops/style.ts";
import { type Tensor, tensor } from "../../runtime/tensor.ts";

/** Channels N and positions M = H·W of a [1, C, H, W] feature map. */
export function featureSize(f: Tensor): { n: number; m: number } {
  if (f.rank !== 4 || f.shape[0] !== 1) {
    throw new RangeError(
      `expected a [1, C, H, W] feature map, got [${f.shape}]`,
    );
  }
  return { n: f.shape[1], m: f.shape[2] * f.shape[3] };
}

/** L_content = 1/2 Σ (F − P)² (eq. 1), times `weight`. */
export function contentLoss(f: Tensor, p: Tensor, weight = 1): Tensor {
  const s = mseLoss(f, p, "sum");
  const out = scale(s, 0.5 * weight);
  s.dispose();
  return out;
}

/** The normalised Gram matrix Ĝ = F Fᵀ / M ([N, N]) of a feature map. */
export function normalisedGram(f: Tensor): Tensor {
  return gram(f, 1 / featureSize(f).m);
}

/**
 * E_l = 1/(4 N²) Σ (Ĝ − Â)² for normalised Grams (eq. 4 with each Gram
 * divided by its own M), times `weight` (β w_l).
 */
export function gramLoss(g: Tensor, target: Tensor, weight = 1): Tensor {
  const n = g.shape[0];
  const s = mseLoss(g, target, "sum");
  const out = scale(s, weight / (4 * n * n));
  s.dispose();
  return out;
}

/** β w_l E_l for a feature map against a normalised target Gram Â. */
export function styleLoss(f: Tensor, target: Tensor, weight = 1): Tensor {
  const g = normalisedGram(f);
  const out = gramLoss(g, target, weight);
  g.dispose();
  return out;
}

/** The two finite-difference kernels of the total-variation term. */
export interface TvKernels {
  /** [3, 1, 1, 2]: x[i, j+1] − x[i, j] per channel. */
  horizontal: Tensor;
  /** [3, 1, 2, 1]: x[i+1, j] − x[i, j] per channel. */
  vertical: Tensor;
}

/**
 * Depthwise difference kernels. `unit[c]` converts model-input units of
 * channel c back to pixel units (0..1), so that the TV weight means the same
 * whatever preprocessing the weights use.
 */
export function tvKernels(unit: readonly number[]): TvKernels {
  const w = new Float32Array(6);
  for (let c = 0; c < 3; c++) w.set([-unit[c], unit[c]], 2 * c);
  return {
    horizontal: tensor(w, [3, 1, 1, 2]),
    vertical: tensor(w, [3, 1, 2, 1]),
  };
}

/**
 * Total variation, squared and anisotropic (Mahendran & Vedaldi 2015 with
 * β = 2): Σ (x[i,j+1] − x[i,j])² + Σ (x[i+1,j] − x[i,j])² over every pair of
 * neighbouring pixels, in pixel units, times `weight`.
 */
export function tvLoss(x: Tensor, kernels: TvKernels, weight = 1): Tensor {
  const dh = conv2d(x, kernels.horizontal, null, { groups: 3 });
  const dv = conv2d(x, kernels.vertical, null, { groups: 3 });
  const sh = squaredNorm(dh), sv = squaredNorm(dv);
  dh.dispose();
  dv.dispose();
  const s = add(sh, sv);
  sh.dispose();
  sv.dispose();
  const out = scale(s, weight);
  s.dispose();
  return out;
}
