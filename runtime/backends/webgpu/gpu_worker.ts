// The GPU worker: owns the GPUDevice and every GPUBuffer; executes the
// command batches the WebGpuBackend posts (protocol.ts), encoding dispatches
// into one command encoder per batch. Reads copy into a MAP_READ staging
// buffer, await mapAsync and fill the caller's SharedArrayBuffer, then wake
// it with Atomics.notify (the caller blocks in Atomics.wait).
// Freed buffers go to a size-keyed pool (reused by later allocations):
// destroying a buffer that the unsubmitted encoder still uses would
// invalidate the submit, so trimming only happens right after a submit.
// This module is browser compatible (a module worker).
/// <reference lib="deno.worker" />
import {
  type AdapterSummary,
  type BindingSpec,
  type Command,
  type InitMessage,
  isSoftwareAdapter,
  READ_DONE,
  READ_ERROR,
  READ_HEADER_BYTES,
} from "./protocol.ts";

const STORAGE_USAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST
const PARAM_SLOT = 256; // bytes per dispatch's parameters (offset alignment)
const PARAM_SLOTS = 1024; // dispatches per encoder before an early submit
const POOL_MAX_BYTES = 2 ** 30;

let device: GPUDevice;
let align = 256;
const buffers = new Map<number, GPUBuffer>();
const pipelines = new Map<number, GPUComputePipeline>();
const pool = new Map<number, GPUBuffer[]>();
let pooledBytes = 0;
let dummy: GPUBuffer;
let paramBuffer: GPUBuffer;
let paramHost = new Uint8Array(PARAM_SLOTS * PARAM_SLOT);
let paramCount = 0;
let encoder: GPUCommandEncoder | null = null;
let pendingTemps: GPUBuffer[] = [];
let firstError: string | null = null;

const DEBUG = !!(globalThis as {
  Deno?: { env: { get(k: string): string | undefined } };
}).Deno?.env.get("WEBGPU_DEBUG");

function debug(message: string): void {
  if (DEBUG) console.error(`[gpu worker] ${message}`);
}

function recordError(message: string): void {
  debug(message);
  if (firstError === null) firstError = message;
}

/** Rounds a byte size to a pool size class (fewer classes, more reuse). */
function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 1 << 20) return Math.ceil(b / 256) * 256;
  return Math.ceil(b / 65536) * 65536;
}

function createBuffer(bytes: number): GPUBuffer {
  const size = sizeClass(bytes);
  const list = pool.get(size);
  if (list && list.length > 0) {
    pooledBytes -= size;
    return list.pop()!;
  }
  return device.createBuffer({ size, usage: STORAGE_USAGE });
}

function recycle(buf: GPUBuffer): void {
  const size = buf.size;
  let list = pool.get(size);
  if (!list) pool.set(size, list = []);
  list.push(buf);
  pooledBytes += size;
}

function trimPool(): void {
  if (pooledBytes <= POOL_MAX_BYTES) return;
  for (const [size, list] of pool) {
    while (list.length > 0 && pooledBytes > POOL_MAX_BYTES / 2) {
      list.pop()!.destroy();
      pooledBytes -= size;
    }
  }
}

function enc(): GPUCommandEncoder {
  if (!encoder) encoder = device.createCommandEncoder();
  return encoder;
}

/** Submits the open encoder (parameters first: queue order keeps them). */
function submit(): void {
  if (!encoder) return;
  if (paramCount > 0) {
    device.queue.writeBuffer(
      paramBuffer,
      0,
      paramHost.buffer,
      0,
      paramCount * PARAM_SLOT,
    );
  }
  device.queue.submit([encoder.finish()]);
  encoder = null;
  paramCount = 0;
  for (const t of pendingTemps) t.destroy();
  pendingTemps = [];
  trimPool();
}

function buffer(id: number): GPUBuffer {
  if (id === 0) return dummy;
  const b = buffers.get(id);
  if (!b) throw new Error(`WebGPU worker: unknown buffer ${id}`);
  return b;
}

