// Shims for the f32-conv2d kernels (assembly/f32-conv2d/): 2-D convolution
// forward, backward-data and backward-filter (+ bias gradient).
// Tensors are NCHW f32, weights KCRS (PyTorch OIHW: K x C/groups x R x S).
// Arguments are byte addresses in engine memory; outputs are overwritten.
// Reflect padding runs an explicit pad kernel around a zero-pad conv.
// This module is browser compatible.
import type { Engine } from "../../engine/engine.ts";
import {
  kernelName,
  type LaunchOptions,
  threadsFor,
  withWorkspace,
} from "./_launch.ts";

export interface Conv2dShape {
  batch: number;
  inChannels: number;
  inHeight: number;
  inWidth: number;
  outChannels: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  dilationH: number;
  dilationW: number;
  groups: number;
  padMode: "zero" | "reflect";
}

/** A zero-padded convolution in the kernels' terms (all sizes explicit). */
export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  R: number;
  S: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  dh: number;
  dw: number;
  G: number;
}

/** Throws a RangeError naming `name` unless v is an integer >= min. */
export function checkInt(op: string, name: string, v: number, min: number) {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(
      `${op}: ${name} must be an integer >= ${min}, got ${v}`,
    );
  }
}

/** Output size of a convolution (floor((H + pads - dh*(R-1) - 1)/sh) + 1). */
export function conv2dOutputSize(
  s: Conv2dShape,
): { outHeight: number; outWidth: number } {
  return {
    outHeight: Math.floor(
      (s.inHeight + s.padTop + s.padBottom - s.dilationH * (s.kernelH - 1) -
        1) / s.strideH,
    ) + 1,
    outWidth: Math.floor(
      (s.inWidth + s.padLeft + s.padRight - s.dilationW * (s.kernelW - 1) -
        1) / s.strideW,
    ) + 1,
  };
}

function validate(op: string, s: Conv2dShape): void {
  for (
    const f of [
      "batch",
      "inChannels",
      "inHeight",
      "inWidth",
      "outChannels",
      "kernelH",
      "kernelW",
      "strideH",
      "strideW",
      "dilationH",
      "dilationW",
      "groups",
    ] as const
  ) checkInt(op, f, s[f], 1);
  for (const f of ["padTop", "padBottom", "padLeft", "padRight"] as const) {
    checkInt(op, f, s[f], 0);
  }
  if (s.inChannels % s.groups !== 0) {
    throw new RangeError(
      `${op}: inChannels ${s.inChannels} is not divisible by groups ${s.groups}`,
    );
  }
  if (s.outChannels % s.groups !== 0) {
    throw new RangeError(
      `${op}: outChannels ${s.outChannels} is not divisible by groups ${s.groups}`,
    );
  }
  if (s.padMode !== "zero" && s.padMode !== "reflect") {
    throw new RangeError(
      `${op}: padMode must be "zero" or "reflect", got ${s.padMode}`,
    );
  }
  if (s.padMode === "reflect") {
    if (Math.max(s.padTop, s.padBottom) >= s.inHeight) {
      throw new RangeError(
        `${op}: reflect padding ${
          Math.max(s.padTop, s.padBottom)
        } must be < inHeight ${s.inHeight}`,
      );
    }
    if (Math.max(s.padLeft, s.padRight) >= s.inWidth) {
      throw new RangeError(
        `${op}: reflect padding ${
          Math.max(s.padLeft, s.padRight)
        } must be < inWidth ${s.inWidth}`,
      );
    }
  }
  const { outHeight, outWidth } = conv2dOutputSize(s);
  if (outHeight < 1) {
    throw new RangeError(`${op}: output height ${outHeight} < 1`);
  }
  if (outWidth < 1) throw new RangeError(`${op}: output width ${outWidth} < 1`);
}

