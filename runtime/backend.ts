// The backend interface: storage and identity only. Kernels are not backend
// methods; they are registered per backend in runtime/kernel_registry.ts, so
// a new backend (WebGPU) adds storage plus kernel implementations without
// touching ops, models or scripts.
// This module is browser compatible.

/** A block of f32 values owned by a backend, shared by tensors and views. */
export interface Storage {
  readonly backend: Backend;
  /** Backend-specific handle (the wasm engine: a byte address). */
  readonly handle: number;
  /** Number of f32 values. */
  readonly length: number;
  /** Tensors and saved graph values holding this storage. */
  refs: number;
}

export interface MemoryInfo {
  /** Bytes held by live storages. */
  liveBytes: number;
  /** Most bytes live at once since the last resetPeak(). */
  peakBytes: number;
  /** Live storages. */
  liveCount: number;
}

export interface Backend {
  readonly name: string;
  /** Threads the backend computes with. */
  readonly threads: number;
  /** A new storage of `length` f32 values, contents undefined. */
  allocate(length: number): Storage;
  /** Frees a storage's memory (called when its refs reach zero). */
  release(storage: Storage): void;
  /** Copies values in, starting at element `offset`. */
  write(storage: Storage, data: ArrayLike<number>, offset?: number): void;
  /** Copies `length` values out starting at element `offset`. */
  read(storage: Storage, offset?: number, length?: number): Float32Array;
  memory(): MemoryInfo;
  resetPeak(): void;
  /** Frees the backend's own resources (threads). */
  dispose(): void;
}

let current: Backend | null = null;

/** Makes `backend` the one ops run on. */
export function setBackend(backend: Backend): void {
  current = backend;
}

/** The backend ops run on; throws if none was initialised. */
export function getBackend(): Backend {
  if (!current) {
    throw new Error(
      "No backend: call `await initBackend()` from runtime/mod.ts first",
    );
  }
  return current;
}

/** Whether a backend is set. */
export function hasBackend(): boolean {
  return current !== null;
}
