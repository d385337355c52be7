// Weight-name layouts: every published VGG/AlexNet weight file names its
// tensors its own way. This module lists each model's layers (canonical
// names conv1_1 … fc8 for VGG, conv1 … fc8 for AlexNet, with our parameter
// names and shapes), recognises the layout of a file's tensor names and maps
// each tensor to a layer. Shapes are checked by models/load.ts.
//
// Layouts (detected from the names):
// * torchvision: features.N.weight / classifier.N.weight (torchvision's
//   vgg16/vgg19/alexnet state dicts; also a bare features state dict whose
//   keys are N.weight). Our VGG and torchvision-AlexNet use these names.
// * timm: VGG features.N.* as torchvision, but the classifier is a "ConvMlp":
//   pre_logits.fc1 is fc6 as a 7x7 convolution [4096, 512, 7, 7],
//   pre_logits.fc2 is fc7 as a 1x1 convolution [4096, 4096, 1, 1], head.fc
//   is fc8. A 7x7 convolution over the 7x7 pool5 map is exactly fc6 on the
//   flattened map (same C·H·W order), so the weights only need a reshape.
// * caffe: the layer names of the Caffe prototxt (conv1_1 … conv5_4, fc6 …
//   fc8; AlexNet conv1 … conv5) with a parameter suffix: .weight/.bias
//   (PyTorch ports), _W/_b (caffe-tensorflow, Keras ports), _w/_b (Caffe2) or
//   _w_0/_b_0 (the ONNX model zoo's Caffe2 exports, e.g. bvlcalexnet-*.onnx:
//   conv1_w_0, fc6_b_0).
// * onnx-gluon: the ONNX model zoo's VGG (vgg16-7.onnx, vgg19-7.onnx,
//   exported from MXNet Gluon): vgg0_conv0_weight … vgg0_conv15_weight,
//   vgg0_dense0_weight … vgg0_dense2_bias, numbered in network order.
// * wct: the Torch7 VGG-19 encoders of Li et al. 2017 (Universal Style
//   Transfer) and Huang & Belongie 2017 (AdaIN) converted to PyTorch: keys
//   are nn.Sequential indices N.weight, starting with a 1x1 convolution "0"
//   that turns RGB in 0..1 into Caffe's BGR minus mean, then
//   ReflectionPad + conv + ReLU per conv layer and a MaxPool per block (see
//   shared/data/weights/vgg19-normalised-conv3_1/README.md).
// This module is browser compatible.
import { vggTaps } from "./vgg.ts";
import { CAFFE_BGR, type Preprocessing, TORCH_RGB } from "./preprocess.ts";
import type { WeightTensor } from "./weights.ts";

export type ModelName = "vgg16" | "vgg19" | "alexnet" | "alexnet-caffe";
export const MODEL_NAMES: readonly ModelName[] = [
  "vgg16",
  "vgg19",
  "alexnet",
  "alexnet-caffe",
];

export type WeightLayout =
  | "torchvision"
  | "timm"
  | "caffe"
  | "onnx-gluon"
  | "wct";
export const WEIGHT_LAYOUTS: readonly WeightLayout[] = [
  "torchvision",
  "timm",
  "caffe",
  "onnx-gluon",
  "wct",
];

export interface HeadSize {
  /** Units of fc6 and fc7. */
  hiddenUnits: number;
  numClasses: number;
}

/** One layer with parameters, as our models name and shape it. */
export interface LayerSpec {
  /** Canonical layer name (also the tap it produces). */
  layer: string;
  kind: "conv" | "fc";
  /** Our parameter names. */
  weight: string;
  bias: string;
  weightShape: number[];
  biasShape: number[];
}

/** The mean pixel of the BVLC ImageNet mean image (ilsvrc_2012_mean.npy). */
export const BVLC_ALEXNET_PREPROCESSING: Preprocessing = {
  kind: "caffe-bgr",
  meanBgr: [104.00698793, 116.66876762, 122.67891434],
};

