// conv2d and transposed conv kernels (assembly/f32-conv2d/) through their
// shims: SIMD and scalar twins against f64 references on random small
// shapes, backward passes against central finite differences, and 1 vs 2
// threads bit-identical.
// Tolerances: outputs are sums of up to ~600 products of values in [-1, 1]
// accumulated in f32: atol 2e-4, rtol 1e-4 against the f64 reference.
// Finite differences of the (linear) f64 reference with h = 1e-2: atol 1e-4.
import assert from "node:assert/strict";
import { createTestEngine } from "../_engine.ts";
import { assertClose, finiteDifferences, randomArray } from "../_check.ts";
import type { Engine } from "../../runtime/engine/engine.ts";
import type { LaunchOptions } from "../../runtime/backends/wasm/_launch.ts";
import {
  conv2dBackwardData,
  conv2dBackwardFilter,
  conv2dForward,
  conv2dOutputSize,
  type Conv2dShape,
  type ConvAlgorithm,
  type ConvGeometry,
  runConvBackwardData,
  runConvBackwardFilter,
  runConvForward,
} from "../../runtime/backends/wasm/conv2d.ts";
import {
  convTranspose2dBackwardData,
  convTranspose2dBackwardFilter,
  convTranspose2dForward,
  type ConvTranspose2dShape,
} from "../../runtime/backends/wasm/conv_transpose2d.ts";
import {
  conv2dBackwardDataRef,
  conv2dBackwardFilterRef,
  conv2dForwardRef,
  conv2dOutputLength,
  convTranspose2dBackwardDataRef,
  convTranspose2dBackwardFilterRef,
  convTranspose2dForwardRef,
  convTranspose2dOutputLength,
} from "../reference/conv.ts";

const TOL = { atol: 2e-4, rtol: 1e-4 };
const FD_TOL = { atol: 1e-4, rtol: 1e-4 };

function shape(p: Partial<Conv2dShape>): Conv2dShape {
  return {
    batch: 1,
    inChannels: 3,
    inHeight: 7,
    inWidth: 9,
    outChannels: 5,
    kernelH: 3,
    kernelW: 3,
    strideH: 1,
    strideW: 1,
    padTop: 1,
    padBottom: 1,
    padLeft: 1,
    padRight: 1,
    dilationH: 1,
    dilationW: 1,
    groups: 1,
    padMode: "zero",
    ...p,
  };
}

const CASES: [string, Conv2dShape][] = [
  ["3x3 s1 p1", shape({})],
  [
    "odd sizes, batch 2, 5x3 kernel",
    shape({
      batch: 2,
      inChannels: 5,
      inHeight: 11,
      inWidth: 6,
      outChannels: 7,
      kernelH: 5,
      kernelW: 3,
      padTop: 2,
      padBottom: 2,
      padLeft: 0,
      padRight: 1,
    }),
  ],
  [
    "stride 2, asymmetric padding",
    shape({
      inHeight: 10,
      inWidth: 13,
      strideH: 2,
      strideW: 2,
      padTop: 0,
      padBottom: 2,
      padLeft: 2,
      padRight: 0,
    }),
  ],
  [
    "stride 3x2, 4x4 kernel",
    shape({
      inChannels: 2,
      inHeight: 14,
      inWidth: 11,
      outChannels: 6,
      kernelH: 4,
      kernelW: 4,
      strideH: 3,
      strideW: 2,
      padTop: 1,
      padBottom: 0,
      padLeft: 2,
      padRight: 1,
    }),
  ],
  [
    "dilation 2",
    shape({
      inHeight: 12,
      inWidth: 10,
      dilationH: 2,
      dilationW: 2,
      padTop: 2,
      padBottom: 1,
      padLeft: 2,
      padRight: 2,
    }),
  ],
  [
    "groups 2 (AlexNet-like)",
    shape({
      batch: 2,
      inChannels: 4,
      outChannels: 6,
      groups: 2,
      inHeight: 8,
      inWidth: 8,
    }),
  ],
  [
    "depthwise",
    shape({
      inChannels: 6,
      outChannels: 6,
      groups: 6,
      inHeight: 9,
      inWidth: 7,
    }),
  ],
  [
    "reflect padding",
    shape({
      inChannels: 3,
      outChannels: 4,
      inHeight: 8,
      inWidth: 10,
      padMode: "reflect",
      padTop: 2,
      padBottom: 1,
      padLeft: 3,
      padRight: 1,
    }),
  ],
  [
    "1x1 conv",
    shape({
      inChannels: 9,
      outChannels: 10,
      kernelH: 1,
      kernelW: 1,
      padTop: 0,
      padBottom: 0,
      padLeft: 0,
      padRight: 0,
    }),
  ],
  [
    "AlexNet conv1-like 11x11 s4",
    shape({
      inChannels: 3,
      outChannels: 4,
      inHeight: 27,
      inWidth: 27,
      kernelH: 11,
      kernelW: 11,
      strideH: 4,
      strideW: 4,
      padTop: 2,
      padBottom: 2,
      padLeft: 2,
      padRight: 2,
    }),
  ],
  // Stride 2 with a 1x1 kernel: phases without taps (plain gather path).
  [
    "1x1 stride 2",
    shape({
      inChannels: 4,
      outChannels: 5,
      kernelH: 1,
      kernelW: 1,
      strideH: 2,
      strideW: 2,
      padTop: 0,
      padBottom: 0,
      padLeft: 0,
      padRight: 0,
    }),
  ],
  // Stride-phase backward data with channel/K blocking: DCGAN-like 5x5 s2.
  [
    "5x5 s2 p2, 40 channels, batch 3 (multi-image tiles)",
    shape({
      batch: 3,
      inChannels: 40,
      outChannels: 12,
      inHeight: 14,
      inWidth: 13,
      kernelH: 5,
      kernelW: 5,
      strideH: 2,
      strideW: 2,
      padTop: 2,
      padBottom: 2,
      padLeft: 2,
      padRight: 1,
    }),
  ],
  // k blocking (C*R*S = 297 > 256) and several pixel tiles (P = 22*21 > 128).
  [
    "big: K blocks and pixel tiles",
    shape({ inChannels: 33, inHeight: 22, inWidth: 21, outChannels: 9 }),
  ],
];

