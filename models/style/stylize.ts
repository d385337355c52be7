// Everything `deno task stylize` does, as one library call: coarse-to-fine
// stages (Gatys et al., "Controlling Perceptual Factors in Neural Style
// Transfer", CVPR 2017, section 5: each stage starts from the previous
// result upsampled), tiling, colour control, progress, stopping and
// intermediate images. The browser page and the edge handler call this (or
// drive createStyleTransfer themselves for time-sliced runs).
// This module is browser compatible.
import { resizeLongestSide, type RgbImage } from "../../runtime/io/image.ts";
import {
  ENGINE_MEMORY_LIMIT,
  estimateStyleMemory,
  formatBytes,
} from "./memory.ts";
import {
  loadStyleNetwork,
  type StyleNetwork,
  StyleTransferError,
} from "./network.ts";
import {
  clamp,
  type ProgressRecord,
  resolveOptions,
  StyleTransfer,
  type StyleTransferOptions,
} from "./transfer.ts";
import type { WeightSet } from "../weights.ts";

/** Default output size (longest side) and iterations per stage. */
export const STYLIZE_DEFAULTS = { size: 256, iterations: 100 };

export interface StageInfo {
  /** 0-based stage index and count. */
  stage: number;
  stages: number;
  width: number;
  height: number;
  iterations: number;
}

export interface StylizeProgress extends ProgressRecord {
  stage: number;
  stages: number;
  /** Iterations done and planned over all stages. */
  done: number;
  total: number;
}

export interface StylizeArgs {
  content: RgbImage;
  styles: RgbImage[];
  network?: StyleNetwork;
  weights?: string | Uint8Array | WeightSet;
  model?: "vgg16" | "vgg19";
  pooling?: "max" | "avg";
  /** Longest side of the output (default 256); ignored with `scales`. */
  size?: number;
  /** Longest sides of the coarse-to-fine stages, e.g. [256, 512, 1024]. */
  scales?: number[];
  /** Iterations per stage (one number for all, or one per stage). */
  iterations?: number | number[];
  options?: StyleTransferOptions;
  onStage?: (info: StageInfo, run: StyleTransfer) => void;
  onProgress?: (p: StylizeProgress) => void;
  /** Polled between iterations; true stops and returns the best so far. */
  shouldStop?: () => boolean;
  /** Intermediate images every `saveEvery` iterations (of the whole run). */
  onImage?: (image: RgbImage, p: StylizeProgress) => void | Promise<void>;
  saveEvery?: number;
}

export interface StylizeResult {
  /** The final image, clamped to 0..1, colours post-processed. */
  image: RgbImage;
  /** Per-stage records. */
  stages: (StageInfo & { records: ProgressRecord[]; ms: number })[];
  /** True when shouldStop ended the run early. */
  stopped: boolean;
  notes: string[];
  ms: number;
}

