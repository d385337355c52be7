// Shims for the f32-lrn kernels (assembly/f32-lrn/): local response
// normalisation across channels (Krizhevsky et al. 2012 §3.3; ONNX LRN and
// Caffe ACROSS_CHANNELS semantics), NCHW, forward and backward.
// Arguments are byte addresses in engine memory; outputs are overwritten.
// Bad values throw a one-line RangeError naming them.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import { checkInt, checkPtr } from "./_check.ts";
import { kernelName, type LaunchOptions, threadsFor } from "./_launch.ts";

/**
 * b_c = a_c / (bias + alpha/size · Σ_{j ∈ W(c)} a_j²)^beta with
 * W(c) = [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉] clipped to the channels.
 * AlexNet: size 5, alpha 1e-4, beta 0.75, bias 2 (Caffe: bias 1).
 */
export interface LrnParams {
  size: number;
  alpha: number;
  beta: number;
  bias: number;
}

function checkArgs(
  fn: string,
  batch: number,
  channels: number,
  height: number,
  width: number,
  p: LrnParams,
): void {
  checkInt(fn, "batch", batch, 1);
  checkInt(fn, "channels", channels, 1);
  checkInt(fn, "height", height, 1);
  checkInt(fn, "width", width, 1);
  checkInt(fn, "size", p.size, 1);
  if (!Number.isFinite(p.alpha) || p.alpha < 0) {
    throw new RangeError(
      `${fn}: alpha must be finite and >= 0, got ${p.alpha}`,
    );
  }
  if (!Number.isFinite(p.beta)) {
    throw new RangeError(`${fn}: beta must be finite, got ${p.beta}`);
  }
  if (!Number.isFinite(p.bias) || p.bias <= 0) {
    throw new RangeError(`${fn}: bias must be finite and > 0, got ${p.bias}`);
  }
}

/**
 * y = x / scale^beta; `scale` receives bias + alpha/size · Σ x² per element,
 * kept for lrnBackward.
 */
export function lrnForward(
  engine: Engine,
  batch: number,
  channels: number,
  height: number,
  width: number,
  p: LrnParams,
  x: number,
  y: number,
  scale: number,
  options?: LaunchOptions,
): void {
  const fn = "lrnForward";
  checkArgs(fn, batch, channels, height, width, p);
  checkPtr(fn, "x", x);
  checkPtr(fn, "y", y);
  checkPtr(fn, "scale", scale);
  const planes = batch * channels, hw = height * width;
  engine.run(
    kernelName("f32_lrn_fwd", options),
    [x, y, scale, batch, channels, hw, p.size, p.alpha, p.beta, p.bias],
    Math.min(
      threadsFor(
        engine,
        planes * hw * (Math.min(p.size, channels) + 8),
        options,
      ),
      planes,
    ),
  );
}

/**
 * dx from dy, given the forward's x, y and scale:
 * dx_c = dy_c·scale_c^(−beta) − (2·alpha·beta/size)·x_c·Σ_{j: c∈W(j)} dy_j·y_j/scale_j.
 */
export function lrnBackward(
  engine: Engine,
  batch: number,
  channels: number,
  height: number,
  width: number,
  p: LrnParams,
  x: number,
  y: number,
  scale: number,
  dy: number,
  dx: number,
  options?: LaunchOptions,
): void {
  const fn = "lrnBackward";
  checkArgs(fn, batch, channels, height, width, p);
  checkPtr(fn, "x", x);
  checkPtr(fn, "y", y);
  checkPtr(fn, "scale", scale);
  checkPtr(fn, "dy", dy);
  checkPtr(fn, "dx", dx);
  const planes = batch * channels, hw = height * width;
  engine.run(
    kernelName("f32_lrn_bwd_data", options),
    [x, y, scale, dy, dx, batch, channels, hw, p.size, p.alpha, p.beta],
    Math.min(
      threadsFor(
        engine,
        planes * hw * (Math.min(p.size, channels) + 8),
        options,
      ),
      planes,
    ),
  );
}
