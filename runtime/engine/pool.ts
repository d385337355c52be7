// The engine's thread pool: N-1 workers plus the calling thread, all running
// the same module on one shared memory. A call splits a kernel's work by
// (tid, nthreads) and returns when every share is done. The caller blocks
// (Atomics.wait) only where the host allows it and spins otherwise, so it
// never calls Atomics.wait on a browser's main thread.
// This module is browser compatible.
import { canBlock, type Platform, type WorkerHandle } from "../platform/mod.ts";
import {
  CONTROL_INTS,
  DONE,
  ERROR,
  ERROR_TEXT,
  ERROR_TEXT_BYTES,
  FN,
  FN_EXIT,
  GEN,
  MAX_ARGS,
  NARGS,
  NTHREADS,
  READY,
  type WorkerInit,
} from "./protocol.ts";

const STARTUP_TIMEOUT_MS = 60_000;
const SPIN = 1 << 16;

export class ThreadPool {
  readonly size: number;
  #workers: WorkerHandle[];
  #control: Int32Array;
  #args: Float64Array;
  #fns: ((...a: number[]) => void)[];
  #canBlock = canBlock();

  private constructor(
    workers: WorkerHandle[],
    control: SharedArrayBuffer,
    args: SharedArrayBuffer,
    fns: ((...a: number[]) => void)[],
  ) {
    this.#workers = workers;
    this.size = workers.length + 1;
    this.#control = new Int32Array(control);
    this.#args = new Float64Array(args);
    this.#fns = fns;
  }

  /**
   * Starts `threads - 1` workers on `module` and `memory`. `exports` are the
   * caller's own instance's functions, called by name index.
   */
  static async start(
    platform: Platform,
    workerUrl: URL,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    names: string[],
    exports: Record<string, unknown>,
    threads: number,
  ): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(CONTROL_INTS * 4);
    const args = new SharedArrayBuffer(MAX_ARGS * 8);
    const workers: WorkerHandle[] = [];
    const failures: string[] = [];
    const loaded: Promise<void>[] = [];
    for (let tid = 1; tid < threads; tid++) {
      const worker = platform.spawnWorker(workerUrl);
      if (!worker) break;
      workers.push(worker);
      loaded.push(
        new Promise<void>((resolve, reject) => {
          worker.onError((e) => {
            failures.push(e.message);
            reject(e);
          });
          worker.onMessage((m) => {
            const msg = m as { kind: string; message?: string };
            if (msg.kind === "loaded") {
              const init: WorkerInit = {
                kind: "init",
                module,
                memory,
                control,
                args,
                tid,
                names,
              };
              worker.post(init);
              resolve();
            } else if (msg.kind === "error") {
              failures.push(msg.message ?? "unknown worker error");
            }
          });
        }),
      );
    }
    const fns = names.map((n) => exports[n] as (...a: number[]) => void);
    const pool = new ThreadPool(workers, control, args, fns);
    try {
      await Promise.all(loaded);
      const c = pool.#control;
      const t0 = Date.now();
      while (Atomics.load(c, READY) < workers.length) {
        if (failures.length) throw new Error(failures[0]);
        if (Date.now() - t0 > STARTUP_TIMEOUT_MS) {
          throw new Error("Engine workers did not start within 60 s");
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    } catch (e) {
      pool.dispose();
      throw e;
    }
    return pool;
  }

  /**
   * Runs function `fn` (an index into `names`) with `args` on `nthreads`
   * threads (the caller is thread 0) and returns when all are done.
   */
  run(fn: number, args: ArrayLike<number>, nthreads: number): void {
    const n = Math.max(1, Math.min(nthreads, this.size));
    if (args.length > MAX_ARGS) {
      throw new RangeError(`At most ${MAX_ARGS} kernel arguments`);
    }
    if (n === 1) {
      this.#callLocal(fn, args, 0, 1);
      return;
    }
    const c = this.#control;
    this.#args.set(args as ArrayLike<number>);
    c[FN] = fn;
    c[NARGS] = args.length;
    c[NTHREADS] = n;
    c[ERROR] = 0;
    Atomics.store(c, DONE, 0);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    let localError: unknown;
    try {
      this.#callLocal(fn, args, 0, n);
    } catch (e) {
      localError = e;
    }
    const workers = this.#workers.length;
    let spins = 0;
    for (;;) {
      const done = Atomics.load(c, DONE);
      if (done >= workers) break;
      if (this.#canBlock && ++spins > SPIN) Atomics.wait(c, DONE, done, 50);
    }
    if (localError) throw localError;
    if (c[ERROR]) {
      const bytes = new Uint8Array(
        c.buffer as SharedArrayBuffer,
        ERROR_TEXT * 4,
        ERROR_TEXT_BYTES,
      ).slice();
      const end = bytes.indexOf(0);
      throw new Error(
        "Engine worker failed: " +
          new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end)),
      );
    }
  }

  #callLocal(fn: number, args: ArrayLike<number>, tid: number, n: number) {
    const f = this.#fns[fn];
    switch (args.length) {
      case 0:
        return f(tid, n);
      case 1:
        return f(args[0], tid, n);
      case 2:
        return f(args[0], args[1], tid, n);
      case 3:
        return f(args[0], args[1], args[2], tid, n);
      case 4:
        return f(args[0], args[1], args[2], args[3], tid, n);
      default:
        return f(...Array.from(args), tid, n);
    }
  }

  /** Tells every worker to leave its loop and ends the threads. */
  dispose(): void {
    const c = this.#control;
    c[FN] = FN_EXIT;
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}
