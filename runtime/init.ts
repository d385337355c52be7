// Weight initialisers (PyTorch's torch.nn.init formulas), writing into
// existing parameter tensors from the seeded generator in random.ts.
// Random numbers have no kernel: values are drawn on the host and written
// once.
// This module is browser compatible.
import { defaultRandom, type Random } from "./random.ts";
import type { Shape, Tensor } from "./tensor.ts";

/**
 * fan_in and fan_out of a weight: [out, in] for linear layers, and
 * [K, C, R, S] for convolutions (fan_in = C·R·S, fan_out = K·R·S).
 * Transposed-convolution weights [C, K/g, R, S] read the same way as
 * PyTorch does (dim 1 is "in").
 */
export function fans(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new RangeError(
      `fan in/out need a weight of rank ≥ 2, got [${shape.join(", ")}]`,
    );
  }
  const receptive = shape.slice(2).reduce((a, d) => a * d, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

export type Nonlinearity =
  | "linear"
  | "conv2d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "selu";

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(
  nonlinearity: Nonlinearity,
  param?: number,
): number {
  switch (nonlinearity) {
    case "linear":
    case "conv2d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu": {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
  }
}

export interface InitOptions {
  /** Generator (default: the global one; see manualSeed). */
  rng?: Random;
}

/** Fills t with Uniform[a, b). */
export function uniform(
  t: Tensor,
  a = 0,
  b = 1,
  options: InitOptions = {},
): Tensor {
  const rng = options.rng ?? defaultRandom();
  return t.write(rng.fillUniform(new Float32Array(t.size), a, b));
}

/** Fills t with Normal(mean, std). */
export function normal(
  t: Tensor,
  std = 1,
  mean = 0,
  options: InitOptions = {},
): Tensor {
  const rng = options.rng ?? defaultRandom();
  return t.write(rng.fillNormal(new Float32Array(t.size), mean, std));
}

/** Fills t with a constant. */
export function constant(t: Tensor, value: number): Tensor {
  return t.write(new Float32Array(t.size).fill(value));
}

export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}

export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

export interface XavierOptions extends InitOptions {
  gain?: number;
}

/** Glorot & Bengio (2010): U(±gain·√(6/(fan_in+fan_out))). */
export function xavierUniform(t: Tensor, options: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t.shape);
  const bound = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -bound, bound, options);
}

/** Glorot & Bengio (2010): N(0, gain²·2/(fan_in+fan_out)). */
export function xavierNormal(t: Tensor, options: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t.shape);
  const std = (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
  return normal(t, std, 0, options);
}

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the following leaky ReLU (0 for ReLU). */
  a?: number;
  mode?: "fan_in" | "fan_out";
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const { fanIn, fanOut } = fans(t.shape);
  const fan = (o.mode ?? "fan_in") === "fan_in" ? fanIn : fanOut;
  const gain = calculateGain(o.nonlinearity ?? "leaky_relu", o.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** He et al. (2015): U(±gain·√(3/fan)), PyTorch defaults (a=0, fan_in). */
export function kaimingUniform(
  t: Tensor,
  options: KaimingOptions = {},
): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, options);
  return uniform(t, -bound, bound, options);
}

/** He et al. (2015): N(0, gain²/fan), PyTorch defaults (a=0, fan_in). */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(t, kaimingStd(t, options), 0, options);
}
