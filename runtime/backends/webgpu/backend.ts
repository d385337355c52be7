// The WebGPU backend: storages are GPUBuffers held by a dedicated worker
// (gpu_worker.ts) that owns the GPUDevice. Tensors stay on the GPU between
// ops; the calling thread posts command batches without waiting, and only a
// read (tensor.data(), .item()) blocks, with Atomics.wait, until the worker
// has mapped the result and copied it into a SharedArrayBuffer. So the
// runtime's synchronous API is unchanged. Atomics.wait is not allowed on a
// browser's main thread: there, use this backend from a worker
// (runtime/backend_select.ts never picks it on a browser main thread).
// This module is browser compatible.
import type { Backend, MemoryInfo, Storage } from "../../backend.ts";
import {
  type AdapterSummary,
  type BindingSpec,
  type Command,
  type InitReply,
  READ_DONE,
  READ_ERROR,
  READ_HEADER_BYTES,
  READ_PENDING,
} from "./protocol.ts";

export const WEBGPU_BACKEND = "webgpu";

/** Commands queued before a batch is posted without waiting for a read. */
const FLUSH_EVERY = 64;
/**
 * Storages of at most this many floats (loss terms, norms, dot products)
 * that the GPU wrote since they were last read travel along with every read,
 * at most PIGGYBACK_MAX of them (the most recently written): a read is a full
 * round trip of at least ~10 ms under Deno (its mapAsync polls the device,
 * then sleeps 10 ms), so reading a loss and its seven terms one by one cost
 * 8 round trips; with this, one. Their host copies stay valid until a later
 * command writes the storage (dispatch output, copy, write) or frees it.
 */
const PIGGYBACK_FLOATS = 256;
const PIGGYBACK_MAX = 32;
/** How long a read may wait for the GPU before failing (ms). */
const READ_TIMEOUT_MS = 10 * 60 * 1000;

export interface WebGpuOptions {
  /** Accept a software adapter (llvmpipe, lavapipe): tests, `webgpu` forced. */
  allowSoftware?: boolean;
  powerPreference?: "high-performance" | "low-power";
}

/** A compiled-once WGSL compute shader (entry point `main`). */
export interface Shader {
  readonly key: number;
  readonly code: string;
}

const shaderKeys = new Map<string, Shader>();

/** The Shader for WGSL `code` (interned: equal code, same key). */
export function shader(code: string): Shader {
  let s = shaderKeys.get(code);
  if (!s) {
    s = { key: shaderKeys.size + 1, code };
    shaderKeys.set(code, s);
  }
  return s;
}

export class WebGpuBackend implements Backend {
  readonly name = WEBGPU_BACKEND;
  readonly threads = 1;
  readonly adapter: AdapterSummary;
  readonly limits: Record<string, number>;
  #worker: Worker;
  #queue: Command[] = [];
  #sent = new Set<number>();
  #nextId = 1;
  #live = new Map<number, number>();
  #liveBytes = 0;
  #peakBytes = 0;
  #disposed = false;
  #flushScheduled = false;
  /** Small storages (id → length) that may travel along with a read. */
  #small = new Map<number, number>();
  /** Small storages written on the GPU since their last read, oldest first. */
  #dirty = new Set<number>();
  /** Host copies of small storages, valid until the next write to them. */
  #known = new Map<number, Float32Array>();
  /**
   * Reads done (GPU round trips) and their total blocking time (ms), and
   * reads answered from a piggybacked copy without a round trip.
   */
  readStats = { count: 0, ms: 0, cached: 0 };

  private constructor(
    worker: Worker,
    adapter: AdapterSummary,
    limits: Record<string, number>,
  ) {
    this.#worker = worker;
    this.adapter = adapter;
    this.limits = limits;
  }

  /** Starts the GPU worker and opens a device; throws if none is usable. */
  static async create(options: WebGpuOptions = {}): Promise<WebGpuBackend> {
    const url = new URL(
      import.meta.url.endsWith(".ts") ? "./gpu_worker.ts" : "./gpu_worker.js",
      import.meta.url,
    );
    const worker = new Worker(url, { type: "module" });
    const reply = await new Promise<InitReply>((resolve) => {
      worker.onmessage = (e) => resolve(e.data as InitReply);
      worker.onerror = (e) => {
        e.preventDefault();
        resolve({ t: "error", message: e.message });
      };
      worker.postMessage({
        t: "init",
        allowSoftware: options.allowSoftware ?? false,
        powerPreference: options.powerPreference,
      });
    });
    worker.onmessage = null;
    if (reply.t !== "ready") {
      worker.terminate();
      throw new Error(reply.message);
    }
    return new WebGpuBackend(worker, reply.adapter, reply.limits);
  }

  /** One line naming the adapter. */
  get description(): string {
    const a = this.adapter;
    return a.description || a.device || a.architecture || a.vendor ||
      "unknown adapter";
  }

