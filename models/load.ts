// Build a model and load a weight file into it in one call, whatever the
// file's format (models/weights.ts) and tensor names (models/weight_names.ts):
//
//   const { model, preprocessing } = await loadModel({
//     model: "vgg19", weights: "vgg19.safetensors", upTo: "relu4_1",
//   });
//
// Every shape is checked, and every problem is reported at once in one
// line (missing, extra, mismatched tensors). Partial weight files are fine as
// long as they cover the layers asked for; without `upTo` the model is built
// as far as the weights go (with the classifier when fc6-fc8 are present).
// The head's size (fc6/fc7 units, classes) is read from the weights, so
// fine-tuned heads load too. The model comes back in eval mode.
// This module is browser compatible.
import { AlexNet, alexnetInputSize, alexnetTaps } from "./alexnet.ts";
import type { Preprocessing } from "./preprocess.ts";
import { VGG, vggTaps } from "./vgg.ts";
import {
  defaultPreprocessing,
  type LayerSpec,
  mapWeightNames,
  MODEL_NAMES,
  modelLayers,
  type ModelName,
  type NameMapping,
  type SourceTensor,
  type WeightLayout,
} from "./weight_names.ts";
import {
  readWeights,
  type WeightFormat,
  type WeightSet,
  type WeightTensor,
} from "./weights.ts";
import { currentPlatform } from "../runtime/platform/mod.ts";

export interface LoadModelOptions {
  model: ModelName;
  /** A file path, the file's bytes, or an already read WeightSet. */
  weights: string | Uint8Array | WeightSet;
  /** Name of the weights in messages when passing bytes. */
  source?: string;
  /** Build only the layers up to and including this tap. */
  upTo?: string;
  /** Taps you will read: checks that the weights cover them (sets upTo). */
  taps?: readonly string[];
  /** VGG: max (default) or average pooling (Gatys et al.). */
  pooling?: "max" | "avg";
  /** VGG: zero (default) or reflect padding. */
  padMode?: "zero" | "reflect";
  /** Build fc6-fc8 (default: when the weights have them and no upTo). */
  classifier?: boolean;
  /** Overrides the preprocessing from the file or the layout's default. */
  preprocessing?: Preprocessing;
  /** Overrides layout detection. */
  layout?: WeightLayout;
  /**
   * wct layout: fold the 1x1 input convolution into conv1_1 instead of
   * expressing it as caffe-bgr preprocessing. Exact with reflect padding
   * only (see foldInputConv).
   */
  foldInputConv?: boolean;
}

export interface LoadedModel {
  model: VGG | AlexNet;
  name: ModelName;
  /** How images must be turned into inputs (models/preprocess.ts). */
  preprocessing: Preprocessing;
  /** Every tap these weights can compute, in order. */
  coveredTaps: string[];
  format: WeightFormat;
  layout: WeightLayout;
  /** The file name (or `source`). */
  source: string;
  /** The input size the classifier was trained on (224; 227 Caffe AlexNet). */
  inputSize: number;
  /** Classes of the loaded classifier, null without one. */
  numClasses: number | null;
  /** Remarks on choices made while loading (for logs). */
  notes: string[];
}

/** A weight file that does not fit the model; the message is one line. */
export class ModelLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelLoadError";
  }
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; code?: string };
  return err?.name === "NotFound" || err?.code === "ENOENT";
}

/** Reads a weight file by path with a one-line message when it is absent. */
export async function readWeightsFile(path: string): Promise<WeightSet> {
  let bytes: Uint8Array;
  try {
    bytes = await (await currentPlatform()).readFile(path);
  } catch (e) {
    if (isNotFound(e)) {
      throw new ModelLoadError(
        `weights file ${path} not found: download published weights with \`deno task weights <name>\` (docs/models.md lists them) and pass their path`,
      );
    }
    throw new ModelLoadError(
      `cannot read weights file ${path}: ${
        String((e as Error)?.message ?? e).split("\n")[0]
      }`,
    );
  }
  return await readWeights(bytes, baseName(path));
}

