// Shared by the optimiser tests: creates the wasm backend (from
// IMPASTO_WASM_DIR when set, e.g. build/dev-optim, whose entry
// assembly/dev/optim.ts holds the optim, vbinary and reduce families), plus
// small f64 helpers.
import { initBackend } from "../../../runtime/mod.ts";
import { type Tensor, tensor } from "../../../runtime/tensor.ts";
import { testWasmDir } from "../../_engine.ts";

/** Makes the wasm backend current; dispose it with getBackend().dispose(). */
export async function setupBackend(threads = 2): Promise<void> {
  await initBackend({ threads, wasmBaseUrl: testWasmDir() });
}

/** Sets p.grad to `values` (allocating it on first use). */
export function setGrad(p: Tensor, values: ArrayLike<number>): void {
  if (p.grad) p.grad.write(values);
  else p.grad = tensor(values, p.shape);
}

/**
 * A quadratic bowl f(x) = ½ Σ a_i (x_i - c_i)² with curvatures a in
 * [aMin, aMax] and minimum c; evaluated in f64.
 */
export function bowl(
  n: number,
  seed: number,
  aMin = 0.5,
  aMax = 4,
): {
  a: Float64Array;
  c: Float64Array;
  loss: (x: ArrayLike<number>) => number;
  grad: (x: ArrayLike<number>) => Float64Array;
} {
  let s = seed >>> 0;
  const r = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const a = Float64Array.from({ length: n }, () => aMin + (aMax - aMin) * r());
  const c = Float64Array.from({ length: n }, () => 2 * r() - 1);
  return {
    a,
    c,
    loss: (x) => {
      let f = 0;
      for (let i = 0; i < n; i++) f += 0.5 * a[i] * (x[i] - c[i]) ** 2;
      return f;
    },
    grad: (x) =>
      Float64Array.from({ length: n }, (_, i) => a[i] * (x[i] - c[i])),
  };
}

/** Bitwise equality of two f32 arrays (NaN-safe), with a useful message. */
export function assertBitEqual(
  a: Float32Array,
  b: Float32Array,
  label: string,
): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (a.length !== b.length) throw new Error(`${label}: lengths differ`);
  for (let i = 0; i < a.length; i++) {
    if (ua[i] !== ub[i]) {
      throw new Error(`${label}: element ${i} is ${a[i]} vs ${b[i]}`);
    }
  }
}
