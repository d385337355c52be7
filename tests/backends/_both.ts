// Test helper: one wasm backend and one WebGPU backend (software adapter
// allowed) side by side; run the same computation on each and compare.
// The wasm reference runs single-threaded: its spinning workers would
// starve a software adapter's own threads on a 2-core machine.
import { type Backend, setBackend } from "../../runtime/backend.ts";
import { selectBackend } from "../../runtime/backend_select.ts";
import { Random } from "../../runtime/random.ts";
import { tidy } from "../../runtime/tensor.ts";
import { testWasmDir } from "../_engine.ts";

export interface Pair {
  wasm: Backend;
  gpu: Backend | null;
  /** Why the WebGPU side is absent. */
  skipReason: string;
}

export async function createPair(): Promise<Pair> {
  const wasm = (await selectBackend({
    backend: "wasm",
    threads: 1,
    wasmBaseUrl: testWasmDir(),
  })).backend;
  let gpu: Backend | null = null, skipReason = "";
  try {
    gpu = (await selectBackend({ backend: "webgpu" })).backend;
  } catch (e) {
    skipReason = e instanceof Error ? e.message : String(e);
  }
  return { wasm, gpu, skipReason };
}

/** Runs fn on each backend; returns [wasm result, webgpu result]. */
export function onBoth<T>(pair: Pair, fn: () => T): [T, T] {
  setBackend(pair.wasm);
  const a = fn();
  setBackend(pair.gpu!);
  const b = fn();
  setBackend(pair.wasm);
  return [a, b];
}

export function randomArray(rng: Random, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.uniform() * 2 - 1) * scale;
  return a;
}

/**
 * Asserts |a - b| ≤ atol + rtol·max|b| elementwise (max|b| over the whole
 * array: the GPU sums in another order, so errors scale with magnitudes).
 */
export function assertClose(
  what: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  rtol = 1e-4,
  atol = 1e-5,
): void {
  if (got.length !== want.length) {
    throw new Error(`${what}: length ${got.length} vs ${want.length}`);
  }
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
  }
  const tol = atol + rtol * scale;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= tol) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      throw new Error(
        `${what}: element ${i} is ${got[i]}, wasm gives ${
          want[i]
        } (tolerance ${tol})`,
      );
    }
  }
}

/** Runs fn inside tidy() (every tensor it makes is freed) and returns its plain result. */
export function scoped<T>(fn: () => T): T {
  let r!: T;
  tidy(() => {
    r = fn();
  });
  return r;
}