/** Tap names of a model in order, with the layer each tap needs last. */
function modelTaps(
  name: ModelName,
): { tap: string; layer: string | null; head: boolean }[] {
  if (name === "vgg16" || name === "vgg19") {
    const taps = vggTaps(name === "vgg16" ? 16 : 19).map((t) => ({
      tap: t.name,
      layer: t.kind === "conv" ? t.name : null,
      head: false,
    }));
    for (const fc of ["fc6", "fc7", "fc8"]) {
      taps.push({ tap: fc, layer: fc, head: true });
    }
    return taps;
  }
  return alexnetTaps(name === "alexnet" ? "torchvision" : "caffe").map((t) => ({
    tap: t.name,
    layer: t.kind === "conv" || t.kind === "fc" ? t.name : null,
    head: t.head,
  }));
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

/** First dimension that is not 1 (legacy Caffe blobs are [1, 1, out, in]). */
function leadingDim(shape: readonly number[]): number {
  return shape.find((d) => d !== 1) ?? 1;
}

/**
 * Whether a source tensor can fill a parameter: the same shape, or for
 * fully connected layers and biases the same values in a shape that only
 * adds unit dimensions or folds the input axis (timm's 7x7 "fc6" conv).
 */
function fits(
  spec: LayerSpec,
  part: "weight" | "bias",
  shape: readonly number[],
): boolean {
  const want = part === "weight" ? spec.weightShape : spec.biasShape;
  if (shape.length === want.length && shape.every((d, i) => d === want[i])) {
    return true;
  }
  if (numel(shape) !== numel(want)) return false;
  if (part === "bias") return shape.filter((d) => d !== 1).length <= 1;
  return spec.kind === "fc" && leadingDim(shape) === want[0];
}

/**
 * The 1x1 input convolution of the Torch7 VGG encoders as preprocessing,
 * or null when it is not Caffe's. Those encoders take RGB in 0..1 and their
 * first layer computes 255·(B, G, R) − mean_bgr: weight = 255 × the RGB→BGR
 * swap, bias = −(103.939, 116.779, 123.68) (README of
 * shared/data/weights/vgg19-normalised-conv3_1). That is exactly our
 * caffe-bgr preprocessing, applied before the padding just like the conv
 * (which sits before the first ReflectionPad2d), so skipping the conv and
 * preprocessing the image instead gives the same activations for any
 * padding mode. The mean is kept at the conv's float32 values.
 */
export function inputConvAsPreprocessing(
  weight: WeightTensor,
  bias: WeightTensor | null,
): Preprocessing | null {
  if (weight.shape.join() !== "3,3,1,1" || !bias || bias.data.length !== 3) {
    return null;
  }
  for (let o = 0; o < 3; o++) {
    for (let c = 0; c < 3; c++) {
      const want = c === 2 - o ? 255 : 0;
      if (Math.abs(weight.data[o * 3 + c] - want) > 1e-4) return null;
    }
  }
  const mean = [-bias.data[0], -bias.data[1], -bias.data[2]];
  if (!mean.every((m) => m > 50 && m < 200)) return null;
  return { kind: "caffe-bgr", meanBgr: mean as [number, number, number] };
}

/**
 * Folds a 1x1 input convolution y = A·x + a (per pixel) into the next
 * convolution: W'[o, c] = Σ_j W[o, j]·A[j, c], b'[o] = b[o] + Σ_j,r,s
 * W[o, j, r, s]·a[j]. Exact where the next convolution sees only conv
 * outputs, i.e. with reflect padding (the padded border is then also an
 * affine image of the input); with zero padding the border would be 0 after
 * the 1x1 conv but A·0 + a after folding.
 */
export function foldInputConv(
  input: { weight: WeightTensor; bias: WeightTensor | null },
  conv: { weight: WeightTensor; bias: WeightTensor },
): { weight: WeightTensor; bias: WeightTensor } {
  const [k, cin, r, s] = conv.weight.shape;
  const a = input.weight.data, a0 = input.bias?.data ?? new Float32Array(cin);
  const inputs = input.weight.shape[1];
  const w = conv.weight.data, rs = r * s;
  const folded = new Float32Array(k * inputs * rs);
  const bias = Float64Array.from(conv.bias.data);
  for (let o = 0; o < k; o++) {
    for (let j = 0; j < cin; j++) {
      for (let p = 0; p < rs; p++) {
        const v = w[(o * cin + j) * rs + p];
        bias[o] += v * a0[j];
        for (let c = 0; c < inputs; c++) {
          folded[(o * inputs + c) * rs + p] += v * a[j * inputs + c];
        }
      }
    }
  }
  return {
    weight: { shape: [k, inputs, r, s], data: folded },
    bias: { shape: [k], data: Float32Array.from(bias) },
  };
}

function listSome(items: readonly string[], max = 8): string {
  return items.length <= max
    ? items.join(", ")
    : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

/** The other models these weights would fit without problems (for hints). */
function otherFits(set: WeightSet, exclude: ModelName): ModelName[] {
  return MODEL_NAMES.filter((name) => {
    if (name === exclude) return false;
    const m = mapWeightNames(set.tensors, name);
    if (!m || m.extra.length || m.layers.size === 0) return false;
    const specs = modelLayers(name, headSize(m) ?? undefined);
    return [...m.layers].every(([layer, e]) => {
      const spec = specs.find((s) => s.layer === layer)!;
      return (!e.weight || fits(spec, "weight", e.weight.tensor.shape)) &&
        (!e.bias || fits(spec, "bias", e.bias.tensor.shape));
    });
  });
}

/** fc6/fc8 sizes from the weights (null without a complete head). */
function headSize(
  m: NameMapping,
): { hiddenUnits: number; numClasses: number } | null {
  const fc6 = m.layers.get("fc6")?.weight, fc8 = m.layers.get("fc8")?.weight;
  if (!fc6 || !fc8) return null;
  return {
    hiddenUnits: leadingDim(fc6.tensor.shape),
    numClasses: leadingDim(fc8.tensor.shape),
  };
}

/** Builds `options.model`, loads the weights into it and returns both. */
export async function loadModel(
  options: LoadModelOptions,
): Promise<LoadedModel> {
  const name = options.model;
  if (!MODEL_NAMES.includes(name)) {
    throw new ModelLoadError(
      `unknown model "${name}"; choose one of ${MODEL_NAMES.join(", ")}`,
    );
  }
  const w = options.weights;
  const set = typeof w === "string"
    ? await readWeightsFile(w)
    : w instanceof Uint8Array
    ? await readWeights(w, options.source ?? "weights")
    : w;
  const src = set.source;
  const mapping = mapWeightNames(
    set.tensors,
    name,
    options.layout ?? undefined,
  );
  if (!mapping) {
    throw new ModelLoadError(
      `${src}: tensor names ${
        listSome([...set.tensors.keys()], 4)
      } match no known layout (torchvision, timm, caffe, onnx-gluon, wct); see docs/models.md`,
    );
  }
  const notes: string[] = [];
  const fit = (): string => {
    const others = otherFits(set, name);
    return others.length
      ? ` (these look like ${others.join(" or ")} weights: use --model ${
        others[0]
      })`
      : "";
  };
  if (mapping.extra.length) {
    throw new ModelLoadError(
      `${src}: ${mapping.extra.length} tensor(s) are not layers of ${name} in the ${mapping.layout} layout: ${
        listSome(mapping.extra)
      }${fit()}`,
    );
  }
  for (const [layer, e] of mapping.layers) {
    if (!e.weight || !e.bias) {
      throw new ModelLoadError(
        `${src}: ${layer} has a ${e.weight ? "weight" : "bias"} but no ${
          e.weight ? "bias" : "weight"
        } (${(e.weight ?? e.bias)!.key})`,
      );
    }
  }
  const head = headSize(mapping);
  const specs = modelLayers(name, head ?? undefined);
  const mismatched: string[] = [];
  for (const spec of specs) {
    const e = mapping.layers.get(spec.layer);
    for (const part of ["weight", "bias"] as const) {
      const t = e?.[part];
      if (t && !fits(spec, part, t.tensor.shape)) {
        const want = part === "weight" ? spec.weightShape : spec.biasShape;
        mismatched.push(
          `${t.key} is [${t.tensor.shape}], ${spec.layer} needs [${want}]`,
        );
      }
    }
  }
  if (mismatched.length) {
    throw new ModelLoadError(
      `${src}: shapes do not fit ${name}: ${listSome(mismatched, 4)}${fit()}`,
    );
  }

  // Coverage: taps up to the first layer the weights lack.
  const taps = modelTaps(name);
  const firstMissing = taps.findIndex((t) =>
    t.layer && !mapping.layers.has(t.layer)
  );
  const covered = firstMissing < 0 ? taps : taps.slice(0, firstMissing);
  if (covered.length === 0) {
    throw new ModelLoadError(`${src}: has no ${taps[0].layer} for ${name}`);
  }
  const lastLayer = [...covered].reverse().find((t) => t.layer)?.layer;
  const missingLayer = firstMissing < 0 ? null : taps[firstMissing].layer!;
  const notCovered = (what: string): ModelLoadError =>
    new ModelLoadError(
      `${missingLayer} is not in ${src} (it stops at ${lastLayer}); ${what} needs it: ask for ${
        covered[covered.length - 1].tap
      } or an earlier layer, or use complete ${name} weights`,
    );
  let upTo = options.upTo;
  if (options.taps?.length) {
    const index = (t: string) => {
      const i = taps.findIndex((x) => x.tap === t);
      if (i < 0) {
        throw new ModelLoadError(
          `${name} has no layer "${t}"; layers: ${
            taps.map((x) => x.tap).join(", ")
          }`,
        );
      }
      return i;
    };
    const deepest = Math.max(
      ...options.taps.map(index),
      upTo ? index(upTo) : -1,
    );
    upTo = taps[deepest].tap;
  }
  let classifier: boolean;
  if (upTo !== undefined) {
    const i = taps.findIndex((t) => t.tap === upTo);
    if (i < 0) {
      throw new ModelLoadError(
        `${name} has no layer "${upTo}"; layers: ${
          taps.map((t) => t.tap).join(", ")
        }`,
      );
    }
    if (i >= covered.length) throw notCovered(upTo);
    classifier = taps[i].head;
    if (options.classifier && !classifier) {
      throw new ModelLoadError(
        `${name}: a classifier needs the layers after ${upTo}`,
      );
    }
  } else {
    const complete = firstMissing < 0;
    classifier = options.classifier ?? complete;
    if (classifier && !complete) throw notCovered("the classifier");
    if (!classifier) {
      const lastFeature = [...covered].reverse().find((t) => !t.head)!;
      // A complete feature stack needs no truncation.
      const allFeatures = taps.filter((t) => !t.head);
      if (lastFeature.tap !== allFeatures[allFeatures.length - 1].tap) {
        upTo = lastFeature.tap;
      }
    }
  }

  // The values, in our parameter names.
  const values = new Map<string, SourceTensor>();
  for (const spec of specs) {
    const e = mapping.layers.get(spec.layer);
    if (e?.weight && e.bias) {
      values.set(spec.weight, e.weight);
      values.set(spec.bias, e.bias);
    }
  }
  let preprocessing = set.preprocessing ??
    defaultPreprocessing(mapping.layout, name);
  if (mapping.inputConv) {
    const asPre = inputConvAsPreprocessing(
      mapping.inputConv.weight,
      mapping.inputConv.bias,
    );
    if (asPre && !options.foldInputConv) {
      preprocessing = asPre;
      notes.push(
        "the 1x1 input convolution is Caffe preprocessing (caffe-bgr): applied to the image instead",
      );
    } else {
      const first = specs[0];
      const e = mapping.layers.get(first.layer)!;
      const f = foldInputConv(mapping.inputConv, {
        weight: e.weight!.tensor,
        bias: e.bias!.tensor,
      });
      values.set(first.weight, { key: e.weight!.key, tensor: f.weight });
      values.set(first.bias, { key: e.bias!.key, tensor: f.bias });
      // The folded network takes RGB in 0..1 as it is.
      preprocessing = { kind: "torch-rgb", mean: [0, 0, 0], std: [1, 1, 1] };
      notes.push(
        `the 1x1 input convolution is folded into ${first.layer}; exact with reflect padding only`,
      );
      if ((options.padMode ?? "zero") !== "reflect") {
        notes.push(
          "warning: folding with zero padding changes the border; use padMode reflect",
        );
      }
    }
  }
  if (options.preprocessing) preprocessing = options.preprocessing;

  const isVgg = name === "vgg16" || name === "vgg19";
  if (
    !isVgg && (options.pooling !== undefined || options.padMode !== undefined)
  ) {
    throw new ModelLoadError(
      `${name}: pooling and padMode options are for VGG only`,
    );
  }
  const model = isVgg
    ? new VGG({
      depth: name === "vgg16" ? 16 : 19,
      upTo: classifier ? undefined : upTo,
      pooling: options.pooling,
      padMode: options.padMode,
      classifier,
      numClasses: head?.numClasses,
      hiddenUnits: head?.hiddenUnits,
    })
    : new AlexNet({
      variant: name === "alexnet" ? "torchvision" : "caffe",
      upTo,
      classifier,
      numClasses: head?.numClasses,
      hiddenUnits: head?.hiddenUnits,
    });
  try {
    const state = new Map<string, Float32Array>();
    for (const [ours] of model.namedParameters()) {
      const v = values.get(ours);
      if (!v) {
        throw new ModelLoadError(
          `${src}: internal error: no value for ${ours}`,
        );
      }
      state.set(ours, v.tensor.data);
    }
    model.loadStateDict(state);
  } catch (e) {
    model.dispose();
    throw e instanceof ModelLoadError
      ? e
      : new ModelLoadError(`${src}: ${(e as Error).message}`);
  }
  model.eval();
  return {
    model,
    name,
    preprocessing,
    coveredTaps: covered.map((t) => t.tap),
    format: set.format,
    layout: mapping.layout,
    source: src,
    inputSize: isVgg
      ? 224
      : alexnetInputSize(name === "alexnet" ? "torchvision" : "caffe"),
    numClasses: classifier ? head?.numClasses ?? null : null,
    notes,
  };
}
