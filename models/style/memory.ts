// How much engine memory a style-transfer run needs, estimated before it
// starts so that a run that cannot fit is refused with advice instead of
// failing half-way. The model: every activation up to the deepest layer
// stays alive for the backward pass (about 1.25x the sum of the tap outputs
// measured, plus the two largest maps for the gradients in flight), the
// optimiser's vectors (L-BFGS keeps 2m history vectors the size of the
// image), the targets and the weights.
// This module is browser compatible.
import { vggTaps } from "../vgg.ts";

/** The wasm engine's hard limit: 65536 pages of 64 KiB. */
export const ENGINE_MEMORY_LIMIT = 4 * 1024 ** 3;

export interface MemoryEstimateInput {
  width: number;
  height: number;
  depth: 16 | 19;
  /** The deepest tap the run reads. */
  deepest: string;
  contentLayers: readonly string[];
  styleLayers: readonly string[];
  optimizer: "lbfgs" | "adam" | "sgd";
  history: number;
  /** Tile size in pixels (the largest tile is what one evaluation needs). */
  tile?: number;
  /** Sizes of the style images as fed to the network. */
  styleSizes: readonly { width: number; height: number }[];
  /** Parameter count of the loaded network. */
  weights: number;
}

export interface MemoryEstimate {
  /** Total bytes. */
  bytes: number;
  /** Bytes per part. */
  parts: Record<string, number>;
}

function pooled(n: number, stride: number): number {
  let v = n;
  for (let s = 1; s < stride; s *= 2) v = Math.floor(v / 2);
  return v;
}

/** Floats of every tap output up to `deepest` for a w x h input. */
function activationFloats(
  depth: 16 | 19,
  deepest: string,
  w: number,
  h: number,
) {
  const taps = vggTaps(depth);
  const last = taps.findIndex((t) => t.name === deepest);
  let sum = 0, largest = 0;
  for (const t of taps.slice(0, last + 1)) {
    const n = t.channels * pooled(w, t.stride) * pooled(h, t.stride);
    sum += n;
    largest = Math.max(largest, n);
  }
  return { sum, largest };
}

function tapFloats(
  depth: 16 | 19,
  names: readonly string[],
  w: number,
  h: number,
) {
  const taps = vggTaps(depth);
  let sum = 0;
  for (const name of names) {
    const t = taps.find((x) => x.name === name)!;
    sum += t.channels * pooled(w, t.stride) * pooled(h, t.stride);
  }
  return sum;
}

/** Estimates the engine memory of one run (see the module comment). */
export function estimateStyleMemory(i: MemoryEstimateInput): MemoryEstimate {
  const tiled = i.tile !== undefined && i.tile < Math.max(i.width, i.height);
  const align = 2 ** 5;
  const tw = tiled ? Math.min(i.width, i.tile! + align) : i.width;
  const th = tiled ? Math.min(i.height, i.tile! + align) : i.height;
  const act = activationFloats(i.depth, i.deepest, tw, th);
  const image = 3 * i.width * i.height;
  const vectors = i.optimizer === "lbfgs"
    ? (2 * i.history + 5) * image
    : i.optimizer === "adam"
    ? 5 * image
    : 4 * image;
  const content = tapFloats(i.depth, i.contentLayers, i.width, i.height) *
    (tiled ? 2.5 : 1);
  const grams = i.styleLayers.reduce((s, name) => {
    const c = vggTaps(i.depth).find((t) => t.name === name)!.channels;
    return s + 4 * c * c;
  }, 0);
  let styleForward = 0;
  for (const s of i.styleSizes) {
    const a = activationFloats(i.depth, i.deepest, s.width, s.height);
    styleForward = Math.max(
      styleForward,
      2 * a.largest + tapFloats(i.depth, i.styleLayers, s.width, s.height),
    );
  }
  const parts = {
    activations: 4 * (1.25 * act.sum + 2 * act.largest),
    optimizer: 4 * vectors,
    targets: 4 * (content + grams),
    styleImages: 4 * styleForward,
    weights: 4 * i.weights,
  };
  // The style forward runs before the optimisation: only the larger counts.
  const run = parts.activations + parts.optimizer + parts.targets;
  const bytes = Math.max(run, parts.styleImages + parts.targets) +
    parts.weights;
  return { bytes: Math.ceil(bytes), parts };
}

/** "1.23 GiB" / "456 MiB". */
export function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(2)} GiB`
    : `${Math.round(bytes / 1024 ** 2)} MiB`;
}