/** Every layer with parameters of `model`, in network order. */
export function modelLayers(
  model: ModelName,
  head: Partial<HeadSize> = {},
): LayerSpec[] {
  const hidden = head.hiddenUnits ?? 4096;
  const classes = head.numClasses ?? 1000;
  const out: LayerSpec[] = [];
  const add = (
    layer: string,
    kind: "conv" | "fc",
    prefix: string,
    weightShape: number[],
  ) =>
    out.push({
      layer,
      kind,
      weight: `${prefix}.weight`,
      bias: `${prefix}.bias`,
      weightShape,
      biasShape: [weightShape[0]],
    });
  if (model === "vgg16" || model === "vgg19") {
    let inChannels = 3;
    for (const t of vggTaps(model === "vgg16" ? 16 : 19)) {
      if (t.kind !== "conv") continue;
      add(t.name, "conv", `features.${t.index}`, [
        t.channels,
        inChannels,
        3,
        3,
      ]);
      inChannels = t.channels;
    }
    add("fc6", "fc", "classifier.0", [hidden, 512 * 7 * 7]);
    add("fc7", "fc", "classifier.3", [hidden, hidden]);
    add("fc8", "fc", "classifier.6", [classes, hidden]);
  } else if (model === "alexnet") {
    add("conv1", "conv", "features.0", [64, 3, 11, 11]);
    add("conv2", "conv", "features.3", [192, 64, 5, 5]);
    add("conv3", "conv", "features.6", [384, 192, 3, 3]);
    add("conv4", "conv", "features.8", [256, 384, 3, 3]);
    add("conv5", "conv", "features.10", [256, 256, 3, 3]);
    add("fc6", "fc", "classifier.1", [hidden, 256 * 6 * 6]);
    add("fc7", "fc", "classifier.4", [hidden, hidden]);
    add("fc8", "fc", "classifier.6", [classes, hidden]);
  } else {
    // Grouped convolutions hold in/groups input channels per filter.
    add("conv1", "conv", "conv1", [96, 3, 11, 11]);
    add("conv2", "conv", "conv2", [256, 48, 5, 5]);
    add("conv3", "conv", "conv3", [384, 256, 3, 3]);
    add("conv4", "conv", "conv4", [384, 192, 3, 3]);
    add("conv5", "conv", "conv5", [256, 192, 3, 3]);
    add("fc6", "fc", "fc6", [hidden, 256 * 6 * 6]);
    add("fc7", "fc", "fc7", [hidden, hidden]);
    add("fc8", "fc", "fc8", [classes, hidden]);
  }
  return out;
}

/**
 * The preprocessing a layout's weights expect when the file does not say:
 * torchvision and timm → torch-rgb (RGB 0..1, ImageNet mean/std); Caffe
 * ports → caffe-bgr (BGR 0..255 minus the mean pixel; the BVLC mean for
 * AlexNet, the VGG authors' mean for VGG); ONNX zoo VGG (Gluon) → torch-rgb
 * (Gluon's model zoo normalises like torchvision); wct → caffe-bgr (its 1x1
 * input convolution is read by models/load.ts, this is only the fallback).
 */
export function defaultPreprocessing(
  layout: WeightLayout,
  model: ModelName,
): Preprocessing {
  if (layout === "caffe") {
    return model === "alexnet-caffe" ? BVLC_ALEXNET_PREPROCESSING : CAFFE_BGR;
  }
  if (layout === "wct") return CAFFE_BGR;
  return TORCH_RGB;
}

/** DataParallel and Lightning wrappers prefix every key; drop a shared prefix. */
export function stripWrapperPrefix(
  keys: readonly string[],
): (k: string) => string {
  for (const prefix of ["module.", "model."]) {
    if (keys.length && keys.every((k) => k.startsWith(prefix))) {
      return (k) => k.slice(prefix.length);
    }
  }
  return (k) => k;
}

const CAFFE_KEY =
  /^(conv\d+(?:_\d+)?|fc\d+)(?:\.(weight|bias)|_(W|w|b)(?:_0)?)$/;
const GLUON_KEY = /^(?:[A-Za-z]+\d*_)?(conv|dense)(\d+)_(weight|bias)$/;
const INDEX_KEY = /^(\d+)\.(weight|bias)$/;

/** Recognises the layout of a weight file's names, or null. */
export function detectLayout(
  tensors: ReadonlyMap<string, WeightTensor>,
): WeightLayout | null {
  const strip = stripWrapperPrefix([...tensors.keys()]);
  const keys = [...tensors.keys()].map(strip);
  if (keys.some((k) => /^(pre_logits\.fc[12]|head\.fc)\./.test(k))) {
    return "timm";
  }
  if (keys.some((k) => /^(features|classifier)\.\d+\./.test(k))) {
    return "torchvision";
  }
  if (keys.some((k) => INDEX_KEY.test(k))) {
    const first = [...tensors].find(([k]) => strip(k) === "0.weight")?.[1];
    const isInputConv = first?.shape.length === 4 &&
      first.shape.join() === "3,3,1,1";
    return isInputConv ? "wct" : "torchvision";
  }
  if (keys.some((k) => GLUON_KEY.test(k))) return "onnx-gluon";
  if (keys.some((k) => CAFFE_KEY.test(k))) return "caffe";
  return null;
}

/** A source tensor and the name it has in the file. */
export interface SourceTensor {
  key: string;
  tensor: WeightTensor;
}

