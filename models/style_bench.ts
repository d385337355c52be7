// The Gatys et al. (2016) style-transfer evaluation as a benchmark workload:
// one L-BFGS evaluation = VGG19 forward to the deepest tap, the content loss
// (MSE of one feature map against its target) plus the style loss (MSE of
// Gram matrices, Gatys eq. 3-5, against the style image's), and the
// gradient of the total with respect to the input image only (the network's
// weights are constants). Random He-initialised weights: the cost does not
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
import { add, scale } from "../runtime/ops/elementwise.ts";
import { mseLoss } from "../runtime/ops/loss.ts";
import { gram } from "../runtime/ops/style.ts";
import { Random } from "../runtime/random.ts";
import { type Tensor, tensor, tidy } from "../runtime/tensor.ts";
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

/** Loss weights: α for content, β split evenly over the style layers. */
export const CONTENT_WEIGHT = 1;
export const STYLE_WEIGHT = 1e3;

/**
 * Floating-point operations of one evaluation, counting 2 per multiply-add:
 * each conv forward and its backward-data (the weights get no gradient),
 * each Gram matrix forward (C²·HW) and backward (2·C²·HW), and nothing for
 * the memory-bound element-wise work. For VGG19 to relu5_1 at 256x256 this
 * is ~95 GFLOP (performance.md counts 101.5 with backward-filter of nothing
 * but the element-wise ops included; the convolutions dominate either way).
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
    } else if (styles.has(tap.name)) flops += 3 * 2 * c * c * h * w;
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
  /** Gram matrices of the style image, one per style layer. */
  readonly styleTargets: Tensor[];

  constructor(
    workload: StyleWorkload,
    height: number,
    width: number,
    seed = 1,
  ) {
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
        const g = gram(f, 1 / f.size);
        f.dispose();
        return g;
      });
    });
    this.image = tensor(this.imagePixels, shape);
    this.image.requiresGrad = true;
  }

  /**
   * The total loss of the current image (recorded on the tape):
   * α·MSE(F_content, P) + Σ_l (β/L)·MSE(G_l, A_l) with G = F Fᵀ/(C·H·W).
   */
  loss(): Tensor {
    const w = this.workload;
    const taps = this.model.forwardTaps(this.image, [
      w.contentLayer,
      ...w.styleLayers,
    ]);
    let total = scale(
      mseLoss(taps.get(w.contentLayer)!, this.contentTarget),
      CONTENT_WEIGHT,
    );
    w.styleLayers.forEach((name, i) => {
      const f = taps.get(name)!;
      const term = scale(
        mseLoss(gram(f, 1 / f.size), this.styleTargets[i]),
        STYLE_WEIGHT / w.styleLayers.length,
      );
      total = add(total, term);
    });
    return total;
  }

  /**
   * One evaluation (what L-BFGS calls per line-search step): the loss and
   * its gradient with respect to the image. `withGradient` copies the
   * gradient out (tests); timing runs leave it in engine memory.
   */
  evaluate(withGradient = false): { loss: number; gradient?: Float32Array } {
    return tidy(() => {
      const loss = this.loss();
      const [g] = grad(loss, [this.image]);
      const out: { loss: number; gradient?: Float32Array } = {
        loss: loss.item(),
      };
      if (withGradient) out.gradient = g.data();
      return out as unknown as Record<string, unknown>;
    }) as unknown as { loss: number; gradient?: Float32Array };
  }

  dispose(): void {
    this.image.dispose();
    this.contentTarget.dispose();
    for (const t of this.styleTargets) t.dispose();
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
          // The wasm backend has no Conv2DBackpropFilter; tfjs calls only
          // the input gradients on the path from x, so this never runs here.
          filter: () =>
            tf.conv2d(x, filter, strides, pad).mul(0) as TF.Tensor,
        };
      },
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
  /** Per VGG layer: conv [filter HWIO, bias], or "relu" / "pool". */
  readonly #layers: ([TF.Tensor4D, TF.Tensor1D] | "relu" | "pool")[] = [];
  readonly #last: number;
  readonly image: TF.Tensor4D;
  readonly contentTarget: TF.Tensor;
  readonly styleTargets: TF.Tensor[];

  constructor(tf: Tf, ours: GatysProblem) {
    this.#tf = tf;
    this.workload = ours.workload;
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

  gram(f: TF.Tensor4D): TF.Tensor {
    const tf = this.#tf;
    const [, h, w, c] = f.shape;
    const m = tf.reshape(f, [h * w, c]);
    return tf.mul(tf.matMul(m, m, true, false), tf.scalar(1 / (c * h * w)));
  }

  /** The same total loss as GatysProblem.loss(). */
  loss(x: TF.Tensor4D): TF.Scalar {
    const tf = this.#tf;
    const wl = this.workload;
    const f = this.features(x);
    const mse = (a: TF.Tensor, b: TF.Tensor, weight: number) =>
      tf.mul(tf.sum(tf.squaredDifference(a, b)), tf.scalar(weight / a.size));
    let total = mse(f.get(wl.contentLayer)!, this.contentTarget, CONTENT_WEIGHT);
    wl.styleLayers.forEach((name, i) => {
      const g = this.gram(f.get(name)!);
      total = tf.add(
        total,
        mse(g, this.styleTargets[i], STYLE_WEIGHT / wl.styleLayers.length),
      );
    });
    return total as TF.Scalar;
  }

  /**
   * One evaluation with tf.valueAndGrad; the gradient is read back (planar
   * [1, 3, H, W]) only when asked, but always computed.
   */
  evaluate(withGradient = false): { loss: number; gradient?: Float32Array } {
    const tf = this.#tf;
    return tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad((x: TF.Tensor) =>
        this.loss(x as TF.Tensor4D)
      )(this.image);
      const out: { loss: number; gradient?: Float32Array } = {
        loss: value.dataSync()[0],
      };
      if (withGradient) {
        out.gradient = tf.transpose(grad, [0, 3, 1, 2]).dataSync() as Float32Array;
      } else grad.dataSync();
      return out as unknown as TF.TensorContainer;
    }) as unknown as { loss: number; gradient?: Float32Array };
  }

  dispose(): void {
    const tf = this.#tf;
    for (const l of this.#layers) if (Array.isArray(l)) tf.dispose(l);
    tf.dispose([this.image, this.contentTarget, ...this.styleTargets]);
  }
}
