// impasto runtime: the public API.
// This module is browser compatible.
import { type Backend, getBackend, hasBackend, setBackend } from "./backend.ts";
import { type BackendChoice, selectBackend } from "./backend_select.ts";
import type { EngineOptions } from "./engine/engine.ts";

export { getBackend, setBackend } from "./backend.ts";
export type { Backend, MemoryInfo, Storage } from "./backend.ts";
export { Engine, type EngineOptions, type Variant } from "./engine/engine.ts";
export * from "./tensor.ts";
export { isRecording, noGrad, releaseGraph } from "./autograd.ts";
export { backward, grad } from "./grad.ts";
export * as ops from "./ops/mod.ts";
export * as nn from "./nn/mod.ts";
export * as init from "./init.ts";
export { defaultRandom, manualSeed, portableLog, Random } from "./random.ts";
export { hasKernel, registerKernel, runKernel } from "./kernel_registry.ts";
export type { KernelName, KernelSignatures } from "./kernel_names.ts";
export * as optim from "./optim/mod.ts";
export { GradientMonitor, layerGradNorms, NonFiniteError } from "./health.ts";
export {
  type CheckpointContents,
  loadCheckpoint,
  saveCheckpoint,
} from "./io/checkpoint.ts";
export {
  decodeImage,
  encodeImage,
  resizeImage,
  resizeLongestSide,
  type RgbImage,
} from "./io/image.ts";
export { readSafetensors, writeSafetensors } from "./io/safetensors.ts";

export {
  backendSummary,
  hasHardwareWebGpu,
  selectBackend,
  webGpuUnavailableReason,
} from "./backend_select.ts";

export interface BackendOptions extends EngineOptions {
  /**
   * "auto" (default) picks WebGPU on a hardware adapter, else the wasm
   * engine; "webgpu" and "wasm" force one.
   */
  backend?: BackendChoice;
  /** Where the one-line "backend: …" summary goes (default: nowhere). */
  log?: (line: string) => void;
}

/**
 * Creates the compute backend and makes it current. Call once before using
 * tensors; returns the backend (dispose it to end its threads).
 */
export async function initBackend(
  options: BackendOptions = {},
): Promise<Backend> {
  if (hasBackend()) getBackend().dispose();
  const { backend } = await selectBackend(options);
  setBackend(backend);
  return backend;
}
