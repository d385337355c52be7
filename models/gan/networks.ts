// The generator and discriminator networks of two GANs.
//
// MLP GAN (Goodfellow et al. 2014, §5 and their Pylearn2 MNIST
// configuration): G maps noise z through two fully connected ReLU layers of
// 1200 units to a sigmoid image; D is fully connected, 240-240-1, with
// dropout on its input (0.2) and hidden layers (0.5). The paper's D used
// maxout units; here D uses leaky ReLU (slope 0.2) instead, a common
// substitute with the same role (a non-saturating piecewise-linear unit).
//
// DCGAN (Radford, Metz & Chintala 2016, §3), sized for 28x28 (any size
// divisible by 4): G z → dense (H/4)·(W/4)·128 → BN → ReLU → convT /2 →
// 64 channels → BN → ReLU → convT /2 → C channels → tanh; D conv /2 64 →
// lrelu 0.2 → conv /2 128 → BN → lrelu 0.2 → dense 1 (a logit). No pooling
// (strided convolutions), batch norm everywhere except G's output and D's
// input layers, all weights N(0, 0.02) (§4). Kernels are 4x4 stride 2 pad 1
// (exact halving/doubling) or 5x5 stride 2 pad 2 (the paper's size; convT
// with output padding 1).
//
// G maps [N, latent] to images [N, C, H, W] (sigmoid: 0..1, tanh: -1..1);
// D maps images to logits [N, 1]. Losses work on the logits (log-sigmoid
// forms, ./losses.ts).
// This module is browser compatible.
import * as init from "../../runtime/init.ts";
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  Linear,
} from "../../runtime/nn/layers.ts";
import { Module } from "../../runtime/nn/module.ts";
import {
  leakyRelu,
  relu,
  sigmoid,
  tanh,
} from "../../runtime/ops/activation.ts";
import { dropout } from "../../runtime/ops/dropout.ts";
import { flatten, reshape } from "../../runtime/ops/shape.ts";
import { Random } from "../../runtime/random.ts";
import type { Tensor } from "../../runtime/tensor.ts";

export type GanModelKind = "mlp" | "dcgan";

/** What both networks need to know about the images and the noise. */
export interface GanShape {
  model: GanModelKind;
  /** Dimension of the noise z. */
  latent: number;
  channels: number;
  height: number;
  width: number;
}

export interface MlpGanOptions {
  /** Hidden units of G's two layers (paper: 1200). */
  generatorHidden?: number;
  /** Hidden units of D's two layers (paper: 240). */
  discriminatorHidden?: number;
  /** Dropout on D's input and hidden layers. */
  inputDropout?: number;
  hiddenDropout?: number;
}

export interface DcganOptions {
  /** Kernel size of every (transposed) convolution: 4 or 5. */
  kernel?: 4 | 5;
  /** Channels of G's first feature map and D's last (128), halved once. */
  width?: number;
  /** Batch norm in D's second layer (default true). */
  discriminatorBatchNorm?: boolean;
}

export type GanNetworkOptions = MlpGanOptions & DcganOptions;

/** The range G's images live in: sigmoid 0..1 (MLP), tanh -1..1 (DCGAN). */
export function imageRange(model: GanModelKind): [number, number] {
  return model === "mlp" ? [0, 1] : [-1, 1];
}

/** Image generator: noise [N, latent] → images [N, C, H, W]. */
export abstract class Generator extends Module {
  constructor(readonly shape: GanShape) {
    super();
  }
}

/** Discriminator: images [N, C, H, W] → logits [N, 1]. */
export abstract class Discriminator extends Module {
  constructor(readonly shape: GanShape) {
    super();
  }
  /** The generator behind dropout masks (saved with checkpoints), if any. */
  get rng(): Random | null {
    return null;
  }
}

// ---------------------------------------------------------------------------
// MLP GAN (Goodfellow et al. 2014)

export class MlpGenerator extends Generator {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly fc3: Linear;

  constructor(shape: GanShape, options: MlpGanOptions = {}, rng?: Random) {
    super(shape);
    const hidden = options.generatorHidden ?? 1200;
    const pixels = shape.channels * shape.height * shape.width;
    this.fc1 = this.addModule("fc1", new Linear(shape.latent, hidden, { rng }));
    this.fc2 = this.addModule("fc2", new Linear(hidden, hidden, { rng }));
    this.fc3 = this.addModule("fc3", new Linear(hidden, pixels, { rng }));
  }

