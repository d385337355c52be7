// The control block shared by the engine's caller and its workers.
// One Int32Array on a SharedArrayBuffer; kernel arguments travel in a
// Float64Array beside it. A call: the caller writes FN, NARGS, NTHREADS and
// the arguments, zeroes DONE, bumps GEN and notifies; every worker with
// tid < NTHREADS runs its share, then all increment DONE.
// This module is browser compatible.

export const GEN = 0;
export const DONE = 1;
export const FN = 2;
export const NARGS = 3;
export const NTHREADS = 4;
export const ERROR = 5;
export const READY = 6;
/** Bytes of UTF-8 error text start at this Int32 slot. */
export const ERROR_TEXT = 16;
export const ERROR_TEXT_BYTES = 512;
export const CONTROL_INTS = ERROR_TEXT + ERROR_TEXT_BYTES / 4;
export const MAX_ARGS = 32;
/** FN value that tells workers to leave their loop. */
export const FN_EXIT = -1;

/** Message sent to each worker to start it. */
export interface WorkerInit {
  kind: "init";
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  args: SharedArrayBuffer;
  tid: number;
  names: string[];
}

/** Everything a kernel import may need: the memory and an abort hook. */
export function kernelImports(
  memory: WebAssembly.Memory,
): WebAssembly.Imports {
  return {
    env: {
      memory,
      abort: (_msg: number, _file: number, line: number, col: number) => {
        throw new Error(`Engine kernel aborted at ${line}:${col}`);
      },
    },
  };
}
