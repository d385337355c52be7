// f32-pool family: max/average pooling 2-D, global average pooling and
// nearest upsampling, forward and backward, against the f64 references in
// tests/reference/pool.ts, SIMD against scalar, 1 against 2 threads, and the
// backward kernels against central finite differences of the f64 forward.
//
// Tolerances: max-pool forward and argmax are exact (a max rounds nothing);
// everything else atol 1e-6, rtol 1e-5 (f32 sums of at most a few hundred
// terms of size <= 1). Finite differences (h = 1e-3, f64, linear or
// piecewise-linear functions without ties): atol 1e-6, rtol 1e-6.
// SIMD and scalar kernels of this family are bit-identical by construction
// (same summation order), except global average pooling (atol 1e-6).
import assert from "node:assert/strict";
import type { Engine } from "../../runtime/engine/engine.ts";
import type { LaunchOptions } from "../../runtime/backends/wasm/_launch.ts";
import {
  avgPool2dBackward,
  avgPool2dForward,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
  pool2dOutputSize,
  type Pool2dShape,
  upsampleNearestBackward,
  upsampleNearestForward,
} from "../../runtime/backends/wasm/pool.ts";
import {
  avgPoolBackwardRef,
  avgPoolRef,
  globalAvgPoolBackwardRef,
  globalAvgPoolRef,
  maxPoolBackwardRef,
  maxPoolRef,
  upsampleNearestBackwardRef,
  upsampleNearestRef,
} from "../reference/pool.ts";
import { assertClose, finiteDifferences, randomArray, rng } from "../_check.ts";
import { createTestEngine } from "../_engine.ts";

const TOL = { atol: 1e-6, rtol: 1e-5 };
const FD_TOL = { atol: 1e-6, rtol: 1e-6 };
const IMPLS: LaunchOptions["impl"][] = ["simd", "scalar"];

function shape(
  batch: number,
  channels: number,
  inHeight: number,
  inWidth: number,
  kernel: [number, number],
  stride: [number, number],
  pads: [number, number, number, number], // top, bottom, left, right
  ceilMode: boolean,
): Pool2dShape {
  return {
    batch,
    channels,
    inHeight,
    inWidth,
    kernelH: kernel[0],
    kernelW: kernel[1],
    strideH: stride[0],
    strideW: stride[1],
    padTop: pads[0],
    padBottom: pads[1],
    padLeft: pads[2],
    padRight: pads[3],
    ceilMode,
  };
}

/** Values without ties: a seeded permutation of n evenly spaced values in [-1, 1). */
function distinctArray(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return Float32Array.from(order, (v) => (2 * v) / n - 1);
}

function randomShape(seed: number): Pool2dShape {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const kh = int(1, 4), kw = int(1, 4);
  const pad = (k: number) => int(0, k - 1);
  return shape(
    int(1, 2),
    int(1, 5),
    int(kh, 23),
    int(kw, 23),
    [kh, kw],
    [int(1, 3), int(1, 3)],
    [pad(kh), pad(kh), pad(kw), pad(kw)],
    r() < 0.5,
  );
}

// AlexNet 3x3/2 (overlapping), VGG 2x2/2, Caffe/GoogLeNet ceil mode,
// "same" 3x3/1 padding, asymmetric padding, stride 3 and odd sizes.
const SHAPES: Pool2dShape[] = [
  shape(2, 8, 55, 55, [3, 3], [2, 2], [0, 0, 0, 0], false),
  shape(2, 6, 28, 30, [2, 2], [2, 2], [0, 0, 0, 0], false),
  shape(1, 5, 13, 13, [3, 3], [2, 2], [0, 0, 0, 0], true),
  shape(1, 3, 14, 15, [3, 3], [2, 2], [0, 0, 0, 0], true),
  shape(1, 2, 5, 5, [2, 2], [2, 2], [1, 1, 1, 1], true),
  shape(2, 3, 17, 19, [3, 3], [1, 1], [1, 1, 1, 1], false),
  shape(1, 4, 21, 26, [3, 2], [3, 3], [2, 0, 1, 1], true),
  shape(1, 3, 9, 31, [2, 3], [1, 2], [0, 1, 2, 1], false),
  ...Array.from({ length: 8 }, (_, i) => randomShape(100 + i)),
];

