// Loads the engine the same way on every host: picks the best wasm variant
// the host can run (threads+relaxed SIMD, threads+SIMD, single-thread
// relaxed SIMD, single-thread SIMD), creates the one linear memory, starts
// the thread pool, and places data in memory through the MemoryManager.
// This module is browser compatible.
import {
  currentPlatform,
  hasSharedMemory,
  type Platform,
} from "../platform/mod.ts";
import { MAX_PAGES, MemoryManager } from "./memory.ts";
import { ThreadPool } from "./pool.ts";
import { kernelImports } from "./protocol.ts";

export type Variant =
  | "threads-relaxed"
  | "threads-simd"
  | "single-relaxed"
  | "single-simd";

export const VARIANTS: readonly Variant[] = [
  "threads-relaxed",
  "threads-simd",
  "single-relaxed",
  "single-simd",
];

export interface EngineOptions {
  /** Threads to use, the caller included; default: all logical CPUs. */
  threads?: number;
  /** Force a variant; default: the first in VARIANTS the host supports. */
  variant?: Variant;
  /** Where the build/impasto-<variant>.wasm files live. */
  wasmBaseUrl?: URL;
  /**
   * Precompiled modules by variant, for hosts that cannot compile bytes at
   * run time (workerd binds wasm as modules).
   */
  modules?: Partial<Record<Variant, WebAssembly.Module>>;
  /** Initial memory in 64 KiB pages (default 256 = 16 MiB). */
  initialPages?: number;
  /** Memory limit in pages (default and most: 65536 = 4 GiB). */
  maxPages?: number;
}

// A module with one relaxed-SIMD instruction (f32x4.relaxed_madd), to ask
// the host whether it supports relaxed SIMD.
const RELAXED_PROBE = new Uint8Array([
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  5,
  1,
  96,
  0,
  1,
  123,
  3,
  2,
  1,
  0,
  10,
  19,
  1,
  17,
  0,
  65,
  0,
  253,
  17,
  65,
  0,
  253,
  17,
  65,
  0,
  253,
  17,
  253,
  133,
  2,
  11,
]);

function defaultWasmBase(): URL {
  return new URL("../../build/", import.meta.url);
}

function relaxedSupported(platform: Platform): boolean {
  if (WebAssembly.validate(RELAXED_PROBE)) return true;
  try {
    platform.enableRelaxedSimd();
  } catch {
    return false;
  }
  return WebAssembly.validate(RELAXED_PROBE);
}

/** The variants this host can run, best first. */
export function supportedVariants(
  platform: Platform,
  threads: number,
): Variant[] {
  const relaxed = relaxedSupported(platform);
  const threaded = threads > 1 && hasSharedMemory() &&
    platform.name !== "edge";
  return VARIANTS.filter((v) =>
    (relaxed || !v.endsWith("relaxed")) &&
    (threaded || v.startsWith("single"))
  );
}

type KernelFn = (...args: number[]) => number | void;

export class Engine {
  readonly variant: Variant;
  readonly threads: number;
  readonly platform: Platform;
  readonly memory: WebAssembly.Memory;
  readonly heap: MemoryManager;
  readonly exports: Readonly<Record<string, KernelFn>>;
  #pool: ThreadPool | null;
  #fnIndex: Map<string, number>;
  #buffer: ArrayBufferLike;
  #f32: Float32Array;
  #u8: Uint8Array;
  #disposed = false;

  private constructor(
    variant: Variant,
    platform: Platform,
    memory: WebAssembly.Memory,
    exports: Record<string, KernelFn>,
    names: string[],
    pool: ThreadPool | null,
    maxPages: number,
  ) {
    this.variant = variant;
    this.platform = platform;
    this.memory = memory;
    this.exports = exports;
    this.#pool = pool;
    this.threads = pool ? pool.size : 1;
    this.#fnIndex = new Map(names.map((n, i) => [n, i]));
    this.heap = new MemoryManager(
      memory,
      (exports.heap_base() as number) >>> 0,
      maxPages,
    );
    this.#buffer = memory.buffer;
    this.#f32 = new Float32Array(this.#buffer);
    this.#u8 = new Uint8Array(this.#buffer);
  }

