// f32-vbinary kernels against f64 references: SIMD and scalar twins, any n
// (including n % 4 != 0), 1 vs 2 threads bit-identical.
// Tolerances: elementwise results are one or two f32 roundings of the f64
// value: atol 1e-6, rtol 1e-6 (inputs in [-1, 1)). Channel sums: atol 1e-5
// times the number of summed terms' |dy| total (f32 accumulation).
import assert from "node:assert/strict";
import type { Engine } from "../../runtime/engine/engine.ts";
import * as vb from "../../runtime/backends/wasm/vbinary.ts";
import type { LaunchOptions } from "../../runtime/backends/wasm/_launch.ts";
import { createTestEngine } from "../_engine.ts";
import { assertClose, randomArray } from "../_check.ts";
import * as ref from "../reference/elementwise.ts";

const SIZES = [1, 3, 4, 7, 16, 17, 1000, 4099, 40003];
const IMPLS: LaunchOptions["impl"][] = ["simd", "scalar"];
const TOL = { atol: 1e-6, rtol: 1e-6 };

interface Case {
  name: string;
  /** Kernel base name and its argument list from input/output addresses. */
  kernel: string;
  inputs: number;
  args: (ins: number[], out: number, n: number) => number[];
  /** The output is the last input (in place), not a fresh buffer. */
  inPlace?: boolean;
  shim: (
    e: Engine,
    ins: number[],
    out: number,
    n: number,
    o: LaunchOptions,
  ) => void;
  expected: (ins: Float32Array[], n: number) => Float64Array;
}

const ALPHA = 0.75, BETA = -1.25, VALUE = 0.3, LO = -0.5, HI = 0.25;

const CASES: Case[] = [
  {
    name: "vadd",
    kernel: "f32_vadd",
    inputs: 2,
    args: ([a, b], out, n) => [a, b, out, n],
    shim: (e, [a, b], out, n, o) => vb.vadd(e, a, b, out, n, o),
    expected: ([a, b], n) => ref.map(n, (i) => a[i] + b[i]),
  },
  {
    name: "vsub",
    kernel: "f32_vsub",
    inputs: 2,
    args: ([a, b], out, n) => [a, b, out, n],
    shim: (e, [a, b], out, n, o) => vb.vsub(e, a, b, out, n, o),
    expected: ([a, b], n) => ref.map(n, (i) => a[i] - b[i]),
  },
  {
    name: "vmul",
    kernel: "f32_vmul",
    inputs: 2,
    args: ([a, b], out, n) => [a, b, out, n],
    shim: (e, [a, b], out, n, o) => vb.vmul(e, a, b, out, n, o),
    expected: ([a, b], n) => ref.map(n, (i) => a[i] * b[i]),
  },
  {
    name: "vaxpy",
    kernel: "f32_vaxpy",
    inputs: 2,
    inPlace: true,
    args: ([x, y], _out, n) => [ALPHA, x, y, n],
    shim: (e, [x, y], _out, n, o) => vb.vaxpy(e, ALPHA, x, y, n, o),
    expected: ([x, y], n) => ref.map(n, (i) => ALPHA * x[i] + y[i]),
  },
  {
    name: "vaxpby",
    kernel: "f32_vaxpby",
    inputs: 2,
    inPlace: true,
    args: ([x, y], _out, n) => [ALPHA, x, BETA, y, n],
    shim: (e, [x, y], _out, n, o) => vb.vaxpby(e, ALPHA, x, BETA, y, n, o),
    expected: ([x, y], n) => ref.map(n, (i) => ALPHA * x[i] + BETA * y[i]),
  },
  {
    name: "vscale",
    kernel: "f32_vscale",
    inputs: 1,
    args: ([x], out, n) => [ALPHA, x, out, n],
    shim: (e, [x], out, n, o) => vb.vscale(e, ALPHA, x, out, n, o),
    expected: ([x], n) => ref.map(n, (i) => ALPHA * x[i]),
  },
  {
    name: "vfill",
    kernel: "f32_vfill",
    inputs: 0,
    args: (_ins, out, n) => [VALUE, out, n],
    shim: (e, _ins, out, n, o) => vb.vfill(e, VALUE, out, n, o),
    expected: (_ins, n) => ref.map(n, () => Math.fround(VALUE)),
  },
  {
    name: "vcopy",
    kernel: "f32_vcopy",
    inputs: 1,
    args: ([x], out, n) => [x, out, n],
    shim: (e, [x], out, n, o) => vb.vcopy(e, x, out, n, o),
    expected: ([x], n) => ref.map(n, (i) => x[i]),
  },
  {
    name: "vaddScalar",
    kernel: "f32_vaddc",
    inputs: 1,
    args: ([x], out, n) => [x, VALUE, out, n],
    shim: (e, [x], out, n, o) => vb.vaddScalar(e, x, VALUE, out, n, o),
    expected: ([x], n) => ref.map(n, (i) => x[i] + VALUE),
  },
  {
    name: "vclamp",
    kernel: "f32_vclamp",
    inputs: 1,
    args: ([x], out, n) => [x, out, n, LO, HI],
    shim: (e, [x], out, n, o) => vb.vclamp(e, x, out, n, LO, HI, o),
    expected: ([x], n) => ref.map(n, (i) => Math.min(Math.max(x[i], LO), HI)),
  },
];

