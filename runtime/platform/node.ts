// Node.js host adapter, imported only under Node (see mod.ts).
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { parentPort, Worker } from "node:worker_threads";
import {
  type ParentPort,
  type Platform,
  temporaryPath,
  type WorkerHandle,
} from "./mod.ts";

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
  enableRelaxedSimd: () =>
    setFlagsFromString("--experimental-wasm-relaxed-simd"),
  readFile: async (path) => new Uint8Array(await readFile(path)),
  writeFileAtomic: async (path, data) => {
    const tmp = temporaryPath(path, process.pid);
    try {
      await writeFile(tmp, data);
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  },
};

export function nodeParentPort(): ParentPort {
  if (!parentPort) throw new Error("Not running in a worker thread");
  const port = parentPort;
  return {
    post: (m) => port.postMessage(m),
    onMessage: (l) => port.on("message", l),
  };
}