function dispatch(
  key: number,
  specs: BindingSpec[],
  params: ArrayBuffer,
  groups: [number, number, number],
): void {
  const pipeline = pipelines.get(key);
  if (!pipeline) throw new Error(`WebGPU worker: unknown shader ${key}`);
  if (paramCount === PARAM_SLOTS) submit();
  const slot = paramCount++;
  paramHost.set(new Uint8Array(params), slot * PARAM_SLOT);
  const e = enc();
  const entries: GPUBindGroupEntry[] = [{
    binding: 0,
    resource: { buffer: paramBuffer, offset: slot * PARAM_SLOT, size: 256 },
  }];
  const copyBack: [GPUBuffer, GPUBuffer, number, number][] = [];
  specs.forEach((s, i) => {
    const buf = buffer(s.id);
    const byteOff = s.offset * 4;
    const bytes = Math.max(4, s.length * 4);
    if (s.id === 0 || byteOff % align === 0) {
      entries.push({
        binding: i + 1,
        resource: {
          buffer: buf,
          offset: s.id === 0 ? 0 : byteOff,
          size: s.id === 0 ? 16 : Math.min(bytes, buf.size - byteOff),
        },
      });
    } else {
      // A view whose offset the device cannot bind: run on a copy.
      const tmp = device.createBuffer({
        size: Math.ceil(bytes / 16) * 16,
        usage: STORAGE_USAGE,
      });
      e.copyBufferToBuffer(buf, byteOff, tmp, 0, s.length * 4);
      entries.push({ binding: i + 1, resource: { buffer: tmp } });
      pendingTemps.push(tmp);
      if (s.write) copyBack.push([tmp, buf, byteOff, s.length * 4]);
    }
  });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries,
  });
  const pass = e.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
  pass.end();
  for (const [tmp, dst, off, n] of copyBack) {
    e.copyBufferToBuffer(tmp, 0, dst, off, n);
  }
}

async function read(
  id: number,
  byteOffset: number,
  bytes: number,
  sab: SharedArrayBuffer,
  extra: { id: number; bytes: number; at: number }[] = [],
): Promise<void> {
  const header = new Int32Array(sab, 0, 4);
  try {
    if (firstError !== null) throw new Error(firstError);
    // The main range, then the piggybacked small storages.
    let total = bytes;
    for (const x of extra) total = Math.max(total, x.at + x.bytes);
    const size = Math.max(16, Math.ceil(total / 16) * 16);
    const staging = device.createBuffer({
      size,
      usage: 0x0001 | 0x0008, // MAP_READ | COPY_DST
    });
    if (bytes > 0) {
      enc().copyBufferToBuffer(buffer(id), byteOffset, staging, 0, bytes);
    }
    for (const x of extra) {
      enc().copyBufferToBuffer(buffer(x.id), 0, staging, x.at, x.bytes);
    }
    submit();
    await staging.mapAsync(0x0001);
    if (firstError !== null) throw new Error(firstError);
    new Uint8Array(sab, READ_HEADER_BYTES, total).set(
      new Uint8Array(staging.getMappedRange(0, size), 0, total),
    );
    staging.unmap();
    staging.destroy();
    Atomics.store(header, 0, READ_DONE);
  } catch (e) {
    const msg = new TextEncoder().encode(
      e instanceof Error ? e.message : String(e),
    );
    const room = sab.byteLength - READ_HEADER_BYTES;
    const n = Math.min(msg.length, room);
    new Uint8Array(sab, READ_HEADER_BYTES, n).set(msg.subarray(0, n));
    Atomics.store(header, 1, n);
    Atomics.store(header, 0, READ_ERROR);
  }
  Atomics.notify(header, 0);
}

