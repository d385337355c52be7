// Small classifiers for 28x28 grey images (Fashion-MNIST): a VGG-style net
// and an AlexNet-style net, each keeping its family's defining traits at a
// size that trains on two CPU cores in minutes.
//
// VGG-style (Simonyan & Zisserman 2015): stacks of 3x3 convolutions with
// padding 1 (two 3x3 layers see a 5x5 window with fewer weights and one more
// nonlinearity, §2.3), 2x2 max pooling halving the resolution after each
// block, channels doubling per block, then a small fully connected head with
// dropout. Default: conv 32-32-M-64-64-M, fc 128, optional batch norm (Ioffe
// & Szegedy 2015) after each convolution.
//
// AlexNet-style (Krizhevsky, Sutskever & Hinton 2012): a large first kernel,
// ReLU, local response normalisation after the first two convolutions
// (§3.3), overlapping 3x3 stride-2 max pooling (§3.4), grouped convolutions
// where the original split the net across two GPUs (conv2, conv4, conv5 use
// groups = 2, §3.2), and two dropout-regularised fully connected layers
// (§4.2). Scaled to 28x28: conv1 is 5x5 stride 1 (an 11x11 stride-4 kernel
// would leave a 5x5 map), channels 32-64-96-96-64, fc 256-256.
// This module is browser compatible.
import { noGrad } from "../runtime/autograd.ts";
import * as init from "../runtime/init.ts";
import { Module } from "../runtime/nn/module.ts";
import {
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  Linear,
  LRN,
  MaxPool2d,
  ReLU,
  Sequential,
} from "../runtime/nn/layers.ts";
import type { Random } from "../runtime/random.ts";
import type { Tensor } from "../runtime/tensor.ts";

/** The architectures `createClassifier` builds. */
export type SmallCnnKind = "vgg" | "alexnet";

export interface SmallCnnOptions {
  /** Input channels (1 for grey images). */
  inChannels?: number;
  /** Input height and width (square). */
  size?: number;
  classes?: number;
  /** Dropout probability in the fully connected head. */
  dropout?: number;
  /** Generator for the initial weights and the dropout masks. */
  rng?: Random;
}

export interface SmallVggOptions extends SmallCnnOptions {
  /** Output channels of each block's two convolutions (one block each). */
  blocks?: readonly number[];
  /** Convolutions per block. */
  convsPerBlock?: number;
  /** Units of the hidden fully connected layer. */
  hidden?: number;
  /** Batch norm after every convolution (default true). */
  batchNorm?: boolean;
}

export interface SmallAlexNetOptions extends SmallCnnOptions {
  /** Output channels of conv1..conv5. */
  channels?: readonly [number, number, number, number, number];
  /** Units of the two hidden fully connected layers. */
  hidden?: number;
  /** Groups of the grouped convolutions (conv2, conv4, conv5). */
  groups?: number;
}

/** Common surface of both nets: logits [N, classes] from images [N, C, H, W]. */
export abstract class SmallClassifier extends Module {
  abstract readonly kind: SmallCnnKind;
  abstract readonly features: Sequential;
  abstract readonly classifier: Sequential;
  /** The options the net was built with (recorded in checkpoints). */
  abstract readonly config: Record<string, unknown>;

  forward(x: Tensor): Tensor {
    const h = this.features.forward(x);
    const y = this.classifier.forward(h);
    h.dispose();
    return y;
  }

  /** Logits without recording a graph (inference). */
  predict(x: Tensor): Tensor {
    return noGrad(() => this.forward(x));
  }
}

/** Output size of a k x k, stride s, padding p window over n pixels. */
function windowOut(n: number, k: number, s: number, p = 0): number {
  return Math.floor((n + 2 * p - k) / s) + 1;
}

export class SmallVGG extends SmallClassifier {
  readonly kind = "vgg" as const;
  readonly features: Sequential;
  readonly classifier: Sequential;
  readonly config: Record<string, unknown>;

