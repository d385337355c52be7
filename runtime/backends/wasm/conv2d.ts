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

/**
 * How a 3x3 stride-1 convolution runs: "direct" (implicit GEMM), "winograd"
 * (F(2x2, 3x3), 2.25x fewer multiplies), "winograd4" (F(4x4, 3x3), 4x fewer,
 * for all three passes) or "auto" (Winograd where it applies and the channel counts
 * make it pay, else direct).
 */
export type ConvAlgorithm = "auto" | "direct" | "winograd" | "winograd4";

/**
 * "auto" picks Winograd when the channels it sums over (forward and
 * backward-filter: C; backward-data: K) number at least this many. Measured
 * (CPU time, 1 thread, 3x3 s1 p1): with 3 channels the direct kernel is
 * 1.6-2x faster (one micro-kernel call per 3 k steps), at 8 they tie, from
 * 16 Winograd wins 1.3-2x; the other channel count may be small (64 -> 8:
 * Winograd 2.2x faster, the data gradient of 3 -> 64: 1.9x).
 */
const WINOGRAD_MIN_CHANNELS = 8;

/**
 * "auto" uses F(4x4, 3x3) instead of F(2x2, 3x3) when a single image has at
 * least this many 4x4 output tiles (OH, OW >= ~29). Measured (CPU time,
 * min of 7, 1 and 2 threads): F(4x4) is 1.2-1.65x faster than F(2x2) from
 * 32x32 up (64->64@256: 47 vs 73 ms; 512->512@32: 51 vs 66 ms; also with
 * few channels on one side, 64->3@256: 9.5 vs 13.3 ms), but slower on small
 * images: 512->512@16 (16 tiles: its 36 transformed weight slabs, 38 MB,
 * are streamed for too few tiles) and batch-64 7x7 / 8x8 (half-empty 8-tile
 * panels): 1.2x slower there.
 */
const WINOGRAD4_MIN_TILES = 64;

/** Whether F(2x2, 3x3) applies: 3x3, stride 1, dilation 1, one group. */
export function winogradApplies(g: ConvGeometry): boolean {
  return g.R === 3 && g.S === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 &&
    g.dw === 1 && g.G === 1;
}

function useWinograd(
  g: ConvGeometry,
  algorithm: ConvAlgorithm,
  summed: number,
): boolean {
  if (algorithm === "direct" || !winogradApplies(g)) {
    if (algorithm === "winograd" || algorithm === "winograd4") {
      throw new RangeError(
        "conv2d: winograd needs a 3x3 kernel, stride 1, dilation 1, 1 group",
      );
    }
    return false;
  }
  return algorithm === "winograd" || algorithm === "winograd4" ||
    summed >= WINOGRAD_MIN_CHANNELS;
}

/**
 * Whether a Winograd forward / data-gradient pass uses F(4x4, 3x3): when
 * asked for, or under "auto" for images of WINOGRAD4_MIN_TILES tiles or more
 * (`oh` x `ow`: the output of the kernel's own conv).
 */
function useF43(algorithm: ConvAlgorithm, oh: number, ow: number): boolean {
  if (algorithm === "winograd4") return true;
  return algorithm === "auto" &&
    Math.ceil(oh / 4) * Math.ceil(ow / 4) >= WINOGRAD4_MIN_TILES;
}

/**
 * Whether a Winograd filter gradient uses F(4x4, 3x3): as for the forward
 * (useF43 on the forward's output tiles). Measured (CPU time per call,
 * interleaved A/B, median of 5-7, 2 threads): 64->64@256 88.6 -> 54.1 ms
 * (forward F(4x4) 48.6), 256->256@64 73.9 -> 47.1 (39.3), 128->128@128
 * 81.8 -> 42.9, 512->512@32 (64 tiles) 73.1 -> 63.0; below 64 tiles
 * F(2x2) stays faster (512->512@16: 31.9 vs 38.6; @28: 58.4 vs 63.0).
 */
function useF43Filter(algorithm: ConvAlgorithm, g: ConvGeometry): boolean {
  return useF43(algorithm, g.OH, g.OW);
}

