// AlexNet (Krizhevsky, Sutskever & Hinton 2012) in its two published forms:
//
// * "caffe": the BVLC reference model (Caffe's models/bvlc_alexnet, also the
//   ONNX model zoo's bvlcalexnet). 227x227 input; conv1 96 11x11/4; ReLU;
//   local response normalisation LRN(5, alpha 1e-4, beta 0.75, k 1) after
//   relu1 and relu2 (paper §3.3, with Caffe's constants); overlapping 3x3/2
//   max pooling (§3.4); conv2, conv4 and conv5 in two groups, the paper's two
//   GPUs (§3.2); fc6 4096, fc7 4096 with dropout 0.5 (§4.2), fc8 1000.
//   Caffe's pooling rounds output sizes up (ceil mode); for 227 inputs it
//   makes no difference, for 224 inputs it keeps pool5 at 6x6.
//   Parameter names are Caffe's layer names: conv1.weight … fc8.bias.
// * "torchvision": the single-GPU variant of Krizhevsky 2014 ("One weird
//   trick…") as torchvision.models.alexnet: 64-192-384-256-256 channels, no
//   LRN, no groups, floor-mode pooling, adaptive average pooling to 6x6
//   (the identity for 224 inputs), dropout before fc6 and fc7. Parameter
//   names are torchvision's: features.N.*, classifier.N.*.
//
// Both have named taps (conv1, relu1, norm1, pool1, …, pool5, fc6, relu6,
// fc7, relu7, fc8), `forwardTaps` to read several of them, and truncation
// with `upTo`. Dropout is active in training mode only (Module.train/eval).
// This module is browser compatible.
import { noGrad } from "../runtime/autograd.ts";
import { Module } from "../runtime/nn/module.ts";
import {
  Conv2d,
  Dropout,
  Linear,
  LRN,
  MaxPool2d,
  ReLU,
  Sequential,
} from "../runtime/nn/layers.ts";
import { matmul } from "../runtime/ops/linalg.ts";
import { flatten, reshape } from "../runtime/ops/shape.ts";
import { convOutSize, poolOutSize } from "../runtime/ops/shapes.ts";
import type { Random } from "../runtime/random.ts";
import { type Tensor, tensor } from "../runtime/tensor.ts";

export type AlexNetVariant = "caffe" | "torchvision";

export interface AlexNetOptions {
  /** "torchvision" (default) or "caffe" (BVLC, grouped convs and LRN). */
  variant?: AlexNetVariant;
  /** Include fc6-fc8 (default true unless `upTo` names a feature tap). */
  classifier?: boolean;
  numClasses?: number;
  /** Units of fc6 and fc7 (4096 in the published models). */
  hiddenUnits?: number;
  /** Dropout probability before/after fc6 and fc7 (0.5). */
  dropout?: number;
  /**
   * Caffe variant: the input size fc6 is sized for (227 → pool5 6x6 →
   * 9216 inputs). The torchvision variant pools adaptively to 6x6 instead.
   */
  inputSize?: number;
  /** Build only the layers up to and including this tap. */
  upTo?: string;
  rng?: Random;
}

export type AlexNetTapKind =
  | "conv"
  | "relu"
  | "norm"
  | "pool"
  | "avgpool"
  | "dropout"
  | "fc";

export interface AlexNetTap {
  name: string;
  kind: AlexNetTapKind;
  /** Channels (feature taps) or units (classifier taps) at this tap. */
  channels: number;
  /** Whether the tap belongs to the classifier head (after flattening). */
  head: boolean;
}

/** Every tap of a variant in order (default head sizes). */
export function alexnetTaps(
  variant: AlexNetVariant = "torchvision",
  numClasses = 1000,
  hiddenUnits = 4096,
): AlexNetTap[] {
  const f = (name: string, kind: AlexNetTapKind, channels: number) => ({
    name,
    kind,
    channels,
    head: false,
  });
  const h = (name: string, kind: AlexNetTapKind, channels: number) => ({
    name,
    kind,
    channels,
    head: true,
  });
  if (variant === "caffe") {
    return [
      f("conv1", "conv", 96),
      f("relu1", "relu", 96),
      f("norm1", "norm", 96),
      f("pool1", "pool", 96),
      f("conv2", "conv", 256),
      f("relu2", "relu", 256),
      f("norm2", "norm", 256),
      f("pool2", "pool", 256),
      f("conv3", "conv", 384),
      f("relu3", "relu", 384),
      f("conv4", "conv", 384),
      f("relu4", "relu", 384),
      f("conv5", "conv", 256),
      f("relu5", "relu", 256),
      f("pool5", "pool", 256),
      h("fc6", "fc", hiddenUnits),
      h("relu6", "relu", hiddenUnits),
      h("drop6", "dropout", hiddenUnits),
      h("fc7", "fc", hiddenUnits),
      h("relu7", "relu", hiddenUnits),
      h("drop7", "dropout", hiddenUnits),
      h("fc8", "fc", numClasses),
    ];
  }
  return [
    f("conv1", "conv", 64),
    f("relu1", "relu", 64),
    f("pool1", "pool", 64),
    f("conv2", "conv", 192),
    f("relu2", "relu", 192),
    f("pool2", "pool", 192),
    f("conv3", "conv", 384),
    f("relu3", "relu", 384),
    f("conv4", "conv", 256),
    f("relu4", "relu", 256),
    f("conv5", "conv", 256),
    f("relu5", "relu", 256),
    f("pool5", "pool", 256),
    f("avgpool", "avgpool", 256),
    h("drop5", "dropout", 9216),
    h("fc6", "fc", hiddenUnits),
    h("relu6", "relu", hiddenUnits),
    h("drop6", "dropout", hiddenUnits),
    h("fc7", "fc", hiddenUnits),
    h("relu7", "relu", hiddenUnits),
    h("fc8", "fc", numClasses),
  ];
}

