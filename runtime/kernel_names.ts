// Every kernel the ops use, declared once with its signature. A backend
// registers an implementation for each name (runtime/kernel_registry.ts);
// backward passes are kernels with names of their own.
// Kernels allocate and return their outputs; they never record gradients.
// This module is browser compatible.
import type { Tensor } from "./tensor.ts";

export interface Conv2dAttrs {
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  dilationH: number;
  dilationW: number;
  groups: number;
  padMode: "zero" | "reflect";
}

export interface ConvTranspose2dAttrs extends Omit<Conv2dAttrs, "padMode"> {
  outputPadH: number;
  outputPadW: number;
}

export interface Pool2dAttrs {
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  ceilMode: boolean;
}

export interface LrnAttrs {
  size: number;
  alpha: number;
  beta: number;
  bias: number;
}

/** A loss kernel's value (a one-element tensor) and its gradient. */
export interface LossResult {
  loss: Tensor;
  grad: Tensor;
}

export interface KernelSignatures {
  // Elementwise (same shapes).
  Add: (a: Tensor, b: Tensor) => Tensor;
  Sub: (a: Tensor, b: Tensor) => Tensor;
  Mul: (a: Tensor, b: Tensor) => Tensor;
  Scale: (x: Tensor, alpha: number) => Tensor;
  AddScalar: (x: Tensor, c: number) => Tensor;
  Copy: (x: Tensor) => Tensor;
  /** dst[dstOffset .. dstOffset + src.size) = src, in place. */
  CopyInto: (src: Tensor, dst: Tensor, dstOffset: number) => void;
  /** y = alpha * x + y, in place. */
  AxpyInPlace: (alpha: number, x: Tensor, y: Tensor) => void;
  /** y = a * x + b * y, in place. */
  AxpbyInPlace: (a: number, x: Tensor, b: number, y: Tensor) => void;
  ScaleInPlace: (x: Tensor, alpha: number) => void;
  FillInPlace: (x: Tensor, value: number) => void;
  ClampInPlace: (x: Tensor, min: number, max: number) => void;
  /** x [N, C, ...] + b [C] broadcast over the trailing dims. */
  AddChannelBias: (x: Tensor, b: Tensor) => Tensor;
  /** Sum of dy [N, C, ...] over all dims but C: [C]. */
  ChannelSum: (dy: Tensor) => Tensor;

  // Activations; backward kernels take what the forward saved.
  Relu: (x: Tensor) => Tensor;
  ReluGrad: (x: Tensor, dy: Tensor) => Tensor;
  LeakyRelu: (x: Tensor, slope: number) => Tensor;
  LeakyReluGrad: (x: Tensor, dy: Tensor, slope: number) => Tensor;
  Sigmoid: (x: Tensor) => Tensor;
  SigmoidGrad: (y: Tensor, dy: Tensor) => Tensor;
  Tanh: (x: Tensor) => Tensor;
  TanhGrad: (y: Tensor, dy: Tensor) => Tensor;

  // Reductions to one-element tensors.
  Sum: (x: Tensor) => Tensor;
  Dot: (a: Tensor, b: Tensor) => Tensor;
  SquaredNorm: (x: Tensor) => Tensor;
  MaxAbs: (x: Tensor) => Tensor;
  CountNonFinite: (x: Tensor) => Tensor;

  // Linear algebra: a [M, K] (or [K, M] transposed), b [K, N] (or [N, K]).
  MatMul: (a: Tensor, b: Tensor, transA: boolean, transB: boolean) => Tensor;

