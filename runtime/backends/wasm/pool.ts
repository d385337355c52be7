// Shims for the f32-pool kernels (assembly/f32-pool/): max/average pooling
// 2-D, global average pooling and nearest-neighbour upsampling, NCHW, forward
// and backward. Arguments are byte addresses in engine memory (argmax holds
// one i32 per output element); outputs are overwritten. Shapes are checked
// here and a bad value throws a one-line RangeError naming it.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import { checkInt, checkPtr } from "./_check.ts";
import { kernelName, type LaunchOptions, threadsFor } from "./_launch.ts";

/** A pooling layer applied to a batch × channels × inHeight × inWidth tensor. */
export interface Pool2dShape {
  batch: number;
  channels: number;
  inHeight: number;
  inWidth: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  /**
   * Caffe/PyTorch ceil mode: the output size is rounded up (the last window
   * is clipped) unless the last window would start past the input and its
   * top/left padding (PyTorch's rule).
   */
  ceilMode: boolean;
}

function outSize(
  fn: string,
  axis: "H" | "W",
  size: number,
  kernel: number,
  stride: number,
  padBefore: number,
  padAfter: number,
  ceilMode: boolean,
): number {
  const span = size + padBefore + padAfter - kernel;
  if (span < 0) {
    throw new RangeError(
      `${fn}: kernel${axis} ${kernel} is larger than the padded input (${
        size + padBefore + padAfter
      })`,
    );
  }
  let out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) +
    1;
  // The last window must start inside the input or its top/left padding.
  if (ceilMode && (out - 1) * stride >= size + padBefore) out--;
  return out;
}

function checkShape(fn: string, s: Pool2dShape): void {
  checkInt(fn, "batch", s.batch, 1);
  checkInt(fn, "channels", s.channels, 1);
  checkInt(fn, "inHeight", s.inHeight, 1);
  checkInt(fn, "inWidth", s.inWidth, 1);
  checkInt(fn, "kernelH", s.kernelH, 1);
  checkInt(fn, "kernelW", s.kernelW, 1);
  checkInt(fn, "strideH", s.strideH, 1);
  checkInt(fn, "strideW", s.strideW, 1);
  checkInt(fn, "padTop", s.padTop, 0);
  checkInt(fn, "padBottom", s.padBottom, 0);
  checkInt(fn, "padLeft", s.padLeft, 0);
  checkInt(fn, "padRight", s.padRight, 0);
  // Every window then covers at least one real input element.
  for (
    const [name, pad, k] of [
      ["padTop", s.padTop, s.kernelH],
      ["padBottom", s.padBottom, s.kernelH],
      ["padLeft", s.padLeft, s.kernelW],
      ["padRight", s.padRight, s.kernelW],
    ] as const
  ) {
    if (pad >= k) {
      throw new RangeError(
        `${fn}: ${name} ${pad} must be smaller than the kernel (${k})`,
      );
    }
  }
}

/** Output height and width of a pooling layer (floor or ceil mode). */
export function pool2dOutputSize(
  s: Pool2dShape,
): { outHeight: number; outWidth: number } {
  const fn = "pool2dOutputSize";
  checkShape(fn, s);
  return {
    outHeight: outSize(
      fn,
      "H",
      s.inHeight,
      s.kernelH,
      s.strideH,
      s.padTop,
      s.padBottom,
      s.ceilMode,
    ),
    outWidth: outSize(
      fn,
      "W",
      s.inWidth,
      s.kernelW,
      s.strideW,
      s.padLeft,
      s.padRight,
      s.ceilMode,
    ),
  };
}

function threadsOver(
  engine: Engine,
  items: number,
  work: number,
  options?: LaunchOptions,
): number {
  return Math.min(threadsFor(engine, work, options), items);
}

/**
 * Max pooling: y = max over each window (padding never wins); argmax gets
 * the index h·inWidth + w of the maximum within its plane (i32).
 */
export function maxPool2dForward(
  engine: Engine,
  s: Pool2dShape,
  x: number,
  y: number,
  argmax: number,
  options?: LaunchOptions,
): void {
  const fn = "maxPool2dForward";
  const { outHeight, outWidth } = pool2dOutputSize(s);
  checkPtr(fn, "x", x);
  checkPtr(fn, "y", y);
  checkPtr(fn, "argmax", argmax);
  const planes = s.batch * s.channels;
  engine.run(
    kernelName("f32_maxpool2d_fwd", options),
    [
      x,
      y,
      argmax,
      planes,
      s.inHeight,
      s.inWidth,
      outHeight,
      outWidth,
      s.kernelH,
      s.kernelW,
      s.strideH,
      s.strideW,
      s.padTop,
      s.padLeft,
    ],
    threadsOver(
      engine,
      planes,
      planes * outHeight * outWidth * s.kernelH * s.kernelW,
      options,
    ),
  );
}

/** Max pooling backward: dx = Σ dy routed to each window's argmax. */
export function maxPool2dBackward(
  engine: Engine,
  s: Pool2dShape,
  dy: number,
  argmax: number,
  dx: number,
  options?: LaunchOptions,
): void {
  const fn = "maxPool2dBackward";
  const { outHeight, outWidth } = pool2dOutputSize(s);
  checkPtr(fn, "dy", dy);
  checkPtr(fn, "argmax", argmax);
  checkPtr(fn, "dx", dx);
  const planes = s.batch * s.channels;
  engine.run(
    kernelName("f32_maxpool2d_bwd_data", options),
    [dy, argmax, dx, planes, s.inHeight, s.inWidth, outHeight, outWidth],
    threadsOver(
      engine,
      planes,
      planes * (s.inHeight * s.inWidth + outHeight * outWidth),
      options,
    ),
  );
}