/** The input size each variant was trained on (the classify crop). */
export function alexnetInputSize(variant: AlexNetVariant): number {
  return variant === "caffe" ? 227 : 224;
}

/** Spatial size of the Caffe variant's pool5 for a square input. */
export function caffePool5Size(inputSize: number): number {
  let s = convOutSize(inputSize, 11, 4, 0, 0, 1); // conv1
  s = poolOutSize(s, 3, 2, 0, 0, true); // pool1
  s = poolOutSize(s, 3, 2, 0, 0, true); // conv2 keeps the size; pool2
  return poolOutSize(s, 3, 2, 0, 0, true); // conv3-5 keep it; pool5
}

/**
 * Adaptive average pooling to a fixed output size (PyTorch
 * AdaptiveAvgPool2d): output cell (i, j) averages input rows
 * floor(i·H/oh) … ceil((i+1)·H/oh)-1 and the same for columns. Written as
 * one matrix product with a constant pooling matrix so that autograd
 * differentiates it; the identity when the input already has the size.
 */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outHeight: number, readonly outWidth = outHeight) {
    super();
  }

  forward(x: Tensor): Tensor {
    const [n, c, h, w] = x.shape;
    if (h === this.outHeight && w === this.outWidth) return x;
    const oh = this.outHeight, ow = this.outWidth;
    const p = new Float32Array(h * w * oh * ow);
    for (let i = 0; i < oh; i++) {
      const h0 = Math.floor((i * h) / oh), h1 = Math.ceil(((i + 1) * h) / oh);
      for (let j = 0; j < ow; j++) {
        const w0 = Math.floor((j * w) / ow);
        const w1 = Math.ceil(((j + 1) * w) / ow);
        const inv = 1 / ((h1 - h0) * (w1 - w0));
        for (let y = h0; y < h1; y++) {
          for (let x = w0; x < w1; x++) {
            p[(y * w + x) * oh * ow + i * ow + j] = inv;
          }
        }
      }
    }
    const pool = tensor(p, [h * w, oh * ow]);
    const rows = reshape(x, [n * c, h * w]);
    const y = matmul(rows, pool);
    pool.dispose();
    rows.dispose();
    const out = reshape(y, [n, c, oh, ow]);
    y.dispose();
    return out;
  }
}

interface Stage {
  tap: AlexNetTap;
  module: Module;
}

export class AlexNet extends Module {
  readonly variant: AlexNetVariant;
  /** The built taps, in order. */
  readonly taps: AlexNetTap[];
  readonly numClasses: number;
  readonly hiddenUnits: number;
  /** The input size the classifier expects (227 Caffe, 224 torchvision). */
  readonly inputSize: number;
  readonly #stages: Stage[] = [];

  constructor(options: AlexNetOptions = {}) {
    super();
    this.variant = options.variant ?? "torchvision";
    this.numClasses = options.numClasses ?? 1000;
    this.hiddenUnits = options.hiddenUnits ?? 4096;
    this.inputSize = options.inputSize ?? alexnetInputSize(this.variant);
    const all = alexnetTaps(this.variant, this.numClasses, this.hiddenUnits);
    let count = all.length;
    if (options.upTo !== undefined) {
      const i = all.findIndex((t) => t.name === options.upTo);
      if (i < 0) {
        throw new RangeError(
          `AlexNet (${this.variant}) has no layer "${options.upTo}"; layers: ${
            all.map((t) => t.name).join(", ")
          }`,
        );
      }
      count = i + 1;
      if (options.classifier && all[i].head === false) {
        throw new RangeError(
          `AlexNet: a classifier needs the layers after ${options.upTo}`,
        );
      }
    } else if (options.classifier === false) {
      count = all.findIndex((t) => t.head);
    }
    this.taps = all.slice(0, count);
    const p = options.dropout ?? 0.5;
    const rng = options.rng;
    // Only the layers inside the truncation are built (fc6 alone holds
    // 37.7M values).
    const makers = this.variant === "caffe"
      ? this.#caffeModules(p, rng)
      : this.#torchvisionModules(p, rng);
    this.taps.forEach((tap, i) =>
      this.#stages.push({ tap, module: makers[i]() })
    );
    if (this.variant === "caffe") {
      // Caffe's layer names are the parameter names (conv1.weight, fc6.bias).
      for (const s of this.#stages) this.addModule(s.tap.name, s.module);
    } else {
      const features = this.#stages.filter((s) =>
        !s.tap.head && s.tap.kind !== "avgpool"
      );
      const avgpool = this.#stages.find((s) => s.tap.kind === "avgpool");
      const head = this.#stages.filter((s) => s.tap.head);
      this.addModule(
        "features",
        new Sequential(...features.map((s) => s.module)),
      );
      if (avgpool) this.addModule("avgpool", avgpool.module);
      if (head.length) {
        this.addModule(
          "classifier",
          new Sequential(...head.map((s) => s.module)),
        );
      }
    }
  }

