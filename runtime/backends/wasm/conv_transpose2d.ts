// Shims for transposed 2-D convolution (PyTorch ConvTranspose2d), built on
// the f32-conv2d kernels: the transposed conv is the data gradient of the
// conv that maps its output back to its input, so
//   forward       = conv backward-data (+ bias),
//   backward-data = conv forward,
//   backward-filter = conv backward-filter with x and dy swapped.
// Weights are C_in x K_out/groups x R x S (ConvTranspose2d layout), which is
// exactly that conv's KCRS layout. Zero padding only. Tensors NCHW.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import { kernelName, type LaunchOptions, threadsFor } from "./_launch.ts";
import {
  checkInt,
  type ConvGeometry,
  runConvBackwardData,
  runConvBackwardFilter,
  runConvForward,
} from "./conv2d.ts";

export interface ConvTranspose2dShape {
  batch: number;
  inChannels: number;
  inHeight: number;
  inWidth: number;
  outChannels: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  dilationH: number;
  dilationW: number;
  groups: number;
  outputPadH: number;
  outputPadW: number;
}

/** (H - 1)*sh - pt - pb + dh*(R - 1) + outputPadH + 1 (PyTorch's formula). */
export function convTranspose2dOutputSize(
  s: ConvTranspose2dShape,
): { outHeight: number; outWidth: number } {
  return {
    outHeight: (s.inHeight - 1) * s.strideH - s.padTop - s.padBottom +
      s.dilationH * (s.kernelH - 1) + s.outputPadH + 1,
    outWidth: (s.inWidth - 1) * s.strideW - s.padLeft - s.padRight +
      s.dilationW * (s.kernelW - 1) + s.outputPadW + 1,
  };
}

function validate(op: string, s: ConvTranspose2dShape): void {
  for (
    const f of [
      "batch",
      "inChannels",
      "inHeight",
      "inWidth",
      "outChannels",
      "kernelH",
      "kernelW",
      "strideH",
      "strideW",
      "dilationH",
      "dilationW",
      "groups",
    ] as const
  ) checkInt(op, f, s[f], 1);
  for (
    const f of [
      "padTop",
      "padBottom",
      "padLeft",
      "padRight",
      "outputPadH",
      "outputPadW",
    ] as const
  ) checkInt(op, f, s[f], 0);
  if (s.inChannels % s.groups !== 0) {
    throw new RangeError(
      `${op}: inChannels ${s.inChannels} is not divisible by groups ${s.groups}`,
    );
  }
  if (s.outChannels % s.groups !== 0) {
    throw new RangeError(
      `${op}: outChannels ${s.outChannels} is not divisible by groups ${s.groups}`,
    );
  }
  if (s.outputPadH >= Math.max(s.strideH, s.dilationH)) {
    throw new RangeError(
      `${op}: outputPadH ${s.outputPadH} must be < strideH or dilationH`,
    );
  }
  if (s.outputPadW >= Math.max(s.strideW, s.dilationW)) {
    throw new RangeError(
      `${op}: outputPadW ${s.outputPadW} must be < strideW or dilationW`,
    );
  }
  const { outHeight, outWidth } = convTranspose2dOutputSize(s);
  if (outHeight < 1) {
    throw new RangeError(`${op}: output height ${outHeight} < 1`);
  }
  if (outWidth < 1) throw new RangeError(`${op}: output width ${outWidth} < 1`);
}

/** The conv whose data gradient this transposed conv is. */
function geometry(s: ConvTranspose2dShape): ConvGeometry {
  const { outHeight, outWidth } = convTranspose2dOutputSize(s);
  return {
    N: s.batch,
    C: s.outChannels,
    H: outHeight,
    W: outWidth,
    K: s.inChannels,
    R: s.kernelH,
    S: s.kernelW,
    OH: s.inHeight,
    OW: s.inWidth,
    sh: s.strideH,
    sw: s.strideW,
    pt: s.padTop,
    pl: s.padLeft,
    dh: s.dilationH,
    dw: s.dilationW,
    G: s.groups,
  };
}

/** y = conv_transpose2d(x, w) + bias (bias 0 = none). */
export function convTranspose2dForward(
  engine: Engine,
  s: ConvTranspose2dShape,
  x: number,
  w: number,
  bias: number,
  y: number,
  options?: LaunchOptions,
): void {
  validate("convTranspose2dForward", s);
  runConvBackwardData(engine, geometry(s), x, w, bias, y, options);
}

/** dx of conv_transpose2d given dy. */
export function convTranspose2dBackwardData(
  engine: Engine,
  s: ConvTranspose2dShape,
  dy: number,
  w: number,
  dx: number,
  options?: LaunchOptions,
): void {
  validate("convTranspose2dBackwardData", s);
  runConvForward(engine, geometry(s), dy, w, 0, dx, options);
}

/** dw (and dbias = sum of dy over N, H, W unless 0) of conv_transpose2d. */
export function convTranspose2dBackwardFilter(
  engine: Engine,
  s: ConvTranspose2dShape,
  x: number,
  dy: number,
  dw: number,
  dbias: number,
  options?: LaunchOptions,
): void {
  validate("convTranspose2dBackwardFilter", s);
  const g = geometry(s);
  runConvBackwardFilter(engine, g, dy, x, dw, 0, options);
  if (dbias) {
    const P = g.H * g.W;
    engine.run(
      kernelName("f32_conv2d_bwd_bias", options),
      [dy, dbias, g.N, g.C, P],
      threadsFor(engine, g.N * g.C * P, options),
    );
  }
}