  /** Loads the engine; see EngineOptions for the choices. */
  static async create(options: EngineOptions = {}): Promise<Engine> {
    const platform = await currentPlatform();
    const wanted = Math.max(
      1,
      Math.floor(options.threads ?? platform.hardwareConcurrency()),
    );
    const candidates = supportedVariants(platform, wanted);
    const variant = options.variant ?? candidates[0];
    if (!variant) throw new Error("This host cannot run WebAssembly SIMD");
    if (options.variant && !candidates.includes(options.variant)) {
      throw new Error(
        `Engine variant ${options.variant} is not supported here; supported: ${
          candidates.join(", ")
        }`,
      );
    }
    const shared = variant.startsWith("threads");
    const maxPages = Math.min(options.maxPages ?? MAX_PAGES, MAX_PAGES);
    const memory = new WebAssembly.Memory({
      initial: Math.min(options.initialPages ?? 256, maxPages),
      maximum: shared ? MAX_PAGES : maxPages,
      shared,
    } as WebAssembly.MemoryDescriptor);
    const module = options.modules?.[variant] ??
      await WebAssembly.compile(
        await platform.readBytes(
          new URL(
            `impasto-${variant}.wasm`,
            options.wasmBaseUrl ?? defaultWasmBase(),
          ),
        ) as BufferSource,
      );
    const instance = await WebAssembly.instantiate(
      module,
      kernelImports(memory),
    );
    const exports = instance.exports as Record<string, KernelFn>;
    const names = WebAssembly.Module.exports(module)
      .filter((e) => e.kind === "function")
      .map((e) => e.name);
    let pool: ThreadPool | null = null;
    if (shared && wanted > 1) {
      const workerUrl = new URL(
        import.meta.url.endsWith(".ts") ? "./worker.ts" : "./worker.js",
        import.meta.url,
      );
      pool = await ThreadPool.start(
        platform,
        workerUrl,
        module,
        memory,
        names,
        exports,
        wanted,
      );
    }
    return new Engine(
      variant,
      platform,
      memory,
      exports,
      names,
      pool,
      maxPages,
    );
  }

  /**
   * Runs a parallel kernel: `name(...args, tid, nthreads)` on every thread.
   * `threads` caps the threads used (default: all).
   */
  run(name: string, args: ArrayLike<number>, threads = this.threads): void {
    const fn = this.#fnIndex.get(name);
    if (fn === undefined) throw new Error(`Engine has no kernel ${name}`);
    if (this.#pool) this.#pool.run(fn, args, threads);
    else (this.exports[name] as KernelFn)(...Array.from(args), 0, 1);
  }

  /** Calls a non-parallel export directly on this thread. */
  call(name: string, ...args: number[]): number {
    const fn = this.exports[name];
    if (!fn) throw new Error(`Engine has no kernel ${name}`);
    return (fn(...args) as number) ?? 0;
  }

  /** Whether the module exports `name`. */
  has(name: string): boolean {
    return this.#fnIndex.has(name);
  }

  #refresh(): void {
    if (this.#buffer !== this.memory.buffer) {
      this.#buffer = this.memory.buffer;
      this.#f32 = new Float32Array(this.#buffer);
      this.#u8 = new Uint8Array(this.#buffer);
    }
  }

  /** A live Float32Array view of `length` floats at byte address `ptr`. */
  f32(ptr: number, length: number): Float32Array {
    this.#refresh();
    return this.#f32.subarray(ptr >>> 2, (ptr >>> 2) + length);
  }

  /** A live byte view of engine memory. */
  u8(ptr: number, length: number): Uint8Array {
    this.#refresh();
    return this.#u8.subarray(ptr, ptr + length);
  }

  /** Allocates `floats` f32 values and returns the byte address. */
  allocF32(floats: number): number {
    return this.heap.alloc(floats * 4);
  }

  free(ptr: number): void {
    this.heap.free(ptr);
  }

  /** Copies `data` into a fresh allocation and returns its address. */
  upload(data: ArrayLike<number>): number {
    const ptr = this.allocF32(data.length);
    this.f32(ptr, data.length).set(data);
    return ptr;
  }

  /** Copies `length` floats out of engine memory. */
  download(ptr: number, length: number): Float32Array {
    return this.f32(ptr, length).slice();
  }

  /** Ends the worker threads. The engine cannot be used afterwards. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#pool?.dispose();
    this.#pool = null;
  }
}
