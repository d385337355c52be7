// The Gatys et al. (2016) style-transfer evaluation as a benchmark workload:
// one L-BFGS evaluation = VGG19 forward to the deepest tap, the product's
// loss (models/style/losses.ts with the STYLE_DEFAULTS weights: content
// eq. 1, style eqs. 3-5 on normalised Grams, squared total variation) and
// the gradient of the total with respect to the input image only (the
// network's weights are constants), composed as StyleTransfer's whole-image
// evaluation does. Random He-initialised weights: the cost does not
// depend on the values, and He init (std √(2/fan_in)) keeps activations near
// unit scale through 16 ReLU layers, so no denormals slow anything down.
//
// The same problem can be built on TensorFlow.js (same weights, images and
// loss, NHWC) to compare engines; the tfjs module is passed in so that this
// file does not load tfjs unless a caller does.
// This module is browser compatible.
import type * as TF from "@tensorflow/tfjs-core";
import { noGrad } from "../runtime/autograd.ts";
import { grad } from "../runtime/grad.ts";
import { kaimingNormal, normal } from "../runtime/init.ts";
import { Conv2d } from "../runtime/nn/layers.ts";
import { add } from "../runtime/ops/elementwise.ts";
import { Random } from "../runtime/random.ts";
import { keep, type Tensor, tensor, tidy } from "../runtime/tensor.ts";
import {
  contentLoss,
  normalisedGram,
  styleLoss,
  type TvKernels,
  tvKernels,
  tvLoss,
} from "./style/losses.ts";
import { VGG, vggTaps } from "./vgg.ts";

export type StyleWorkloadName = "relu5_1" | "conv3_1";

export interface StyleWorkload {
  name: StyleWorkloadName;
  /** Last VGG19 layer built. */
  upTo: string;
  contentLayer: string;
  styleLayers: readonly string[];
  description: string;
}

export const STYLE_WORKLOADS: Record<StyleWorkloadName, StyleWorkload> = {
  // Gatys et al. 2016: content conv4_2, style conv1_1 … conv5_1 (after ReLU).
  relu5_1: {
    name: "relu5_1",
    upTo: "relu5_1",
    contentLayer: "relu4_2",
    styleLayers: ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
    description:
      "VGG19 to relu5_1, content relu4_2, style relu1_1..relu5_1 (Gatys)",
  },
  // What the real normalised weights in shared/data cover (conv1_1..conv3_1).
  conv3_1: {
    name: "conv3_1",
    upTo: "relu3_1",
    contentLayer: "relu2_2",
    styleLayers: ["relu1_1", "relu2_1", "relu3_1"],
    description:
      "VGG19 conv1_1..conv3_1, content relu2_2, style relu1_1,relu2_1,relu3_1",
  },
};

/**
 * Loss weights, as models/style/transfer.ts STYLE_DEFAULTS: α for content,
 * β split evenly over the style layers, λ for total variation.
 */
export const DEFAULT_LOSS_WEIGHTS: LossWeights = {
  content: 1,
  style: 1e5,
  tv: 10,
};

export interface LossWeights {
  content: number;
  style: number;
  tv: number;
}

/**
 * Floating-point operations of one evaluation, counting 2 per multiply-add:
 * each conv forward and its backward-data (the weights get no gradient),
 * each Gram matrix forward (C²·HW) and backward (2·C²·HW), and nothing for
 * the memory-bound element-wise work: 99.2 GFLOP for VGG19 to relu5_1 at
 * 256x256 (performance.md quotes 101.5), 22.0 for the conv3_1 stack at
 * 256x172.
 */
export function evaluationFlops(
  workload: StyleWorkload,
  height: number,
  width: number,
): number {
  let h = height, w = width, c = 3, flops = 0;
  const styles = new Set(workload.styleLayers);
  for (const tap of vggTaps(19)) {
    if (tap.kind === "pool") {
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    } else if (tap.kind === "conv") {
      flops += 2 * 2 * h * w * tap.channels * c * 9;
      c = tap.channels;
    } else if (styles.has(tap.name)) flops += 2 * 2 * c * c * h * w;
    if (tap.name === workload.upTo) break;
  }
  return flops;
}