  constructor(options: SmallVggOptions = {}) {
    super();
    const blocks = options.blocks ?? [32, 64];
    const convs = options.convsPerBlock ?? 2;
    const batchNorm = options.batchNorm ?? true;
    const hidden = options.hidden ?? 128;
    const p = options.dropout ?? 0.25;
    const size = options.size ?? 28;
    const classes = options.classes ?? 10;
    let channels = options.inChannels ?? 1;
    this.config = {
      blocks: [...blocks],
      convsPerBlock: convs,
      batchNorm,
      hidden,
      dropout: p,
      size,
      classes,
      inChannels: channels,
    };
    const rng = options.rng;
    const layers: Module[] = [];
    let spatial = size;
    for (const out of blocks) {
      for (let i = 0; i < convs; i++) {
        // A convolution followed by batch norm needs no bias (the norm's
        // shift replaces it).
        layers.push(
          new Conv2d(channels, out, 3, { padding: 1, bias: !batchNorm, rng }),
        );
        if (batchNorm) layers.push(new BatchNorm2d(out));
        layers.push(new ReLU());
        channels = out;
      }
      layers.push(new MaxPool2d(2));
      spatial = windowOut(spatial, 2, 2);
    }
    if (spatial < 1) {
      throw new RangeError(
        `SmallVGG: ${blocks.length} pooling blocks leave nothing of a ${size}x${size} input`,
      );
    }
    this.features = this.addModule("features", new Sequential(...layers));
    this.classifier = this.addModule(
      "classifier",
      new Sequential(
        new Flatten(),
        new Dropout(p, rng),
        new Linear(channels * spatial * spatial, hidden, { rng }),
        new ReLU(),
        new Dropout(p, rng),
        new Linear(hidden, classes, { rng }),
      ),
    );
  }
}

export class SmallAlexNet extends SmallClassifier {
  readonly kind = "alexnet" as const;
  readonly features: Sequential;
  readonly classifier: Sequential;
  readonly config: Record<string, unknown>;

  constructor(options: SmallAlexNetOptions = {}) {
    super();
    const [c1, c2, c3, c4, c5] = options.channels ?? [32, 64, 96, 96, 64];
    const groups = options.groups ?? 2;
    const hidden = options.hidden ?? 256;
    const p = options.dropout ?? 0.5;
    const size = options.size ?? 28;
    const classes = options.classes ?? 10;
    const inChannels = options.inChannels ?? 1;
    this.config = {
      channels: [c1, c2, c3, c4, c5],
      groups,
      hidden,
      dropout: p,
      size,
      classes,
      inChannels,
    };
    const rng = options.rng;
    // LRN with AlexNet's constants (k = 2, n = 5, α = 1e-4, β = 0.75, §3.3).
    const lrn = () => new LRN(5, 1e-4, 0.75, 2);
    // Overlapping pooling: 3x3 windows every 2 pixels (§3.4).
    const pool = () => new MaxPool2d(3, { stride: 2 });
    this.features = this.addModule(
      "features",
      new Sequential(
        new Conv2d(inChannels, c1, 5, { padding: 2, rng }),
        new ReLU(),
        lrn(),
        pool(),
        new Conv2d(c1, c2, 5, { padding: 2, groups, rng }),
        new ReLU(),
        lrn(),
        pool(),
        new Conv2d(c2, c3, 3, { padding: 1, rng }),
        new ReLU(),
        new Conv2d(c3, c4, 3, { padding: 1, groups, rng }),
        new ReLU(),
        new Conv2d(c4, c5, 3, { padding: 1, groups, rng }),
        new ReLU(),
        pool(),
      ),
    );
    let spatial = size;
    for (let i = 0; i < 3; i++) spatial = windowOut(spatial, 3, 2);
    if (spatial < 1) {
      throw new RangeError(
        `SmallAlexNet: a ${size}x${size} input is too small for three 3x3 stride-2 poolings`,
      );
    }
    this.classifier = this.addModule(
      "classifier",
      new Sequential(
        new Flatten(),
        new Dropout(p, rng),
        new Linear(c5 * spatial * spatial, hidden, { rng }),
        new ReLU(),
        new Dropout(p, rng),
        new Linear(hidden, hidden, { rng }),
        new ReLU(),
        new Linear(hidden, classes, { rng }),
      ),
    );
    // Eight weight layers without normalisation between them: PyTorch's
    // default U(±1/√fan_in) shrinks the signal by about √3 per ReLU layer
    // and training stalls for an epoch; He init (He et al. 2015, §2.2)
    // keeps the variance constant through ReLUs.
    for (const m of [...this.features.layers, ...this.classifier.layers]) {
      if (m instanceof Conv2d || m instanceof Linear) {
        init.kaimingNormal(m.weight, { nonlinearity: "relu", rng });
        if (m.bias) init.zeros(m.bias);
      }
    }
  }
}

/** Builds either net by name. */
export function createClassifier(
  kind: SmallCnnKind,
  options: SmallVggOptions & SmallAlexNetOptions = {},
): SmallClassifier {
  if (kind === "vgg") return new SmallVGG(options);
  if (kind === "alexnet") return new SmallAlexNet(options);
  throw new RangeError(`Unknown model "${kind}": use vgg or alexnet`);
}