  // Convolutions: x [N, C, H, W], w [K, C/groups, R, S].
  Conv2D: (x: Tensor, w: Tensor, bias: Tensor | null, a: Conv2dAttrs) => Tensor;
  Conv2DBackpropInput: (
    dy: Tensor,
    w: Tensor,
    xShape: readonly number[],
    a: Conv2dAttrs,
  ) => Tensor;
  /** Returns dW and, when withBias, dBias [K]. */
  Conv2DBackpropFilter: (
    x: Tensor,
    dy: Tensor,
    wShape: readonly number[],
    withBias: boolean,
    a: Conv2dAttrs,
  ) => { dw: Tensor; db: Tensor | null };
  // w [C, K/groups, R, S] (PyTorch ConvTranspose2d layout).
  ConvTranspose2D: (
    x: Tensor,
    w: Tensor,
    bias: Tensor | null,
    a: ConvTranspose2dAttrs,
  ) => Tensor;
  ConvTranspose2DBackpropInput: (
    dy: Tensor,
    w: Tensor,
    xShape: readonly number[],
    a: ConvTranspose2dAttrs,
  ) => Tensor;
  ConvTranspose2DBackpropFilter: (
    x: Tensor,
    dy: Tensor,
    wShape: readonly number[],
    withBias: boolean,
    a: ConvTranspose2dAttrs,
  ) => { dw: Tensor; db: Tensor | null };

  // Pooling and resampling.
  MaxPool: (x: Tensor, a: Pool2dAttrs) => { y: Tensor; argmax: Tensor };
  MaxPoolGrad: (
    dy: Tensor,
    argmax: Tensor,
    xShape: readonly number[],
    a: Pool2dAttrs,
  ) => Tensor;
  AvgPool: (x: Tensor, a: Pool2dAttrs, countIncludePad: boolean) => Tensor;
  AvgPoolGrad: (
    dy: Tensor,
    xShape: readonly number[],
    a: Pool2dAttrs,
    countIncludePad: boolean,
  ) => Tensor;
  GlobalAvgPool: (x: Tensor) => Tensor;
  GlobalAvgPoolGrad: (dy: Tensor, xShape: readonly number[]) => Tensor;
  UpsampleNearest: (x: Tensor, factorH: number, factorW: number) => Tensor;
  UpsampleNearestGrad: (
    dy: Tensor,
    xShape: readonly number[],
    factorH: number,
    factorW: number,
  ) => Tensor;

  // Normalisation.
  LRN: (x: Tensor, a: LrnAttrs) => { y: Tensor; scale: Tensor };
  LRNGrad: (
    x: Tensor,
    y: Tensor,
    scale: Tensor,
    dy: Tensor,
    a: LrnAttrs,
  ) => Tensor;
  BatchNormTrain: (
    x: Tensor,
    gamma: Tensor | null,
    beta: Tensor | null,
    runningMean: Tensor | null,
    runningVar: Tensor | null,
    eps: number,
    momentum: number,
  ) => { y: Tensor; mean: Tensor; invStd: Tensor };
  BatchNormEval: (
    x: Tensor,
    gamma: Tensor | null,
    beta: Tensor | null,
    runningMean: Tensor,
    runningVar: Tensor,
    eps: number,
  ) => Tensor;
  BatchNormGrad: (
    x: Tensor,
    gamma: Tensor | null,
    mean: Tensor,
    invStd: Tensor,
    dy: Tensor,
  ) => { dx: Tensor; dgamma: Tensor; dbeta: Tensor };

  // Style: f [C, M] -> G [C, C] = scale * F Fᵀ.
  Gram: (f: Tensor, scale: number) => Tensor;
  GramGrad: (f: Tensor, dg: Tensor, scale: number) => Tensor;

  // Losses: value times `scale`, gradient of that.
  MseLoss: (x: Tensor, target: Tensor, scale: number) => LossResult;
  BceWithLogitsLoss: (
    logits: Tensor,
    targets: Tensor,
    scale: number,
  ) => LossResult;
  /** Labels as class indices stored in an f32 tensor [rows]. */
  SoftmaxCrossEntropy: (
    logits: Tensor,
    labels: Tensor,
    scale: number,
  ) => LossResult;
  Softmax: (x: Tensor) => Tensor;
}

export type KernelName = keyof KernelSignatures;
