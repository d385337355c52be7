// Layers with PyTorch's constructor arguments and default initialisation
// (reset_parameters in torch/nn/modules/{conv,linear,batchnorm}.py).
// This module is browser compatible.
import * as init from "../init.ts";
import { leakyRelu, relu, sigmoid, tanh } from "../ops/activation.ts";
import { conv2d, convTranspose2d } from "../ops/conv.ts";
import { dropout } from "../ops/dropout.ts";
import { linear } from "../ops/linalg.ts";
import { batchNorm2d, lrn } from "../ops/norm.ts";
import { avgPool2d, maxPool2d } from "../ops/pool.ts";
import { flatten } from "../ops/shape.ts";
import { type Padding, type Pair, pair } from "../ops/shapes.ts";
import type { Random } from "../random.ts";
import { empty, type Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

export interface InitRng {
  /** Generator for the initial weights (default: the global one). */
  rng?: Random;
}

/**
 * PyTorch's default for conv and linear layers: kaiming_uniform_(a=√5) on
 * the weight, i.e. U(±1/√fan_in), and U(±1/√fan_in) on the bias.
 */
function resetLinearLike(
  weight: Tensor,
  bias: Tensor | null,
  rng?: Random,
): void {
  init.kaimingUniform(weight, { a: Math.sqrt(5), rng });
  if (bias) {
    const { fanIn } = init.fans(weight.shape);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    init.uniform(bias, -bound, bound, { rng });
  }
}

export interface Conv2dLayerOptions extends InitRng {
  stride?: Pair;
  padding?: Padding;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  padMode?: "zero" | "reflect";
}

/** nn.Conv2d: weight [out, in/groups, kH, kW], bias [out]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly options: Conv2dLayerOptions;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    options: Conv2dLayerOptions = {},
  ) {
    super();
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups) {
      throw new RangeError("Conv2d: channels must be divisible by groups");
    }
    const [kh, kw] = pair(kernelSize);
    this.options = options;
    this.weight = this.addParameter(
      "weight",
      empty([outChannels, inChannels / groups, kh, kw]),
    );
    this.bias = (options.bias ?? true)
      ? this.addParameter("bias", empty([outChannels]))
      : null;
    resetLinearLike(this.weight, this.bias, options.rng);
  }

  forward(x: Tensor): Tensor {
    const o = this.options;
    return conv2d(x, this.weight, this.bias, {
      stride: o.stride,
      padding: o.padding,
      dilation: o.dilation,
      groups: o.groups,
      padMode: o.padMode,
    });
  }
}

export interface ConvTranspose2dLayerOptions extends InitRng {
  stride?: Pair;
  padding?: Exclude<Padding, "same">;
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

/** nn.ConvTranspose2d: weight [in, out/groups, kH, kW], bias [out]. */
export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly options: ConvTranspose2dLayerOptions;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    options: ConvTranspose2dLayerOptions = {},
  ) {
    super();
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups) {
      throw new RangeError(
        "ConvTranspose2d: channels must be divisible by groups",
      );
    }
    const [kh, kw] = pair(kernelSize);
    this.options = options;
    this.weight = this.addParameter(
      "weight",
      empty([inChannels, outChannels / groups, kh, kw]),
    );
    this.bias = (options.bias ?? true)
      ? this.addParameter("bias", empty([outChannels]))
      : null;
    // PyTorch computes fan_in from dim 1 here too (out/groups · kH · kW).
    resetLinearLike(this.weight, this.bias, options.rng);
  }

  forward(x: Tensor): Tensor {
    const o = this.options;
    return convTranspose2d(x, this.weight, this.bias, {
      stride: o.stride,
      padding: o.padding,
      outputPadding: o.outputPadding,
      dilation: o.dilation,
      groups: o.groups,
    });
  }
}

export interface LinearOptions extends InitRng {
  bias?: boolean;
}

/** nn.Linear: weight [out, in], bias [out]; x [N, in] → [N, out]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    this.weight = this.addParameter("weight", empty([outFeatures, inFeatures]));
    this.bias = (options.bias ?? true)
      ? this.addParameter("bias", empty([outFeatures]))
      : null;
    resetLinearLike(this.weight, this.bias, options.rng);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export interface BatchNorm2dOptions {
  eps?: number;
  momentum?: number;
  /** Learnable γ (weight) and β (bias); default true. */
  affine?: boolean;
  /** Keep running stats (buffers running_mean, running_var); default true. */
  trackRunningStats?: boolean;
}

/** nn.BatchNorm2d: weight γ = 1, bias β = 0, running_mean 0, running_var 1. */
export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly eps: number;
  readonly momentum: number;

  constructor(readonly numFeatures: number, options: BatchNorm2dOptions = {}) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    const affine = options.affine ?? true;
    const track = options.trackRunningStats ?? true;
    this.weight = affine
      ? init.ones(this.addParameter("weight", empty([numFeatures])))
      : null;
    this.bias = affine
      ? init.zeros(this.addParameter("bias", empty([numFeatures])))
      : null;
    this.runningMean = track
      ? init.zeros(this.addBuffer("running_mean", empty([numFeatures])))
      : null;
    this.runningVar = track
      ? init.ones(this.addBuffer("running_var", empty([numFeatures])))
      : null;
  }

  forward(x: Tensor): Tensor {
    // Without running stats, eval mode still normalises by batch statistics
    // (PyTorch track_running_stats=False).
    const training = this.training || !this.runningMean;
    return batchNorm2d(
      x,
      this.weight,
      this.bias,
      this.runningMean,
      this.runningVar,
      {
        training,
        momentum: this.momentum,
        eps: this.eps,
      },
    );
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }

  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

export interface Pool2dLayerOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  padding?: Exclude<Padding, "same">;
  ceilMode?: boolean;
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: Pool2dLayerOptions = {},
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: Pool2dLayerOptions & { countIncludePad?: boolean } = {},
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.options);
  }
}

/** nn.LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=1). */
export class LRN extends Module {
  constructor(
    readonly size: number,
    readonly alpha = 1e-4,
    readonly beta = 0.75,
    readonly k = 1,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return lrn(x, {
      size: this.size,
      alpha: this.alpha,
      beta: this.beta,
      bias: this.k,
    });
  }
}

/** Inverted dropout; the identity in eval mode. */
export class Dropout extends Module {
  constructor(readonly p = 0.5, readonly rng?: Random) {
    super();
    if (!(p >= 0 && p <= 1)) {
      throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    }
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, rng: this.rng });
  }
}

export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}

/**
 * Runs its children in order; children are named "0", "1", … (PyTorch).
 * Intermediate activations are disposed as soon as the next layer has
 * consumed them (the graph keeps what backward needs).
 */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.addModule(String(i), m));
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.layers) {
      const next = m.forward(h);
      if (h !== x) h.dispose();
      h = next;
    }
    return h;
  }
}