/** The zero-pad geometry a shape runs as (reflect: on the padded input). */
function geometry(s: Conv2dShape): ConvGeometry {
  const { outHeight, outWidth } = conv2dOutputSize(s);
  const reflect = s.padMode === "reflect";
  return {
    N: s.batch,
    C: s.inChannels,
    H: reflect ? s.inHeight + s.padTop + s.padBottom : s.inHeight,
    W: reflect ? s.inWidth + s.padLeft + s.padRight : s.inWidth,
    K: s.outChannels,
    R: s.kernelH,
    S: s.kernelW,
    OH: outHeight,
    OW: outWidth,
    sh: s.strideH,
    sw: s.strideW,
    pt: reflect ? 0 : s.padTop,
    pl: reflect ? 0 : s.padLeft,
    dh: s.dilationH,
    dw: s.dilationW,
    G: s.groups,
  };
}

function geometryArgs(g: ConvGeometry): number[] {
  return [
    g.N,
    g.C,
    g.H,
    g.W,
    g.K,
    g.R,
    g.S,
    g.OH,
    g.OW,
    g.sh,
    g.sw,
    g.pt,
    g.pl,
    g.dh,
    g.dw,
    g.G,
  ];
}

function macs(g: ConvGeometry): number {
  return g.N * g.K * g.OH * g.OW * (g.C / g.G) * g.R * g.S;
}

/** Runs `body` with a temporary allocation of `floats` floats. */
function withTemp<T>(
  engine: Engine,
  floats: number,
  body: (ptr: number) => T,
): T {
  const ptr = engine.allocF32(floats);
  try {
    return body(ptr);
  } finally {
    engine.free(ptr);
  }
}

/**
 * Weights repacked into the micro-kernel's panels. transposed = false packs
 * rows = output channels (forward), true rows = input channels (backward
 * data, i.e. transposed-conv forward).
 */
function withPackedWeights<T>(
  engine: Engine,
  g: ConvGeometry,
  w: number,
  transposed: boolean,
  threads: number,
  body: (wp: number) => T,
): T {
  const Cg = g.C / g.G, Kg = g.K / g.G, RS = g.R * g.S;
  const Mg = transposed ? Cg : Kg, Kouter = transposed ? Kg : Cg;
  const bytes = engine.call(
    "f32_conv2d_packed_weights_bytes",
    g.G,
    Mg,
    Kouter * RS,
  );
  const wp = engine.heap.alloc(bytes);
  try {
    engine.run(
      "f32_conv2d_pack_weights",
      [
        w,
        wp,
        g.G,
        Mg,
        Kouter,
        RS,
        Kg * Cg * RS,
        transposed ? RS : Cg * RS,
        transposed ? Cg * RS : RS,
      ],
      threads,
    );
    return body(wp);
  } finally {
    engine.heap.free(wp);
  }
}

/** Y = conv(X, W) + bias on an explicit zero-pad geometry. */
export function runConvForward(
  engine: Engine,
  g: ConvGeometry,
  x: number,
  w: number,
  bias: number,
  y: number,
  options?: LaunchOptions,
): void {
  const threads = threadsFor(engine, macs(g), options);
  const args = geometryArgs(g);
  if (options?.impl === "scalar") {
    engine.run("f32_conv2d_fwd__scalar", [x, w, bias, y, ...args, 0], threads);
    return;
  }
  withPackedWeights(engine, g, w, false, threads, (wp) =>
    withWorkspace(
      engine,
      engine.call("f32_conv2d_workspace"),
      threads,
      (ws) =>
        engine.run(
          "f32_conv2d_fwd__wasmsimd",
          [x, wp, bias, y, ...args, ws],
          threads,
        ),
    ));
}

/** dX = conv^T(dY, W) (+ bias over dX channels) on an explicit geometry. */
export function runConvBackwardData(
  engine: Engine,
  g: ConvGeometry,
  dy: number,
  w: number,
  bias: number,
  dx: number,
  options?: LaunchOptions,
): void {
  const threads = threadsFor(engine, macs(g), options);
  const args = geometryArgs(g);
  if (options?.impl === "scalar") {
    engine.run(
      "f32_conv2d_bwd_data__scalar",
      [dy, w, bias, dx, ...args, 0],
      threads,
    );
    return;
  }
  withPackedWeights(engine, g, w, true, threads, (wp) =>
    withWorkspace(
      engine,
      engine.call("f32_conv2d_workspace"),
      threads,
      (ws) =>
        engine.run(
          "f32_conv2d_bwd_data__wasmsimd",
          [dy, wp, bias, dx, ...args, ws],
          threads,
        ),
    ));
}

