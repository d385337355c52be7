// Shims for the f32-vbinary kernels (assembly/f32-vbinary/).
// Arguments are byte addresses in engine memory; n is an element count.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import { kernelName, type LaunchOptions, threadsFor } from "./_launch.ts";

/** out = a + b (out may alias a or b). */
export function vadd(
  engine: Engine,
  a: number,
  b: number,
  out: number,
  n: number,
  options?: LaunchOptions,
): void {
  engine.run(
    kernelName("f32_vadd", options),
    [a, b, out, n],
    threadsFor(engine, n, options),
  );
}

/** out = a * b elementwise. */
export function vmul(
  engine: Engine,
  a: number,
  b: number,
  out: number,
  n: number,
  options?: LaunchOptions,
): void {
  engine.run(
    kernelName("f32_vmul", options),
    [a, b, out, n],
    threadsFor(engine, n, options),
  );
}

/** y = alpha * x + y. */
export function vaxpy(
  engine: Engine,
  alpha: number,
  x: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  engine.run(
    kernelName("f32_vaxpy", options),
    [alpha, x, y, n],
    threadsFor(engine, n, options),
  );
}
