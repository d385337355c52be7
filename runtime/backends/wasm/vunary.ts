// Shims for the f32-vunary kernels (assembly/f32-vunary/): activations,
// their backwards, and elementwise math. Arguments are byte addresses in
// engine memory; n is an element count; outputs are overwritten and may
// alias their inputs. The SIMD exp saturates (at 2^127 above 88.03, to 0
// below -87.34), so finite inputs give finite sigmoid/tanh/exp.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import { kernelName, type LaunchOptions, threadsFor } from "./_launch.ts";
import { assertCount, assertF32Buffer } from "./vbinary.ts";

function unary(
  engine: Engine,
  op: string,
  x: number,
  y: number,
  n: number,
  extra: number[],
  options?: LaunchOptions,
): void {
  assertCount("n", n);
  assertF32Buffer(engine, "x", x, n);
  assertF32Buffer(engine, "y", y, n);
  engine.run(
    kernelName(`f32_${op}`, options),
    [x, y, n, ...extra],
    threadsFor(engine, n, options),
  );
}

function backward(
  engine: Engine,
  op: string,
  saved: number,
  dy: number,
  dx: number,
  n: number,
  extra: number[],
  options?: LaunchOptions,
): void {
  assertCount("n", n);
  assertF32Buffer(engine, "saved", saved, n);
  assertF32Buffer(engine, "dy", dy, n);
  assertF32Buffer(engine, "dx", dx, n);
  engine.run(
    kernelName(`f32_${op}`, options),
    [saved, dy, dx, n, ...extra],
    threadsFor(engine, n, options),
  );
}

/** y = max(x, 0). */
export function relu(
  engine: Engine,
  x: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  unary(engine, "relu", x, y, n, [], options);
}

/** dx = x > 0 ? dy : 0, with x the forward input (or output). */
export function reluBackward(
  engine: Engine,
  x: number,
  dy: number,
  dx: number,
  n: number,
  options?: LaunchOptions,
): void {
  backward(engine, "relu_bwd", x, dy, dx, n, [], options);
}

/** y = x > 0 ? x : slope * x. */
export function leakyRelu(
  engine: Engine,
  x: number,
  y: number,
  n: number,
  slope: number,
  options?: LaunchOptions,
): void {
  unary(engine, "leaky_relu", x, y, n, [slope], options);
}

/** dx = x > 0 ? dy : slope * dy, with x the forward input. */
export function leakyReluBackward(
  engine: Engine,
  x: number,
  dy: number,
  dx: number,
  n: number,
  slope: number,
  options?: LaunchOptions,
): void {
  backward(engine, "leaky_relu_bwd", x, dy, dx, n, [slope], options);
}

/** y = 1 / (1 + e^-x). */
export function sigmoid(
  engine: Engine,
  x: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  unary(engine, "sigmoid", x, y, n, [], options);
}

/** dx = dy * y * (1 - y), with y the forward output. */
export function sigmoidBackward(
  engine: Engine,
  y: number,
  dy: number,
  dx: number,
  n: number,
  options?: LaunchOptions,
): void {
  backward(engine, "sigmoid_bwd", y, dy, dx, n, [], options);
}

/** y = tanh(x). */
export function tanh(
  engine: Engine,
  x: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  unary(engine, "tanh", x, y, n, [], options);
}

/** dx = dy * (1 - y^2), with y the forward output. */
export function tanhBackward(
  engine: Engine,
  y: number,
  dy: number,
  dx: number,
  n: number,
  options?: LaunchOptions,
): void {
  backward(engine, "tanh_bwd", y, dy, dx, n, [], options);
}

/** y = e^x (saturating, see the module comment). */
export function exp(
  engine: Engine,
  x: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  unary(engine, "exp", x, y, n, [], options);
}

/** y = ln x (0 gives -Infinity, negative gives NaN). */
export function log(
  engine: Engine,
  x: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  unary(engine, "log", x, y, n, [], options);
}

/** y = sqrt(x). */
export function sqrt(
  engine: Engine,
  x: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  unary(engine, "sqrt", x, y, n, [], options);
}

/** y = |x|. */
export function abs(
  engine: Engine,
  x: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  unary(engine, "abs", x, y, n, [], options);
}

/** y = x * x. */
export function square(
  engine: Engine,
  x: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  unary(engine, "square", x, y, n, [], options);
}
