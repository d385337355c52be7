// Output-shape arithmetic and attribute resolution shared by the ops and the
// kernel implementations (PyTorch's formulas, docs of Conv2d / MaxPool2d).
// This module is browser compatible.
import type {
  Conv2dAttrs,
  ConvTranspose2dAttrs,
  Pool2dAttrs,
} from "../kernel_names.ts";
import type { Shape } from "../tensor.ts";

/** A number for both axes, or [h, w]. */
export type Pair = number | readonly [number, number];

/** Padding: one number, [h, w], [top, bottom, left, right], or "same". */
export type Padding =
  | number
  | readonly [number, number]
  | readonly [number, number, number, number]
  | "same";

export function pair(v: Pair): [number, number] {
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

function checkPositive(name: string, ...v: number[]): void {
  for (const x of v) {
    if (!Number.isInteger(x) || x < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${x}`);
    }
  }
}

function checkNonNegative(name: string, ...v: number[]): void {
  for (const x of v) {
    if (!Number.isInteger(x) || x < 0) {
      throw new RangeError(`${name} must be a non-negative integer, got ${x}`);
    }
  }
}

/**
 * [top, bottom, left, right]. "same" keeps ceil(in / stride) outputs and puts
 * the odd pixel at the bottom/right (TensorFlow's rule; PyTorch's for
 * stride 1), so it needs the input size and the dilated kernel.
 */
export function resolvePadding(
  padding: Padding,
  inH = 0,
  inW = 0,
  effKernelH = 1,
  effKernelW = 1,
  strideH = 1,
  strideW = 1,
): [number, number, number, number] {
  let p: [number, number, number, number];
  if (padding === "same") {
    const total = (n: number, k: number, s: number) =>
      Math.max((Math.ceil(n / s) - 1) * s + k - n, 0);
    const th = total(inH, effKernelH, strideH);
    const tw = total(inW, effKernelW, strideW);
    p = [th >> 1, th - (th >> 1), tw >> 1, tw - (tw >> 1)];
  } else if (typeof padding === "number") {
    p = [padding, padding, padding, padding];
  } else if (padding.length === 2) {
    p = [padding[0], padding[0], padding[1], padding[1]];
  } else if (padding.length === 4) {
    p = [padding[0], padding[1], padding[2], padding[3]];
  } else {
    throw new RangeError(`Invalid padding ${JSON.stringify(padding)}`);
  }
  checkNonNegative("padding", ...p);
  return p;
}

/** Output size of a convolution along one axis. */
export function convOutSize(
  n: number,
  k: number,
  stride: number,
  padBefore: number,
  padAfter: number,
  dilation: number,
): number {
  return Math.floor(
    (n + padBefore + padAfter - dilation * (k - 1) - 1) / stride,
  ) +
    1;
}

/** Output size of a transposed convolution along one axis. */
export function convTransposeOutSize(
  n: number,
  k: number,
  stride: number,
  padBefore: number,
  padAfter: number,
  dilation: number,
  outputPad: number,
): number {
  return (n - 1) * stride - padBefore - padAfter + dilation * (k - 1) +
    outputPad + 1;
}

/**
 * Output size of a pooling window along one axis. With ceilMode the last
 * window must start inside the input or its leading padding (PyTorch).
 */
export function poolOutSize(
  n: number,
  k: number,
  stride: number,
  padBefore: number,
  padAfter: number,
  ceilMode: boolean,
): number {
  const span = n + padBefore + padAfter - k;
  let out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) +
    1;
  if (ceilMode && (out - 1) * stride >= n + padBefore) out--;
  return out;
}

export function conv2dOutShape(
  x: Shape,
  w: Shape,
  a: Conv2dAttrs,
): number[] {
  const [n, , h, wd] = x;
  const [k, , r, s] = w;
  return [
    n,
    k,
    convOutSize(h, r, a.strideH, a.padTop, a.padBottom, a.dilationH),
    convOutSize(wd, s, a.strideW, a.padLeft, a.padRight, a.dilationW),
  ];
}

export function convTranspose2dOutShape(
  x: Shape,
  w: Shape,
  a: ConvTranspose2dAttrs,
): number[] {
  const [n, , h, wd] = x;
  const [, kg, r, s] = w;
  return [
    n,
    kg * a.groups,
    convTransposeOutSize(
      h,
      r,
      a.strideH,
      a.padTop,
      a.padBottom,
      a.dilationH,
      a.outputPadH,
    ),
    convTransposeOutSize(
      wd,
      s,
      a.strideW,
      a.padLeft,
      a.padRight,
      a.dilationW,
      a.outputPadW,
    ),
  ];
}

export function pool2dOutShape(x: Shape, a: Pool2dAttrs): number[] {
  const [n, c, h, w] = x;
  return [
    n,
    c,
    poolOutSize(h, a.kernelH, a.strideH, a.padTop, a.padBottom, a.ceilMode),
    poolOutSize(w, a.kernelW, a.strideW, a.padLeft, a.padRight, a.ceilMode),
  ];
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Padding;
  dilation?: Pair;
  groups?: number;
  padMode?: "zero" | "reflect";
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  /** Transposed convolutions take explicit padding only (no "same"). */
  padding?: Exclude<Padding, "same">;
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
}

export interface Pool2dOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  padding?: Exclude<Padding, "same">;
  ceilMode?: boolean;
}

function expectRank(what: string, shape: Shape, rank: number): void {
  if (shape.length !== rank) {
    throw new RangeError(
      `${what} must have rank ${rank}, got shape [${shape.join(", ")}]`,
    );
  }
}

/** Conv2D attributes for x [N,C,H,W] and w [K,C/g,R,S], validated. */
export function conv2dAttrs(
  x: Shape,
  w: Shape,
  o: Conv2dOptions = {},
): Conv2dAttrs {
  expectRank("conv2d input", x, 4);
  expectRank("conv2d weight", w, 4);
  const [strideH, strideW] = pair(o.stride ?? 1);
  const [dilationH, dilationW] = pair(o.dilation ?? 1);
  const groups = o.groups ?? 1;
  checkPositive("conv2d stride", strideH, strideW);
  checkPositive("conv2d dilation", dilationH, dilationW);
  checkPositive("conv2d groups", groups);
  const [k, cg, r, s] = w;
  if (x[1] !== cg * groups || k % groups !== 0) {
    throw new RangeError(
      `conv2d: input [${x}] and weight [${w}] do not match with groups ${groups}`,
    );
  }
  const [padTop, padBottom, padLeft, padRight] = resolvePadding(
    o.padding ?? 0,
    x[2],
    x[3],
    dilationH * (r - 1) + 1,
    dilationW * (s - 1) + 1,
    strideH,
    strideW,
  );
  const padMode = o.padMode ?? "zero";
  if (padMode === "reflect") {
    if (
      Math.max(padTop, padBottom) >= x[2] || Math.max(padLeft, padRight) >= x[3]
    ) {
      throw new RangeError(
        "conv2d: reflect padding must be smaller than the input",
      );
    }
  }
  const a: Conv2dAttrs = {
    strideH,
    strideW,
    padTop,
    padBottom,
    padLeft,
    padRight,
    dilationH,
    dilationW,
    groups,
    padMode,
  };
  const out = conv2dOutShape(x, w, a);
  if (out[2] < 1 || out[3] < 1) {
    throw new RangeError(
      `conv2d: input [${x}] is too small for weight [${w}] (output [${out}])`,
    );
  }
  return a;
}

/** ConvTranspose2D attributes for x [N,C,H,W], w [C,K/g,R,S], validated. */
export function convTranspose2dAttrs(
  x: Shape,
  w: Shape,
  o: ConvTranspose2dOptions = {},
): ConvTranspose2dAttrs {
  expectRank("convTranspose2d input", x, 4);
  expectRank("convTranspose2d weight", w, 4);
  const [strideH, strideW] = pair(o.stride ?? 1);
  const [dilationH, dilationW] = pair(o.dilation ?? 1);
  const [outputPadH, outputPadW] = pair(o.outputPadding ?? 0);
  const groups = o.groups ?? 1;
  checkPositive("convTranspose2d stride", strideH, strideW);
  checkPositive("convTranspose2d dilation", dilationH, dilationW);
  checkPositive("convTranspose2d groups", groups);
  checkNonNegative("convTranspose2d outputPadding", outputPadH, outputPadW);
  if (
    outputPadH >= Math.max(strideH, dilationH) ||
    outputPadW >= Math.max(strideW, dilationW)
  ) {
    throw new RangeError(
      "convTranspose2d: outputPadding must be smaller than stride or dilation",
    );
  }
  if (x[1] !== w[0] || w[0] % groups !== 0) {
    throw new RangeError(
      `convTranspose2d: input [${x}] and weight [${w}] do not match with groups ${groups}`,
    );
  }
  const [padTop, padBottom, padLeft, padRight] = resolvePadding(
    o.padding ?? 0,
  );
  const a: ConvTranspose2dAttrs = {
    strideH,
    strideW,
    padTop,
    padBottom,
    padLeft,
    padRight,
    dilationH,
    dilationW,
    groups,
    outputPadH,
    outputPadW,
  };
  const out = convTranspose2dOutShape(x, w, a);
  if (out[2] < 1 || out[3] < 1) {
    throw new RangeError(
      `convTranspose2d: output [${out}] is empty for input [${x}], weight [${w}]`,
    );
  }
  return a;
}

/** Pool2D attributes for x [N,C,H,W], validated. */
export function pool2dAttrs(
  x: Shape,
  kernel: Pair,
  o: Pool2dOptions = {},
): Pool2dAttrs {
  expectRank("pool2d input", x, 4);
  const [kernelH, kernelW] = pair(kernel);
  const [strideH, strideW] = pair(o.stride ?? kernel);
  checkPositive("pool2d kernel", kernelH, kernelW);
  checkPositive("pool2d stride", strideH, strideW);
  const [padTop, padBottom, padLeft, padRight] = resolvePadding(
    o.padding ?? 0,
  );
  if (
    2 * Math.max(padTop, padBottom) > kernelH ||
    2 * Math.max(padLeft, padRight) > kernelW
  ) {
    throw new RangeError("pool2d: padding must be at most half the kernel");
  }
  const a: Pool2dAttrs = {
    kernelH,
    kernelW,
    strideH,
    strideW,
    padTop,
    padBottom,
    padLeft,
    padRight,
    ceilMode: o.ceilMode ?? false,
  };
  const out = pool2dOutShape(x, a);
  if (out[2] < 1 || out[3] < 1) {
    throw new RangeError(
      `pool2d: input [${x}] is too small for kernel [${kernelH}, ${kernelW}]`,
    );
  }
  return a;
}
