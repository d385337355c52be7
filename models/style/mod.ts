// Neural style transfer (Gatys, Ecker & Bethge, CVPR 2016) on the impasto
// engine: the public API.
//
//   import { stylize } from "./models/style/mod.ts";
//   const { image } = await stylize({
//     content, styles: [style], weights: "vgg19.safetensors", size: 512,
//   });
//
// stylize() runs everything (stages, tiling, colours, callbacks);
// createStyleTransfer() gives a run object to drive yourself: step() by
// iterations or a time budget, image(), estimateMemory(), saveState() /
// restoreState() to continue across short calls, dispose(). See
// docs/stylize.md.
// This module is browser compatible.
export {
  clamp,
  createStyleTransfer,
  type CreateStyleTransferArgs,
  type LossTerms,
  type ProgressRecord,
  type ResolvedOptions,
  resolveOptions,
  type StepHooks,
  STYLE_DEFAULTS,
  StyleTransfer,
  type StyleTransferOptions,
} from "./transfer.ts";
export {
  type StageInfo,
  stageSizes,
  stylize,
  STYLIZE_DEFAULTS,
  type StylizeArgs,
  type StylizeProgress,
  type StylizeResult,
} from "./stylize.ts";
export {
  DEFAULT_CONTENT_LAYERS,
  DEFAULT_STYLE_LAYERS,
  loadStyleNetwork,
  type LoadStyleNetworkOptions,
  type ResolvedLayers,
  resolveLayers,
  type StyleNetwork,
  styleNetworkFromVgg,
  StyleTransferError,
} from "./network.ts";
export {
  contentLoss,
  gramLoss,
  normalisedGram,
  styleLoss,
  type TvKernels,
  tvKernels,
  tvLoss,
} from "./losses.ts";
export {
  colourStatistics,
  matchColourHistogram,
  meanChromaDifference,
  type OriginalColors,
  rgbToYuv,
  transferLuminance,
  yuvToRgb,
} from "./color.ts";
export {
  ENGINE_MEMORY_LIMIT,
  estimateStyleMemory,
  formatBytes,
  type MemoryEstimate,
  type MemoryEstimateInput,
} from "./memory.ts";
export { type Tile, tileLayout, tileMasks } from "./tiling.ts";
export {
  decodeState,
  encodeState,
  STATE_VERSION,
  StateError,
} from "./state.ts";
