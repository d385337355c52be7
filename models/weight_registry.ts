// Published VGG and AlexNet weights: where each lives, what it hashes to,
// which of our models it fits and the preprocessing it expects.
// `deno task weights <name>` downloads one (models/weight_cache.ts).
//
// Hashes: torchvision names its files <arch>-<first 8 hex of the SHA-256>.pth
// (torch.hub.download_url_to_file checks that prefix), so the prefix is
// what is published. Where no full hash is recorded here, the first
// download's full SHA-256 is recorded in the cache's index.json and every
// later download or resume is checked against it.
// This module is browser compatible.
import { type Preprocessing, TORCH_RGB } from "./preprocess.ts";
import { vggTaps } from "./vgg.ts";

export type RegistryModel = "vgg16" | "vgg19" | "alexnet" | "alexnet-caffe";

export interface WeightEntry {
  /** What users type: `deno task weights vgg19`. */
  name: string;
  description: string;
  url: string;
  /** File name in the cache's downloads/ directory. */
  fileName: string;
  format: "pth" | "onnx" | "safetensors";
  /** Full SHA-256 (hex) where known. */
  sha256?: string;
  /** Published hash prefix (torchvision's file-name hash). */
  sha256Prefix?: string;
  /** Approximate size, for messages only. */
  approxMB: number;
  model: RegistryModel;
  preprocessing: Preprocessing;
}

/** BVLC AlexNet's mean pixel (as models/weight_names.ts). */
const BVLC_BGR: Preprocessing = {
  kind: "caffe-bgr",
  meanBgr: [104.00698793, 116.66876762, 122.67891434],
};

const TORCHVISION = "https://download.pytorch.org/models";
const ONNX_ZOO =
  "https://github.com/onnx/models/raw/main/validated/vision/classification";
const HF = "https://huggingface.co";

export const WEIGHT_REGISTRY: readonly WeightEntry[] = [
  {
    name: "vgg19",
    description: "VGG19 ImageNet weights from torchvision (PyTorch .pth)",
    url: `${TORCHVISION}/vgg19-dcbb9e9d.pth`,
    fileName: "vgg19-dcbb9e9d.pth",
    format: "pth",
    sha256Prefix: "dcbb9e9d",
    approxMB: 548,
    model: "vgg19",
    preprocessing: TORCH_RGB,
  },
  {
    name: "vgg16",
    description: "VGG16 ImageNet weights from torchvision (PyTorch .pth)",
    url: `${TORCHVISION}/vgg16-397923af.pth`,
    fileName: "vgg16-397923af.pth",
    format: "pth",
    sha256Prefix: "397923af",
    approxMB: 528,
    model: "vgg16",
    preprocessing: TORCH_RGB,
  },
  {
    name: "alexnet",
    description:
      "AlexNet (one weird trick variant) ImageNet weights from torchvision (PyTorch .pth)",
    url: `${TORCHVISION}/alexnet-owt-7be5be79.pth`,
    fileName: "alexnet-owt-7be5be79.pth",
    format: "pth",
    sha256Prefix: "7be5be79",
    approxMB: 233,
    model: "alexnet",
    preprocessing: TORCH_RGB,
  },
  {
    name: "vgg19-onnx",
    description:
      "VGG19 from the ONNX model zoo (vgg19-7.onnx, MXNet Gluon export)",
    url: `${ONNX_ZOO}/vgg/model/vgg19-7.onnx`,
    fileName: "vgg19-7.onnx",
    format: "onnx",
    approxMB: 548,
    model: "vgg19",
    preprocessing: TORCH_RGB,
  },
  {
    name: "vgg16-onnx",
    description:
      "VGG16 from the ONNX model zoo (vgg16-7.onnx, MXNet Gluon export)",
    url: `${ONNX_ZOO}/vgg/model/vgg16-7.onnx`,
    fileName: "vgg16-7.onnx",
    format: "onnx",
    approxMB: 528,
    model: "vgg16",
    preprocessing: TORCH_RGB,
  },
  {
    name: "alexnet-caffe-onnx",
    description:
      "BVLC reference AlexNet from the ONNX model zoo (bvlcalexnet-12.onnx, Caffe2 export)",
    url: `${ONNX_ZOO}/alexnet/model/bvlcalexnet-12.onnx`,
    fileName: "bvlcalexnet-12.onnx",
    format: "onnx",
    approxMB: 233,
    model: "alexnet-caffe",
    preprocessing: BVLC_BGR,
  },
  {
    name: "vgg19-timm",
    description:
      "torchvision's VGG19 as safetensors on the Hugging Face hub (timm/vgg19.tv_in1k); " +
      "--only-taps fetches just the needed tensors with range requests",
    url: `${HF}/timm/vgg19.tv_in1k/resolve/main/model.safetensors`,
    fileName: "vgg19.tv_in1k.safetensors",
    format: "safetensors",
    approxMB: 548,
    model: "vgg19",
    preprocessing: TORCH_RGB,
  },
  {
    name: "vgg16-timm",
    description:
      "torchvision's VGG16 as safetensors on the Hugging Face hub (timm/vgg16.tv_in1k); " +
      "--only-taps fetches just the needed tensors with range requests",
    url: `${HF}/timm/vgg16.tv_in1k/resolve/main/model.safetensors`,
    fileName: "vgg16.tv_in1k.safetensors",
    format: "safetensors",
    approxMB: 528,
    model: "vgg16",
    preprocessing: TORCH_RGB,
  },
];

