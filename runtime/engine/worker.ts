// A thread of the engine's pool. It instantiates the shared module on the
// shared memory, reports ready, then loops: wait for a call, run its share,
// report done. It never allocates engine memory itself.
// This module is browser compatible.
import { parentPort } from "../platform/mod.ts";
import {
  DONE,
  ERROR,
  ERROR_TEXT,
  ERROR_TEXT_BYTES,
  FN,
  FN_EXIT,
  GEN,
  kernelImports,
  NARGS,
  NTHREADS,
  READY,
  type WorkerInit,
} from "./protocol.ts";

// Spin this many polls before sleeping: back-to-back kernel calls then skip
// the cost of a futex wake-up.
const SPIN = 20000;

function loop(init: WorkerInit): void {
  const instance = new WebAssembly.Instance(
    init.module,
    kernelImports(init.memory),
  );
  const exports = instance.exports as Record<string, unknown>;
  const fns = init.names.map((n) => exports[n] as (...a: number[]) => void);
  const control = new Int32Array(init.control);
  const args = new Float64Array(init.args);
  const tid = init.tid;
  let seen = Atomics.load(control, GEN);
  Atomics.add(control, READY, 1);
  Atomics.notify(control, READY);
  for (;;) {
    let spins = 0;
    while (Atomics.load(control, GEN) === seen && spins < SPIN) spins++;
    Atomics.wait(control, GEN, seen);
    seen = Atomics.load(control, GEN);
    const fn = control[FN];
    if (fn === FN_EXIT) return;
    const nthreads = control[NTHREADS];
    if (tid < nthreads) {
      try {
        const n = control[NARGS];
        const a: number[] = new Array(n + 2);
        for (let i = 0; i < n; i++) a[i] = args[i];
        a[n] = tid;
        a[n + 1] = nthreads;
        fns[fn](...a);
      } catch (e) {
        if (Atomics.compareExchange(control, ERROR, 0, 1) === 0) {
          const text = new TextEncoder().encode(String(e)).subarray(
            0,
            ERROR_TEXT_BYTES,
          );
          new Uint8Array(init.control, ERROR_TEXT * 4, ERROR_TEXT_BYTES).set(
            text,
          );
        }
      }
    }
    Atomics.add(control, DONE, 1);
    Atomics.notify(control, DONE);
  }
}

const port = await parentPort();
port.onMessage((message) => {
  const init = message as WorkerInit;
  if (init.kind !== "init") return;
  try {
    loop(init);
  } catch (e) {
    port.post({ kind: "error", message: String(e) });
  }
  // Leave the loop: let the host end this thread.
  (globalThis as { close?: () => void }).close?.();
});
port.post({ kind: "loaded" });
