// Backend selection for initBackend({ backend }):
//  - "wasm":   the wasm engine (SIMD + threads).
//  - "webgpu": the WebGPU backend, any adapter (software ones included);
//              throws when there is none or it cannot run here.
//  - "auto":   WebGPU on a hardware adapter where the caller may block
//              (Deno, Node, a browser worker; never a browser's main thread,
//              where Atomics.wait is forbidden); otherwise the wasm engine.
//              Software adapters (llvmpipe, lavapipe, SwiftShader,
//              isFallbackAdapter) are never picked: the wasm engine beats
//              them.
// Either way, one line says which backend runs and why (summary).
// This module is browser compatible.
import type { Backend } from "./backend.ts";
import type { EngineOptions } from "./engine/engine.ts";

export type BackendChoice = "auto" | "webgpu" | "wasm";

export interface SelectOptions extends EngineOptions {
  backend?: BackendChoice;
  /** Receives the one-line summary (default: none; scripts print it). */
  log?: (line: string) => void;
}

export interface Selected {
  backend: Backend;
  /** "backend: webgpu (NVIDIA H100 80GB HBM3)" or "backend: wasm …". */
  summary: string;
}

let lastSummary = "backend: none";

/** The summary line of the backend last selected. */
export function backendSummary(): string {
  return lastSummary;
}

interface HostGlobals {
  Deno?: unknown;
  process?: { versions?: { node?: string } };
  document?: unknown;
  WorkerGlobalScope?: unknown;
  navigator?: { gpu?: unknown };
  SharedArrayBuffer?: unknown;
  Worker?: unknown;
}

/**
 * Why WebGPU cannot serve this host, or null if it may: it needs
 * navigator.gpu, module Workers, SharedArrayBuffer and a thread that may
 * block in Atomics.wait.
 */
export function webGpuUnavailableReason(): string | null {
  const g = globalThis as unknown as HostGlobals;
  if (!g.navigator?.gpu) return "no WebGPU";
  if (typeof g.SharedArrayBuffer !== "function") {
    return "no SharedArrayBuffer (serve cross-origin isolated)";
  }
  if (typeof g.Worker !== "function") return "no Worker";
  const browserMain = !g.Deno && !g.process?.versions?.node &&
    typeof g.document !== "undefined";
  if (browserMain) return "browser main thread (run it in a worker)";
  return null;
}

/**
 * Whether `auto` would pick WebGPU here (hardware adapter, blocking allowed),
 * without opening a device. For pages deciding where to run.
 */
export async function hasHardwareWebGpu(): Promise<boolean> {
  const g = globalThis as unknown as HostGlobals;
  const gpu = g.navigator?.gpu as GPU | undefined;
  if (!gpu) return false;
  const adapter = await gpu.requestAdapter({
    powerPreference: "high-performance",
  }).catch(() => null);
  if (!adapter) return false;
  const { isSoftwareAdapter } = await import(
    "./backends/webgpu/protocol.ts"
  );
  return !isSoftwareAdapter(
    (adapter.info ?? {}) as GPUAdapterInfo,
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  );
}

async function createWasm(
  options: EngineOptions,
  why: string | null,
): Promise<Selected> {
  const { WasmBackend } = await import("./backends/wasm/backend.ts");
  await import("./backends/wasm/register_all.ts");
  const backend = await WasmBackend.create(options);
  const t = backend.threads;
  const summary = `backend: wasm ${backend.engine.variant}, ${t} thread${
    t === 1 ? "" : "s"
  }${why ? ` (${why})` : ""}`;
  return { backend, summary };
}

async function createWebGpu(allowSoftware: boolean): Promise<Selected> {
  const { WebGpuBackend } = await import("./backends/webgpu/backend.ts");
  await import("./backends/webgpu/register_all.ts");
  const backend = await WebGpuBackend.create({ allowSoftware });
  const soft = backend.adapter.software ? ", software" : "";
  return {
    backend,
    summary: `backend: webgpu (${backend.description}${soft})`,
  };
}

/** Creates the backend `options.backend` asks for (default "auto"). */
export async function selectBackend(
  options: SelectOptions = {},
): Promise<Selected> {
  const { backend: choice = "auto", log, ...engine } = options;
  let selected: Selected;
  if (choice === "wasm") {
    selected = await createWasm(engine, null);
  } else if (choice === "webgpu") {
    const why = webGpuUnavailableReason();
    if (why) throw new Error(`backend "webgpu" cannot run here: ${why}`);
    selected = await createWebGpu(true);
  } else if (choice === "auto") {
    let why = webGpuUnavailableReason();
    selected = undefined as unknown as Selected;
    if (!why) {
      try {
        selected = await createWebGpu(false);
      } catch (e) {
        why = (e instanceof Error ? e.message : String(e))
          .replace(/^WebGPU: /, "");
      }
    }
    if (why) {
      selected = await createWasm(
        engine,
        /no adapter|no WebGPU/.test(why) ? "no GPU" : why,
      );
    }
  } else {
    throw new Error(
      `Unknown backend "${choice}": use "auto", "webgpu" or "wasm"`,
    );
  }
  lastSummary = selected.summary;
  log?.(selected.summary);
  return selected;
}