/** Feature-map shape [C, H, W] at a tap of VGG19 for an input size. */
export function tapShape(
  name: string,
  height: number,
  width: number,
): [number, number, number] {
  let h = height, w = width;
  for (const tap of vggTaps(19)) {
    if (tap.kind === "pool") {
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
    if (tap.name === name) return [tap.channels, h, w];
  }
  throw new RangeError(`VGG19 has no layer "${name}"`);
}

function keepKernels(k: TvKernels): TvKernels {
  keep(k.horizontal);
  keep(k.vertical);
  return k;
}

/** A style-transfer problem: network, images and loss targets. */
export class GatysProblem {
  readonly workload: StyleWorkload;
  readonly height: number;
  readonly width: number;
  readonly model: VGG;
  /** The image being optimised, [1, 3, H, W], requires grad. */
  readonly image: Tensor;
  /** Planar RGB values of the content, style and start images. */
  readonly contentPixels: Float32Array;
  readonly stylePixels: Float32Array;
  readonly imagePixels: Float32Array;
  readonly contentTarget: Tensor;
  /** Normalised Gram matrices of the style image, one per style layer. */
  readonly styleTargets: Tensor[];
  /** Total-variation difference kernels (pixel units = model units here). */
  readonly #tv: TvKernels = keepKernels(tvKernels([1, 1, 1]));
  readonly weights: LossWeights;

  constructor(
    workload: StyleWorkload,
    height: number,
    width: number,
    seed = 1,
    weights: LossWeights = DEFAULT_LOSS_WEIGHTS,
  ) {
    this.weights = { ...weights };
    if (!(height >= 16 && width >= 16)) {
      throw new RangeError(
        `GatysProblem: images need at least 16x16 pixels, got ${width}x${height}`,
      );
    }
    this.workload = workload;
    this.height = height;
    this.width = width;
    const rng = new Random(seed);
    this.model = new VGG({
      depth: 19,
      pooling: "avg",
      upTo: workload.upTo,
      rng,
    });
    for (const layer of this.model.features.layers) {
      if (!(layer instanceof Conv2d)) continue;
      kaimingNormal(layer.weight, { nonlinearity: "relu", rng });
      if (layer.bias) normal(layer.bias, 0.01, 0, { rng });
    }
    for (const p of this.model.parameters()) p.requiresGrad = false;
    const n = 3 * height * width;
    const pixels = () => rng.fillUniform(new Float32Array(n), 0, 1);
    this.contentPixels = pixels();
    this.stylePixels = pixels();
    this.imagePixels = pixels();
    const shape = [1, 3, height, width];
    this.contentTarget = noGrad(() => {
      const content = tensor(this.contentPixels, shape);
      const taps = this.model.forwardTaps(content, [workload.contentLayer]);
      content.dispose();
      return taps.get(workload.contentLayer)!;
    });
    this.styleTargets = noGrad(() => {
      const style = tensor(this.stylePixels, shape);
      const taps = this.model.forwardTaps(style, workload.styleLayers);
      style.dispose();
      return workload.styleLayers.map((name) => {
        const f = taps.get(name)!;
        const g = normalisedGram(f);
        f.dispose();
        return g;
      });
    });
    this.image = tensor(this.imagePixels, shape);
    this.image.requiresGrad = true;
  }

  /**
   * The loss terms of the current image (recorded on the tape), as
   * StyleTransfer's whole-image evaluation builds them: α/2·Σ(F − P)²,
   * β/L · 1/(4N²)·Σ(Ĝ − Â)² per style layer with Ĝ = F Fᵀ/M, and λ·TV.
   */
  lossTerms(): { total: Tensor; parts: Tensor[] } {
    const w = this.workload;
    const taps = this.model.forwardTaps(this.image, [
      w.contentLayer,
      ...w.styleLayers,
    ]);
    const parts = [
      contentLoss(
        taps.get(w.contentLayer)!,
        this.contentTarget,
        this.weights.content,
      ),
      ...w.styleLayers.map((name, i) =>
        styleLoss(
          taps.get(name)!,
          this.styleTargets[i],
          this.weights.style / w.styleLayers.length,
        )
      ),
      tvLoss(this.image, this.#tv, this.weights.tv),
    ];
    let total = parts[0];
    for (const t of parts.slice(1)) total = add(total, t);
    return { total, parts };
  }

  /**
   * One evaluation (what L-BFGS calls per line-search step): the loss and
   * its gradient with respect to the image. `withGradient` copies the
   * gradient out (tests); timing runs leave it in engine memory.
   */
  evaluate(withGradient = false): { loss: number; gradient?: Float32Array } {
    const out: { loss: number; gradient?: Float32Array } = { loss: NaN };
    tidy(() => {
      const { total, parts } = this.lossTerms();
      const [g] = grad(total, [this.image]);
      // StyleTransfer reads the total and every term back for its report.
      out.loss = total.item();
      for (const t of parts) t.item();
      if (withGradient) out.gradient = g.data();
    });
    return out;
  }

  dispose(): void {
    this.image.dispose();
    this.contentTarget.dispose();
    for (const t of this.styleTargets) t.dispose();
    this.#tv.horizontal.dispose();
    this.#tv.vertical.dispose();
    for (const p of this.model.parameters()) p.dispose();
  }
}

// ---------------------------------------------------------------------------
// TensorFlow.js side.

type Tf = typeof TF;

/**
 * Registers TensorFlow.js's own gradient definitions (copied from
 * tfjs-core/src/gradients/*_grad.ts) for the kernels this workload uses,
 * where none is registered. tfjs-core's npm bundles register no gradients:
 * the @tensorflow/tfjs umbrella package does, from per-file ES modules
 * whose extension-less imports Deno cannot load. Returns the kernels
 * registered here.
 */
export function registerTfjsGradients(tf: Tf): string[] {
  const reduceTo = (t: TF.Tensor, shape: number[], out: number[]) => {
    const axes = tf.broadcast_util.getReductionAxes(shape, out);
    return axes.length ? tf.reshape(tf.sum(t, axes), shape) : t;
  };
  const configs: TF.GradConfig[] = [
    {
      kernelName: "Conv2D",
      inputsToSave: ["x", "filter"],
      gradFunc: (dy, saved, attrs) => {
        const [x, filter] = saved as TF.Tensor4D[];
        const { strides, pad, dataFormat, dimRoundingMode } = attrs as {
          strides: [number, number];
          pad: "same" | "valid";
          dataFormat: "NHWC";
          dimRoundingMode?: "floor";
        };
        const dims = x.shape as [number, number, number, number];
        return {
          x: () =>
            tf.engine().runKernel("Conv2DBackpropInput", {
              dy: dy as TF.Tensor,
              filter,
            }, {
              strides,
              pad,
              dataFormat,
              dimRoundingMode,
              inputShape: dims,
            } as unknown as TF.NamedAttrMap) as TF.Tensor,
          // tfjs calls only the gradients of inputs on the path from x, so
          // this never runs here (and the wasm backend has no
          // Conv2DBackpropFilter kernel to run).
          filter: () => {
            throw new Error("tfjs-backend-wasm has no Conv2DBackpropFilter");
          },
        };
      },
    },
    {
      // tf.avgPool casts its result to the input's dtype.
      kernelName: "Cast",
      gradFunc: (dy) => ({ x: () => tf.clone(dy as TF.Tensor) }),
    },
    {
      kernelName: "Relu",
      inputsToSave: ["x"],
      gradFunc: (dy, saved) => ({
        x: () => tf.mul(dy as TF.Tensor, tf.cast(tf.step(saved[0]), "float32")),
      }),
    },
    {
      kernelName: "AvgPool",
      inputsToSave: ["x"],
      gradFunc: (dy, saved, attrs) => ({
        x: () =>
          tf.engine().runKernel(
            "AvgPoolGrad",
            { dy: dy as TF.Tensor, input: saved[0] },
            attrs,
          ) as TF.Tensor,
      }),
    },
    {
      kernelName: "BatchMatMul",
      inputsToSave: ["a", "b"],
      gradFunc: (dy, saved, attrs) => {
        const [a, b] = saved;
        const d = dy as TF.Tensor;
        const { transposeA, transposeB } = attrs as {
          transposeA: boolean;
          transposeB: boolean;
        };
        if (!transposeA && !transposeB) {
          return {
            a: () => tf.matMul(d, b, false, true),
            b: () => tf.matMul(a, d, true, false),
          };
        } else if (!transposeA && transposeB) {
          return {
            a: () => tf.matMul(d, b, false, false),
            b: () => tf.matMul(d, a, true, false),
          };
        } else if (transposeA && !transposeB) {
          return {
            a: () => tf.matMul(b, d, false, true),
            b: () => tf.matMul(a, d, false, false),
          };
        }
        return {
          a: () => tf.matMul(b, d, true, true),
          b: () => tf.matMul(d, a, true, true),
        };
      },
    },
    {
      kernelName: "Reshape",
      inputsToSave: ["x"],
      gradFunc: (dy, saved) => ({
        x: () => tf.reshape(dy as TF.Tensor, saved[0].shape),
      }),
    },
    {
      kernelName: "Add",
      inputsToSave: ["a", "b"],
      gradFunc: (dy, saved) => {
        const [a, b] = saved;
        const out = tf.broadcast_util.assertAndGetBroadcastShape(
          a.shape,
          b.shape,
        );
        return {
          a: () => reduceTo(dy as TF.Tensor, a.shape, out),
          b: () => reduceTo(dy as TF.Tensor, b.shape, out),
        };
      },
    },
    {
      kernelName: "Multiply",
      inputsToSave: ["a", "b"],
      gradFunc: (dy, saved) => {
        const [a, b] = saved;
        const out = tf.broadcast_util.assertAndGetBroadcastShape(
          a.shape,
          b.shape,
        );
        return {
          a: () => reduceTo(tf.mul(dy as TF.Tensor, b), a.shape, out),
          b: () => reduceTo(tf.mul(dy as TF.Tensor, a), b.shape, out),
        };
      },
    },
    {
      kernelName: "SquaredDifference",
      inputsToSave: ["a", "b"],
      gradFunc: (dy, saved) => {
        const [a, b] = saved;
        const two = tf.scalar(2);
        return {
          a: () => tf.mul(dy as TF.Tensor, tf.mul(two, tf.sub(a, b))),
          b: () => tf.mul(dy as TF.Tensor, tf.mul(two, tf.sub(b, a))),
        };
      },
    },
    {
      kernelName: "Sum",
      inputsToSave: ["x"],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved;
        const expanded = x.shape.slice();
        const axes = tf.util.parseAxisParam(
          (attrs as { axis: number | number[] }).axis,
          x.shape,
        );
        for (const a of axes) expanded[a] = 1;
        const d = tf.mul(
          tf.reshape(dy as TF.Tensor, expanded),
          tf.ones(x.shape, "float32"),
        );
        return { x: () => d };
      },
    },
  ];
  const registered: string[] = [];
  for (const c of configs) {
    if (tf.getGradient(c.kernelName)) continue;
    tf.registerGradient(c);
    registered.push(c.kernelName);
  }
  return registered;
}

/** The same problem on TensorFlow.js (NHWC), sharing weights and images. */
export class TfjsGatysProblem {
  readonly #tf: Tf;
  readonly workload: StyleWorkload;
  readonly weights: LossWeights;
  /** Per VGG layer: conv [filter HWIO, bias], or "relu" / "pool". */
  readonly #layers: ([TF.Tensor4D, TF.Tensor1D] | "relu" | "pool")[] = [];
  readonly #last: number;
  /** HWIO [1, 2, 3, 3] and [2, 1, 3, 3]: x[next] − x[here] per channel. */
  readonly #tvFilters: [TF.Tensor4D, TF.Tensor4D];
  readonly image: TF.Tensor4D;
  readonly contentTarget: TF.Tensor;
  readonly styleTargets: TF.Tensor[];

  constructor(tf: Tf, ours: GatysProblem) {
    this.#tf = tf;
    this.workload = ours.workload;
    this.weights = { ...ours.weights };
    const taps = ours.model.taps;
    ours.model.features.layers.forEach((layer, i) => {
      if (layer instanceof Conv2d) {
        const [o, c, kh, kw] = layer.weight.shape;
        const w = tf.tidy(() =>
          tf.transpose(
            tf.tensor4d(layer.weight.data(), [o, c, kh, kw]),
            [2, 3, 1, 0],
          )
        ) as TF.Tensor4D;
        this.#layers.push([w, tf.tensor1d(layer.bias!.data())]);
      } else this.#layers.push(taps[i].kind === "relu" ? "relu" : "pool");
    });
    this.#last = taps.length - 1;
    const diff = new Float32Array(2 * 3 * 3);
    for (let c = 0; c < 3; c++) {
      diff[c * 3 + c] = -1; // tap 0, in c, out c
      diff[9 + c * 3 + c] = 1; // tap 1
    }
    this.#tvFilters = [
      tf.tensor4d(diff, [1, 2, 3, 3]),
      tf.tensor4d(diff, [2, 1, 3, 3]),
    ];
    const { height: h, width: w } = ours;
    const nhwc = (planar: Float32Array) =>
      tf.tidy(() =>
        tf.transpose(tf.tensor4d(planar, [1, 3, h, w]), [0, 2, 3, 1])
      ) as TF.Tensor4D;
    this.image = nhwc(ours.imagePixels);
    const wl = this.workload;
    this.contentTarget = tf.tidy(() => {
      const content = nhwc(ours.contentPixels);
      return this.features(content).get(wl.contentLayer)!;
    });
    this.styleTargets = tf.tidy(() => {
      const style = nhwc(ours.stylePixels);
      const f = this.features(style);
      return wl.styleLayers.map((n) => this.gram(f.get(n)!));
    });
  }

  /** Activations at the workload's taps (inside a tidy or a gradient). */
  features(x: TF.Tensor4D): Map<string, TF.Tensor4D> {
    const tf = this.#tf;
    const wanted = new Set([
      this.workload.contentLayer,
      ...this.workload.styleLayers,
    ]);
    const taps = vggTaps(19);
    const out = new Map<string, TF.Tensor4D>();
    let h = x;
    for (let i = 0; i <= this.#last; i++) {
      const l = this.#layers[i];
      if (l === "relu") h = tf.relu(h);
      else if (l === "pool") h = tf.avgPool(h, 2, 2, "valid");
      else h = tf.add(tf.conv2d(h, l[0], 1, "same"), l[1]);
      if (wanted.has(taps[i].name)) out.set(taps[i].name, h);
    }
    return out;
  }

  /** Normalised Gram Ĝ = F Fᵀ / M of an NHWC feature map. */
  gram(f: TF.Tensor4D): TF.Tensor {
    const tf = this.#tf;
    const [, h, w, c] = f.shape;
    const m = tf.reshape(f, [h * w, c]);
    return tf.mul(tf.matMul(m, m, true, false), tf.scalar(1 / (h * w)));
  }

  /** The same total loss as GatysProblem.lossTerms(). */
  loss(x: TF.Tensor4D): TF.Scalar {
    const tf = this.#tf;
    const wl = this.workload;
    const f = this.features(x);
    const sse = (a: TF.Tensor, b: TF.Tensor, weight: number) =>
      tf.mul(tf.sum(tf.squaredDifference(a, b)), tf.scalar(weight));
    let total = sse(
      f.get(wl.contentLayer)!,
      this.contentTarget,
      this.weights.content / 2,
    );
    wl.styleLayers.forEach((name, i) => {
      const g = this.gram(f.get(name)!);
      const n = g.shape[0];
      const weight = this.weights.style / wl.styleLayers.length / (4 * n * n);
      total = tf.add(total, sse(g, this.styleTargets[i], weight));
    });
    // Total variation: neighbour differences as 'valid' convolutions with
    // per-channel [-1, 1] filters (tfjs-wasm has no depthwise gradient).
    const [dh, dv] = this.#tvFilters;
    const sq = (d: TF.Tensor) => tf.sum(tf.mul(d, d));
    const tv = tf.add(
      sq(tf.conv2d(x, dh, 1, "valid")),
      sq(tf.conv2d(x, dv, 1, "valid")),
    );
    return tf.add(total, tf.mul(tv, tf.scalar(this.weights.tv))) as TF.Scalar;
  }

  /**
   * One evaluation with tf.valueAndGrad; the gradient is read back (planar
   * [1, 3, H, W]) only when asked, but always computed.
   */
  evaluate(withGradient = false): { loss: number; gradient?: Float32Array } {
    const tf = this.#tf;
    const out: { loss: number; gradient?: Float32Array } = { loss: NaN };
    tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad((x: TF.Tensor) =>
        this.loss(x as TF.Tensor4D)
      )(this.image);
      out.loss = value.dataSync()[0];
      if (withGradient) {
        const planar = tf.transpose(grad, [0, 3, 1, 2]);
        out.gradient = planar.dataSync() as Float32Array;
      } else grad.dataSync();
    });
    return out;
  }

  dispose(): void {
    const tf = this.#tf;
    for (const l of this.#layers) if (Array.isArray(l)) tf.dispose(l);
    tf.dispose(this.#tvFilters);
    tf.dispose([this.image, this.contentTarget, ...this.styleTargets]);
  }
}
