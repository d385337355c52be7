// Pooling and nearest upsampling (NCHW) with their backward rules.
// This module is browser compatible.
import { needsGrad, record, save } from "../autograd.ts";
import { runKernel } from "../kernel_registry.ts";
import type { Tensor } from "../tensor.ts";
import { type Pair, pair, pool2dAttrs, type Pool2dOptions } from "./shapes.ts";

export type { Pool2dOptions } from "./shapes.ts";

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Divide by the full window, padding included (PyTorch default true). */
  countIncludePad?: boolean;
}

/** Max pooling; stride defaults to the kernel size (PyTorch). */
export function maxPool2d(
  x: Tensor,
  kernel: Pair,
  options: Pool2dOptions = {},
): Tensor {
  const a = pool2dAttrs(x.shape, kernel, options);
  const { y, argmax } = runKernel("MaxPool", x, a);
  if (!needsGrad([x])) {
    argmax.dispose();
    return y;
  }
  // The gradient goes to the input element each window picked (argmax).
  const sa = save(argmax);
  argmax.dispose();
  return record(
    y,
    "maxPool2d",
    [x],
    (g) => [runKernel("MaxPoolGrad", g, sa, x.shape, a)],
    [sa],
  );
}

/** Average pooling; stride defaults to the kernel size (PyTorch). */
export function avgPool2d(
  x: Tensor,
  kernel: Pair,
  options: AvgPool2dOptions = {},
): Tensor {
  const a = pool2dAttrs(x.shape, kernel, options);
  const countIncludePad = options.countIncludePad ?? true;
  const y = runKernel("AvgPool", x, a, countIncludePad);
  if (!needsGrad([x])) return y;
  return record(y, "avgPool2d", [x], (g) => [
    runKernel("AvgPoolGrad", g, x.shape, a, countIncludePad),
  ]);
}

/** Mean over H and W: [N, C, H, W] → [N, C, 1, 1]. */
export function globalAvgPool(x: Tensor): Tensor {
  if (x.rank !== 4) {
    throw new RangeError(`globalAvgPool: needs [N, C, H, W], got [${x.shape}]`);
  }
  const y = runKernel("GlobalAvgPool", x);
  if (!needsGrad([x])) return y;
  return record(y, "globalAvgPool", [x], (g) => [
    runKernel("GlobalAvgPoolGrad", g, x.shape),
  ]);
}

/** Nearest-neighbour upsampling by integer factors: [N,C,H,W] → [N,C,fH,fW]. */
export function upsampleNearest(x: Tensor, factor: Pair = 2): Tensor {
  if (x.rank !== 4) {
    throw new RangeError(
      `upsampleNearest: needs [N, C, H, W], got [${x.shape}]`,
    );
  }
  const [fh, fw] = pair(factor);
  if (!Number.isInteger(fh) || !Number.isInteger(fw) || fh < 1 || fw < 1) {
    throw new RangeError(`upsampleNearest: factors must be positive integers`);
  }
  const y = runKernel("UpsampleNearest", x, fh, fw);
  if (!needsGrad([x])) return y;
  // Each input pixel's gradient is the sum over its fH×fW copies.
  return record(y, "upsampleNearest", [x], (g) => [
    runKernel("UpsampleNearestGrad", g, x.shape, fh, fw),
  ]);
}