/** The stage sizes (longest side) a run will use. */
export function stageSizes(size?: number, scales?: number[]): number[] {
  const list = scales?.length ? scales : [size ?? STYLIZE_DEFAULTS.size];
  for (const s of list) {
    if (!Number.isInteger(s) || s < 1 || s > 16384) {
      throw new StyleTransferError(
        `size ${s} is impossible: use a whole number of pixels from 16 to 16384`,
      );
    }
  }
  for (let i = 1; i < list.length; i++) {
    if (list[i] <= list[i - 1]) {
      throw new StyleTransferError(
        `scales must increase (coarse to fine), got ${list.join(",")}`,
      );
    }
  }
  return list;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Runs every stage; see StylizeArgs. */
export async function stylize(args: StylizeArgs): Promise<StylizeResult> {
  const t0 = performance.now();
  if (args.styles.length === 0) {
    throw new StyleTransferError("no style image given");
  }
  const sizes = stageSizes(args.size, args.scales);
  const its = Array.isArray(args.iterations)
    ? args.iterations
    : sizes.map(() =>
      (args.iterations as number | undefined) ?? STYLIZE_DEFAULTS.iterations
    );
  if (its.length !== sizes.length) {
    throw new StyleTransferError(
      `${its.length} iteration counts for ${sizes.length} stages`,
    );
  }
  for (const n of its) {
    if (!Number.isInteger(n) || n < 0) {
      throw new StyleTransferError(
        `iterations must be a whole number >= 0, got ${n}`,
      );
    }
  }
  let network = args.network;
  const owned = !network;
  if (!network) {
    if (!args.weights) {
      throw new StyleTransferError("stylize needs a network or weights");
    }
    network = await loadStyleNetwork({
      weights: args.weights,
      model: args.model,
      pooling: args.pooling,
    });
  }
  const notes: string[] = [...network.notes];
  const stages: StylizeResult["stages"] = [];
  const total = its.reduce((a, b) => a + b, 0);
  let done = 0;
  let stopped = false;
  let previous: RgbImage | null = null;
  let final: RgbImage | null = null;
  try {
    // Refuse before any work when the largest stage cannot fit.
    const options = args.options ?? {};
    const last = scaledSize(args.content, sizes[sizes.length - 1]);
    const r = resolveOptions(network, options, args.styles.length);
    const all = [...r.contentLayers, ...r.styleLayers];
    const deepest = all.reduce((a, b) =>
      network!.model.tap(a).index >= network!.model.tap(b).index ? a : b
    );
    const longest = Math.max(last.width, last.height);
    const est = estimateStyleMemory({
      width: last.width,
      height: last.height,
      depth: network.model.depth,
      deepest,
      contentLayers: r.contentLayers,
      styleLayers: r.styleLayers,
      optimizer: r.optimizer,
      history: r.history,
      tile: r.tile,
      styleSizes: args.styles.map((s) => {
        const k = r.styleScale * longest / Math.max(s.width, s.height);
        return {
          width: Math.round(s.width * k),
          height: Math.round(s.height * k),
        };
      }),
      weights: network.model.parameters().reduce((s, p) => s + p.size, 0),
    });
    const limit = options.memoryLimit ?? ENGINE_MEMORY_LIMIT;
    if (est.bytes > limit) {
      throw new StyleTransferError(
        `a ${last.width}x${last.height} run needs about ${
          formatBytes(est.bytes)
        }, more than the ${
          formatBytes(limit)
        } the engine can use: use a smaller --size, --tile 512, or --optimizer adam`,
      );
    }
    for (let s = 0; s < sizes.length; s++) {
      const content = resizeLongestSide(args.content, sizes[s]);
      const stageOptions: StyleTransferOptions = { ...options };
      if (previous) stageOptions.init = previous;
      const run = new StyleTransfer(
        network,
        content,
        args.styles,
        stageOptions,
      );
      const info: StageInfo = {
        stage: s,
        stages: sizes.length,
        width: run.width,
        height: run.height,
        iterations: its[s],
      };
      for (const n of run.notes) if (!notes.includes(n)) notes.push(n);
      const records: ProgressRecord[] = [];
      const ts = performance.now();
      try {
        args.onStage?.(info, run);
        while (run.iteration < its[s]) {
          if (args.shouldStop?.()) {
            stopped = true;
            break;
          }
          const [rec] = run.step(1);
          if (!rec) break; // converged
          records.push(rec);
          done++;
          const p: StylizeProgress = {
            ...rec,
            stage: s,
            stages: sizes.length,
            done,
            total,
          };
          args.onProgress?.(p);
          if (args.onImage && args.saveEvery && done % args.saveEvery === 0) {
            await args.onImage(finish(run), p);
          }
          // Let signal handlers (Ctrl-C) and timers run between iterations.
          await yieldToEventLoop();
        }
        previous = run.image({ raw: true });
        final = finish(run);
      } finally {
        stages.push({ ...info, records, ms: performance.now() - ts });
        run.dispose();
      }
      if (stopped) break;
    }
  } finally {
    if (owned) network.dispose();
  }
  return { image: final!, stages, stopped, notes, ms: performance.now() - t0 };
}

/** The size resizeLongestSide gives, without resizing. */
function scaledSize(
  img: RgbImage,
  longest: number,
): { width: number; height: number } {
  const k = longest / Math.max(img.width, img.height);
  return {
    width: Math.max(1, Math.round(img.width * k)),
    height: Math.max(1, Math.round(img.height * k)),
  };
}

/** A run's image as it is written: colours post-processed, clamped. */
function finish(run: StyleTransfer): RgbImage {
  return clamp(run.image());
}