interface Run {
  y: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
  db: Float32Array;
}

function runConv(
  engine: Engine,
  s: Conv2dShape,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  dy: Float32Array,
  options?: LaunchOptions,
): Run {
  const px = engine.upload(x), pw = engine.upload(w), pb = engine.upload(b);
  const pdy = engine.upload(dy);
  const py = engine.allocF32(dy.length), pdx = engine.allocF32(x.length);
  const pdw = engine.allocF32(w.length), pdb = engine.allocF32(b.length);
  try {
    conv2dForward(engine, s, px, pw, pb, py, options);
    conv2dBackwardData(engine, s, pdy, pw, pdx, options);
    conv2dBackwardFilter(engine, s, px, pdy, pdw, pdb, options);
    return {
      y: engine.download(py, dy.length),
      dx: engine.download(pdx, x.length),
      dw: engine.download(pdw, w.length),
      db: engine.download(pdb, b.length),
    };
  } finally {
    for (const p of [px, pw, pb, pdy, py, pdx, pdw, pdb]) engine.free(p);
  }
}

function data(s: Conv2dShape, seed: number) {
  const x = randomArray(s.batch * s.inChannels * s.inHeight * s.inWidth, seed);
  const w = randomArray(
    s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW,
    seed + 1,
  );
  const b = randomArray(s.outChannels, seed + 2);
  const dy = randomArray(conv2dOutputLength(s), seed + 3);
  return { x, w, b, dy };
}

