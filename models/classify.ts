// ImageNet classification with a loaded VGG or AlexNet (models/load.ts):
// the standard evaluation transform (shorter side resized to 256, centre
// crop of the model's input size: 224, or 227 for Caffe's AlexNet), the
// weights' preprocessing, softmax over the logits and the top k classes.
// This module is browser compatible.
import { noGrad } from "../runtime/autograd.ts";
import { resizeImage, type RgbImage } from "../runtime/io/image.ts";
import { tidy } from "../runtime/tensor.ts";
import { IMAGENET_LABELS } from "./imagenet_labels.ts";
import type { LoadedModel } from "./load.ts";
import { toModelInput } from "./preprocess.ts";

export interface Prediction {
  /** Class index (output unit). */
  index: number;
  /** ImageNet class name, or "class N" for a head of another size. */
  label: string;
  probability: number;
}

/** Scales so that the shorter side is `shorter` pixels (bilinear). */
export function resizeShorterSide(image: RgbImage, shorter: number): RgbImage {
  const scale = shorter / Math.min(image.width, image.height);
  return resizeImage(
    image,
    Math.max(shorter, Math.round(image.width * scale)),
    Math.max(shorter, Math.round(image.height * scale)),
  );
}

/** The centred `width` x `height` window of an image. */
export function centerCrop(
  image: RgbImage,
  width: number,
  height = width,
): RgbImage {
  if (width > image.width || height > image.height) {
    throw new RangeError(
      `centerCrop: ${width}x${height} is larger than the ${image.width}x${image.height} image`,
    );
  }
  const x0 = Math.floor((image.width - width) / 2);
  const y0 = Math.floor((image.height - height) / 2);
  const n = image.width * image.height, m = width * height;
  const data = new Float32Array(3 * m);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < height; y++) {
      const from = c * n + (y0 + y) * image.width + x0;
      data.set(image.data.subarray(from, from + width), c * m + y * width);
    }
  }
  return { width, height, data };
}

/** Resize the shorter side to 256 and crop the centre (ImageNet evaluation). */
export function classifierView(
  image: RgbImage,
  crop: number,
  resize = 256,
): RgbImage {
  return centerCrop(resizeShorterSide(image, Math.max(resize, crop)), crop);
}

/** Softmax in f64 (the probabilities sum to 1 to rounding). */
export function softmaxF64(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    sum += p[i] = Math.exp(logits[i] - max);
  }
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

/** The k most probable classes, most probable first (ties: lower index). */
export function topK(
  probabilities: ArrayLike<number>,
  k: number,
): Prediction[] {
  const order = Array.from({ length: probabilities.length }, (_, i) => i);
  order.sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  const labels = probabilities.length === IMAGENET_LABELS.length
    ? IMAGENET_LABELS
    : null;
  return order.slice(0, Math.min(k, order.length)).map((index) => ({
    index,
    label: labels ? labels[index] : `class ${index}`,
    probability: probabilities[index],
  }));
}

/** Class probabilities of one image (the full softmax vector). */
export function classProbabilities(
  loaded: LoadedModel,
  image: RgbImage,
): Float64Array {
  if (loaded.numClasses === null) {
    throw new RangeError(
      `${loaded.name} was loaded without a classifier (${loaded.source} has no fc6-fc8)`,
    );
  }
  const view = classifierView(image, loaded.inputSize);
  const { logits } = noGrad(() =>
    tidy(() => {
      const x = toModelInput(view, loaded.preprocessing);
      return { logits: loaded.model.forward(x).data() };
    })
  );
  return softmaxF64(logits);
}

/** Top-k ImageNet classes of an image. */
export function classifyImage(
  loaded: LoadedModel,
  image: RgbImage,
  top = 5,
): Prediction[] {
  return topK(classProbabilities(loaded, image), top);
}
