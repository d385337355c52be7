// The one seam between the hosts (browser worker, Node, edge function) and the
// style-transfer library: every host creates runs through createStyleRun()
// and sees only the StyleRun interface below.
// This module is browser compatible.
import { resizeLongestSide, type RgbImage } from "../runtime/io/image.ts";
import {
  clamp,
  createStyleTransfer,
  loadStyleNetwork,
  STYLE_DEFAULTS,
  type StyleNetwork,
  type StyleTransfer,
} from "../models/style/mod.ts";
import { StandInStyleRun, type StepReport } from "./standin_style.ts";

export type { StepReport };

/**
 * Which implementation createStyleRun() uses: Gatys et al. on VGG
 * (models/style) when weights are given, else a weight-free stand-in (a
 * pixel-space Gram optimisation) that keeps the hosts testable without
 * weights. Reported by /health and bound into edge states.
 */
export function styleImplementation(weights?: Uint8Array | null): string {
  return weights ? "gatys-vgg" : "stand-in";
}

export interface StyleRunOptions {
  /** Longest side of the result in pixels. */
  size: number;
  /** Style strength: weight of the style loss against the content loss. */
  styleWeight: number;
  /** Total iterations of the run. */
  iterations: number;
  /** Keep the content photo's colours (luminance-only transfer). */
  keepColors: boolean;
  /** Seed of every random choice, for reproducible runs. */
  seed: number;
}

export const DEFAULT_STYLE_OPTIONS: StyleRunOptions = {
  size: 256,
  styleWeight: STYLE_DEFAULTS.styleWeight,
  iterations: 100,
  keepColors: false,
  seed: 0,
};

export interface StyleRun {
  readonly width: number;
  readonly height: number;
  readonly iterations: number;
  readonly iteration: number;
  /** Runs n iterations, or as many as fit in budgetMs (at least one). */
  step(work: number | { budgetMs: number }): StepReport;
  /** The current image, planar RGB in 0..1. */
  image(): RgbImage;
  /** A versioned, integrity-checked blob to continue the run later. */
  saveState(): Uint8Array;
  /** Continues from saveState()'s blob; throws RangeError on a bad blob. */
  restoreState(bytes: Uint8Array): void;
  dispose(): void;
}

/** Thrown for run settings the style library refuses; one line. */
export class StyleOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StyleOptionsError";
  }
}

// Networks by weight bytes: loaded once, shared by every run (never disposed
// by a run), as a host keeps one set of weights for its lifetime.
const networks = new WeakMap<Uint8Array, Promise<StyleNetwork>>();

function network(weights: Uint8Array): Promise<StyleNetwork> {
  let n = networks.get(weights);
  if (!n) {
    n = loadStyleNetwork({ weights, source: "weights" });
    n.catch(() => networks.delete(weights));
    networks.set(weights, n);
  }
  return n;
}

class LibraryRun implements StyleRun {
  readonly iterations: number;
  #run: StyleTransfer;
  #loss = NaN;

  constructor(run: StyleTransfer, iterations: number) {
    this.#run = run;
    this.iterations = iterations;
  }
  get width(): number {
    return this.#run.width;
  }
  get height(): number {
    return this.#run.height;
  }
  get iteration(): number {
    return this.#run.iteration;
  }
  step(work: number | { budgetMs: number }): StepReport {
    const left = Math.max(0, this.iterations - this.#run.iteration);
    const records = left === 0 ? [] : this.#run.step(
      typeof work === "number"
        ? Math.min(work, left)
        : { iterations: left, budgetMs: work.budgetMs },
    );
    if (records.length) this.#loss = records[records.length - 1].loss;
    return {
      iteration: this.#run.iteration,
      loss: this.#loss,
      done: this.#run.iteration >= this.iterations,
    };
  }
  image(): RgbImage {
    return clamp(this.#run.image());
  }
  saveState(): Uint8Array {
    return this.#run.saveState();
  }
  restoreState(bytes: Uint8Array): void {
    try {
      this.#run.restoreState(bytes);
    } catch (e) {
      throw new RangeError(String((e as Error).message ?? e).split("\n")[0]);
    }
  }
  dispose(): void {
    this.#run.dispose();
  }
}

/**
 * Starts a run. With `weights` (VGG weight-file bytes, any format
 * models/weights.ts reads) it is Gatys et al.'s style transfer
 * (models/style, L-BFGS, defaults from STYLE_DEFAULTS); without, the stand-in.
 * Throws StyleOptionsError for settings the library refuses.
 */
export async function createStyleRun(
  content: RgbImage,
  style: RgbImage,
  options: StyleRunOptions,
  weights?: Uint8Array | null,
): Promise<StyleRun> {
  if (!weights) {
    return new StandInStyleRun(content, style, {
      size: options.size,
      styleWeight: options.styleWeight,
      iterations: options.iterations,
    });
  }
  const net = await network(weights);
  try {
    const run = await createStyleTransfer({
      content: resizeLongestSide(content, options.size),
      styles: [style],
      network: net,
      options: {
        styleWeight: options.styleWeight,
        seed: options.seed,
        originalColors: options.keepColors ? "luminance" : "none",
      },
    });
    return new LibraryRun(run, options.iterations);
  } catch (e) {
    if ((e as Error)?.name === "StyleTransferError") {
      throw new StyleOptionsError((e as Error).message);
    }
    throw e;
  }
}
