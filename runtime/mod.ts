// impasto runtime: the public API.
// This module is browser compatible.
import { type Backend, getBackend, hasBackend, setBackend } from "./backend.ts";
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

export interface BackendOptions extends EngineOptions {
  /** Which backend; only "wasm" today. */
  backend?: "wasm";
}

/**
 * Creates the compute backend and makes it current. Call once before using
 * tensors; returns the backend (dispose it to end its threads).
 */
export async function initBackend(
  options: BackendOptions = {},
): Promise<Backend> {
  if (hasBackend()) getBackend().dispose();
  const { WasmBackend } = await import("./backends/wasm/backend.ts");
  await import("./backends/wasm/register_all.ts");
  const backend = await WasmBackend.create(options);
  setBackend(backend);
  return backend;
}
