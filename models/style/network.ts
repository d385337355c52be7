// The network a style-transfer run optimises through: a VGG (16 or 19) with
// its weights, the preprocessing they expect, the padding they record and
// the taps they cover; plus the choice of layers (the paper's defaults, or
// the deepest the weights allow).
// This module is browser compatible.
import { loadModel, readWeightsFile } from "../load.ts";
import type { Preprocessing } from "../preprocess.ts";
import { VGG, vggTaps } from "../vgg.ts";
import { readWeights, type WeightSet } from "../weights.ts";
import { hashFloats, hashString } from "./state.ts";

/** A user-caused problem with a run; the message is one line. */
export class StyleTransferError extends Error {
  override name = "StyleTransferError";
}

/** Gatys et al.: style relu1_1 … relu5_1, content relu4_2. */
export const DEFAULT_STYLE_LAYERS = [
  "relu1_1",
  "relu2_1",
  "relu3_1",
  "relu4_1",
  "relu5_1",
] as const;
export const DEFAULT_CONTENT_LAYERS = ["relu4_2"] as const;

export interface StyleNetwork {
  model: VGG;
  name: "vgg16" | "vgg19";
  preprocessing: Preprocessing;
  pooling: "max" | "avg";
  padMode: "zero" | "reflect";
  /** Every tap the weights compute, in order. */
  coveredTaps: string[];
  /** Where the weights came from (for messages). */
  source: string;
  /** A short hash of the weights (ties saved states to them). */
  weightsId: string;
  /** Remarks made while loading. */
  notes: string[];
  /** Frees the weights (only when the network was made for one run). */
  dispose(): void;
}

export interface LoadStyleNetworkOptions {
  /** A file path, its bytes, or an already read WeightSet. */
  weights: string | Uint8Array | WeightSet;
  model?: "vgg16" | "vgg19";
  /** Average pooling by default (Gatys et al.: better gradient flow). */
  pooling?: "max" | "avg";
  /** Default: what the weights' metadata records ("padding"), else zero. */
  padMode?: "zero" | "reflect";
  /** Name of the weights in messages when passing bytes. */
  source?: string;
}

function weightsId(model: VGG): string {
  // Names, shapes and every 101st value: cheap, and changes with any real
  // difference between weight files.
  const parts: string[] = [];
  for (const [name, t] of model.namedParameters()) {
    const v = t.data();
    const sample = new Float32Array(Math.ceil(v.length / 101));
    for (let i = 0, j = 0; i < v.length; i += 101, j++) sample[j] = v[i];
    parts.push(`${name}:${t.shape}:${hashFloats(sample)}`);
  }
  return hashString(parts.join(";"));
}

/** Loads VGG weights (any format models/load.ts reads) for style transfer. */
export async function loadStyleNetwork(
  options: LoadStyleNetworkOptions,
): Promise<StyleNetwork> {
  const pooling = options.pooling ?? "avg";
  let loaded;
  let padMode = options.padMode;
  try {
    const w = options.weights;
    const set = typeof w === "string"
      ? await readWeightsFile(w)
      : w instanceof Uint8Array
      ? await readWeights(w, options.source ?? "weights")
      : w;
    padMode ??= set.metadata.padding === "reflect" ? "reflect" : "zero";
    loaded = await loadModel({
      model: options.model ?? "vgg19",
      weights: set,
      pooling,
      padMode,
      classifier: false,
    });
  } catch (e) {
    throw new StyleTransferError(String((e as Error).message).split("\n")[0]);
  }
  const model = loaded.model as VGG;
  for (const p of model.parameters()) p.requiresGrad = false;
  const taps = vggTaps(model.depth).map((t) => t.name);
  const covered = loaded.coveredTaps.filter((t) => taps.includes(t));
  return {
    model,
    name: loaded.name as "vgg16" | "vgg19",
    preprocessing: loaded.preprocessing,
    pooling,
    padMode,
    coveredTaps: covered,
    source: loaded.source,
    weightsId: weightsId(model),
    notes: loaded.notes,
    dispose: () => model.dispose(),
  };
}

/** A network around a VGG you built yourself (tests, custom weights). */
export function styleNetworkFromVgg(
  model: VGG,
  preprocessing: Preprocessing,
  options: {
    source?: string;
    padMode?: "zero" | "reflect";
    pooling?: "max" | "avg";
  } = {},
): StyleNetwork {
  for (const p of model.parameters()) p.requiresGrad = false;
  return {
    model,
    name: model.depth === 16 ? "vgg16" : "vgg19",
    preprocessing,
    pooling: options.pooling ?? "avg",
    padMode: options.padMode ?? "zero",
    coveredTaps: model.taps.map((t) => t.name),
    source: options.source ?? "custom VGG",
    weightsId: weightsId(model),
    notes: [],
    dispose: () => model.dispose(),
  };
}

export interface ResolvedLayers {
  content: string[];
  style: string[];
  /** Set when defaults were replaced because the weights stop early. */
  note?: string;
}

/**
 * Checks the requested layers against the network. Layers the user named
 * must exist and be covered by the weights (one-line error otherwise).
 * Defaults that the weights do not reach are replaced by the deepest
 * available ones: style = the default style layers that are covered,
 * content = the deepest covered reluN_2.
 */
export function resolveLayers(
  network: StyleNetwork,
  content?: readonly string[],
  style?: readonly string[],
): ResolvedLayers {
  const all = vggTaps(network.model.depth).map((t) => t.name);
  const covered = new Set(network.coveredTaps);
  const last = network.coveredTaps[network.coveredTaps.length - 1];
  const check = (names: readonly string[], what: string) => {
    if (names.length === 0) {
      throw new StyleTransferError(`no ${what} layers given`);
    }
    for (const n of names) {
      if (!all.includes(n)) {
        throw new StyleTransferError(
          `unknown ${what} layer "${n}": ${network.name} has ${
            all.filter((t) => t.startsWith("relu")).join(",")
          } (and conv/pool taps)`,
        );
      }
      if (!covered.has(n)) {
        throw new StyleTransferError(
          `${what} layer ${n} is beyond the loaded weights (${network.source} stops at ${last}); choose layers up to ${last}`,
        );
      }
    }
  };
  const notes: string[] = [];
  let c: string[], s: string[];
  if (content) {
    check(content, "content");
    c = [...content];
  } else if (DEFAULT_CONTENT_LAYERS.every((l) => covered.has(l))) {
    c = [...DEFAULT_CONTENT_LAYERS];
  } else {
    const second = network.coveredTaps.filter((t) => /^relu\d_2$/.test(t));
    const deepest = second[second.length - 1] ??
      network.coveredTaps.filter((t) => t.startsWith("relu")).pop();
    if (!deepest) {
      throw new StyleTransferError(`${network.source} covers no relu layer`);
    }
    c = [deepest];
    notes.push(`content ${c.join(",")}`);
  }
  if (style) {
    check(style, "style");
    s = [...style];
  } else if (DEFAULT_STYLE_LAYERS.every((l) => covered.has(l))) {
    s = [...DEFAULT_STYLE_LAYERS];
  } else {
    s = DEFAULT_STYLE_LAYERS.filter((l) => covered.has(l));
    if (s.length === 0) {
      throw new StyleTransferError(`${network.source} covers no style layer`);
    }
    notes.push(`style ${s.join(",")}`);
  }
  return {
    content: c,
    style: s,
    note: notes.length
      ? `weights stop at ${last}: using ${
        notes.join(" and ")
      } instead of the paper's layers`
      : undefined,
  };
}
