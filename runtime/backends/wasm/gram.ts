// Shims for the f32-gram kernels (assembly/f32-gram/): the Gram matrix of
// style transfer, G = scale * F F^T with F [channels, m] (m = H * W) and
// G [channels, channels], and its backward dF = scale * (dG + dG^T) F.
// Bit-identical for any thread count. Arguments are byte addresses.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import {
  kernelName,
  type LaunchOptions,
  threadsFor,
  withWorkspace,
} from "./_launch.ts";
import { assertCount, assertF32Buffer } from "./vbinary.ts";

/** g = scale * f f^T; g must not overlap f. */
export function gram(
  engine: Engine,
  f: number,
  channels: number,
  m: number,
  scale: number,
  g: number,
  options?: LaunchOptions,
): void {
  assertCount("channels", channels, 1);
  assertCount("m", m);
  assertF32Buffer(engine, "f", f, channels * m);
  assertF32Buffer(engine, "g", g, channels * channels);
  engine.run(
    kernelName("f32_gram", options),
    [f, channels, m, scale, g],
    threadsFor(engine, (channels * channels * m) / 2, options),
  );
}

/**
 * df = scale * (dg + dg^T) f, the gradient of sum(dg .* G) with respect to f
 * for G = gram(f, scale). df must not overlap f or dg. Uses a channels^2
 * scratch buffer.
 */
export function gramBackward(
  engine: Engine,
  f: number,
  dg: number,
  channels: number,
  m: number,
  scale: number,
  df: number,
  options?: LaunchOptions,
): void {
  assertCount("channels", channels, 1);
  assertCount("m", m);
  assertF32Buffer(engine, "f", f, channels * m);
  assertF32Buffer(engine, "dg", dg, channels * channels);
  assertF32Buffer(engine, "df", df, channels * m);
  if (m === 0) return;
  const threads = threadsFor(engine, channels * channels * m, options);
  const packBytes = engine.call("f32_gram_bwd_workspace", channels, m);
  withWorkspace(engine, channels * channels * 4, 1, (s) => {
    engine.run(
      kernelName("f32_gram_sym", options),
      [dg, s, channels, scale],
      threadsFor(engine, channels * channels, options),
    );
    withWorkspace(engine, packBytes, threads, (workspace) => {
      engine.run(
        kernelName("f32_gram_bwd", options),
        [s, f, df, channels, m, workspace],
        threads,
      );
    });
  });
}
