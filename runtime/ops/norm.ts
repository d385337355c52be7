// Normalisation: local response normalisation (AlexNet) and batch norm.
// This module is browser compatible.
import { needsGrad, record, save } from "../autograd.ts";
import type { LrnAttrs } from "../kernel_names.ts";
import { runKernel } from "../kernel_registry.ts";
import { empty, type Tensor } from "../tensor.ts";

export interface LrnOptions {
  /** Channels in the window (PyTorch `size`). */
  size?: number;
  alpha?: number;
  beta?: number;
  /** Additive constant (PyTorch `k`, AlexNet uses 2). */
  bias?: number;
}

/**
 * Local response normalisation across channels (Krizhevsky et al. 2012,
 * §3.3; PyTorch's LocalResponseNorm convention, alpha divided by size):
 * y = x / (bias + alpha/size · Σ_window x²)^beta.
 */
export function lrn(x: Tensor, options: LrnOptions = {}): Tensor {
  if (x.rank !== 4) {
    throw new RangeError(`lrn: needs [N, C, H, W], got [${x.shape}]`);
  }
  const a: LrnAttrs = {
    size: options.size ?? 5,
    alpha: options.alpha ?? 1e-4,
    beta: options.beta ?? 0.75,
    bias: options.bias ?? 1,
  };
  if (!Number.isInteger(a.size) || a.size < 1) {
    throw new RangeError(`lrn: size must be a positive integer, got ${a.size}`);
  }
  const { y, scale } = runKernel("LRN", x, a);
  if (!needsGrad([x])) {
    scale.dispose();
    return y;
  }
  const sx = save(x), sy = save(y), ss = save(scale);
  scale.dispose();
  return record(
    y,
    "lrn",
    [x],
    (g) => [runKernel("LRNGrad", sx, sy, ss, g, a)],
    [sx, sy, ss],
  );
}

export interface BatchNormOptions {
  /** Batch statistics (and running-stat updates) when true. */
  training?: boolean;
  /** Running-stat update weight (PyTorch default 0.1). */
  momentum?: number;
  eps?: number;
}

/**
 * Batch normalisation over N, H, W per channel (Ioffe & Szegedy 2015, Alg. 1).
 * Training uses the batch's mean and biased variance and updates the running
 * stats in place (unbiased variance, PyTorch); eval uses the running stats.
 */
export function batchNorm2d(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: BatchNormOptions = {},
): Tensor {
  if (x.rank !== 4 && x.rank !== 2) {
    throw new RangeError(
      `batchNorm2d: needs [N, C, H, W] or [N, C], got [${x.shape}]`,
    );
  }
  const c = x.shape[1];
  for (
    const [n, t] of [["gamma", gamma], ["beta", beta], [
      "runningMean",
      runningMean,
    ], [
      "runningVar",
      runningVar,
    ]] as const
  ) {
    if (t && (t.rank !== 1 || t.shape[0] !== c)) {
      throw new RangeError(`batchNorm2d: ${n} [${t.shape}] must be [${c}]`);
    }
  }
  const training = options.training ?? true;
  const eps = options.eps ?? 1e-5;
  const momentum = options.momentum ?? 0.1;
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  const grads = (dx: Tensor | null, dg: Tensor | null, db: Tensor | null) => [
    dx,
    ...(gamma ? [dg] : []),
    ...(beta ? [db] : []),
  ];

  if (training) {
    if (x.size / c < 2) {
      throw new RangeError(
        "batchNorm2d: training needs more than one value per channel",
      );
    }
    const { y, mean, invStd } = runKernel(
      "BatchNormTrain",
      x,
      gamma,
      beta,
      runningMean,
      runningVar,
      eps,
      momentum,
    );
    if (!needsGrad(inputs)) {
      mean.dispose();
      invStd.dispose();
      return y;
    }
    const sx = save(x), sm = save(mean), si = save(invStd);
    const sg = gamma ? save(gamma) : null;
    mean.dispose();
    invStd.dispose();
    return record(y, "batchNorm2d", inputs, (g) => {
      const { dx, dgamma, dbeta } = runKernel(
        "BatchNormGrad",
        sx,
        sg,
        sm,
        si,
        g,
      );
      return grads(x.requiresGrad ? dx : null, dgamma, dbeta);
    }, sg ? [sx, sm, si, sg] : [sx, sm, si]);
  }

  if (!runningMean || !runningVar) {
    throw new Error("batchNorm2d: eval mode needs running statistics");
  }
  const y = runKernel(
    "BatchNormEval",
    x,
    gamma,
    beta,
    runningMean,
    runningVar,
    eps,
  );
  if (!needsGrad(inputs)) return y;
  // Eval is a per-channel affine map y = γ (x - μ)/σ + β with fixed μ, σ:
  // dX = γ/σ · dY (BatchNormEval of dY with zero mean and no shift),
  // dγ = Σ dY · (x - μ)/σ, dβ = Σ dY (sums over all but the channel axis).
  const sx = save(x), sm = save(runningMean), sv = save(runningVar);
  const sg = gamma ? save(gamma) : null;
  return record(y, "batchNorm2d", inputs, (g) => {
    let dx: Tensor | null = null, dgamma: Tensor | null = null;
    if (x.requiresGrad) {
      const zero = empty([c]);
      runKernel("FillInPlace", zero, 0);
      dx = runKernel("BatchNormEval", g, sg, null, zero, sv, eps);
    }
    if (gamma?.requiresGrad) {
      const xhat = runKernel("BatchNormEval", sx, null, null, sm, sv, eps);
      const prod = runKernel("Mul", g, xhat);
      dgamma = runKernel("ChannelSum", prod);
    }
    const dbeta = beta?.requiresGrad ? runKernel("ChannelSum", g) : null;
    return grads(dx, dgamma, dbeta);
  }, sg ? [sx, sm, sv, sg] : [sx, sm, sv]);
}