/** The registry entry called `name`, or undefined. */
export function findWeightEntry(name: string): WeightEntry | undefined {
  return WEIGHT_REGISTRY.find((e) => e.name === name);
}

/** The names users can pass to `deno task weights`. */
export function weightNames(): string[] {
  return WEIGHT_REGISTRY.map((e) => e.name);
}

/**
 * The layers (canonical names, as models/weight_names.ts modelLayers) whose
 * parameters the given taps need: every conv layer up to the deepest tap,
 * and the fully connected layers up to a requested fc tap. Throws a
 * one-line RangeError on a tap the model does not have.
 */
export function layersForTaps(
  model: RegistryModel,
  taps: readonly string[],
): string[] {
  // Layer names in network order, and each tap's last needed layer.
  const order: string[] = [];
  const lastLayer = new Map<string, string>();
  if (model === "vgg16" || model === "vgg19") {
    let current = "";
    for (const t of vggTaps(model === "vgg16" ? 16 : 19)) {
      if (t.kind === "conv") order.push(current = t.name);
      lastLayer.set(t.name, current);
    }
    for (const fc of ["fc6", "fc7", "fc8"]) {
      order.push(fc);
      lastLayer.set(fc, fc);
      if (fc !== "fc8") lastLayer.set(`relu${fc.slice(2)}`, fc);
    }
  } else {
    for (let i = 1; i <= 5; i++) {
      order.push(`conv${i}`);
      for (const kind of ["conv", "relu", "norm", "lrn", "pool"]) {
        lastLayer.set(`${kind}${i}`, `conv${i}`);
      }
    }
    for (const fc of ["fc6", "fc7", "fc8"]) {
      order.push(fc);
      lastLayer.set(fc, fc);
      if (fc !== "fc8") lastLayer.set(`relu${fc.slice(2)}`, fc);
    }
  }
  let deepest = -1;
  for (const tap of taps) {
    const layer = lastLayer.get(tap);
    if (layer === undefined) {
      throw new RangeError(
        `${model} has no tap "${tap}"; taps: ${
          [...lastLayer.keys()].join(", ")
        }`,
      );
    }
    deepest = Math.max(deepest, order.indexOf(layer));
  }
  return order.slice(0, deepest + 1);
}