  forward(z: Tensor): Tensor {
    const { channels, height, width } = this.shape;
    const a1 = this.fc1.forward(z);
    const h1 = relu(a1);
    a1.dispose();
    const a2 = this.fc2.forward(h1);
    h1.dispose();
    const h2 = relu(a2);
    a2.dispose();
    const a3 = this.fc3.forward(h2);
    h2.dispose();
    const y = sigmoid(a3);
    a3.dispose();
    const out = reshape(y, [z.shape[0], channels, height, width]);
    y.dispose();
    return out;
  }
}

export class MlpDiscriminator extends Discriminator {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly fc3: Linear;
  readonly #rng: Random;
  readonly #inputDropout: number;
  readonly #hiddenDropout: number;

  constructor(
    shape: GanShape,
    options: MlpGanOptions = {},
    rng?: Random,
    dropoutRng = new Random(0),
  ) {
    super(shape);
    const hidden = options.discriminatorHidden ?? 240;
    const pixels = shape.channels * shape.height * shape.width;
    this.#inputDropout = options.inputDropout ?? 0.2;
    this.#hiddenDropout = options.hiddenDropout ?? 0.5;
    this.#rng = dropoutRng;
    this.fc1 = this.addModule("fc1", new Linear(pixels, hidden, { rng }));
    this.fc2 = this.addModule("fc2", new Linear(hidden, hidden, { rng }));
    this.fc3 = this.addModule("fc3", new Linear(hidden, 1, { rng }));
  }

  override get rng(): Random {
    return this.#rng;
  }

  #drop(x: Tensor, p: number): Tensor {
    return dropout(x, p, { training: this.training, rng: this.#rng });
  }

  forward(x: Tensor): Tensor {
    const flat = flatten(x);
    const d0 = this.#drop(flat, this.#inputDropout);
    flat.dispose();
    let h = d0;
    for (const fc of [this.fc1, this.fc2]) {
      const a = fc.forward(h);
      h.dispose();
      const r = leakyRelu(a, 0.2);
      a.dispose();
      h = this.#drop(r, this.#hiddenDropout);
      r.dispose();
    }
    const logits = this.fc3.forward(h);
    h.dispose();
    return logits;
  }
}

// ---------------------------------------------------------------------------
// DCGAN (Radford et al. 2016)

function convGeometry(kernel: 4 | 5): {
  padding: number;
  outputPadding: number;
} {
  // Both halve (conv) or double (convT) the size exactly:
  // 4x4: (H + 2 - 4)/2 + 1 = H/2; convT (H - 1)·2 - 2 + 4 = 2H.
  // 5x5: (H + 4 - 5)/2 + 1 = H/2 (H even); convT (H - 1)·2 - 4 + 5 + 1 = 2H.
  return kernel === 4
    ? { padding: 1, outputPadding: 0 }
    : { padding: 2, outputPadding: 1 };
}

function checkDcganShape(shape: GanShape): void {
  if (shape.height % 4 || shape.width % 4) {
    throw new RangeError(
      `DCGAN needs image sizes divisible by 4, got ${shape.width}x${shape.height}; resize the images or use --model mlp`,
    );
  }
}

/** DCGAN's N(0, 0.02) weights, zero biases, BN γ ~ N(1, 0.02) (§4). */
function dcganInit(module: Module, rng?: Random): void {
  for (const [, m] of module.namedModules()) {
    if (
      m instanceof Conv2d || m instanceof ConvTranspose2d ||
      m instanceof Linear
    ) {
      init.normal(m.weight, 0.02, 0, { rng });
      if (m.bias) init.zeros(m.bias);
    } else if (m instanceof BatchNorm2d) {
      if (m.weight) init.normal(m.weight, 0.02, 1, { rng });
      if (m.bias) init.zeros(m.bias);
    }
  }
}

export class DcganGenerator extends Generator {
  readonly fc: Linear;
  readonly bn0: BatchNorm2d;
  readonly deconv1: ConvTranspose2d;
  readonly bn1: BatchNorm2d;
  readonly deconv2: ConvTranspose2d;
  readonly #base: number;