  #push(c: Command): void {
    if (this.#disposed) throw new Error("The WebGPU backend was disposed");
    this.#queue.push(c);
    if (this.#queue.length >= FLUSH_EVERY) this.flush();
    else if (!this.#flushScheduled) {
      // Callers that await between ops keep the GPU busy without a read.
      this.#flushScheduled = true;
      queueMicrotask(() => {
        this.#flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Posts the queued commands to the worker. */
  flush(): void {
    if (this.#queue.length === 0 || this.#disposed) return;
    const batch = this.#queue;
    this.#queue = [];
    const transfer: Transferable[] = [];
    for (const c of batch) {
      if (c.t === "write") transfer.push(c.data.buffer as ArrayBuffer);
    }
    this.#worker.postMessage(batch, transfer);
  }

  allocate(length: number): Storage {
    const id = this.#nextId++;
    const bytes = Math.max(16, Math.ceil((length * 4) / 16) * 16);
    this.#push({ t: "alloc", id, bytes });
    this.#live.set(id, bytes);
    if (length <= PIGGYBACK_FLOATS) this.#small.set(id, length);
    this.#liveBytes += bytes;
    if (this.#liveBytes > this.#peakBytes) this.#peakBytes = this.#liveBytes;
    return { backend: this, handle: id, length, refs: 0 };
  }

  release(storage: Storage): void {
    const bytes = this.#live.get(storage.handle);
    if (bytes === undefined || this.#disposed) return;
    this.#live.delete(storage.handle);
    this.#small.delete(storage.handle);
    this.#dirty.delete(storage.handle);
    this.#known.delete(storage.handle);
    this.#liveBytes -= bytes;
    this.#push({ t: "free", id: storage.handle });
  }

  write(storage: Storage, data: ArrayLike<number>, offset = 0): void {
    if (offset + data.length > storage.length) {
      throw new RangeError("write() past the end of a storage");
    }
    if (data.length === 0) return;
    this.#written(storage.handle);
    this.#push({
      t: "write",
      id: storage.handle,
      byteOffset: offset * 4,
      data: Float32Array.from(data),
    });
  }

  /** A command is about to change storage `id`: its host copy is stale. */
  #written(id: number): void {
    this.#known.delete(id);
    if (this.#small.has(id)) {
      this.#dirty.delete(id); // re-inserted as the most recent
      this.#dirty.add(id);
    }
  }

  read(
    storage: Storage,
    offset = 0,
    length = storage.length - offset,
  ): Float32Array {
    const known = this.#known.get(storage.handle);
    if (known) {
      this.readStats.cached++;
      return known.slice(offset, offset + length);
    }
    const t0 = performance.now();
    const bytes = length * 4;
    // Piggyback the most recently written small storages after the range.
    const extra: { id: number; bytes: number; at: number }[] = [];
    let end = Math.ceil(bytes / 16) * 16;
    const dirty = [...this.#dirty];
    for (let i = dirty.length - 1; i >= 0; i--) {
      if (extra.length === PIGGYBACK_MAX) break;
      const id = dirty[i];
      if (id === storage.handle) continue;
      const n = this.#small.get(id)! * 4;
      if (n === 0) continue;
      extra.push({ id, bytes: n, at: end });
      end += Math.ceil(n / 16) * 16;
    }
    const sab = new SharedArrayBuffer(
      READ_HEADER_BYTES + Math.max(end, 1024),
    );
    const header = new Int32Array(sab, 0, 4);
    this.#push({
      t: "read",
      id: storage.handle,
      byteOffset: offset * 4,
      bytes,
      extra,
      sab,
    });
    this.flush();
    const r = Atomics.wait(header, 0, READ_PENDING, READ_TIMEOUT_MS);
    if (r === "timed-out") {
      throw new Error("WebGPU read timed out: the GPU worker did not answer");
    }
    if (Atomics.load(header, 0) === READ_ERROR) {
      const n = Atomics.load(header, 1);
      const msg = new TextDecoder().decode(
        new Uint8Array(sab, READ_HEADER_BYTES, n).slice(),
      );
      throw new Error(msg || "WebGPU read failed");
    }
    if (Atomics.load(header, 0) !== READ_DONE) {
      throw new Error("WebGPU read failed");
    }
    const out = new Float32Array(length);
    out.set(new Float32Array(sab, READ_HEADER_BYTES, length));
    for (const x of extra) {
      this.#known.set(
        x.id,
        new Float32Array(
          sab.slice(
            READ_HEADER_BYTES + x.at,
            READ_HEADER_BYTES + x.at + x.bytes,
          ),
        ),
      );
      this.#dirty.delete(x.id);
    }
    const whole = this.#small.get(storage.handle);
    if (whole !== undefined && offset === 0 && length === whole) {
      this.#known.set(storage.handle, out.slice());
      this.#dirty.delete(storage.handle);
    }
    this.readStats.count++;
    this.readStats.ms += performance.now() - t0;
    return out;
  }

  /** Copies `bytes` between storages on the GPU (4-byte aligned). */
  copy(
    src: Storage,
    srcByte: number,
    dst: Storage,
    dstByte: number,
    bytes: number,
  ): void {
    if (bytes === 0) return;
    this.#written(dst.handle);
    this.#push({
      t: "copy",
      src: src.handle,
      srcByte,
      dst: dst.handle,
      dstByte,
      bytes,
    });
  }

  /** Queues one compute dispatch of `s` over `groups` workgroups. */
  dispatch(
    s: Shader,
    bindings: BindingSpec[],
    params: ArrayBuffer,
    groups: [number, number, number],
  ): void {
    for (const b of bindings) if (b.write) this.#written(b.id);
    if (groups[0] === 0 || groups[1] === 0 || groups[2] === 0) return;
    if (!this.#sent.has(s.key)) {
      this.#sent.add(s.key);
      this.#push({ t: "shader", key: s.key, code: s.code });
    }
    this.#push({ t: "dispatch", key: s.key, bindings, params, groups });
  }

  /** Waits until every queued command has run on the GPU. */
  sync(): void {
    const st: Storage = { backend: this, handle: 0, length: 0, refs: 0 };
    this.read(st, 0, 0);
  }

  memory(): MemoryInfo {
    return {
      liveBytes: this.#liveBytes,
      peakBytes: this.#peakBytes,
      liveCount: this.#live.size,
    };
  }

  resetPeak(): void {
    this.#peakBytes = this.#liveBytes;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#queue = [];
    this.#worker.terminate();
  }
}
