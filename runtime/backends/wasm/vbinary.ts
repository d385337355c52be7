// Shims for the f32-vbinary kernels (assembly/f32-vbinary/).
// Arguments are byte addresses in engine memory; n is an element count.
// Outputs are overwritten. Sizes are checked and bad ones throw a RangeError.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import { kernelName, type LaunchOptions, threadsFor } from "./_launch.ts";

/** Throws a RangeError unless `value` is an integer >= `min`. */
export function assertCount(name: string, value: number, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  }
}

/**
 * Throws a RangeError unless `ptr` is a 4-byte aligned address with `floats`
 * f32 values inside engine memory.
 */
export function assertF32Buffer(
  engine: Engine,
  name: string,
  ptr: number,
  floats: number,
): void {
  const end = ptr + 4 * floats;
  if (
    !Number.isSafeInteger(ptr) || ptr <= 0 || ptr % 4 !== 0 ||
    end > engine.memory.buffer.byteLength
  ) {
    throw new RangeError(
      `${name} (address ${ptr}, ${floats} floats) is not a valid f32 buffer in engine memory`,
    );
  }
}

function checkElementwise(
  engine: Engine,
  n: number,
  buffers: Record<string, number>,
): void {
  assertCount("n", n);
  for (const [name, ptr] of Object.entries(buffers)) {
    assertF32Buffer(engine, name, ptr, n);
  }
}

/** A shim for a kernel computing out = a ∘ b elementwise. */
type BinaryShim = (
  engine: Engine,
  a: number,
  b: number,
  out: number,
  n: number,
  options?: LaunchOptions,
) => void;

function binaryShim(base: string): BinaryShim {
  return (engine, a, b, out, n, options) => {
    checkElementwise(engine, n, { a, b, out });
    engine.run(
      kernelName(base, options),
      [a, b, out, n],
      threadsFor(engine, n, options),
    );
  };
}

/** out = a + b (out may alias a or b). */
export const vadd: BinaryShim = binaryShim("f32_vadd");

/** out = a - b (out may alias a or b). */
export const vsub: BinaryShim = binaryShim("f32_vsub");

/** out = a * b elementwise (out may alias a or b). */
export const vmul: BinaryShim = binaryShim("f32_vmul");

/** y = alpha * x + y. */
export function vaxpy(
  engine: Engine,
  alpha: number,
  x: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  checkElementwise(engine, n, { x, y });
  engine.run(
    kernelName("f32_vaxpy", options),
    [alpha, x, y, n],
    threadsFor(engine, n, options),
  );
}

/** y = alpha * x + beta * y. */
export function vaxpby(
  engine: Engine,
  alpha: number,
  x: number,
  beta: number,
  y: number,
  n: number,
  options?: LaunchOptions,
): void {
  checkElementwise(engine, n, { x, y });
  engine.run(
    kernelName("f32_vaxpby", options),
    [alpha, x, beta, y, n],
    threadsFor(engine, n, options),
  );
}

/** out = alpha * x (out may alias x). */
export function vscale(
  engine: Engine,
  alpha: number,
  x: number,
  out: number,
  n: number,
  options?: LaunchOptions,
): void {
  checkElementwise(engine, n, { x, out });
  engine.run(
    kernelName("f32_vscale", options),
    [alpha, x, out, n],
    threadsFor(engine, n, options),
  );
}

/** out[i] = value. */
export function vfill(
  engine: Engine,
  value: number,
  out: number,
  n: number,
  options?: LaunchOptions,
): void {
  checkElementwise(engine, n, { out });
  engine.run(
    kernelName("f32_vfill", options),
    [value, out, n],
    threadsFor(engine, n, options),
  );
}

/** out = x (the two must not overlap unless equal). */
export function vcopy(
  engine: Engine,
  x: number,
  out: number,
  n: number,
  options?: LaunchOptions,
): void {
  checkElementwise(engine, n, { x, out });
  engine.run(
    kernelName("f32_vcopy", options),
    [x, out, n],
    threadsFor(engine, n, options),
  );
}

/** out = x + value (out may alias x). */
export function vaddScalar(
  engine: Engine,
  x: number,
  value: number,
  out: number,
  n: number,
  options?: LaunchOptions,
): void {
  checkElementwise(engine, n, { x, out });
  engine.run(
    kernelName("f32_vaddc", options),
    [x, value, out, n],
    threadsFor(engine, n, options),
  );
}

/** out = min(max(x, lo), hi); NaN stays NaN (out may alias x). */
export function vclamp(
  engine: Engine,
  x: number,
  out: number,
  n: number,
  lo: number,
  hi: number,
  options?: LaunchOptions,
): void {
  checkElementwise(engine, n, { x, out });
  if (!(lo <= hi)) {
    throw new RangeError(`vclamp needs lo <= hi, got ${lo} > ${hi}`);
  }
  engine.run(
    kernelName("f32_vclamp", options),
    [x, out, n, lo, hi],
    threadsFor(engine, n, options),
  );
}

/**
 * NCHW per-channel bias: out[b, c, p] = x[b, c, p] + bias[c] with x and out
 * [batch, channels, spatial] (spatial = H * W); out may alias x.
 */
export function vaddChannel(
  engine: Engine,
  x: number,
  bias: number,
  out: number,
  batch: number,
  channels: number,
  spatial: number,
  options?: LaunchOptions,
): void {
  assertCount("batch", batch);
  assertCount("channels", channels);
  assertCount("spatial", spatial);
  const n = batch * channels * spatial;
  assertF32Buffer(engine, "x", x, n);
  assertF32Buffer(engine, "out", out, n);
  assertF32Buffer(engine, "bias", bias, channels);
  engine.run(
    kernelName("f32_vadd_channel", options),
    [x, bias, out, batch, channels, spatial],
    threadsFor(engine, n, options),
  );
}

/**
 * Bias gradient of vaddChannel: dbias[c] = sum over b, p of dy[b, c, p].
 * Split over channels: the same bits for any thread count.
 */
export function vchannelSum(
  engine: Engine,
  dy: number,
  dbias: number,
  batch: number,
  channels: number,
  spatial: number,
  options?: LaunchOptions,
): void {
  assertCount("batch", batch);
  assertCount("channels", channels);
  assertCount("spatial", spatial);
  const n = batch * channels * spatial;
  assertF32Buffer(engine, "dy", dy, n);
  assertF32Buffer(engine, "dbias", dbias, channels);
  engine.run(
    kernelName("f32_vchannel_sum", options),
    [dy, dbias, batch, channels, spatial],
    channels < 2 ? 1 : threadsFor(engine, n, options),
  );
}