/**
 * Runs the F(2x2, 3x3) kernel: the forward conv (transposed = false) or its
 * data gradient (true: flipped, transposed weights; offsets 2 - pad).
 */
function runWinograd(
  engine: Engine,
  g: ConvGeometry,
  src: number,
  w: number,
  bias: number,
  dst: number,
  transposed: boolean,
  threads: number,
  scalar: boolean,
  f43 = false,
): void {
  // The kernel's own conv: `cin` channels of ih x iw into `cout` of oh x ow.
  const cin = transposed ? g.K : g.C, cout = transposed ? g.C : g.K;
  const fam = f43 ? "f32_conv2d_winograd_f43" : "f32_conv2d_winograd";
  const u = engine.heap.alloc(
    engine.call(`${fam}_weights_bytes`, cout, cin),
  );
  try {
    engine.run(
      `${fam}_pack_weights`,
      [
        w,
        u,
        cout,
        cin,
        transposed ? 9 : g.C * 9,
        transposed ? g.C * 9 : 9,
        transposed ? 1 : 0,
      ],
      threads,
    );
    const geo = transposed
      ? [g.N, g.K, g.OH, g.OW, g.C, g.H, g.W, 2 - g.pt, 2 - g.pl]
      : [g.N, g.C, g.H, g.W, g.K, g.OH, g.OW, g.pt, g.pl];
    // The F(4x4) scalar twin needs its (small) per-thread scratch too.
    const bytes = scalar && !f43
      ? 0
      : engine.call(`${fam}_workspace`, cin, cout);
    withWorkspace(engine, bytes, threads, (ws) =>
      engine.run(
        scalar ? `${fam}__scalar` : `${fam}__wasmsimd`,
        [src, u, bias, dst, ...geo, ws],
        threads,
      ));
  } finally {
    engine.heap.free(u);
  }
}

/**
 * Y = conv(X, W) + bias on an explicit zero-pad geometry. `algorithm`
 * (default "auto") picks direct or Winograd for 3x3 stride-1 convs; with
 * impl "scalar", "auto" runs the direct plain loops.
 */
export function runConvForward(
  engine: Engine,
  g: ConvGeometry,
  x: number,
  w: number,
  bias: number,
  y: number,
  options?: LaunchOptions,
  algorithm: ConvAlgorithm = "auto",
): void {
  const threads = threadsFor(engine, macs(g), options);
  const args = geometryArgs(g);
  const scalar = options?.impl === "scalar";
  if (scalar && algorithm === "auto") algorithm = "direct";
  if (useWinograd(g, algorithm, g.C)) {
    const f43 = useF43(algorithm, g.OH, g.OW);
    runWinograd(engine, g, x, w, bias, y, false, threads, scalar, f43);
    return;
  }
  if (scalar) {
    engine.run("f32_conv2d_fwd__scalar", [x, w, bias, y, ...args, 0], threads);
    return;
  }
  if (g.sh === 1 && g.sw === 1 && g.K / g.G <= ROWS_MAX_OUTPUTS) {
    engine.run(
      "f32_conv2d_fwd_rows4__wasmsimd",
      [x, w, bias, y, ...args, 0],
      threads,
    );
    return;
  }
  withPackedWeights(engine, g, w, false, threads, (wp) =>
    withWorkspace(
      engine,
      engine.call("f32_conv2d_workspace", g.K / g.G),
      threads,
      (ws) =>
        engine.run(
          "f32_conv2d_fwd__wasmsimd",
          [x, wp, bias, y, ...args, ws],
          threads,
        ),
    ));
}

/**
 * Whether backward data runs by stride phases: a stride > 1, dilation 1 and
 * every phase has a tap (R >= sh, S >= sw).
 */
function phasesApply(g: ConvGeometry): boolean {
  return (g.sh > 1 || g.sw > 1) && g.dh === 1 && g.dw === 1 &&
    g.R >= g.sh && g.S >= g.sw;
}

/**
 * Stride-1 convs with at most this many output channels per group run the
 * row-direct kernel (f32_conv2d_fwd_rows__wasmsimd) instead of the implicit
 * GEMM, whose 6-row micro-kernel would be mostly idle.
 */