/** dW (and db over K when dbias != 0) on an explicit geometry. */
export function runConvBackwardFilter(
  engine: Engine,
  g: ConvGeometry,
  x: number,
  dy: number,
  dw: number,
  dbias: number,
  options?: LaunchOptions,
): void {
  const threads = threadsFor(engine, macs(g), options);
  const scalar = options?.impl === "scalar";
  const bytes = scalar ? 0 : engine.call("f32_conv2d_bwd_filter_workspace");
  withWorkspace(engine, bytes, threads, (ws) =>
    engine.run(
      kernelName("f32_conv2d_bwd_filter", options),
      [x, dy, dw, ...geometryArgs(g), ws],
      threads,
    ));
  if (dbias) {
    engine.run(
      kernelName("f32_conv2d_bwd_bias", options),
      [dy, dbias, g.N, g.K, g.OH * g.OW],
      threadsFor(engine, g.N * g.K * g.OH * g.OW, options),
    );
  }
}

function padArgs(s: Conv2dShape): number[] {
  return [
    s.batch * s.inChannels,
    s.inHeight,
    s.inWidth,
    s.padTop,
    s.padBottom,
    s.padLeft,
    s.padRight,
  ];
}

function paddedFloats(s: Conv2dShape): number {
  return s.batch * s.inChannels * (s.inHeight + s.padTop + s.padBottom) *
    (s.inWidth + s.padLeft + s.padRight);
}

/** Runs `body` with X reflect-padded into a temporary (reflect mode only). */
function withReflectPadded<T>(
  engine: Engine,
  s: Conv2dShape,
  x: number,
  options: LaunchOptions | undefined,
  body: (xp: number) => T,
): T {
  const floats = paddedFloats(s);
  return withTemp(engine, floats, (xp) => {
    engine.run(
      kernelName("f32_pad2d_reflect", options),
      [x, xp, ...padArgs(s)],
      threadsFor(engine, floats, options),
    );
    return body(xp);
  });
}

/** y = conv2d(x, w) + bias (bias 0 = none). */
export function conv2dForward(
  engine: Engine,
  s: Conv2dShape,
  x: number,
  w: number,
  bias: number,
  y: number,
  options?: LaunchOptions,
): void {
  validate("conv2dForward", s);
  const g = geometry(s);
  if (s.padMode === "reflect") {
    withReflectPadded(
      engine,
      s,
      x,
      options,
      (xp) => runConvForward(engine, g, xp, w, bias, y, options),
    );
  } else runConvForward(engine, g, x, w, bias, y, options);
}

/** dx = gradient of conv2d's output w.r.t. its input, given dy. */
export function conv2dBackwardData(
  engine: Engine,
  s: Conv2dShape,
  dy: number,
  w: number,
  dx: number,
  options?: LaunchOptions,
): void {
  validate("conv2dBackwardData", s);
  const g = geometry(s);
  if (s.padMode !== "reflect") {
    runConvBackwardData(engine, g, dy, w, 0, dx, options);
    return;
  }
  const floats = paddedFloats(s);
  withTemp(engine, floats, (dxp) => {
    runConvBackwardData(engine, g, dy, w, 0, dxp, options);
    engine.run(
      kernelName("f32_pad2d_reflect_bwd", options),
      [dxp, dx, ...padArgs(s)],
      threadsFor(engine, floats, options),
    );
  });
}

/** dw (and dbias = sum of dy over N, H, W unless 0) of conv2d. */
export function conv2dBackwardFilter(
  engine: Engine,
  s: Conv2dShape,
  x: number,
  dy: number,
  dw: number,
  dbias: number,
  options?: LaunchOptions,
): void {
  validate("conv2dBackwardFilter", s);
  const g = geometry(s);
  if (s.padMode === "reflect") {
    withReflectPadded(
      engine,
      s,
      x,
      options,
      (xp) => runConvBackwardFilter(engine, g, xp, dy, dw, dbias, options),
    );
  } else runConvBackwardFilter(engine, g, x, dy, dw, dbias, options);
}