  #caffeModules(p: number, rng?: Random): (() => Module)[] {
    const s = caffePool5Size(this.inputSize);
    const hidden = this.hiddenUnits;
    const pool = () => new MaxPool2d(3, { stride: 2, ceilMode: true });
    const lrn = () => new LRN(5, 1e-4, 0.75, 1);
    const relu = () => new ReLU();
    const drop = () => new Dropout(p, rng);
    return [
      () => new Conv2d(3, 96, 11, { stride: 4, rng }),
      relu,
      lrn,
      pool,
      () => new Conv2d(96, 256, 5, { padding: 2, groups: 2, rng }),
      relu,
      lrn,
      pool,
      () => new Conv2d(256, 384, 3, { padding: 1, rng }),
      relu,
      () => new Conv2d(384, 384, 3, { padding: 1, groups: 2, rng }),
      relu,
      () => new Conv2d(384, 256, 3, { padding: 1, groups: 2, rng }),
      relu,
      pool,
      () => new Linear(256 * s * s, hidden, { rng }),
      relu,
      drop,
      () => new Linear(hidden, hidden, { rng }),
      relu,
      drop,
      () => new Linear(hidden, this.numClasses, { rng }),
    ];
  }

  #torchvisionModules(p: number, rng?: Random): (() => Module)[] {
    const hidden = this.hiddenUnits;
    const pool = () => new MaxPool2d(3, { stride: 2 });
    const relu = () => new ReLU();
    const drop = () => new Dropout(p, rng);
    return [
      () => new Conv2d(3, 64, 11, { stride: 4, padding: 2, rng }),
      relu,
      pool,
      () => new Conv2d(64, 192, 5, { padding: 2, rng }),
      relu,
      pool,
      () => new Conv2d(192, 384, 3, { padding: 1, rng }),
      relu,
      () => new Conv2d(384, 256, 3, { padding: 1, rng }),
      relu,
      () => new Conv2d(256, 256, 3, { padding: 1, rng }),
      relu,
      pool,
      () => new AdaptiveAvgPool2d(6),
      drop,
      () => new Linear(256 * 6 * 6, hidden, { rng }),
      relu,
      drop,
      () => new Linear(hidden, hidden, { rng }),
      relu,
      () => new Linear(hidden, this.numClasses, { rng }),
    ];
  }

  /** The tap called `name`, or a one-line error. */
  tap(name: string): AlexNetTap {
    const t = this.taps.find((t) => t.name === name);
    if (!t) {
      const all = alexnetTaps(this.variant);
      throw new RangeError(
        all.some((k) => k.name === name)
          ? `Layer ${name} is past the last built layer ${
            this.taps[this.taps.length - 1].name
          }`
          : `AlexNet (${this.variant}) has no layer "${name}"; layers: ${
            all.map((k) => k.name).join(", ")
          }`,
      );
    }
    return t;
  }

  /**
   * Runs the network up to the deepest of `names` and returns those
   * activations (the others are freed as soon as they are consumed).
   */
  forwardTaps(x: Tensor, names: readonly string[]): Map<string, Tensor> {
    const wanted = new Set(names);
    const last = Math.max(...names.map((n) => this.taps.indexOf(this.tap(n))));
    const out = new Map<string, Tensor>();
    let h = x;
    for (let i = 0; i <= last; i++) {
      const stage = this.#stages[i];
      let input = h;
      if (stage.tap.head && h.rank !== 2) input = flatten(h);
      const next = stage.module.forward(input);
      if (input !== h && input !== next) input.dispose();
      const keepH = h === x || out.has(this.taps[i - 1]?.name) || next === h;
      if (!keepH) h.dispose();
      h = next;
      if (wanted.has(stage.tap.name) && !out.has(stage.tap.name)) {
        // A tap that passes its input through (adaptive pooling at 6x6,
        // dropout in eval mode) shares the tensor with the previous tap.
        out.set(stage.tap.name, h);
      }
    }
    return out;
  }

  /** Class logits (or the last built tap's activation when truncated). */
  forward(x: Tensor): Tensor {
    const last = this.taps[this.taps.length - 1].name;
    return this.forwardTaps(x, [last]).get(last)!;
  }

  /** forward() without recording a graph (inference). */
  predict(x: Tensor): Tensor {
    return noGrad(() => this.forward(x));
  }
}