const ROWS_MAX_OUTPUTS = 3;

const mod = (a: number, m: number) => ((a % m) + m) % m;

/**
 * Backward data of a strided conv as sh*sw stride-1 transposed convs, one
 * per output phase (see f32-conv2d-bwd-data-6x8-wasmsimd.ts): the dX pixels
 * (ih0 + i*sh, iw0 + j*sw) with (ih0 + pt) = rho_h (mod sh) meet only the
 * taps rho_h + m*sh, so no multiply is by a structural zero.
 */
function runPhases(
  engine: Engine,
  g: ConvGeometry,
  dy: number,
  w: number,
  bias: number,
  dx: number,
  threads: number,
): void {
  const Cg = g.C / g.G;
  const rows = Cg <= ROWS_MAX_OUTPUTS;
  interface Phase {
    rh: number;
    rw: number;
    ih0: number;
    iw0: number;
    Hp: number;
    Wp: number;
    sub: ConvGeometry;
  }
  const phases: Phase[] = [];
  for (let rh = 0; rh < g.sh; rh++) {
    for (let rw = 0; rw < g.sw; rw++) {
      const ih0 = mod(rh - g.pt, g.sh), iw0 = mod(rw - g.pl, g.sw);
      if (ih0 >= g.H || iw0 >= g.W) continue;
      const Hp = Math.ceil((g.H - ih0) / g.sh);
      const Wp = Math.ceil((g.W - iw0) / g.sw);
      const Rp = Math.ceil((g.R - rh) / g.sh);
      const Sp = Math.ceil((g.S - rw) / g.sw);
      // Phase conv: dX_p[i][j] = sum dY[i + offH - m][j + offW - n] * W[rh + m*sh][rw + n*sw],
      // the forward kernel's gather with pads -off and dilation -1.
      const offH = (ih0 + g.pt - rh) / g.sh, offW = (iw0 + g.pl - rw) / g.sw;
      const sub: ConvGeometry = {
        N: g.N,
        C: g.K,
        H: g.OH,
        W: g.OW,
        K: g.C,
        R: Rp,
        S: Sp,
        OH: Hp,
        OW: Wp,
        sh: 1,
        sw: 1,
        pt: -offH,
        pl: -offW,
        dh: -1,
        dw: -1,
        G: g.G,
      };
      phases.push({ rh, rw, ih0, iw0, Hp, Wp, sub });
    }
  }
  // The row kernel runs every pixel as a vector when all its taps read
  // inside dY: zero-pad dY once (rows dY[offH - (Rp-1) .. Hp-1 + offH],
  // columns likewise plus 3 for the last partial vector's lanes).
  let pad = [0, 0, 0, 0];
  if (rows) {
    for (const { Hp, Wp, sub } of phases) {
      const offH = -sub.pt, offW = -sub.pl;
      pad = [
        Math.max(pad[0], sub.R - 1 - offH),
        Math.max(pad[1], Hp - 1 + offH - (g.OH - 1)),
        Math.max(pad[2], sub.S - 1 - offW),
        Math.max(pad[3], Wp + 3 + offW - g.OW),
      ];
    }
  }
  const [pt, pb, pl, pr] = pad;
  const Hq = g.OH + pt + pb, Wq = g.OW + pl + pr;
  const padded = rows && pt + pb + pl + pr > 0;
  withTemp(engine, padded ? g.N * g.K * Hq * Wq : 1, (dyq) => {
    if (padded) {
      engine.run(
        "f32_conv2d_pad_zero",
        [dy, dyq, g.N * g.K, g.OH, g.OW, pt, pb, pl, pr],
        threads,
      );
    }
    for (const { rh, rw, ih0, iw0, Hp, Wp, sub } of phases) {
      const Rp = sub.R, Sp = sub.S;
      withTemp(engine, g.K * Cg * Rp * Sp, (wSub) => {
        engine.run(
          "f32_conv2d_phase_weights",
          [w, wSub, g.K, Cg, g.G, g.R, g.S, rh, rw, g.sh, g.sw, rows ? 1 : 0],
          threads,
        );
        withTemp(engine, g.N * g.C * Hp * Wp, (out) => {
          if (rows) {
            const subq = padded
              ? { ...sub, H: Hq, W: Wq, pt: sub.pt - pt, pl: sub.pl - pl }
              : sub;
            engine.run(
              "f32_conv2d_fwd_rows4__wasmsimd",
              [padded ? dyq : dy, wSub, bias, out, ...geometryArgs(subq), 0],
              threads,
            );
          } else {
            withPackedWeights(
              engine,
              { ...g, R: Rp, S: Sp },
              wSub,
              true,
              threads,
              (wp) =>
                withWorkspace(
                  engine,
                  engine.call("f32_conv2d_workspace", Cg),
                  threads,
                  (ws) =>
                    engine.run(
                      "f32_conv2d_fwd__wasmsimd",
                      [dy, wp, bias, out, ...geometryArgs(sub), ws],
                      threads,
                    ),
                ),
            );
          }
          engine.run(
            "f32_conv2d_phase_scatter",
            [out, dx, g.N * g.C, g.H, g.W, Hp, Wp, ih0, iw0, g.sh, g.sw],
            threads,
          );
        });
      });
    }
  });
}

