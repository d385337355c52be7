// The one place that knows which host runs us. Everything else in runtime/
// is platform-neutral and reaches the host through `currentPlatform()`.
// This module is browser compatible.

/** A worker thread as the engine sees it, whatever the host. */
export interface WorkerHandle {
  post(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  onError(listener: (error: Error) => void): void;
  terminate(): void;
}

/** Inside a worker: the channel to the thread that created it. */
export interface ParentPort {
  post(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
}

export interface Platform {
  readonly name: "deno" | "node" | "browser" | "edge";
  /** Reads a file: or http(s): URL into bytes. */
  readBytes(url: URL): Promise<Uint8Array>;
  /** Starts a module worker, or returns null where the host has none. */
  spawnWorker(url: URL): WorkerHandle | null;
  /** Logical CPUs available to this process. */
  hardwareConcurrency(): number;
  /** Makes relaxed SIMD available where the host hides it behind a flag. */
  enableRelaxedSimd(): void;
  /** Reads a file by path (hosts with a file system). */
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Writes a file atomically: a temporary file beside it, then a rename, so
   * readers never see a half-written file.
   */
  writeFileAtomic(path: string, data: Uint8Array): Promise<void>;
}

function noFileSystem(): never {
  throw new Error("This host has no file system; pass bytes instead of paths");
}

type DenoLike = {
  readFile(path: string | URL): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  pid: number;
  version?: { deno: string };
};

/** A temporary name beside `path`, unique to this process and call. */
export function temporaryPath(path: string, pid = 0): string {
  return `${path}.${pid}.${Date.now().toString(36)}${
    Math.floor(Math.random() * 1e9).toString(36)
  }.tmp`;
}

function denoGlobal(): DenoLike | undefined {
  return (globalThis as unknown as { Deno?: DenoLike }).Deno;
}

function isNode(): boolean {
  const p = (globalThis as unknown as {
    process?: { versions?: { node?: string } };
  }).process;
  return denoGlobal() === undefined && p?.versions?.node !== undefined;
}

function webWorkerHandle(worker: Worker): WorkerHandle {
  return {
    post: (m) => worker.postMessage(m),
    onMessage: (l) => worker.addEventListener("message", (e) => l(e.data)),
    onError: (l) =>
      worker.addEventListener("error", (e) => {
        e.preventDefault();
        l(new Error(e.message));
      }),
    terminate: () => worker.terminate(),
  };
}

function hasWebWorker(): boolean {
  return typeof (globalThis as { Worker?: unknown }).Worker === "function";
}

async function fetchBytes(url: URL): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`Cannot load ${url}: HTTP ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

const denoPlatform: Platform = {
  name: "deno",
  readBytes: (url) =>
    url.protocol === "file:" ? denoGlobal()!.readFile(url) : fetchBytes(url),
  spawnWorker: (url) =>
    webWorkerHandle(new Worker(url.href, { type: "module" })),
  hardwareConcurrency: () => navigator.hardwareConcurrency ?? 1,
  enableRelaxedSimd: () => {},
  readFile: (path) => denoGlobal()!.readFile(path),
  writeFileAtomic: async (path, data) => {
    const deno = denoGlobal()!;
    const tmp = temporaryPath(path, deno.pid);
    try {
      await deno.writeFile(tmp, data);
      await deno.rename(tmp, path);
    } catch (e) {
      await deno.remove(tmp).catch(() => {});
      throw e;
    }
  },
};

const browserPlatform: Platform = {
  name: "browser",
  readBytes: fetchBytes,
  spawnWorker: (url) =>
    hasWebWorker()
      ? webWorkerHandle(new Worker(url.href, { type: "module" }))
      : null,
  hardwareConcurrency: () => navigator.hardwareConcurrency ?? 1,
  enableRelaxedSimd: () => {},
  readFile: () => Promise.reject(noFileSystem()),
  writeFileAtomic: () => Promise.reject(noFileSystem()),
};

// Edge runtimes (workerd and the like): no workers, no file system.
const edgePlatform: Platform = {
  ...browserPlatform,
  name: "edge",
  spawnWorker: () => null,
  hardwareConcurrency: () => 1,
};

let cached: Platform | undefined;

/** The adapter for the host we run on, loaded once. */
export async function currentPlatform(): Promise<Platform> {
  if (cached) return cached;
  if (denoGlobal()) cached = denoPlatform;
  else if (isNode()) cached = (await import("./node.ts")).nodePlatform;
  else if (
    typeof (globalThis as { document?: unknown }).document !== "undefined" ||
    hasWebWorker() ||
    typeof (globalThis as { WorkerGlobalScope?: unknown })
        .WorkerGlobalScope !== "undefined"
  ) cached = browserPlatform;
  else cached = edgePlatform;
  return cached;
}

/** Inside a worker: the port to the parent, for every host. */
export async function parentPort(): Promise<ParentPort> {
  if (isNode()) return (await import("./node.ts")).nodeParentPort();
  const scope = globalThis as unknown as {
    postMessage(m: unknown): void;
    addEventListener(t: "message", l: (e: MessageEvent) => void): void;
  };
  return {
    post: (m) => scope.postMessage(m),
    onMessage: (l) => scope.addEventListener("message", (e) => l(e.data)),
  };
}

/**
 * Whether this thread may block in Atomics.wait. A browser's main thread and
 * edge runtimes may not; Deno, Node and workers may.
 */
export function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether shared memory (and so threads) can exist here at all. */
export function hasSharedMemory(): boolean {
  if (typeof SharedArrayBuffer === "undefined") return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean })
    .crossOriginIsolated;
  return isolated !== false;
}
