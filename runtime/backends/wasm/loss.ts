// Shims for the f32-loss kernels (assembly/f32-loss/). Each loss returns
// scale * (sum of per-element or per-row losses) as a JS number (scale = 1/n
// for a mean, 1 for a sum) and, when `grad` is a buffer address (0 = none),
// overwrites grad with d(loss)/d(input). Partials are combined in order, so
// values and gradients are bit-identical for any thread count.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import { kernelName, type LaunchOptions, threadsFor } from "./_launch.ts";
import { runPartials, sumInOrder } from "./reduce.ts";
import { assertCount, assertF32Buffer } from "./vbinary.ts";

function checkGrad(engine: Engine, grad: number, n: number): void {
  if (grad !== 0) assertF32Buffer(engine, "grad", grad, n);
}

/**
 * scale * sum (x - target)^2 over n elements; grad = 2 scale (x - target).
 */
export function mseLoss(
  engine: Engine,
  x: number,
  target: number,
  n: number,
  scale: number,
  grad: number,
  options?: LaunchOptions,
): number {
  assertCount("n", n);
  assertF32Buffer(engine, "x", x, n);
  assertF32Buffer(engine, "target", target, n);
  checkGrad(engine, grad, n);
  const partials = runPartials(
    engine,
    "f32_mse_partials",
    [x, target, n, scale, grad],
    n,
    options,
  );
  return scale * sumInOrder(partials);
}

/**
 * Binary cross-entropy on logits z with targets t in [0, 1]:
 * scale * sum max(z, 0) - z t + log(1 + e^-|z|); grad = scale (sigmoid(z) - t).
 */
export function bceWithLogitsLoss(
  engine: Engine,
  logits: number,
  targets: number,
  n: number,
  scale: number,
  grad: number,
  options?: LaunchOptions,
): number {
  assertCount("n", n);
  assertF32Buffer(engine, "logits", logits, n);
  assertF32Buffer(engine, "targets", targets, n);
  checkGrad(engine, grad, n);
  const partials = runPartials(
    engine,
    "f32_bce_logits_partials",
    [logits, targets, n, scale, grad],
    8 * n,
    options,
  );
  return scale * sumInOrder(partials);
}

/** Row-wise softmax of x [rows, cols] into y (may alias x). */
export function softmax(
  engine: Engine,
  x: number,
  y: number,
  rows: number,
  cols: number,
  options?: LaunchOptions,
): void {
  assertCount("rows", rows);
  assertCount("cols", cols, 1);
  assertF32Buffer(engine, "x", x, rows * cols);
  assertF32Buffer(engine, "y", y, rows * cols);
  engine.run(
    kernelName("f32_softmax", options),
    [x, y, rows, cols],
    rows < 2 ? 1 : threadsFor(engine, 8 * rows * cols, options),
  );
}

/**
 * Softmax cross-entropy: logits [rows, cols], labels [rows] holding class
 * indices as f32 (integers in [0, cols), checked here). Returns
 * scale * sum over rows of (logsumexp(z_r) - z_r[label_r]);
 * grad [rows, cols] = scale (softmax(z_r) - onehot(label_r)).
 */
export function softmaxCrossEntropy(
  engine: Engine,
  logits: number,
  labels: number,
  rows: number,
  cols: number,
  scale: number,
  grad: number,
  options?: LaunchOptions,
): number {
  assertCount("rows", rows);
  assertCount("cols", cols, 1);
  assertF32Buffer(engine, "logits", logits, rows * cols);
  assertF32Buffer(engine, "labels", labels, rows);
  checkGrad(engine, grad, rows * cols);
  const labelValues = engine.f32(labels, rows);
  for (let r = 0; r < rows; r++) {
    const label = labelValues[r];
    if (!Number.isInteger(label) || label < 0 || label >= cols) {
      throw new RangeError(
        `label ${label} of row ${r} is not a class index in [0, ${cols})`,
      );
    }
  }
  const partials = runPartials(
    engine,
    "f32_softmax_xent_partials",
    [logits, labels, rows, cols, scale, grad],
    rows < 2 ? 0 : 8 * rows * cols,
    options,
  );
  return scale * sumInOrder(partials);
}