Deno.test("conv2d: SIMD and scalar match the f64 reference; 1 and 2 threads bit-identical", async () => {
  const engine = await createTestEngine();
  try {
    let seed = 10;
    for (const [label, s] of CASES) {
      const { x, w, b, dy } = data(s, seed += 10);
      const y = conv2dForwardRef(s, x, w, b);
      const dx = conv2dBackwardDataRef(s, dy, w);
      const { dw, db } = conv2dBackwardFilterRef(s, x, dy);
      for (const impl of ["simd", "scalar"] as const) {
        const r = runConv(engine, s, x, w, b, dy, { impl });
        const l = `${label} [${impl}]`;
        assertClose(r.y, y, { ...TOL, label: `${l} forward` });
        assertClose(r.dx, dx, { ...TOL, label: `${l} backward-data` });
        assertClose(r.dw, dw, { ...TOL, label: `${l} backward-filter` });
        assertClose(r.db, db, { ...TOL, label: `${l} bias gradient` });
        const one = runConv(engine, s, x, w, b, dy, { impl, threads: 1 });
        // threadsFor keeps tiny calls on one thread; the big case uses two.
        const two = runConv(engine, s, x, w, b, dy, { impl, threads: 2 });
        for (const k of ["y", "dx", "dw", "db"] as const) {
          assert.deepEqual(one[k], two[k], `${l} ${k}: 1 vs 2 threads`);
        }
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("conv2d: backward passes equal finite differences of the reference forward", async () => {
  const engine = await createTestEngine();
  try {
    const picks = [CASES[2][1], CASES[4][1], CASES[5][1], CASES[7][1]];
    let seed = 500;
    for (const s of picks) {
      const { x, w, b, dy } = data(s, seed += 10);
      const r = runConv(engine, s, x, w, b, dy);
      // L = sum(y * dy): dL/dx = backward-data, dL/dw = backward-filter.
      const loss = (y: Float64Array) => {
        let sum = 0;
        for (let i = 0; i < y.length; i++) sum += y[i] * dy[i];
        return sum;
      };
      const gx = finiteDifferences(
        (xs) => loss(conv2dForwardRef(s, xs, w, b)),
        x,
        1e-2,
      );
      const gw = finiteDifferences(
        (ws) => loss(conv2dForwardRef(s, x, ws, b)),
        w,
        1e-2,
      );
      const gb = finiteDifferences(
        (bs) => loss(conv2dForwardRef(s, x, w, bs)),
        b,
        1e-2,
      );
      assertClose(r.dx, gx, { ...FD_TOL, label: `${s.padMode} dx vs FD` });
      assertClose(r.dw, gw, { ...FD_TOL, label: `${s.padMode} dw vs FD` });
      assertClose(r.db, gb, { ...FD_TOL, label: `${s.padMode} db vs FD` });
    }
  } finally {
    engine.dispose();
  }
});

function tshape(p: Partial<ConvTranspose2dShape>): ConvTranspose2dShape {
  return {
    batch: 1,
    inChannels: 4,
    inHeight: 5,
    inWidth: 6,
    outChannels: 3,
    kernelH: 4,
    kernelW: 4,
    strideH: 2,
    strideW: 2,
    padTop: 1,
    padBottom: 1,
    padLeft: 1,
    padRight: 1,
    dilationH: 1,
    dilationW: 1,
    groups: 1,
    outputPadH: 0,
    outputPadW: 0,
    ...p,
  };
}

const TCASES: [string, ConvTranspose2dShape][] = [
  ["DCGAN 4x4 s2 p1", tshape({})],
  [
    "batch 2, 3x3 s1",
    tshape({
      batch: 2,
      kernelH: 3,
      kernelW: 3,
      strideH: 1,
      strideW: 1,
      inHeight: 7,
      inWidth: 5,
    }),
  ],
  [
    "s2 output padding, asymmetric pads",
    tshape({
      kernelH: 3,
      kernelW: 3,
      outputPadH: 1,
      outputPadW: 1,
      padTop: 1,
      padBottom: 0,
      padLeft: 2,
      padRight: 1,
      inHeight: 6,
      inWidth: 7,
    }),
  ],
  [
    "s3x2, dilation 2, groups 2",
    tshape({
      inChannels: 4,
      outChannels: 6,
      groups: 2,
      strideH: 3,
      strideW: 2,
      dilationH: 2,
      dilationW: 2,
      kernelH: 3,
      kernelW: 2,
      padTop: 0,
      padBottom: 2,
      padLeft: 1,
      padRight: 0,
    }),
  ],
  [
    "1x1 projection, 40 channels",
    tshape({
      inChannels: 40,
      outChannels: 9,
      kernelH: 1,
      kernelW: 1,
      strideH: 1,
      strideW: 1,
      padTop: 0,
      padBottom: 0,
      padLeft: 0,
      padRight: 0,
      inHeight: 13,
      inWidth: 12,
    }),
  ],
];

function runConvT(
  engine: Engine,
  s: ConvTranspose2dShape,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  dy: Float32Array,
  options?: LaunchOptions,
): Run {
  const px = engine.upload(x), pw = engine.upload(w), pb = engine.upload(b);
  const pdy = engine.upload(dy);
  const py = engine.allocF32(dy.length), pdx = engine.allocF32(x.length);
  const pdw = engine.allocF32(w.length), pdb = engine.allocF32(b.length);
  try {
    convTranspose2dForward(engine, s, px, pw, pb, py, options);
    convTranspose2dBackwardData(engine, s, pdy, pw, pdx, options);
    convTranspose2dBackwardFilter(engine, s, px, pdy, pdw, pdb, options);
    return {
      y: engine.download(py, dy.length),
      dx: engine.download(pdx, x.length),
      dw: engine.download(pdw, w.length),
      db: engine.download(pdb, b.length),
    };
  } finally {
    for (const p of [px, pw, pb, pdy, py, pdx, pdw, pdb]) engine.free(p);
  }
}

Deno.test("conv_transpose2d: SIMD and scalar match the scatter reference and finite differences", async () => {
  const engine = await createTestEngine();
  try {
    let seed = 900;
    for (const [label, s] of TCASES) {
      seed += 10;
      const x = randomArray(
        s.batch * s.inChannels * s.inHeight * s.inWidth,
        seed,
      );
      const w = randomArray(
        s.inChannels * (s.outChannels / s.groups) * s.kernelH * s.kernelW,
        seed + 1,
      );
      const b = randomArray(s.outChannels, seed + 2);
      const dy = randomArray(convTranspose2dOutputLength(s), seed + 3);
      const y = convTranspose2dForwardRef(s, x, w, b);
      const dx = convTranspose2dBackwardDataRef(s, dy, w);
      const { dw, db } = convTranspose2dBackwardFilterRef(s, x, dy);
      for (const impl of ["simd", "scalar"] as const) {
        const r = runConvT(engine, s, x, w, b, dy, { impl });
        const l = `${label} [${impl}]`;
        assertClose(r.y, y, { ...TOL, label: `${l} forward` });
        assertClose(r.dx, dx, { ...TOL, label: `${l} backward-data` });
        assertClose(r.dw, dw, { ...TOL, label: `${l} backward-filter` });
        assertClose(r.db, db, { ...TOL, label: `${l} bias gradient` });
        const one = runConvT(engine, s, x, w, b, dy, { impl, threads: 1 });
        for (const k of ["y", "dx", "dw", "db"] as const) {
          assert.deepEqual(one[k], r[k], `${l} ${k}: 1 vs 2 threads`);
        }
      }
      if (x.length <= 200) {
        const r = runConvT(engine, s, x, w, b, dy);
        const loss = (y: Float64Array) => {
          let sum = 0;
          for (let i = 0; i < y.length; i++) sum += y[i] * dy[i];
          return sum;
        };
        const gx = finiteDifferences(
          (xs) => loss(convTranspose2dForwardRef(s, xs, w, b)),
          x,
          1e-2,
        );
        const gw = finiteDifferences(
          (ws) => loss(convTranspose2dForwardRef(s, x, ws, b)),
          w,
          1e-2,
        );
        assertClose(r.dx, gx, { ...FD_TOL, label: `${label} dx vs FD` });
        assertClose(r.dw, gw, { ...FD_TOL, label: `${label} dw vs FD` });
      }
    }
  } finally {
    engine.dispose();
  }
});

// Winograd F(2x2, 3x3) (3x3, stride 1, dilation 1, one group): odd sizes
// (partial 2x2 tiles, partial 8-tile panels), pads 0..2 and asymmetric,
// channel counts off the 6-row panel and the 48-row / 256-channel blocks,
// and more tiles along a row than one 32-tile work item.
const WINOGRAD_CASES: [string, Conv2dShape][] = [
  ["3x3 p1", shape({})],
  [
    "odd sizes, batch 2, pad 0",
    shape({
      batch: 2,
      inChannels: 5,
      inHeight: 9,
      inWidth: 11,
      outChannels: 7,
      padTop: 0,
      padBottom: 0,
      padLeft: 0,
      padRight: 0,
    }),
  ],
  [
    "asymmetric pads 2/0, 0/2",
    shape({
      inChannels: 6,
      inHeight: 13,
      inWidth: 6,
      outChannels: 13,
      padTop: 2,
      padBottom: 0,
      padLeft: 0,
      padRight: 2,
    }),
  ],
  [
    "wide row (3 work items), 50 output channels",
    shape({ inChannels: 3, inHeight: 5, inWidth: 150, outChannels: 50 }),
  ],
  [
    "C 260 (two channel blocks)",
    shape({ inChannels: 260, inHeight: 6, inWidth: 7, outChannels: 8 }),
  ],
  [
    "1x1 image",
    shape({ inChannels: 4, inHeight: 1, inWidth: 1, outChannels: 3 }),
  ],
];

/** The geometry of a zero-pad shape. */
function geom(s: Conv2dShape): ConvGeometry {
  const { outHeight, outWidth } = conv2dOutputSize(s);
  return {
    N: s.batch,
    C: s.inChannels,
    H: s.inHeight,
    W: s.inWidth,
    K: s.outChannels,
    R: s.kernelH,
    S: s.kernelW,
    OH: outHeight,
    OW: outWidth,
    sh: s.strideH,
    sw: s.strideW,
    pt: s.padTop,
    pl: s.padLeft,
    dh: s.dilationH,
    dw: s.dilationW,
    G: s.groups,
  };
}

function runAlgo(
  engine: Engine,
  s: Conv2dShape,
  algorithm: ConvAlgorithm,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  dy: Float32Array,
  options?: LaunchOptions,
): { y: Float32Array; dx: Float32Array; dw: Float32Array } {
  const g = geom(s);
  const px = engine.upload(x), pw = engine.upload(w), pb = engine.upload(b);
  const pdy = engine.upload(dy);
  const py = engine.allocF32(dy.length), pdx = engine.allocF32(x.length);
  const pdw = engine.allocF32(w.length);
  try {
    runConvForward(engine, g, px, pw, pb, py, options, algorithm);
    runConvBackwardData(engine, g, pdy, pw, 0, pdx, options, algorithm);
    runConvBackwardFilter(engine, g, px, pdy, pdw, 0, options, algorithm);
    return {
      y: engine.download(py, dy.length),
      dx: engine.download(pdx, x.length),
      dw: engine.download(pdw, w.length),
    };
  } finally {
    for (const p of [px, pw, pb, pdy, py, pdx, pdw]) engine.free(p);
  }
}

Deno.test("conv2d winograd: SIMD and scalar match the f64 reference and the direct path; threads bit-identical", async () => {
  const engine = await createTestEngine();
  try {
    let seed = 3000;
    for (const [label, s] of WINOGRAD_CASES) {
      const { x, w, b, dy } = data(s, seed += 10);
      const y = conv2dForwardRef(s, x, w, b);
      const dx = conv2dBackwardDataRef(s, dy, w);
      const { dw } = conv2dBackwardFilterRef(s, x, dy);
      const direct = runAlgo(engine, s, "direct", x, w, b, dy);
      for (const impl of ["simd", "scalar"] as const) {
        const l = `${label} [winograd ${impl}]`;
        const r = runAlgo(engine, s, "winograd", x, w, b, dy, { impl });
        assertClose(r.y, y, { ...TOL, label: `${l} forward` });
        assertClose(r.dx, dx, { ...TOL, label: `${l} backward-data` });
        assertClose(r.dw, dw, { ...TOL, label: `${l} backward-filter` });
        assertClose(r.y, direct.y, { ...TOL, label: `${l} forward vs direct` });
        assertClose(r.dw, direct.dw, {
          ...TOL,
          label: `${l} backward-filter vs direct`,
        });
        assertClose(r.dx, direct.dx, {
          ...TOL,
          label: `${l} backward-data vs direct`,
        });
        const one = runAlgo(engine, s, "winograd", x, w, b, dy, {
          impl,
          threads: 1,
        });
        const two = runAlgo(engine, s, "winograd", x, w, b, dy, {
          impl,
          threads: 2,
        });
        for (const k of ["y", "dx", "dw"] as const) {
          assert.deepEqual(one[k], two[k], `${l} ${k}: 1 vs 2 threads`);
        }
      }
    }
    // Winograd gradients against central finite differences of the f64
    // reference forward (L = sum(y * dy)).
    const s = WINOGRAD_CASES[2][1];
    const { x, w, b, dy } = data(s, 4000);
    const r = runAlgo(engine, s, "winograd", x, w, b, dy);
    const loss = (y: Float64Array) => {
      let sum = 0;
      for (let i = 0; i < y.length; i++) sum += y[i] * dy[i];
      return sum;
    };
    const gx = finiteDifferences(
      (xs) => loss(conv2dForwardRef(s, xs, w, b)),
      x,
      1e-2,
    );
    const gw = finiteDifferences(
      (ws) => loss(conv2dForwardRef(s, x, ws, b)),
      w,
      1e-2,
    );
    assertClose(r.dx, gx, { ...FD_TOL, label: "winograd dx vs FD" });
    assertClose(r.dw, gw, { ...FD_TOL, label: "winograd dw vs FD" });
    const strided = CASES[2][1];
    const d = data(strided, 1);
    assert.throws(
      () => runAlgo(engine, strided, "winograd", d.x, d.w, d.b, d.dy),
      /winograd needs a 3x3 kernel/,
    );
  } finally {
    engine.dispose();
  }
});

// Winograd F(4x4, 3x3) ("winograd4": forward, backward-data and the filter
// gradient): the F(2x2) cases plus rows of more than 8
// tiles (the vector input path, full and clipped 16-pixel output stores),
// OW and OH off multiples of 4, batch 3 and pads 2/0. Same tolerances: the
// F(4x4) transforms amplify f32 rounding ~10x over F(2x2) (measured ~1e-4
// absolute at C = 260), still inside atol 2e-4 / rtol 1e-4.
const WINOGRAD4_CASES: [string, Conv2dShape][] = [
  ...WINOGRAD_CASES,
  [
    "W 75 (2 full panels per tile row + edge), C 40",
    shape({ inChannels: 40, inHeight: 10, inWidth: 75, outChannels: 13 }),
  ],
  [
    "W 66, pad 0 (OW 64: full stores)",
    shape({
      inChannels: 9,
      inHeight: 11,
      inWidth: 66,
      outChannels: 7,
      padTop: 0,
      padBottom: 0,
      padLeft: 0,
      padRight: 0,
    }),
  ],
  [
    "batch 3, pads 2/0 and 0/2, W 37",
    shape({
      batch: 3,
      inChannels: 7,
      inHeight: 6,
      inWidth: 37,
      outChannels: 9,
      padTop: 2,
      padBottom: 0,
      padLeft: 0,
      padRight: 2,
    }),
  ],
];

// Few tiles and >= 192 output channels of the kernel's own conv: F(4x4)
// work items split those channels into groups of whole 6-row panels (200 =
// 102 + 98). Only the pass whose own outputs are grouped is checked against
// the reference (the other sums over 200 channels, beyond TOL for F(4x4));
// both passes must be bit-identical for 1 and 2 threads.
Deno.test("conv2d winograd4: output-channel groups match the f64 reference; threads bit-identical", async () => {
  const engine = await createTestEngine();
  try {
    const cases: [string, Conv2dShape, "y" | "dx"][] = [
      [
        // 100 tiles: 1 thread runs 2 blocks of 64 tiles, all channels; 2
        // threads the same blocks in 2 channel groups each.
        "forward K 200, 40x40",
        shape({ inChannels: 6, inHeight: 40, inWidth: 40, outChannels: 200 }),
        "y",
      ],
      [
        "backward-data C 197, batch 2, 9x11",
        shape({
          batch: 2,
          inChannels: 197,
          inHeight: 9,
          inWidth: 11,
          outChannels: 5,
        }),
        "dx",
      ],
    ];
    let seed = 8000;
    for (const [label, s, pass] of cases) {
      const { x, w, b, dy } = data(s, seed += 10);
      const ref = pass === "y"
        ? conv2dForwardRef(s, x, w, b)
        : conv2dBackwardDataRef(s, dy, w);
      for (const impl of ["simd", "scalar"] as const) {
        const l = `${label} [winograd4 ${impl}]`;
        const one = runAlgo(engine, s, "winograd4", x, w, b, dy, {
          impl,
          threads: 1,
        });
        const two = runAlgo(engine, s, "winograd4", x, w, b, dy, {
          impl,
          threads: 2,
        });
        assertClose(two[pass], ref, { ...TOL, label: l });
        for (const k of ["y", "dx"] as const) {
          assert.deepEqual(one[k], two[k], `${l} ${k}: 1 vs 2 threads`);
        }
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("conv2d winograd4: SIMD and scalar match the f64 reference and the direct path; threads bit-identical", async () => {
  const engine = await createTestEngine();
  try {
    let seed = 5000;
    for (const [label, s] of WINOGRAD4_CASES) {
      const { x, w, b, dy } = data(s, seed += 10);
      const y = conv2dForwardRef(s, x, w, b);
      const dx = conv2dBackwardDataRef(s, dy, w);
      const { dw } = conv2dBackwardFilterRef(s, x, dy);
      const direct = runAlgo(engine, s, "direct", x, w, b, dy);
      for (const impl of ["simd", "scalar"] as const) {
        const l = `${label} [winograd4 ${impl}]`;
        const r = runAlgo(engine, s, "winograd4", x, w, b, dy, { impl });
        assertClose(r.y, y, { ...TOL, label: `${l} forward` });
        assertClose(r.dx, dx, { ...TOL, label: `${l} backward-data` });
        assertClose(r.dw, dw, { ...TOL, label: `${l} backward-filter` });
        assertClose(r.y, direct.y, { ...TOL, label: `${l} forward vs direct` });
        assertClose(r.dx, direct.dx, {
          ...TOL,
          label: `${l} backward-data vs direct`,
        });
        assertClose(r.dw, direct.dw, {
          ...TOL,
          label: `${l} backward-filter vs direct`,
        });
        const one = runAlgo(engine, s, "winograd4", x, w, b, dy, {
          impl,
          threads: 1,
        });
        const two = runAlgo(engine, s, "winograd4", x, w, b, dy, {
          impl,
          threads: 2,
        });
        for (const k of ["y", "dx", "dw"] as const) {
          assert.deepEqual(one[k], two[k], `${l} ${k}: 1 vs 2 threads`);
        }
      }
    }
    // VGG-like magnitudes: activations in [0, 100] (post-ReLU), weights
    // ~0.05, 256 input channels. Tolerances scaled by the magnitude of one
    // product (100 * 0.05 = 5): atol 1e-3, rtol 1e-4.
    const v = shape({
      inChannels: 256,
      inHeight: 9,
      inWidth: 40,
      outChannels: 10,
    });
    const d = data(v, 6000);
    const xv = d.x.map((e) => 50 * (e + 1));
    const wv = d.w.map((e) => 0.05 * e);
    const dyv = d.dy.map((e) => 50 * (e + 1));
    const rv = runAlgo(engine, v, "winograd4", xv, wv, d.b, dyv);
    const vtol = { atol: 1e-3, rtol: 1e-4 };
    assertClose(rv.y, conv2dForwardRef(v, xv, wv, d.b), {
      ...vtol,
      label: "winograd4 VGG magnitudes forward",
    });
    assertClose(rv.dx, conv2dBackwardDataRef(v, dyv, wv), {
      ...vtol,
      label: "winograd4 VGG magnitudes backward-data",
    });
    // The filter gradient sums x * dy over 9 x 40 pixels (one product up to
    // 100 * 100; dW ~1e5): rtol 1e-4 and atol scaled likewise (0.2).
    assertClose(rv.dw, conv2dBackwardFilterRef(v, xv, dyv).dw, {
      atol: 0.2,
      rtol: 1e-4,
      label: "winograd4 VGG magnitudes backward-filter",
    });
    // Larger images (64x70: 16 x 18 tiles, batch 2) with VGG-like
    // activations in [0, 100] and gradients ~1e-3: the F(4x4) filter
    // gradient sums over 576 tiles per (k, c) pair.
    const big = shape({
      batch: 2,
      inChannels: 5,
      inHeight: 64,
      inWidth: 70,
      outChannels: 6,
    });
    const db = data(big, 6100);
    const xb = db.x.map((e) => 50 * (e + 1));
    const dyb = db.dy.map((e) => 1e-3 * e);
    const dwb = conv2dBackwardFilterRef(big, xb, dyb).dw;
    for (const impl of ["simd", "scalar"] as const) {
      const one = runAlgo(engine, big, "winograd4", xb, db.w, db.b, dyb, {
        impl,
        threads: 1,
      });
      const two = runAlgo(engine, big, "winograd4", xb, db.w, db.b, dyb, {
        impl,
        threads: 2,
      });
      assertClose(two.dw, dwb, {
        ...TOL,
        label: `winograd4 ${impl} 64x70 backward-filter`,
      });
      assert.deepEqual(one.dw, two.dw, `winograd4 ${impl} 64x70 dw threads`);
    }
    // The data gradient against central finite differences of the f64
    // reference forward (L = sum(y * dy)).
    const s = WINOGRAD_CASES[2][1];
    const { x, w, b, dy } = data(s, 7000);
    const r = runAlgo(engine, s, "winograd4", x, w, b, dy);
    const gx = finiteDifferences(
      (xs) => {
        const yr = conv2dForwardRef(s, xs, w, b);
        let sum = 0;
        for (let i = 0; i < yr.length; i++) sum += yr[i] * dy[i];
        return sum;
      },
      x,
      1e-2,
    );
    assertClose(r.dx, gx, { ...FD_TOL, label: "winograd4 dx vs FD" });
    const gw = finiteDifferences(
      (ws) => {
        const yr = conv2dForwardRef(s, x, ws, b);
        let sum = 0;
        for (let i = 0; i < yr.length; i++) sum += yr[i] * dy[i];
        return sum;
      },
      w,
      1e-2,
    );
    assertClose(r.dw, gw, { ...FD_TOL, label: "winograd4 dw vs FD" });
    const strided = CASES[2][1];
    const e = data(strided, 1);
    assert.throws(
      () => runAlgo(engine, strided, "winograd4", e.x, e.w, e.b, e.dy),
      /winograd needs a 3x3 kernel/,
    );
  } finally {
    engine.dispose();
  }
});

// The 4-row direct kernel (f32_conv2d_fwd_rows4__wasmsimd): stride-1
// forwards with 1-3 output channels, and the stride phases of strided
// backward-data with 1-3 input channels (on a zero-padded dY). Odd sizes,
// batch 3, dilation 2, asymmetric pads, widths off multiples of 4.
const ROWS4_CASES: [string, Conv2dShape][] = [
  [
    "4x4/2 p1, 1 input channel (convT to 1 channel), batch 3, 13x11",
    shape({
      batch: 3,
      inChannels: 1,
      inHeight: 13,
      inWidth: 11,
      outChannels: 5,
      kernelH: 4,
      kernelW: 4,
      strideH: 2,
      strideW: 2,
    }),
  ],
  [
    "5x5/2 p2, 3 input channels, 9x14",
    shape({
      inChannels: 3,
      inHeight: 9,
      inWidth: 14,
      outChannels: 4,
      kernelH: 5,
      kernelW: 5,
      strideH: 2,
      strideW: 2,
      padTop: 2,
      padBottom: 2,
      padLeft: 2,
      padRight: 2,
    }),
  ],
  [
    "3x3 s1 dilation 2 p2, 2 output channels, 10x19",
    shape({
      inChannels: 5,
      inHeight: 10,
      inWidth: 19,
      outChannels: 2,
      dilationH: 2,
      dilationW: 2,
      padTop: 2,
      padBottom: 2,
      padLeft: 2,
      padRight: 2,
    }),
  ],
  [
    "5x5 s1 pads 0/2 1/0, 3 output channels, 6x23",
    shape({
      inChannels: 4,
      inHeight: 6,
      inWidth: 23,
      outChannels: 3,
      kernelH: 5,
      kernelW: 5,
      padTop: 0,
      padBottom: 2,
      padLeft: 1,
      padRight: 0,
    }),
  ],
];

Deno.test("conv2d rows4: few-channel forwards and stride phases match the f64 reference; threads bit-identical", async () => {
  const engine = await createTestEngine();
  try {
    let seed = 8000;
    for (const [label, s] of ROWS4_CASES) {
      const { x, w, b, dy } = data(s, seed += 10);
      const r = runAlgo(engine, s, "direct", x, w, b, dy);
      assertClose(r.y, conv2dForwardRef(s, x, w, b), {
        ...TOL,
        label: `${label} forward`,
      });
      assertClose(r.dx, conv2dBackwardDataRef(s, dy, w), {
        ...TOL,
        label: `${label} backward-data`,
      });
      const one = runAlgo(engine, s, "direct", x, w, b, dy, { threads: 1 });
      const two = runAlgo(engine, s, "direct", x, w, b, dy, { threads: 2 });
      for (const k of ["y", "dx"] as const) {
        assert.deepEqual(one[k], two[k], `${label} ${k}: 1 vs 2 threads`);
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("conv2d: single-threaded plain-SIMD build agrees", async () => {
  const engine = await createTestEngine({ variant: "single-simd", threads: 1 });
  try {
    // The big case (direct path), and Winograd / stride phases as well.
    for (
      const [label, s] of [
        CASES[CASES.length - 1],
        WINOGRAD_CASES[2],
        CASES[CASES.length - 2],
      ]
    ) {
      const { x, w, b, dy } = data(s, 77);
      const r = runConv(engine, s, x, w, b, dy);
      const l = `${label} [single-simd]`;
      assertClose(r.y, conv2dForwardRef(s, x, w, b), {
        ...TOL,
        label: `${l} forward`,
      });
      assertClose(r.dx, conv2dBackwardDataRef(s, dy, w), {
        ...TOL,
        label: `${l} backward-data`,
      });
      assertClose(r.dw, conv2dBackwardFilterRef(s, x, dy).dw, {
        ...TOL,
        label: `${l} backward-filter`,
      });
      if (label === WINOGRAD_CASES[2][0]) {
        const wr = runAlgo(engine, s, "winograd", x, w, b, dy);
        assertClose(wr.y, conv2dForwardRef(s, x, w, b), {
          ...TOL,
          label: `${l} winograd forward`,
        });
        assertClose(wr.dx, conv2dBackwardDataRef(s, dy, w), {
          ...TOL,
          label: `${l} winograd backward-data`,
        });
        const w4 = runAlgo(engine, s, "winograd4", x, w, b, dy);
        assertClose(w4.y, conv2dForwardRef(s, x, w, b), {
          ...TOL,
          label: `${l} winograd4 forward`,
        });
        assertClose(w4.dx, conv2dBackwardDataRef(s, dy, w), {
          ...TOL,
          label: `${l} winograd4 backward-data`,
        });
        assertClose(w4.dw, conv2dBackwardFilterRef(s, x, dy).dw, {
          ...TOL,
          label: `${l} winograd4 backward-filter`,
        });
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("conv2d: shapes are validated with one-line RangeErrors", async () => {
  const engine = await createTestEngine({ threads: 1 });
  try {
    const bad: [Partial<Conv2dShape>, RegExp][] = [
      [{ inChannels: 0 }, /inChannels/],
      [{ groups: 2 }, /divisible by groups/],
      [{ strideH: 1.5 }, /strideH/],
      [{ padLeft: -1 }, /padLeft/],
      [{ kernelH: 12, padTop: 0, padBottom: 0 }, /output height/],
      [{ padMode: "reflect", padTop: 7 }, /reflect padding 7/],
    ];
    for (const [p, re] of bad) {
      assert.throws(
        () => conv2dForward(engine, shape(p), 0, 0, 0, 0),
        (e: Error) =>
          e instanceof RangeError && re.test(e.message) &&
          !e.message.includes("\n"),
      );
    }
    assert.deepEqual(conv2dOutputSize(shape({ strideH: 2, strideW: 3 })), {
      outHeight: 4,
      outWidth: 3,
    });
    assert.throws(
      () =>
        convTranspose2dForward(engine, tshape({ outputPadH: 2 }), 0, 0, 0, 0),
      /outputPadH 2/,
    );
  } finally {
    engine.dispose();
  }
});