function label(s: Pool2dShape): string {
  return `${s.batch}x${s.channels}x${s.inHeight}x${s.inWidth} k${s.kernelH}x${s.kernelW} s${s.strideH}x${s.strideW} p${s.padTop},${s.padBottom},${s.padLeft},${s.padRight}${
    s.ceilMode ? " ceil" : ""
  }`;
}

function sizes(s: Pool2dShape): { inN: number; outN: number } {
  const { outHeight, outWidth } = pool2dOutputSize(s);
  const planes = s.batch * s.channels;
  return {
    inN: planes * s.inHeight * s.inWidth,
    outN: planes * outHeight * outWidth,
  };
}

function downloadI32(engine: Engine, ptr: number, n: number): Int32Array {
  return new Int32Array(engine.memory.buffer, ptr, n).slice();
}

function runMax(
  engine: Engine,
  s: Pool2dShape,
  x: Float32Array,
  dy: Float32Array,
  options?: LaunchOptions,
): { y: Float32Array; argmax: Int32Array; dx: Float32Array } {
  const { inN, outN } = sizes(s);
  const px = engine.upload(x), pdy = engine.upload(dy);
  const py = engine.allocF32(outN), pa = engine.allocF32(outN);
  const pdx = engine.upload(new Float32Array(inN).fill(NaN));
  try {
    maxPool2dForward(engine, s, px, py, pa, options);
    maxPool2dBackward(engine, s, pdy, pa, pdx, options);
    return {
      y: engine.download(py, outN),
      argmax: downloadI32(engine, pa, outN),
      dx: engine.download(pdx, inN),
    };
  } finally {
    for (const p of [px, pdy, py, pa, pdx]) engine.free(p);
  }
}

function runAvg(
  engine: Engine,
  s: Pool2dShape,
  countIncludePad: boolean,
  x: Float32Array,
  dy: Float32Array,
  options?: LaunchOptions,
): { y: Float32Array; dx: Float32Array } {
  const { inN, outN } = sizes(s);
  const px = engine.upload(x), pdy = engine.upload(dy);
  const py = engine.allocF32(outN);
  const pdx = engine.upload(new Float32Array(inN).fill(NaN));
  try {
    avgPool2dForward(engine, s, countIncludePad, px, py, options);
    avgPool2dBackward(engine, s, countIncludePad, pdy, pdx, options);
    return { y: engine.download(py, outN), dx: engine.download(pdx, inN) };
  } finally {
    for (const p of [px, pdy, py, pdx]) engine.free(p);
  }
}

Deno.test("pool2dOutputSize: floor, Caffe ceil and PyTorch's last-window rule", () => {
  const size = (h: number, k: number, st: number, p: number, ceil: boolean) =>
    pool2dOutputSize(shape(1, 1, h, h, [k, k], [st, st], [p, p, p, p], ceil))
      .outHeight;
  assert.equal(size(55, 3, 2, 0, false), 27); // AlexNet pool1
  assert.equal(size(13, 3, 2, 0, true), 6); // AlexNet (Caffe) pool5
  assert.equal(size(112, 3, 2, 0, true), 56); // GoogLeNet pool1 (Caffe)
  assert.equal(size(112, 3, 2, 0, false), 55);
  assert.equal(size(224, 2, 2, 0, false), 112); // VGG
  assert.equal(size(6, 3, 2, 0, true), 3);
  // ceil would give 4, but the 4th window would start in the bottom padding.
  assert.equal(size(5, 2, 2, 1, true), 3);
  assert.equal(size(5, 2, 2, 1, false), 3);
  const asym = shape(1, 1, 7, 8, [3, 2], [2, 3], [2, 0, 1, 1], true);
  assert.deepEqual(pool2dOutputSize(asym), { outHeight: 4, outWidth: 3 });
});

