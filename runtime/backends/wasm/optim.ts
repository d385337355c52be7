// Shims for the f32-optim kernels (assembly/f32-optim/): fused SGD and Adam
// updates and the L1 norm (sum of |x|). Arguments are byte addresses in
// engine memory; n is an element count. Updates are in place.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import {
  kernelName,
  type LaunchOptions,
  threadsFor,
  withWorkspace,
} from "./_launch.ts";

/** Hyper-parameters of one fused SGD update (PyTorch torch.optim.SGD). */
export interface SgdUpdateAttrs {
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** First step with momentum: the buffer is set to the gradient. */
  firstStep: boolean;
}

/** Hyper-parameters of one fused Adam update (torch.optim.Adam / AdamW). */
export interface AdamUpdateAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW-style decoupled decay (param *= 1 - lr*wd) instead of L2. */
  decoupled: boolean;
  /** The step number t >= 1 after this update (for bias correction). */
  step: number;
}

/**
 * SGD update of param (and the momentum buffer `buf`, unused when momentum is
 * 0: pass 0) from grad.
 */
export function sgdUpdate(
  engine: Engine,
  param: number,
  grad: number,
  buf: number,
  n: number,
  a: SgdUpdateAttrs,
  options?: LaunchOptions,
): void {
  if (a.momentum !== 0 && buf === 0) {
    throw new Error("sgdUpdate: momentum needs a buffer");
  }
  engine.run(
    kernelName("f32_sgd_update", options),
    [
      param,
      grad,
      buf,
      n,
      a.lr,
      a.weightDecay,
      a.momentum,
      a.dampening,
      a.nesterov ? 1 : 0,
      a.firstStep ? 1 : 0,
    ],
    threadsFor(engine, 4 * n, options),
  );
}

/** Adam update of param, expAvg and expAvgSq from grad. */
export function adamUpdate(
  engine: Engine,
  param: number,
  grad: number,
  expAvg: number,
  expAvgSq: number,
  n: number,
  a: AdamUpdateAttrs,
  options?: LaunchOptions,
): void {
  if (!(a.step >= 1)) throw new RangeError("adamUpdate: step must be >= 1");
  // Bias corrections in f64 (Kingma & Ba 2015, Alg. 1), rounded once to f32.
  const bias1 = 1 - Math.pow(a.beta1, a.step);
  const bias2 = 1 - Math.pow(a.beta2, a.step);
  engine.run(
    kernelName("f32_adam_update", options),
    [
      param,
      grad,
      expAvg,
      expAvgSq,
      n,
      a.lr / bias1,
      Math.sqrt(bias2),
      a.beta1,
      a.beta2,
      a.eps,
      a.decoupled ? 0 : a.weightDecay,
      a.decoupled ? 1 - a.lr * a.weightDecay : 1,
    ],
    threadsFor(engine, 8 * n, options),
  );
}

const REDUCE_CHUNKS = 64;

/**
 * Sum of |x| over n floats at x: f32 sums over fixed chunks, combined in
 * order in f64 (as the f32-reduce shims do), so any thread count gives the
 * same result.
 */
export function asum(
  engine: Engine,
  x: number,
  n: number,
  options?: LaunchOptions,
): number {
  const threads = Math.min(threadsFor(engine, n, options), REDUCE_CHUNKS);
  return withWorkspace(engine, REDUCE_CHUNKS * 4, 1, (partials) => {
    engine.run(
      kernelName("f32_asum_partials", options),
      [x, n, partials],
      threads,
    );
    const p = engine.f32(partials, REDUCE_CHUNKS);
    let total = 0;
    for (let c = 0; c < REDUCE_CHUNKS; c++) total += p[c];
    return total;
  });
}
