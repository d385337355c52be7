// Messages between the WebGpuBackend (calling thread) and its GPU worker
// (gpu_worker.ts), which owns the GPUDevice. The calling thread never waits
// for anything but reads: it posts batches of commands and, to read, blocks
// with Atomics.wait on a SharedArrayBuffer the worker fills after mapAsync.
// This module is browser compatible.

/** A tensor range bound to a shader binding (elements, not bytes). */
export interface BindingSpec {
  /** Buffer id (0: a dummy buffer for an absent optional tensor). */
  id: number;
  /** First element. */
  offset: number;
  /** Elements bound. */
  length: number;
  /** Whether the shader writes it (unaligned views are copied back). */
  write: boolean;
}

export type Command =
  | { t: "alloc"; id: number; bytes: number }
  | { t: "free"; id: number }
  | { t: "write"; id: number; byteOffset: number; data: Float32Array }
  | {
    t: "copy";
    src: number;
    srcByte: number;
    dst: number;
    dstByte: number;
    bytes: number;
  }
  | { t: "shader"; key: number; code: string }
  | {
    t: "dispatch";
    key: number;
    bindings: BindingSpec[];
    params: ArrayBuffer;
    groups: [number, number, number];
  }
  | {
    t: "read";
    id: number;
    byteOffset: number;
    bytes: number;
    /**
     * Small storages read along (piggyback): each whole storage `id`, `bytes`
     * long, lands at data offset `at` (after the main range).
     */
    extra?: { id: number; bytes: number; at: number }[];
    /** Int32 [0]: 0 pending, 1 done, 2 error; [1]: message length; data at 16. */
    sab: SharedArrayBuffer;
  };

/** First message to the worker. */
export interface InitMessage {
  t: "init";
  /** Allow a software (fallback) adapter. */
  allowSoftware: boolean;
  powerPreference?: "high-performance" | "low-power";
}

/** The worker's answer to init. */
export type InitReply =
  | {
    t: "ready";
    adapter: AdapterSummary;
    limits: Record<string, number>;
  }
  | { t: "error"; message: string };

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Software rasteriser/compute (llvmpipe, lavapipe, SwiftShader, WARP). */
  software: boolean;
}

export const READ_HEADER_BYTES = 16;
export const READ_PENDING = 0;
export const READ_DONE = 1;
export const READ_ERROR = 2;

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|warp|software/i;

/** Whether an adapter is a software implementation. */
export function isSoftwareAdapter(
  info: {
    vendor?: string;
    architecture?: string;
    device?: string;
    description?: string;
    isFallbackAdapter?: boolean;
  },
  isFallbackAdapter?: boolean,
): boolean {
  if (isFallbackAdapter || info.isFallbackAdapter) return true;
  const text = [info.vendor, info.architecture, info.device, info.description]
    .filter(Boolean).join(" ");
  return SOFTWARE.test(text);
}
