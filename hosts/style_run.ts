// The one seam between the hosts (browser worker, Node, edge function) and the
// style-transfer library: every host creates runs through createStyleRun()
// and sees only the StyleRun interface below.
// This module is browser compatible.
import type { RgbImage } from "../runtime/io/image.ts";
import { type StepReport, StandInStyleRun } from "./standin_style.ts";

export type { StepReport };

/** Which implementation createStyleRun() uses (reported by /health). */
export const STYLE_IMPLEMENTATION = "stand-in";

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
  styleWeight: 10,
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

/**
 * Starts a run. `weights` are VGG weight-file bytes (any format
 * models/weights.ts reads); the stand-in does not need them.
 */
export function createStyleRun(
  content: RgbImage,
  style: RgbImage,
  options: StyleRunOptions,
  _weights?: Uint8Array | null,
): Promise<StyleRun> {
  return Promise.resolve(
    new StandInStyleRun(content, style, {
      size: options.size,
      styleWeight: options.styleWeight,
      iterations: options.iterations,
    }),
  );
}
