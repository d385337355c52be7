// Shims for the f32-reduce kernels (assembly/f32-reduce/). Each kernel
// writes one partial per fixed chunk (REDUCE_CHUNKS = 64) into a buffer
// allocated here; the partials are combined in order in f64, so results are
// bit-identical for any thread count. Arguments are byte addresses.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import { kernelName, type LaunchOptions, threadsFor } from "./_launch.ts";
import { assertCount, assertF32Buffer } from "./vbinary.ts";

/** The fixed chunk count of every reduction (assembly/common/partition.ts). */
export const REDUCE_CHUNKS = 64;

/**
 * Runs `kernel(...args, partials)` and returns the REDUCE_CHUNKS partials
 * (as f32, or as i32 when `asInt`).
 */
export function runPartials(
  engine: Engine,
  kernel: string,
  args: number[],
  work: number,
  options?: LaunchOptions,
  asInt = false,
): number[] {
  const partials = engine.heap.alloc(REDUCE_CHUNKS * 4);
  try {
    engine.run(
      kernelName(kernel, options),
      [...args, partials],
      Math.min(threadsFor(engine, work, options), REDUCE_CHUNKS),
    );
    const bytes = engine.u8(partials, REDUCE_CHUNKS * 4).slice();
    const view = asInt
      ? new Int32Array(bytes.buffer)
      : new Float32Array(bytes.buffer);
    return Array.from(view);
  } finally {
    engine.heap.free(partials);
  }
}

/** Sum of partials in order, in f64. */
export function sumInOrder(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** Sum of x[0..n). */
export function sum(
  engine: Engine,
  x: number,
  n: number,
  options?: LaunchOptions,
): number {
  assertCount("n", n);
  assertF32Buffer(engine, "x", x, n);
  return sumInOrder(
    runPartials(engine, "f32_sum_partials", [x, n], n, options),
  );
}

/** Sum of a[i] * b[i]. */
export function dot(
  engine: Engine,
  a: number,
  b: number,
  n: number,
  options?: LaunchOptions,
): number {
  assertCount("n", n);
  assertF32Buffer(engine, "a", a, n);
  assertF32Buffer(engine, "b", b, n);
  return sumInOrder(
    runPartials(engine, "f32_dot_partials", [a, b, n], n, options),
  );
}

/** Sum of x[i]^2. */
export function squaredNorm(
  engine: Engine,
  x: number,
  n: number,
  options?: LaunchOptions,
): number {
  assertCount("n", n);
  assertF32Buffer(engine, "x", x, n);
  return sumInOrder(
    runPartials(engine, "f32_sumsq_partials", [x, n], n, options),
  );
}

/** max |x[i]| (0 when n = 0; NaN when any element is NaN). */
export function maxAbs(
  engine: Engine,
  x: number,
  n: number,
  options?: LaunchOptions,
): number {
  assertCount("n", n);
  assertF32Buffer(engine, "x", x, n);
  let m = 0;
  for (
    const v of runPartials(engine, "f32_maxabs_partials", [x, n], n, options)
  ) m = Math.max(m, v);
  return m;
}

/** How many x[i] are NaN or +-Infinity. */
export function countNonFinite(
  engine: Engine,
  x: number,
  n: number,
  options?: LaunchOptions,
): number {
  assertCount("n", n);
  assertF32Buffer(engine, "x", x, n);
  return sumInOrder(
    runPartials(
      engine,
      "f32_count_nonfinite_partials",
      [x, n],
      n,
      options,
      true,
    ),
  );
}
