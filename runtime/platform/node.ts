// Node.js host adapter, imported only under Node (see mod.ts).
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { parentPort, Worker } from "node:worker_threads";
import type { ParentPort, Platform, WorkerHandle } from "./mod.ts";

function nodeWorkerHandle(worker: Worker): WorkerHandle {
  // Idle workers must not keep the process alive.
  worker.unref();
  return {
    post: (m) => worker.postMessage(m),
    onMessage: (l) => worker.on("message", l),
    onError: (l) => worker.on("error", l),
    terminate: () => void worker.terminate(),
  };
}

export const nodePlatform: Platform = {
  name: "node",
  readBytes: async (url) =>
    url.protocol === "file:"
      ? new Uint8Array(await readFile(url))
      : new Uint8Array(await (await fetch(url)).arrayBuffer()),
  spawnWorker: (url) => nodeWorkerHandle(new Worker(url)),
  hardwareConcurrency: () => availableParallelism(),
  enableRelaxedSimd: () => setFlagsFromString("--experimental-wasm-relaxed-simd"),
};

export function nodeParentPort(): ParentPort {
  if (!parentPort) throw new Error("Not running in a worker thread");
  const port = parentPort;
  return {
    post: (m) => port.postMessage(m),
    onMessage: (l) => port.on("message", l),
  };
}
