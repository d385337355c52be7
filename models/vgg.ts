// VGG16 and VGG19 (Simonyan & Zisserman 2015, configurations D and E) with
// named taps (conv1_1, relu1_1, …, pool5), max or average pooling (Gatys et
// al. replace max by average pooling), zero or reflect padding, an optional
// classifier head (fc6-fc8), and truncation after any tap.
// Parameter names follow torchvision (features.N.weight, classifier.N.*), so
// torchvision checkpoints load as they are.
// This module is browser compatible.
import { noGrad } from "../runtime/autograd.ts";
import { Module } from "../runtime/nn/module.ts";
import {
  AvgPool2d,
  Conv2d,
  Dropout,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
} from "../runtime/nn/layers.ts";
import { flatten } from "../runtime/ops/shape.ts";
import type { Random } from "../runtime/random.ts";
import type { Tensor } from "../runtime/tensor.ts";

/** Channels per conv layer; "M" marks a pooling layer. */
// deno-fmt-ignore
const CONFIGS: Record<16 | 19, (number | "M")[]> = {
  16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
  19: [
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
  ],
};

export interface VggOptions {
  depth?: 16 | 19;
  pooling?: "max" | "avg";
  padMode?: "zero" | "reflect";
  /** Add fc6-fc8 (needs 224x224 inputs). */
  classifier?: boolean;
  numClasses?: number;
  /** Units of fc6 and fc7 (4096 in the published models). */
  hiddenUnits?: number;
  /** Build only the layers up to and including this tap. */
  upTo?: string;
  rng?: Random;
}

/** One feature layer's tap name and its torchvision index. */
export interface VggTap {
  name: string;
  index: number;
  kind: "conv" | "relu" | "pool";
  /** Output channels at this tap. */
  channels: number;
  /** Downsampling factor relative to the input at this tap. */
  stride: number;
}

/** Every tap of a VGG configuration, in order. */
export function vggTaps(depth: 16 | 19 = 19): VggTap[] {
  const taps: VggTap[] = [];
  let block = 1, conv = 1, index = 0, channels = 3, stride = 1;
  for (const c of CONFIGS[depth]) {
    if (c === "M") {
      stride *= 2;
      taps.push({
        name: `pool${block}`,
        index: index++,
        kind: "pool",
        channels,
        stride,
      });
      block++;
      conv = 1;
    } else {
      channels = c;
      taps.push({
        name: `conv${block}_${conv}`,
        index: index++,
        kind: "conv",
        channels,
        stride,
      });
      taps.push({
        name: `relu${block}_${conv}`,
        index: index++,
        kind: "relu",
        channels,
        stride,
      });
      conv++;
    }
  }
  return taps;
}

export class VGG extends Module {
  readonly depth: 16 | 19;
  readonly taps: VggTap[];
  readonly features: Sequential;
  readonly classifier: Sequential | null;

  constructor(options: VggOptions = {}) {
    super();
    this.depth = options.depth ?? 19;
    const all = vggTaps(this.depth);
    let count = all.length;
    if (options.upTo) {
      const i = all.findIndex((t) => t.name === options.upTo);
      if (i < 0) {
        throw new RangeError(
          `VGG${this.depth} has no layer "${options.upTo}"; layers: ${
            all.map((t) => t.name).join(", ")
          }`,
        );
      }
      count = i + 1;
    }
    this.taps = all.slice(0, count);
    const layers: Module[] = [];
    let inChannels = 3;
    for (const tap of this.taps) {
      if (tap.kind === "conv") {
        layers.push(
          new Conv2d(inChannels, tap.channels, 3, {
            padding: 1,
            padMode: options.padMode ?? "zero",
            rng: options.rng,
          }),
        );
        inChannels = tap.channels;
      } else if (tap.kind === "relu") layers.push(new ReLU());
      else if (options.pooling === "avg") layers.push(new AvgPool2d(2));
      else layers.push(new MaxPool2d(2));
    }
    this.features = this.addModule("features", new Sequential(...layers));
    const wantsHead = options.classifier && count === all.length;
    const hidden = options.hiddenUnits ?? 4096;
    if (options.classifier && !wantsHead) {
      throw new RangeError("VGG: a classifier needs the full feature stack");
    }
    this.classifier = wantsHead
      ? this.addModule(
        "classifier",
        new Sequential(
          new Linear(512 * 7 * 7, hidden, { rng: options.rng }),
          new ReLU(),
          new Dropout(0.5, options.rng),
          new Linear(hidden, hidden, { rng: options.rng }),
          new ReLU(),
          new Dropout(0.5, options.rng),
          new Linear(hidden, options.numClasses ?? 1000, { rng: options.rng }),
        ),
      )
      : null;
  }

  /** The tap called `name`, or a one-line error listing the built ones. */
  tap(name: string): VggTap {
    const t = this.taps.find((t) => t.name === name);
    if (!t) {
      const known = vggTaps(this.depth).some((k) => k.name === name);
      throw new RangeError(
        known
          ? `Layer ${name} is past the last built layer ${
            this.taps[this.taps.length - 1].name
          }`
          : `VGG${this.depth} has no layer "${name}"`,
      );
    }
    return t;
  }

  /**
   * Runs the feature stack up to the deepest of `names` and returns those
   * activations (others are freed as soon as they are consumed).
   */
  forwardTaps(x: Tensor, names: readonly string[]): Map<string, Tensor> {
    const wanted = new Set(names);
    const last = Math.max(...names.map((n) => this.tap(n).index));
    const out = new Map<string, Tensor>();
    let h = x;
    for (let i = 0; i <= last; i++) {
      const next = this.features.layers[i].forward(h);
      if (h !== x && !out.has(this.taps[i - 1]?.name)) h.dispose();
      h = next;
      if (wanted.has(this.taps[i].name)) out.set(this.taps[i].name, h);
    }
    return out;
  }

  /** Features (or class logits with the classifier head). */
  forward(x: Tensor): Tensor {
    const h = this.features.forward(x);
    if (!this.classifier) return h;
    const flat = flatten(h);
    h.dispose();
    const y = this.classifier.forward(flat);
    flat.dispose();
    return y;
  }

  /** Logits without recording a graph (inference). */
  predict(x: Tensor): Tensor {
    return noGrad(() => this.forward(x));
  }
}
