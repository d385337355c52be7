// The wasm engine as a runtime backend: storages are blocks of the engine's
// linear memory placed by its MemoryManager.
// This module is browser compatible.
import type { Backend, MemoryInfo, Storage } from "../../backend.ts";
import { Engine, type EngineOptions } from "../../engine/engine.ts";

export const WASM_BACKEND = "wasm";

export class WasmBackend implements Backend {
  readonly name = WASM_BACKEND;
  readonly engine: Engine;
  #liveCount = 0;

  constructor(engine: Engine) {
    this.engine = engine;
  }

  static async create(options: EngineOptions = {}): Promise<WasmBackend> {
    return new WasmBackend(await Engine.create(options));
  }

  get threads(): number {
    return this.engine.threads;
  }

  allocate(length: number): Storage {
    const handle = this.engine.heap.alloc(Math.max(1, length) * 4);
    this.#liveCount++;
    return { backend: this, handle, length, refs: 0 };
  }

  release(storage: Storage): void {
    this.engine.heap.free(storage.handle);
    this.#liveCount--;
  }

  write(storage: Storage, data: ArrayLike<number>, offset = 0): void {
    if (offset + data.length > storage.length) {
      throw new RangeError("write() past the end of a storage");
    }
    this.engine.f32(storage.handle + offset * 4, data.length).set(data);
  }

  read(
    storage: Storage,
    offset = 0,
    length = storage.length - offset,
  ): Float32Array {
    return this.engine.download(storage.handle + offset * 4, length);
  }

  memory(): MemoryInfo {
    return {
      liveBytes: this.engine.heap.liveBytes,
      peakBytes: this.engine.heap.peakBytes,
      liveCount: this.#liveCount,
    };
  }

  resetPeak(): void {
    this.engine.heap.resetPeak();
  }

  dispose(): void {
    this.engine.dispose();
  }
}
