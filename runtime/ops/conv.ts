// Convolutions (NCHW, PyTorch weight layouts) and their backward rules:
// dX by the backprop-input kernel, dW and dBias by the backprop-filter one.
// This module is browser compatible.
import { needsGrad, record, save } from "../autograd.ts";
import { runKernel } from "../kernel_registry.ts";
import type { Tensor } from "../tensor.ts";
import {
  conv2dAttrs,
  type Conv2dOptions,
  convTranspose2dAttrs,
  type ConvTranspose2dOptions,
} from "./shapes.ts";

export type { Conv2dOptions, ConvTranspose2dOptions } from "./shapes.ts";

function checkBias(op: string, bias: Tensor | null, channels: number): void {
  if (bias && (bias.rank !== 1 || bias.shape[0] !== channels)) {
    throw new RangeError(`${op}: bias [${bias.shape}] must be [${channels}]`);
  }
}

/**
 * 2-D convolution: x [N, C, H, W], weight [K, C/groups, R, S], bias [K].
 * Padding is a number, [h, w], [top, bottom, left, right] or "same";
 * padMode "reflect" mirrors the border (PyTorch padding_mode="reflect").
 */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  options: Conv2dOptions = {},
): Tensor {
  const a = conv2dAttrs(x.shape, weight.shape, options);
  checkBias("conv2d", bias, weight.shape[0]);
  const y = runKernel("Conv2D", x, weight, bias, a);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (!needsGrad(inputs)) return y;
  const sx = save(x), sw = save(weight);
  return record(y, "conv2d", inputs, (g) => {
    const dx = x.requiresGrad
      ? runKernel("Conv2DBackpropInput", g, sw, x.shape, a)
      : null;
    let dw: Tensor | null = null, db: Tensor | null = null;
    if (weight.requiresGrad || bias?.requiresGrad) {
      const r = runKernel(
        "Conv2DBackpropFilter",
        sx,
        g,
        weight.shape,
        bias !== null,
        a,
      );
      dw = r.dw;
      db = r.db;
    }
    return bias ? [dx, dw, db] : [dx, dw];
  }, [sx, sw]);
}

/**
 * 2-D transposed convolution (the adjoint of conv2d): x [N, C, H, W],
 * weight [C, K/groups, R, S] (PyTorch ConvTranspose2d), bias [K]. Output
 * H' = (H-1)·stride - padTop - padBottom + dilation·(R-1) + outputPadding + 1.
 */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  options: ConvTranspose2dOptions = {},
): Tensor {
  const a = convTranspose2dAttrs(x.shape, weight.shape, options);
  checkBias("convTranspose2d", bias, weight.shape[1] * a.groups);
  const y = runKernel("ConvTranspose2D", x, weight, bias, a);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (!needsGrad(inputs)) return y;
  const sx = save(x), sw = save(weight);
  return record(y, "convTranspose2d", inputs, (g) => {
    const dx = x.requiresGrad
      ? runKernel("ConvTranspose2DBackpropInput", g, sw, x.shape, a)
      : null;
    let dw: Tensor | null = null, db: Tensor | null = null;
    if (weight.requiresGrad || bias?.requiresGrad) {
      const r = runKernel(
        "ConvTranspose2DBackpropFilter",
        sx,
        g,
        weight.shape,
        bias !== null,
        a,
      );
      dw = r.dw;
      db = r.db;
    }
    return bias ? [dx, dw, db] : [dx, dw];
  }, [sx, sw]);
}
