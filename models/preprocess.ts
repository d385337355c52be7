// How a weight set expects its input, and conversions between images and
// model inputs. Weight files record this in their metadata so that users
// never have to know it.
// This module is browser compatible.
import type { RgbImage } from "../runtime/io/image.ts";
import { type Tensor, tensor } from "../runtime/tensor.ts";

/**
 * caffe-bgr: BGR, 0..255, minus the ImageNet mean pixel (Caffe VGG/AlexNet,
 * Gatys' normalised VGG). torch-rgb: RGB, 0..1, minus mean, over std
 * (torchvision).
 */
export type Preprocessing =
  | { kind: "caffe-bgr"; meanBgr: [number, number, number] }
  | {
    kind: "torch-rgb";
    mean: [number, number, number];
    std: [number, number, number];
  };

export const CAFFE_BGR: Preprocessing = {
  kind: "caffe-bgr",
  meanBgr: [103.939, 116.779, 123.68],
};

export const TORCH_RGB: Preprocessing = {
  kind: "torch-rgb",
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

/** Per model-input channel: input = pixel(channel source) * scale + shift. */
function channelMaps(p: Preprocessing): {
  source: number[];
  scale: number[];
  shift: number[];
} {
  if (p.kind === "caffe-bgr") {
    return {
      source: [2, 1, 0],
      scale: [255, 255, 255],
      shift: p.meanBgr.map((m) => -m),
    };
  }
  return {
    source: [0, 1, 2],
    scale: p.std.map((s) => 1 / s),
    shift: p.mean.map((m, i) => -m / p.std[i]),
  };
}

/** Planar RGB in 0..1 → model input values (same layout, 3 planes). */
export function toModelValues(
  image: RgbImage,
  p: Preprocessing,
): Float32Array {
  const n = image.width * image.height;
  const { source, scale, shift } = channelMaps(p);
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const src = image.data.subarray(source[c] * n, source[c] * n + n);
    const o = out.subarray(c * n, c * n + n);
    for (let i = 0; i < n; i++) o[i] = src[i] * scale[c] + shift[c];
  }
  return out;
}

/** A [1, 3, H, W] model input tensor for an image. */
export function toModelInput(image: RgbImage, p: Preprocessing): Tensor {
  return tensor(toModelValues(image, p), [1, 3, image.height, image.width]);
}

/** Model input values (3 planes) → planar RGB in 0..1 (unclamped). */
export function fromModelValues(
  values: Float32Array,
  width: number,
  height: number,
  p: Preprocessing,
): RgbImage {
  const n = width * height;
  const { source, scale, shift } = channelMaps(p);
  const data = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const dst = data.subarray(source[c] * n, source[c] * n + n);
    const v = values.subarray(c * n, c * n + n);
    for (let i = 0; i < n; i++) dst[i] = (v[i] - shift[c]) / scale[c];
  }
  return { width, height, data };
}

/** Reads preprocessing from weight-file metadata (safetensors strings). */
export function preprocessingFromMetadata(
  meta: Readonly<Record<string, string>>,
): Preprocessing | null {
  const kind = meta.preprocess ?? meta.preprocessing;
  if (kind === "caffe-bgr") {
    const mean = (meta.mean_bgr ?? "").split(",").map(Number);
    return {
      kind,
      meanBgr: mean.length === 3 && mean.every(Number.isFinite)
        ? mean as [number, number, number]
        : [103.939, 116.779, 123.68],
    };
  }
  if (kind === "torch-rgb") {
    const mean = (meta.mean_rgb ?? "").split(",").map(Number);
    const std = (meta.std_rgb ?? "").split(",").map(Number);
    const ok = (a: number[]) => a.length === 3 && a.every(Number.isFinite);
    const d = TORCH_RGB as Extract<Preprocessing, { kind: "torch-rgb" }>;
    return {
      kind,
      mean: ok(mean) ? mean as [number, number, number] : [...d.mean],
      std: ok(std) ? std as [number, number, number] : [...d.std],
    };
  }
  return null;
}

/** Metadata strings that record `p` (for writing safetensors). */
export function preprocessingToMetadata(
  p: Preprocessing,
): Record<string, string> {
  return p.kind === "caffe-bgr"
    ? { preprocess: p.kind, mean_bgr: p.meanBgr.join(","), scale: "255" }
    : {
      preprocess: p.kind,
      mean_rgb: p.mean.join(","),
      std_rgb: p.std.join(","),
      scale: "1",
    };
}
