// Shared by the wasm kernel shims: how many threads a call gets, and the
// options every shim takes.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";

/** Options every wasm kernel shim accepts. */
export interface LaunchOptions {
  /** Cap on threads for this call (default: all the engine has). */
  threads?: number;
  /** "simd" (default) runs the fast kernel, "scalar" its plain-loop twin. */
  impl?: "simd" | "scalar";
}

// Below this many multiply-adds a call stays on the calling thread: waking
// workers costs more than it saves.
const PARALLEL_MIN_WORK = 1 << 15;

/** Threads for a call doing `work` multiply-adds (or element updates). */
export function threadsFor(
  engine: Engine,
  work: number,
  options: LaunchOptions = {},
): number {
  const cap = Math.min(options.threads ?? engine.threads, engine.threads);
  return work < PARALLEL_MIN_WORK ? 1 : Math.max(1, cap);
}

/** Kernel export name for an op in the chosen implementation. */
export function kernelName(base: string, options: LaunchOptions = {}): string {
  return options.impl === "scalar" ? `${base}__scalar` : `${base}__wasmsimd`;
}

/**
 * Runs `body` with a per-thread workspace of `bytesPerThread` bytes for
 * `threads` threads and frees it afterwards. Returns the workspace address.
 */
export function withWorkspace<T>(
  engine: Engine,
  bytesPerThread: number,
  threads: number,
  body: (workspace: number) => T,
): T {
  if (bytesPerThread <= 0) return body(0);
  const ws = engine.heap.alloc(bytesPerThread * threads);
  try {
    return body(ws);
  } finally {
    engine.heap.free(ws);
  }
}