  constructor(shape: GanShape, options: DcganOptions = {}, rng?: Random) {
    super(shape);
    checkDcganShape(shape);
    const kernel = options.kernel ?? 4;
    const base = this.#base = options.width ?? 128;
    const { padding, outputPadding } = convGeometry(kernel);
    const cells = (shape.height / 4) * (shape.width / 4);
    // No bias before batch norm: BN's β takes its place.
    this.fc = this.addModule(
      "fc",
      new Linear(shape.latent, base * cells, { bias: false, rng }),
    );
    this.bn0 = this.addModule("bn0", new BatchNorm2d(base));
    this.deconv1 = this.addModule(
      "deconv1",
      new ConvTranspose2d(base, base / 2, kernel, {
        stride: 2,
        padding,
        outputPadding,
        bias: false,
        rng,
      }),
    );
    this.bn1 = this.addModule("bn1", new BatchNorm2d(base / 2));
    this.deconv2 = this.addModule(
      "deconv2",
      new ConvTranspose2d(base / 2, shape.channels, kernel, {
        stride: 2,
        padding,
        outputPadding,
        rng,
      }),
    );
    dcganInit(this, rng);
  }

  forward(z: Tensor): Tensor {
    const { height, width } = this.shape;
    const n = z.shape[0];
    const a0 = this.fc.forward(z);
    const m0 = reshape(a0, [n, this.#base, height / 4, width / 4]);
    a0.dispose();
    const b0 = this.bn0.forward(m0);
    m0.dispose();
    const h0 = relu(b0);
    b0.dispose();
    const a1 = this.deconv1.forward(h0);
    h0.dispose();
    const b1 = this.bn1.forward(a1);
    a1.dispose();
    const h1 = relu(b1);
    b1.dispose();
    const a2 = this.deconv2.forward(h1);
    h1.dispose();
    const y = tanh(a2);
    a2.dispose();
    return y;
  }
}

export class DcganDiscriminator extends Discriminator {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d | null;
  readonly fc: Linear;

  constructor(shape: GanShape, options: DcganOptions = {}, rng?: Random) {
    super(shape);
    checkDcganShape(shape);
    const kernel = options.kernel ?? 4;
    const base = options.width ?? 128;
    const { padding } = convGeometry(kernel);
    const useBn = options.discriminatorBatchNorm ?? true;
    this.conv1 = this.addModule(
      "conv1",
      new Conv2d(shape.channels, base / 2, kernel, { stride: 2, padding, rng }),
    );
    this.conv2 = this.addModule(
      "conv2",
      new Conv2d(base / 2, base, kernel, {
        stride: 2,
        padding,
        bias: !useBn,
        rng,
      }),
    );
    this.bn2 = useBn ? this.addModule("bn2", new BatchNorm2d(base)) : null;
    const cells = (shape.height / 4) * (shape.width / 4);
    this.fc = this.addModule("fc", new Linear(base * cells, 1, { rng }));
    dcganInit(this, rng);
  }

  forward(x: Tensor): Tensor {
    const a1 = this.conv1.forward(x);
    const h1 = leakyRelu(a1, 0.2);
    a1.dispose();
    let a2 = this.conv2.forward(h1);
    h1.dispose();
    if (this.bn2) {
      const b2 = this.bn2.forward(a2);
      a2.dispose();
      a2 = b2;
    }
    const h2 = leakyRelu(a2, 0.2);
    a2.dispose();
    const flat = flatten(h2);
    h2.dispose();
    const logits = this.fc.forward(flat);
    flat.dispose();
    return logits;
  }
}

/** Builds G and D for `shape`; weights from `rng` (default: global). */
export function createGan(
  shape: GanShape,
  options: GanNetworkOptions = {},
  rng?: Random,
  dropoutRng?: Random,
): { generator: Generator; discriminator: Discriminator } {
  if (!(Number.isInteger(shape.latent) && shape.latent >= 1)) {
    throw new RangeError(
      `latent must be a positive integer, got ${shape.latent}`,
    );
  }
  if (shape.model === "mlp") {
    return {
      generator: new MlpGenerator(shape, options, rng),
      discriminator: new MlpDiscriminator(shape, options, rng, dropoutRng),
    };
  }
  if (shape.model === "dcgan") {
    return {
      generator: new DcganGenerator(shape, options, rng),
      discriminator: new DcganDiscriminator(shape, options, rng),
    };
  }
  throw new RangeError(`Unknown GAN model "${shape.model}" (mlp or dcgan)`);
}