/** Uploads the case's inputs (seeded) and an output; returns addresses. */
function setUp(engine: Engine, c: Case, n: number, seed: number) {
  const data = Array.from(
    { length: c.inputs },
    (_, k) => randomArray(n, seed + k),
  );
  const ins = data.map((d) => engine.upload(d));
  const out = c.inPlace ? ins[ins.length - 1] : engine.allocF32(n);
  const free = () => {
    for (const p of ins) engine.free(p);
    if (!c.inPlace) engine.free(out);
  };
  return { data, ins, out, free };
}

Deno.test("f32-vbinary", async (t) => {
  const engine = await createTestEngine();
  try {
    for (const c of CASES) {
      await t.step(`${c.name} matches the f64 reference (simd, scalar)`, () => {
        for (const n of SIZES) {
          for (const impl of IMPLS) {
            const { data, ins, out, free } = setUp(engine, c, n, n * 7 + 1);
            c.shim(engine, ins, out, n, { impl });
            assertClose(engine.download(out, n), c.expected(data, n), {
              ...TOL,
              label: `${c.name} n=${n} ${impl}`,
            });
            free();
          }
        }
      });
      await t.step(`${c.name}: 1 and 2 threads give the same bits`, () => {
        for (const n of [7, 1001, 40003]) {
          for (const impl of IMPLS) {
            const name = `${c.kernel}__${
              impl === "simd" ? "wasmsimd" : "scalar"
            }`;
            const results = [1, 2].map((threads) => {
              const { ins, out, free } = setUp(engine, c, n, 99);
              engine.run(name, c.args(ins, out, n), threads);
              const r = engine.download(out, n);
              free();
              return r;
            });
            assert.deepEqual(results[0], results[1], `${name} n=${n}`);
          }
        }
      });
    }

    await t.step(
      "vaddChannel and vchannelSum (NCHW broadcast and its bias gradient)",
      () => {
        for (
          const [batch, channels, spatial] of [
            [1, 1, 1],
            [2, 3, 7],
            [3, 5, 16],
            [2, 64, 1023],
          ]
        ) {
          const n = batch * channels * spatial;
          const x = randomArray(n, 3), bias = randomArray(channels, 4);
          const px = engine.upload(x),
            pb = engine.upload(bias),
            pout = engine.allocF32(n);
          const pdb = engine.allocF32(channels);
          const bits: Float32Array[] = [];
          for (const impl of IMPLS) {
            vb.vaddChannel(engine, px, pb, pout, batch, channels, spatial, {
              impl,
            });
            assertClose(
              engine.download(pout, n),
              ref.addChannel(x, bias, batch, channels, spatial),
              {
                ...TOL,
                label: `vaddChannel ${impl}`,
              },
            );
            vb.vchannelSum(engine, px, pdb, batch, channels, spatial, { impl });
            assertClose(
              engine.download(pdb, channels),
              ref.channelSum(x, batch, channels, spatial),
              {
                atol: 1e-6 * batch * spatial,
                rtol: 1e-5,
                label: `vchannelSum ${impl}`,
              },
            );
            for (const threads of [1, 2]) {
              engine.run(
                `f32_vchannel_sum__${impl === "simd" ? "wasmsimd" : "scalar"}`,
                [px, pdb, batch, channels, spatial],
                threads,
              );
              bits.push(engine.download(pdb, channels));
            }
            assert.deepEqual(
              bits[bits.length - 1],
              bits[bits.length - 2],
              `vchannelSum ${impl} threads`,
            );
          }
          for (const p of [px, pb, pout, pdb]) engine.free(p);
        }
      },
    );

    await t.step("shims reject bad sizes with a RangeError", () => {
      const p = engine.allocF32(8);
      assert.throws(() => vb.vadd(engine, p, p, p, -1), RangeError);
      assert.throws(() => vb.vadd(engine, p, p, p, 2.5), RangeError);
      assert.throws(() => vb.vadd(engine, p, p, p, 1 << 30), RangeError);
      assert.throws(() => vb.vclamp(engine, p, p, 8, 1, 0), RangeError);
      engine.free(p);
    });
  } finally {
    engine.dispose();
  }
});

Deno.test("f32-vbinary on the plain-SIMD single-thread build", async () => {
  const engine = await createTestEngine({ variant: "single-simd", threads: 1 });
  try {
    for (const c of CASES) {
      const n = 1003;
      const { data, ins, out, free } = setUp(engine, c, n, 5);
      c.shim(engine, ins, out, n, {});
      assertClose(engine.download(out, n), c.expected(data, n), {
        ...TOL,
        label: c.name,
      });
      free();
    }
  } finally {
    engine.dispose();
  }
});