Deno.test("pool shims reject bad shapes with RangeError", () => {
  const ok = shape(1, 1, 8, 8, [3, 3], [2, 2], [1, 1, 1, 1], false);
  assert.throws(
    () => pool2dOutputSize({ ...ok, padLeft: 3 }),
    (e: unknown) => e instanceof RangeError && /padLeft 3/.test(e.message),
  );
  assert.throws(
    () => pool2dOutputSize({ ...ok, strideW: 1.5 }),
    (e: unknown) => e instanceof RangeError && /strideW/.test(e.message),
  );
  assert.throws(
    () => pool2dOutputSize({ ...ok, inHeight: 1, padTop: 0, padBottom: 0 }),
    (e: unknown) => e instanceof RangeError && /kernelH 3/.test(e.message),
  );
  assert.throws(
    () => pool2dOutputSize({ ...ok, batch: 0 }),
    (e: unknown) => e instanceof RangeError && /batch/.test(e.message),
  );
});

Deno.test("max pool forward/backward: reference, SIMD = scalar, 1 = 2 threads", async () => {
  const engine = await createTestEngine();
  try {
    for (const [i, s] of SHAPES.entries()) {
      const { inN, outN } = sizes(s);
      const x = distinctArray(inN, 1 + i), dy = randomArray(outN, 50 + i);
      const ref = maxPoolRef(x, s);
      const dxRef = maxPoolBackwardRef(dy, ref.argmax, s);
      const base = runMax(engine, s, x, dy);
      assert.deepEqual(base.y, Float32Array.from(ref.y), label(s));
      assert.deepEqual(base.argmax, ref.argmax, label(s));
      assertClose(base.dx, dxRef, { ...TOL, label: `max dx ${label(s)}` });
      for (const impl of IMPLS) {
        for (const threads of [1, 2]) {
          const r = runMax(engine, s, x, dy, { impl, threads });
          assert.deepEqual(r.y, base.y, `${impl}/${threads} ${label(s)}`);
          assert.deepEqual(r.argmax, base.argmax, `${impl}/${threads}`);
          assert.deepEqual(r.dx, base.dx, `${impl}/${threads} dx`);
        }
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("max pool propagates NaN and keeps the first of tied maxima", async () => {
  const engine = await createTestEngine();
  try {
    const s = shape(1, 1, 4, 12, [2, 2], [2, 2], [0, 0, 0, 0], false);
    const x = new Float32Array(48).fill(1);
    x[13] = NaN; // row 1, col 1: inside window (0, 0)
    for (const impl of IMPLS) {
      const r = runMax(engine, s, x, new Float32Array(12), { impl });
      assert.ok(Number.isNaN(r.y[0]));
      assert.equal(r.argmax[0], 13);
      assert.equal(r.y[1], 1);
      assert.equal(r.argmax[1], 2); // first element of window (0, 1)
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("avg pool forward/backward (countIncludePad on/off): reference, SIMD = scalar, 1 = 2 threads", async () => {
  const engine = await createTestEngine();
  try {
    for (const [i, s] of SHAPES.entries()) {
      for (const cip of [true, false]) {
        const { inN, outN } = sizes(s);
        const x = randomArray(inN, 200 + i), dy = randomArray(outN, 300 + i);
        const base = runAvg(engine, s, cip, x, dy);
        const tag = `${label(s)} cip=${cip}`;
        assertClose(base.y, avgPoolRef(x, s, cip), {
          ...TOL,
          label: `avg y ${tag}`,
        });
        assertClose(base.dx, avgPoolBackwardRef(dy, s, cip), {
          ...TOL,
          label: `avg dx ${tag}`,
        });
        for (const impl of IMPLS) {
          for (const threads of [1, 2]) {
            const r = runAvg(engine, s, cip, x, dy, { impl, threads });
            assert.deepEqual(r.y, base.y, `${impl}/${threads} ${tag}`);
            assert.deepEqual(r.dx, base.dx, `${impl}/${threads} dx ${tag}`);
          }
        }
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("max/avg pool backward match finite differences of the f64 forward", async () => {
  const engine = await createTestEngine();
  try {
    const cases = [
      shape(1, 2, 7, 9, [3, 3], [2, 2], [0, 0, 0, 0], true),
      shape(1, 2, 8, 8, [2, 2], [2, 2], [0, 0, 0, 0], false),
      shape(2, 1, 6, 7, [3, 2], [1, 2], [1, 2, 1, 0], true),
    ];
    for (const [i, s] of cases.entries()) {
      const { inN, outN } = sizes(s);
      // Evenly spaced distinct values 2/inN apart, far more than 2h, so no
      // max changes hands inside a finite-difference step.
      const x = distinctArray(inN, 400 + i), dy = randomArray(outN, 500 + i);
      const loss = (y: ArrayLike<number>) => {
        let l = 0;
        for (let k = 0; k < outN; k++) l += dy[k] * y[k];
        return l;
      };
      for (const impl of IMPLS) {
        const got = runMax(engine, s, x, dy, { impl }).dx;
        const fd = finiteDifferences((v) => loss(maxPoolRef(v, s).y), x);
        assertClose(got, fd, {
          ...FD_TOL,
          label: `max FD ${label(s)} ${impl}`,
        });
        for (const cip of [true, false]) {
          const gotAvg = runAvg(engine, s, cip, x, dy, { impl }).dx;
          const fdAvg = finiteDifferences(
            (v) => loss(avgPoolRef(v, s, cip)),
            x,
          );
          assertClose(gotAvg, fdAvg, {
            ...FD_TOL,
            label: `avg FD ${label(s)} cip=${cip} ${impl}`,
          });
        }
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("global average pool: reference, SIMD ~ scalar, 1 = 2 threads, finite differences", async () => {
  const engine = await createTestEngine();
  try {
    const cases: [number, number, number, number][] = [
      [2, 3, 7, 7],
      [1, 5, 1, 3],
      [3, 64, 13, 13], // large enough for the threaded path
      [1, 2, 5, 9],
    ];
    for (const [i, [n, c, h, w]] of cases.entries()) {
      const planes = n * c, hw = h * w;
      const x = randomArray(planes * hw, 600 + i),
        dy = randomArray(planes, 700 + i);
      const run = (options?: LaunchOptions) => {
        const px = engine.upload(x), py = engine.allocF32(planes);
        const pdy = engine.upload(dy), pdx = engine.allocF32(planes * hw);
        try {
          globalAvgPoolForward(engine, n, c, h, w, px, py, options);
          globalAvgPoolBackward(engine, n, c, h, w, pdy, pdx, options);
          return {
            y: engine.download(py, planes),
            dx: engine.download(pdx, planes * hw),
          };
        } finally {
          for (const p of [px, py, pdy, pdx]) engine.free(p);
        }
      };
      const tag = `${n}x${c}x${h}x${w}`;
      for (const impl of IMPLS) {
        const one = run({ impl, threads: 1 }), two = run({ impl, threads: 2 });
        assert.deepEqual(two.y, one.y, `threads ${impl} ${tag}`);
        assert.deepEqual(two.dx, one.dx, `threads dx ${impl} ${tag}`);
        assertClose(one.y, globalAvgPoolRef(x, planes, hw), {
          ...TOL,
          label: `gap y ${impl} ${tag}`,
        });
        assertClose(one.dx, globalAvgPoolBackwardRef(dy, planes, hw), {
          ...TOL,
          label: `gap dx ${impl} ${tag}`,
        });
      }
      if (planes * hw < 2000) {
        const fd = finiteDifferences((v) => {
          const y = globalAvgPoolRef(v, planes, hw);
          return y.reduce((a, yk, k) => a + dy[k] * yk, 0);
        }, x);
        assertClose(run().dx, fd, { ...FD_TOL, label: `gap FD ${tag}` });
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("nearest upsample: reference, SIMD = scalar, 1 = 2 threads, finite differences", async () => {
  const engine = await createTestEngine();
  try {
    const cases: [number, number, number, number, number, number][] = [
      [2, 3, 7, 9, 2, 2],
      [1, 4, 5, 11, 3, 1],
      [1, 2, 6, 5, 1, 3],
      [1, 2, 3, 7, 2, 5],
      [2, 8, 33, 35, 2, 2], // large enough for the threaded path
      [1, 1, 4, 4, 1, 1],
    ];
    for (const [i, [n, c, h, w, fh, fw]] of cases.entries()) {
      const planes = n * c, inN = planes * h * w, outN = inN * fh * fw;
      const x = randomArray(inN, 800 + i), dy = randomArray(outN, 900 + i);
      const run = (options?: LaunchOptions) => {
        const px = engine.upload(x), py = engine.allocF32(outN);
        const pdy = engine.upload(dy), pdx = engine.allocF32(inN);
        try {
          upsampleNearestForward(engine, n, c, h, w, fh, fw, px, py, options);
          upsampleNearestBackward(
            engine,
            n,
            c,
            h,
            w,
            fh,
            fw,
            pdy,
            pdx,
            options,
          );
          return {
            y: engine.download(py, outN),
            dx: engine.download(pdx, inN),
          };
        } finally {
          for (const p of [px, py, pdy, pdx]) engine.free(p);
        }
      };
      const tag = `${n}x${c}x${h}x${w} x${fh},${fw}`;
      const base = run();
      assert.deepEqual(
        base.y,
        Float32Array.from(upsampleNearestRef(x, planes, h, w, fh, fw)),
        tag,
      );
      assertClose(
        base.dx,
        upsampleNearestBackwardRef(dy, planes, h, w, fh, fw),
        {
          ...TOL,
          label: `up dx ${tag}`,
        },
      );
      for (const impl of IMPLS) {
        for (const threads of [1, 2]) {
          const r = run({ impl, threads });
          assert.deepEqual(r.y, base.y, `${impl}/${threads} ${tag}`);
          assert.deepEqual(r.dx, base.dx, `${impl}/${threads} dx ${tag}`);
        }
      }
      if (inN < 300) {
        const fd = finiteDifferences((v) => {
          const y = upsampleNearestRef(v, planes, h, w, fh, fw);
          return y.reduce((a, yk, k) => a + dy[k] * yk, 0);
        }, x);
        assertClose(base.dx, fd, { ...FD_TOL, label: `up FD ${tag}` });
      }
    }
  } finally {
    engine.dispose();
  }
});

Deno.test("pool kernels: single-simd build gives the same bits as the default build", async () => {
  const main = await createTestEngine();
  const single = await createTestEngine({ variant: "single-simd", threads: 1 });
  try {
    for (const [i, s] of [SHAPES[0], SHAPES[2], SHAPES[6]].entries()) {
      const { inN, outN } = sizes(s);
      const x = distinctArray(inN, 1000 + i), dy = randomArray(outN, 1100 + i);
      const a = runMax(main, s, x, dy), b = runMax(single, s, x, dy);
      assert.deepEqual(b.y, a.y);
      assert.deepEqual(b.argmax, a.argmax);
      assert.deepEqual(b.dx, a.dx);
      const c = runAvg(main, s, false, x, dy),
        d = runAvg(single, s, false, x, dy);
      assert.deepEqual(d.y, c.y);
      assert.deepEqual(d.dx, c.dx);
    }
  } finally {
    main.dispose();
    single.dispose();
  }
});
