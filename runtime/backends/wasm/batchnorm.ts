// Shims for the f32-batchnorm kernels (assembly/f32-batchnorm/): 2-D batch
// normalisation (Ioffe & Szegedy 2015) over N, H, W per channel, NCHW.
// Arguments are byte addresses in engine memory; per-channel vectors hold
// `channels` floats. Outputs are overwritten (running statistics are updated
// in place). Training and backward run one channel per thread, so results do
// not depend on the thread count. Bad values throw a one-line RangeError.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import { checkInt, checkPtr } from "./_check.ts";
import { kernelName, type LaunchOptions, threadsFor } from "./_launch.ts";

function checkDims(
  fn: string,
  batch: number,
  channels: number,
  height: number,
  width: number,
): void {
  checkInt(fn, "batch", batch, 1);
  checkInt(fn, "channels", channels, 1);
  checkInt(fn, "height", height, 1);
  checkInt(fn, "width", width, 1);
}

function checkEps(fn: string, eps: number): void {
  if (!Number.isFinite(eps) || eps <= 0) {
    throw new RangeError(`${fn}: eps must be finite and > 0, got ${eps}`);
  }
}

/**
 * Training mode: normalises with the batch mean and (biased) variance,
 * writes savedMean and savedInvStd = 1/√(var + eps) for the backward pass,
 * and, when runningMean/runningVar are non-zero, updates them as PyTorch:
 * r ← (1 − momentum)·r + momentum·batchStat (unbiased variance for
 * runningVar). gamma/beta may be 0 (no affine transform).
 */
export function batchNormForwardTrain(
  engine: Engine,
  batch: number,
  channels: number,
  height: number,
  width: number,
  eps: number,
  momentum: number,
  x: number,
  gamma: number,
  beta: number,
  y: number,
  savedMean: number,
  savedInvStd: number,
  runningMean: number,
  runningVar: number,
  options?: LaunchOptions,
): void {
  const fn = "batchNormForwardTrain";
  checkDims(fn, batch, channels, height, width);
  if (batch * height * width < 2) {
    throw new RangeError(
      `${fn}: batch·height·width must be > 1 for batch statistics, got ${
        batch * height * width
      }`,
    );
  }
  checkEps(fn, eps);
  if (!(momentum >= 0 && momentum <= 1)) {
    throw new RangeError(`${fn}: momentum must be in [0, 1], got ${momentum}`);
  }
  checkPtr(fn, "x", x);
  checkPtr(fn, "gamma", gamma, true);
  checkPtr(fn, "beta", beta, true);
  checkPtr(fn, "y", y);
  checkPtr(fn, "savedMean", savedMean);
  checkPtr(fn, "savedInvStd", savedInvStd);
  checkPtr(fn, "runningMean", runningMean, true);
  checkPtr(fn, "runningVar", runningVar, true);
  const n = batch * channels * height * width;
  engine.run(
    kernelName("f32_batchnorm_fwd_train", options),
    [
      x,
      gamma,
      beta,
      y,
      savedMean,
      savedInvStd,
      runningMean,
      runningVar,
      batch,
      channels,
      height * width,
      eps,
      momentum,
    ],
    Math.min(threadsFor(engine, 3 * n, options), channels),
  );
}

/** Inference mode: y = gamma·(x − runningMean)/√(runningVar + eps) + beta. */
export function batchNormForwardEval(
  engine: Engine,
  batch: number,
  channels: number,
  height: number,
  width: number,
  eps: number,
  x: number,
  gamma: number,
  beta: number,
  runningMean: number,
  runningVar: number,
  y: number,
  options?: LaunchOptions,
): void {
  const fn = "batchNormForwardEval";
  checkDims(fn, batch, channels, height, width);
  checkEps(fn, eps);
  checkPtr(fn, "x", x);
  checkPtr(fn, "gamma", gamma, true);
  checkPtr(fn, "beta", beta, true);
  checkPtr(fn, "runningMean", runningMean);
  checkPtr(fn, "runningVar", runningVar);
  checkPtr(fn, "y", y);
  const n = batch * channels * height * width;
  engine.run(
    kernelName("f32_batchnorm_fwd_eval", options),
    [
      x,
      gamma,
      beta,
      runningMean,
      runningVar,
      y,
      batch,
      channels,
      height * width,
      eps,
    ],
    Math.min(threadsFor(engine, n, options), batch * channels),
  );
}

/**
 * Backward of batchNormForwardTrain, from its savedMean/savedInvStd:
 * dx, and dgamma = Σ dy·x̂, dbeta = Σ dy per channel. gamma may be 0 (no
 * affine); dgamma/dbeta may be 0 (not wanted).
 */
export function batchNormBackward(
  engine: Engine,
  batch: number,
  channels: number,
  height: number,
  width: number,
  x: number,
  gamma: number,
  savedMean: number,
  savedInvStd: number,
  dy: number,
  dx: number,
  dgamma: number,
  dbeta: number,
  options?: LaunchOptions,
): void {
  const fn = "batchNormBackward";
  checkDims(fn, batch, channels, height, width);
  checkPtr(fn, "x", x);
  checkPtr(fn, "gamma", gamma, true);
  checkPtr(fn, "savedMean", savedMean);
  checkPtr(fn, "savedInvStd", savedInvStd);
  checkPtr(fn, "dy", dy);
  checkPtr(fn, "dx", dx);
  checkPtr(fn, "dgamma", dgamma, true);
  checkPtr(fn, "dbeta", dbeta, true);
  const n = batch * channels * height * width;
  engine.run(
    kernelName("f32_batchnorm_bwd", options),
    [
      x,
      gamma,
      savedMean,
      savedInvStd,
      dy,
      dx,
      dgamma,
      dbeta,
      batch,
      channels,
      height * width,
    ],
    Math.min(threadsFor(engine, 3 * n, options), channels),
  );
}