function avgArgs(
  s: Pool2dShape,
  countIncludePad: boolean,
  outHeight: number,
  outWidth: number,
): number[] {
  return [
    s.batch * s.channels,
    s.inHeight,
    s.inWidth,
    outHeight,
    outWidth,
    s.kernelH,
    s.kernelW,
    s.strideH,
    s.strideW,
    s.padTop,
    s.padBottom,
    s.padLeft,
    s.padRight,
    countIncludePad ? 1 : 0,
  ];
}

/**
 * Average pooling. The divisor is the window clipped to the padded input
 * when countIncludePad (PyTorch's count_include_pad, Caffe's AVE), else the
 * number of real input elements it covers.
 */
export function avgPool2dForward(
  engine: Engine,
  s: Pool2dShape,
  countIncludePad: boolean,
  x: number,
  y: number,
  options?: LaunchOptions,
): void {
  const fn = "avgPool2dForward";
  const { outHeight, outWidth } = pool2dOutputSize(s);
  checkPtr(fn, "x", x);
  checkPtr(fn, "y", y);
  const planes = s.batch * s.channels;
  engine.run(
    kernelName("f32_avgpool2d_fwd", options),
    [x, y, ...avgArgs(s, countIncludePad, outHeight, outWidth)],
    threadsOver(
      engine,
      planes,
      planes * outHeight * outWidth * s.kernelH * s.kernelW,
      options,
    ),
  );
}

/** Average pooling backward: each dy / divisor spread over its window. */
export function avgPool2dBackward(
  engine: Engine,
  s: Pool2dShape,
  countIncludePad: boolean,
  dy: number,
  dx: number,
  options?: LaunchOptions,
): void {
  const fn = "avgPool2dBackward";
  const { outHeight, outWidth } = pool2dOutputSize(s);
  checkPtr(fn, "dy", dy);
  checkPtr(fn, "dx", dx);
  const planes = s.batch * s.channels;
  engine.run(
    kernelName("f32_avgpool2d_bwd_data", options),
    [dy, dx, ...avgArgs(s, countIncludePad, outHeight, outWidth)],
    threadsOver(
      engine,
      planes,
      planes * outHeight * outWidth * s.kernelH * s.kernelW,
      options,
    ),
  );
}

function checkPlanes(
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

/** y[n][c] = mean of x[n][c] over height × width (y is batch × channels). */
export function globalAvgPoolForward(
  engine: Engine,
  batch: number,
  channels: number,
  height: number,
  width: number,
  x: number,
  y: number,
  options?: LaunchOptions,
): void {
  const fn = "globalAvgPoolForward";
  checkPlanes(fn, batch, channels, height, width);
  checkPtr(fn, "x", x);
  checkPtr(fn, "y", y);
  const planes = batch * channels, hw = height * width;
  engine.run(
    kernelName("f32_global_avgpool_fwd", options),
    [x, y, planes, hw],
    threadsOver(engine, planes, planes * hw, options),
  );
}

/** dx[n][c][h][w] = dy[n][c] / (height · width). */
export function globalAvgPoolBackward(
  engine: Engine,
  batch: number,
  channels: number,
  height: number,
  width: number,
  dy: number,
  dx: number,
  options?: LaunchOptions,
): void {
  const fn = "globalAvgPoolBackward";
  checkPlanes(fn, batch, channels, height, width);
  checkPtr(fn, "dy", dy);
  checkPtr(fn, "dx", dx);
  const planes = batch * channels, hw = height * width;
  engine.run(
    kernelName("f32_global_avgpool_bwd_data", options),
    [dy, dx, planes, hw],
    threadsOver(engine, planes, planes * hw, options),
  );
}

/**
 * Nearest-neighbour upsampling of a height × width input by integer factors:
 * y is (height·factorH) × (width·factorW), y[oh][ow] = x[oh/factorH][ow/factorW].
 */
export function upsampleNearestForward(
  engine: Engine,
  batch: number,
  channels: number,
  height: number,
  width: number,
  factorH: number,
  factorW: number,
  x: number,
  y: number,
  options?: LaunchOptions,
): void {
  const fn = "upsampleNearestForward";
  checkPlanes(fn, batch, channels, height, width);
  checkInt(fn, "factorH", factorH, 1);
  checkInt(fn, "factorW", factorW, 1);
  checkPtr(fn, "x", x);
  checkPtr(fn, "y", y);
  const planes = batch * channels;
  engine.run(
    kernelName("f32_upsample_nearest_fwd", options),
    [x, y, planes, height, width, factorH, factorW],
    threadsOver(
      engine,
      planes,
      planes * height * width * factorH * factorW,
      options,
    ),
  );
}

/** dx[h][w] = Σ of dy over the factorH × factorW block it was copied to. */
export function upsampleNearestBackward(
  engine: Engine,
  batch: number,
  channels: number,
  height: number,
  width: number,
  factorH: number,
  factorW: number,
  dy: number,
  dx: number,
  options?: LaunchOptions,
): void {
  const fn = "upsampleNearestBackward";
  checkPlanes(fn, batch, channels, height, width);
  checkInt(fn, "factorH", factorH, 1);
  checkInt(fn, "factorW", factorW, 1);
  checkPtr(fn, "dy", dy);
  checkPtr(fn, "dx", dx);
  const planes = batch * channels;
  engine.run(
    kernelName("f32_upsample_nearest_bwd_data", options),
    [dy, dx, planes, height, width, factorH, factorW],
    threadsOver(
      engine,
      planes,
      planes * height * width * factorH * factorW,
      options,
    ),
  );
}
