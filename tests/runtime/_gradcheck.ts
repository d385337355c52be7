// Test helper for the autograd ops: a backend for the test file, and a
// gradient check that compares the tape's gradients (runtime/grad.ts) with
// central finite differences of the op's own forward.
//
// Method. For output y = f(x₁, …) and fixed random weights w, the scalar
// L = Σ wᵢ·yᵢ is evaluated in f64 from the f32 forward outputs. The tape's
// gradient of L is grad(y, inputs, gradOutput = w). The numeric one perturbs
// one input element at a time to x ± h, both rounded to f32 (the forward
// sees f32), and divides by the actual f32 step (x⁺ − x⁻), so the step is
// exact. Error budget: truncation ≈ h²/6·|∂³L| (zero for ops that are linear
// or quadratic in each single element: conv, matmul, gram, MSE, pooling
// away from ties), plus rounding ≈ ε_f32·Σ|wᵢyᵢ|/h. Ops polynomial of
// degree ≤ 2 per element therefore use a large h (0.25) and tight
// tolerances; smooth nonlinear ops use h ≈ 1e-2 and looser ones; kinks
// (ReLU at 0, max-pool ties) are kept farther than h from every input.
import { initBackend } from "../../runtime/mod.ts";
import { type Backend, getBackend } from "../../runtime/backend.ts";
import { grad } from "../../runtime/grad.ts";
import { noGrad } from "../../runtime/autograd.ts";
import { type Tensor, tensor, tidy } from "../../runtime/tensor.ts";
import { assertClose, randomArray, rng } from "../_check.ts";
import { testWasmDir } from "../_engine.ts";

/** The wasm backend for a test file (2 threads unless told). */
export function setupBackend(threads = 2): Promise<Backend> {
  return initBackend({ threads, wasmBaseUrl: testWasmDir() });
}

/** Registers a last test that ends the backend's threads. */
export function disposeBackendAtEnd(): void {
  Deno.test("dispose the backend", () => getBackend().dispose());
}

export interface GradInput {
  shape: number[];
  /** Values (default: uniform in [-1, 1) from the check's seed). */
  values?: ArrayLike<number>;
  /** Whether to check the gradient of this input (default true). */
  grad?: boolean;
}

export interface GradcheckOptions {
  /** Finite-difference step (see the header for the choice). */
  h: number;
  /** |analytic − numeric| ≤ atol·max(1, max|numeric|) + rtol·|numeric|. */
  atol: number;
  rtol: number;
  seed?: number;
  label?: string;
}

/** Live storages now (for leak checks). */
export function liveCount(): number {
  return getBackend().memory().liveCount;
}

/**
 * Checks the tape's gradients of `fn` against central differences.
 * `fn` receives the input tensors and returns one output tensor. Returns
 * the analytic gradients (as arrays) for further assertions. Asserts that
 * no storage is left alive afterwards.
 */
export function gradcheck(
  inputs: GradInput[],
  fn: (xs: Tensor[]) => Tensor,
  o: GradcheckOptions,
): Float32Array[] {
  const before = liveCount();
  const seed = o.seed ?? 1;
  const values = inputs.map((inp, i) =>
    Float32Array.from(
      inp.values ??
        randomArray(inp.shape.reduce((a, d) => a * d, 1), seed * 101 + i),
    )
  );
  // Analytic gradients through the tape.
  let outSize = 0;
  let weights: ArrayLike<number> = new Float32Array(0);
  let analytic: Float32Array[] = [];
  tidy(() => {
    const xs = values.map((v, i) => {
      const t = tensor(v, inputs[i].shape);
      t.requiresGrad = inputs[i].grad ?? true;
      return t;
    });
    const y = fn(xs);
    outSize = y.size;
    weights = randomArray(y.size, seed * 7919 + 3);
    const w = tensor(weights, y.shape);
    const wanted = xs.filter((t) => t.requiresGrad);
    const gs = grad(y, wanted, w);
    analytic = gs.map((g) => g.data());
  });
  // L(x) = Σ w·f(x) in f64 from the f32 forward.
  const lossAt = (vals: Float32Array[]): number =>
    noGrad(() =>
      tidy(() => {
        const xs = vals.map((v, i) => tensor(v, inputs[i].shape));
        const y = fn(xs).data();
        if (y.length !== outSize) throw new Error("forward changed size");
        let s = 0;
        for (let i = 0; i < y.length; i++) s += weights[i] * y[i];
        return s;
      })
    );
  let k = 0;
  inputs.forEach((inp, idx) => {
    if (!(inp.grad ?? true)) return;
    const v = values[idx];
    const numeric = new Float64Array(v.length);
    for (let j = 0; j < v.length; j++) {
      const x0 = v[j];
      const xp = Math.fround(x0 + o.h), xm = Math.fround(x0 - o.h);
      v[j] = xp;
      const lp = lossAt(values);
      v[j] = xm;
      const lm = lossAt(values);
      v[j] = x0;
      numeric[j] = (lp - lm) / (xp - xm);
    }
    let scale = 1;
    for (const n of numeric) scale = Math.max(scale, Math.abs(n));
    assertClose(analytic[k], numeric, {
      atol: o.atol * scale,
      rtol: o.rtol,
      label: `${o.label ?? "gradcheck"} input ${idx}`,
    });
    k++;
  });
  const after = liveCount();
  if (after !== before) {
    throw new Error(
      `${o.label ?? "gradcheck"}: ${after - before} storages leaked`,
    );
  }
  return analytic;
}

/** n distinct values in [-1, 1) at least `gap` apart, shuffled (no ties). */
export function distinctValues(
  n: number,
  seed: number,
  gap = 0.05,
): Float32Array {
  const r = rng(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return Float32Array.from(idx, (i) => (i - n / 2) * gap);
}

/** Uniform values in ±[lo, hi): magnitudes kept away from 0 (ReLU kinks). */
export function awayFromZero(
  n: number,
  seed: number,
  lo = 0.1,
  hi = 1,
): Float32Array {
  const r = rng(seed);
  return Float32Array.from(
    { length: n },
    () => (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r()),
  );
}