/**
 * dX = conv^T(dY, W) (+ bias over dX channels) on an explicit geometry;
 * `algorithm` as for runConvForward.
 */
export function runConvBackwardData(
  engine: Engine,
  g: ConvGeometry,
  dy: number,
  w: number,
  bias: number,
  dx: number,
  options?: LaunchOptions,
  algorithm: ConvAlgorithm = "auto",
): void {
  const threads = threadsFor(engine, macs(g), options);
  const args = geometryArgs(g);
  const scalar = options?.impl === "scalar";
  if (scalar && algorithm === "auto") algorithm = "direct";
  if (useWinograd(g, algorithm, g.K)) {
    const f43 = useF43(algorithm, g.H, g.W);
    runWinograd(engine, g, dy, w, bias, dx, true, threads, scalar, f43);
    return;
  }
  if (!scalar && phasesApply(g)) {
    runPhases(engine, g, dy, w, bias, dx, threads);
    return;
  }
  if (scalar) {
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
      engine.call("f32_conv2d_workspace", g.C / g.G),
      threads,
      (ws) =>
        engine.run(
          "f32_conv2d_bwd_data__wasmsimd",
          [dy, wp, bias, dx, ...args, ws],
          threads,
        ),
    ));
}

/**
 * dW (and db over K when dbias != 0) on an explicit geometry; `algorithm`
 * as for runConvForward (Winograd: F(4x4, 3x3) or F(2x2, 3x3) as for the
 * forward, see useF43Filter).
 */
export function runConvBackwardFilter(
  engine: Engine,
  g: ConvGeometry,
  x: number,
  dy: number,
  dw: number,
  dbias: number,
  options?: LaunchOptions,
  algorithm: ConvAlgorithm = "auto",
): void {
  const threads = threadsFor(engine, macs(g), options);
  const scalar = options?.impl === "scalar";
  if (scalar && algorithm === "auto") algorithm = "direct";
  if (useWinograd(g, algorithm, g.C)) {
    const kernel = useF43Filter(algorithm, g)
      ? "f32_conv2d_winograd4_bwd_filter"
      : "f32_conv2d_winograd_bwd_filter";
    const bytes = scalar
      ? 0
      : engine.call(`${kernel}_workspace`, g.C, g.K, threads);
    withWorkspace(engine, bytes, threads, (ws) =>
      engine.run(
        kernelName(kernel, options),
        [x, dy, dw, g.N, g.C, g.H, g.W, g.K, g.OH, g.OW, g.pt, g.pl, ws],
        threads,
      ));
  } else {
    const bytes = scalar ? 0 : engine.call("f32_conv2d_bwd_filter_workspace");
    withWorkspace(engine, bytes, threads, (ws) =>
      engine.run(
        kernelName("f32_conv2d_bwd_filter", options),
        [x, dy, dw, ...geometryArgs(g), ws],
        threads,
      ));
  }
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