export interface NameMapping {
  layout: WeightLayout;
  /** Source tensors per canonical layer name. */
  layers: Map<string, { weight?: SourceTensor; bias?: SourceTensor }>;
  /** Keys that name no layer of the model (or a layer twice). */
  extra: string[];
  /** wct: the 1x1 input convolution (keys 0.weight and 0.bias). */
  inputConv?: { weight: WeightTensor; bias: WeightTensor | null };
}

/** Sequential index of each conv layer in the Torch7 VGG encoders. */
function wctIndices(depth: 16 | 19): Map<number, string> {
  // 0 is the 1x1 input conv; each conv layer is ReflectionPad2d, Conv2d,
  // ReLU; each pooling layer is one MaxPool2d.
  const map = new Map<number, string>();
  let i = 1;
  for (const t of vggTaps(depth)) {
    if (t.kind === "conv") {
      map.set(i + 1, t.name);
      i += 2;
    } else i += 1;
  }
  return map;
}

/**
 * Maps the tensors of a weight file to `model`'s layers (names only; shapes
 * are checked by the caller). The layout is detected unless given.
 */
export function mapWeightNames(
  tensors: ReadonlyMap<string, WeightTensor>,
  model: ModelName,
  layout: WeightLayout | null = detectLayout(tensors),
): NameMapping | null {
  if (!layout) return null;
  const specs = modelLayers(model);
  const byOurName = new Map<string, [string, "weight" | "bias"]>();
  for (const s of specs) {
    byOurName.set(s.weight, [s.layer, "weight"]);
    byOurName.set(s.bias, [s.layer, "bias"]);
  }
  const layerNames = new Set(specs.map((s) => s.layer));
  const convs = specs.filter((s) => s.kind === "conv").map((s) => s.layer);
  const fcs = specs.filter((s) => s.kind === "fc").map((s) => s.layer);
  const isVgg = model === "vgg16" || model === "vgg19";
  // Torchvision names only mean our torchvision-named models' layers.
  const torchvisionNamed = model !== "alexnet-caffe";
  const wct = isVgg ? wctIndices(model === "vgg16" ? 16 : 19) : new Map();

  const locate = (key: string): [string, "weight" | "bias"] | null => {
    let m: RegExpExecArray | null;
    if (layout === "torchvision" || layout === "timm") {
      if (layout === "timm" && isVgg) {
        const t = /^(pre_logits\.fc1|pre_logits\.fc2|head\.fc)\.(weight|bias)$/
          .exec(key);
        if (t) {
          const layer = {
            "pre_logits.fc1": "fc6",
            "pre_logits.fc2": "fc7",
            "head.fc": "fc8",
          }[
            t[1]
          ]!;
          return [layer, t[2] as "weight" | "bias"];
        }
      }
      if (!torchvisionNamed) return null;
      const full = INDEX_KEY.test(key) ? `features.${key}` : key;
      return byOurName.get(full) ?? null;
    }
    if (layout === "caffe") {
      if (!(m = CAFFE_KEY.exec(key)) || !layerNames.has(m[1])) return null;
      const part = m[2] ?? (m[3] === "b" ? "bias" : "weight");
      return [m[1], part as "weight" | "bias"];
    }
    if (layout === "onnx-gluon") {
      if (!(m = GLUON_KEY.exec(key))) return null;
      const layer = (m[1] === "conv" ? convs : fcs)[Number(m[2])];
      return layer ? [layer, m[3] as "weight" | "bias"] : null;
    }
    if (!(m = INDEX_KEY.exec(key))) return null;
    const layer = wct.get(Number(m[1]));
    return layer ? [layer, m[2] as "weight" | "bias"] : null;
  };

  const strip = stripWrapperPrefix([...tensors.keys()]);
  const mapping: NameMapping = { layout, layers: new Map(), extra: [] };
  let inputWeight: WeightTensor | undefined,
    inputBias: WeightTensor | null = null;
  for (const [rawKey, tensor] of tensors) {
    const key = strip(rawKey);
    if (layout === "wct" && (key === "0.weight" || key === "0.bias")) {
      if (key === "0.weight") inputWeight = tensor;
      else inputBias = tensor;
      continue;
    }
    const where = locate(key);
    if (!where) {
      mapping.extra.push(rawKey);
      continue;
    }
    const [layer, part] = where;
    const entry = mapping.layers.get(layer) ?? {};
    if (entry[part]) {
      mapping.extra.push(rawKey);
      continue;
    }
    entry[part] = { key: rawKey, tensor };
    mapping.layers.set(layer, entry);
  }
  if (inputWeight) mapping.inputConv = { weight: inputWeight, bias: inputBias };
  return mapping;
}