async function run(cmds: Command[]): Promise<void> {
  for (const c of cmds) {
    try {
      switch (c.t) {
        case "alloc":
          buffers.set(c.id, createBuffer(c.bytes));
          break;
        case "free": {
          const b = buffers.get(c.id);
          buffers.delete(c.id);
          if (b) recycle(b);
          break;
        }
        case "write":
          // writeBuffer runs on the queue at once: commands encoded before
          // it must be submitted first to keep program order.
          submit();
          device.queue.writeBuffer(
            buffer(c.id),
            c.byteOffset,
            c.data.buffer,
            c.data.byteOffset,
            c.data.byteLength,
          );
          break;
        case "copy":
          enc().copyBufferToBuffer(
            buffer(c.src),
            c.srcByte,
            buffer(c.dst),
            c.dstByte,
            c.bytes,
          );
          break;
        case "shader": {
          debug(`compile ${c.key}`);
          const module = device.createShaderModule({ code: c.code });
          pipelines.set(
            c.key,
            device.createComputePipeline({
              layout: "auto",
              compute: { module, entryPoint: "main" },
            }),
          );
          break;
        }
        case "dispatch":
          debug(`dispatch ${c.key} ${c.groups}`);
          dispatch(c.key, c.bindings, c.params, c.groups);
          break;
        case "read":
          await read(c.id, c.byteOffset, c.bytes, c.sab, c.extra);
          break;
      }
    } catch (e) {
      recordError(e instanceof Error ? e.message : String(e));
      if (c.t === "read") {
        const header = new Int32Array(c.sab, 0, 4);
        Atomics.store(header, 0, READ_ERROR);
        Atomics.notify(header, 0);
      }
    }
  }
  submit();
}

async function init(m: InitMessage): Promise<void> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) throw new Error("WebGPU is not available (no navigator.gpu)");
  const adapter = await gpu.requestAdapter({
    powerPreference: m.powerPreference ?? "high-performance",
  });
  if (!adapter) throw new Error("WebGPU: no adapter");
  const info = (adapter.info ?? {}) as GPUAdapterInfo & {
    isFallbackAdapter?: boolean;
  };
  const summary: AdapterSummary = {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    description: info.description ?? "",
    software: isSoftwareAdapter(
      info,
      (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    ),
  };
  if (summary.software && !m.allowSoftware) {
    throw new Error(
      `WebGPU: only a software adapter (${summary.description}) is available`,
    );
  }
  const want = [
    "maxStorageBufferBindingSize",
    "maxBufferSize",
    "maxStorageBuffersPerShaderStage",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
    "maxComputeWorkgroupSizeX",
    "maxComputeWorkgroupSizeY",
  ] as const;
  const requiredLimits: Record<string, number> = {};
  for (const k of want) requiredLimits[k] = adapter.limits[k];
  device = await adapter.requestDevice({ requiredLimits });
  device.addEventListener("uncapturederror", (ev) => {
    recordError(
      `WebGPU: ${(ev as GPUUncapturedErrorEvent).error.message}`,
    );
  });
  align = device.limits.minStorageBufferOffsetAlignment;
  dummy = device.createBuffer({ size: 16, usage: STORAGE_USAGE });
  paramBuffer = device.createBuffer({
    size: PARAM_SLOTS * PARAM_SLOT,
    usage: 0x80 | 0x08,
  });
  paramHost = new Uint8Array(PARAM_SLOTS * PARAM_SLOT);
  const limits: Record<string, number> = {};
  for (const k of [...want, "minStorageBufferOffsetAlignment"] as const) {
    limits[k] = device.limits[k];
  }
  self.postMessage({ t: "ready", adapter: summary, limits });
}

let chain: Promise<void> = Promise.resolve();

self.onmessage = (ev: MessageEvent) => {
  const m = ev.data;
  if (m && m.t === "init") {
    init(m as InitMessage).catch((e) =>
      self.postMessage({
        t: "error",
        message: e instanceof Error ? e.message : String(e),
      })
    );
    return;
  }
  // Batches run strictly in order even though reads await mapAsync.
  chain = chain.then(() => run(m as Command[]));
};
