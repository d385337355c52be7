// deno task bench:kernels — GFLOP/s of the conv2d kernels on VGG shapes
// (3x3, stride 1, pad 1, batch 1) and one DCGAN shape (5x5 stride 2, batch
// 64), forward, backward-data and backward-filter, with 1 thread and all
// threads, side by side with
// tfjs-wasm (@tensorflow/tfjs-backend-wasm, single-threaded SIMD, NHWC: its
// native layout). GFLOP/s counts 2 * MACs of the direct convolution for
// every pass (Winograd is credited with the direct convolution's FLOPs).
// Warm-up, then the median of several runs. Each row also records the
// process CPU time per call and CPU/wall: on an idle 2-core machine
// CPU/wall is ~1 with 1 thread and ~2 with 2; lower values mean other
// processes took the cores and the wall times are inflated. The load
// average is printed before and after.
// Flags: --json FILE (array of {op, shape, threads, ms, gflops, cpu_ms,
// cpu_per_wall, tfjs_wasm_ms, ratio_vs_tfjs_wasm, tfjs_wasm_gflops}; ratio
// > 1 means we are faster), --quick (one timed run per case), --algorithms
// (direct vs Winograd F(2x2) vs F(4x4), interleaved, CPU time; no tfjs), --wasm-dir DIR
// (engine build to use, default build/; IMPASTO_WASM_DIR works too).
import { parseArgs } from "node:util";
import { writeFile } from "node:fs/promises";
import process from "node:process";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { Engine } from "../runtime/engine/engine.ts";
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
} from "../runtime/backends/wasm/conv2d.ts";

const USAGE = "Usage: deno task bench:kernels [--json FILE] [--quick] " +
  "[--algorithms] [--wasm-dir DIR]";

function parseFlags() {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        json: { type: "string" },
        quick: { type: "boolean", default: false },
        algorithms: { type: "boolean", default: false },
        "wasm-dir": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`bench:kernels: ${(e as Error).message} (see --help)`);
    Deno.exit(2);
  }
}

const flags = parseFlags();
if (flags.help) {
  console.log(
    USAGE + "\n\n" +
      "Conv forward/backward GFLOP/s on VGG shapes and a DCGAN shape, 1 thread\n" +
      "and all threads, side by side with tfjs-wasm. --json writes the rows,\n" +
      "--quick times one run per case, --algorithms compares the direct and\n" +
      "Winograd kernels (CPU time, no tfjs), --wasm-dir picks an engine build.",
  );
  Deno.exit(0);
}

const RUNS = flags.quick ? 1 : 5;
// V8 has no mid-call tier-up for wasm, and each worker compiles its own copy:
// enough warm-up calls that every thread runs optimised code.
const WARMUP = flags.quick ? 1 : 5;

const VGG: [number, number][] = [[64, 256], [128, 128], [256, 64], [512, 32]];

/** A benchmarked conv: our shape; tfjs runs it as "same" padding (NHWC). */
interface BenchCase {
  label: string;
  shape: Conv2dShape;
}

function cases(): BenchCase[] {
  const out: BenchCase[] = VGG.map(([c, hw]) => ({
    label: `${c}->${c}@${hw}x${hw}`,
    shape: vggShape(c, hw),
  }));
  // DCGAN (MNIST) discriminator conv2 / generator convT shape: 64 -> 128,
  // 5x5 stride 2 on 14x14, batch 64; "same" padding = 1 top/left, 2
  // bottom/right. Its backward-data is the generator's transposed conv.
  out.push({
    label: "64->128@14x14 5x5/2 b64",
    shape: {
      ...vggShape(64, 14),
      batch: 64,
      outChannels: 128,
      kernelH: 5,
      kernelW: 5,
      strideH: 2,
      strideW: 2,
      padBottom: 2,
      padRight: 2,
    },
  });
  return out;
}

type Op = "forward" | "backward-data" | "backward-filter";

interface Row {
  op: Op;
  shape: string;
  threads: number;
  ms: number;
  gflops: number;
  cpu_ms: number;
  cpu_per_wall: number;
  tfjs_wasm_ms: number | null;
  ratio_vs_tfjs_wasm: number | null;
  tfjs_wasm_gflops: number | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Process CPU time (user + system, all threads) in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

interface Timing {
  ms: number;
  cpuMs: number;
  cpuPerWall: number;
}

/** Median wall time of RUNS calls after WARMUP, with mean CPU time per call. */
function timeCpu(fn: () => void): Timing {
  for (let i = 0; i < WARMUP; i++) fn();
  const ts: number[] = [];
  const c0 = cpuMs();
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  const cpu = (cpuMs() - c0) / RUNS;
  const wall = ts.reduce((a, b) => a + b, 0) / RUNS;
  return { ms: median(ts), cpuMs: cpu, cpuPerWall: cpu / wall };
}

function time(fn: () => void): number {
  return timeCpu(fn).ms;
}

function loadavg(): string {
  return Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
}

function vggShape(c: number, hw: number): Conv2dShape {
  return {
    batch: 1,
    inChannels: c,
    inHeight: hw,
    inWidth: hw,
    outChannels: c,
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
  };
}

function fill(engine: Engine, ptr: number, n: number, seed: number): void {
  const v = engine.f32(ptr, n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    v[i] = s / 4294967296 - 0.5;
  }
}

async function tfjsTimes(s: Conv2dShape): Promise<[number, number]> {
  const { outHeight: oh, outWidth: ow } = conv2dOutputSize(s);
  const n = s.batch, c = s.inChannels, k = s.outChannels;
  const x = tf.randomUniform([n, s.inHeight, s.inWidth, c]) as tf.Tensor4D;
  const w = tf.randomUniform([s.kernelH, s.kernelW, c, k]) as tf.Tensor4D;
  const dy = tf.randomUniform([n, oh, ow, k]) as tf.Tensor4D;
  const stride: [number, number] = [s.strideH, s.strideW];
  const fwd = time(() => {
    const y = tf.conv2d(x, w, stride, "same");
    y.dataSync();
    y.dispose();
  });
  const bwd = time(() => {
    const dx = tf.conv2dTranspose(
      dy,
      w,
      [n, s.inHeight, s.inWidth, c],
      stride,
      "same",
    );
    dx.dataSync();
    dx.dispose();
  });
  tf.dispose([x, w, dy]);
  await Promise.resolve();
  return [fwd, bwd];
}

/**
 * --algorithms: direct vs Winograd on the VGG shapes, interleaved call by
 * call (so both see the same machine load), per thread count: the smallest
 * CPU time per call of RUNS + 2 calls each, and GFLOP/s of that CPU time
 * (x threads: the rate per busy core).
 */
function compareAlgorithms(engine: Engine): void {
  const threadCounts = [...new Set([1, engine.threads])];
  console.log(
    `direct vs winograd (F(2x2)) vs winograd4 (F(4x4)), ${engine.variant}; min CPU ms per call; load average ${loadavg()}`,
  );
  for (const [c, hw] of VGG) {
    const g: ConvGeometry = {
      N: 1,
      C: c,
      H: hw,
      W: hw,
      K: c,
      R: 3,
      S: 3,
      OH: hw,
      OW: hw,
      sh: 1,
      sw: 1,
      pt: 1,
      pl: 1,
      dh: 1,
      dw: 1,
      G: 1,
    };
    const act = c * hw * hw, wsz = c * c * 9;
    const gflop = 2 * act * c * 9 / 1e9;
    const x = engine.allocF32(act), y = engine.allocF32(act);
    const dy = engine.allocF32(act), dx = engine.allocF32(act);
    const w = engine.allocF32(wsz), dw = engine.allocF32(wsz);
    fill(engine, x, act, 1);
    fill(engine, dy, act, 2);
    fill(engine, w, wsz, 3);
    const ops: [Op, (t: number, a: ConvAlgorithm) => void][] = [
      [
        "forward",
        (t, a) => runConvForward(engine, g, x, w, 0, y, { threads: t }, a),
      ],
      [
        "backward-data",
        (t, a) =>
          runConvBackwardData(engine, g, dy, w, 0, dx, { threads: t }, a),
      ],
      [
        "backward-filter",
        (t, a) =>
          runConvBackwardFilter(engine, g, x, dy, dw, 0, { threads: t }, a),
      ],
    ];
    for (const [op, fn] of ops) {
      for (const t of threadCounts) {
        // The filter gradient has no F(4x4) path ("winograd4" = "winograd").
        const algos: ConvAlgorithm[] = op === "backward-filter"
          ? ["direct", "winograd"]
          : ["direct", "winograd", "winograd4"];
        const best = new Map<ConvAlgorithm, number>(
          algos.map((a) => [a, Infinity]),
        );
        for (let i = 0; i < RUNS + 2; i++) {
          for (const a of algos) {
            const c0 = cpuMs();
            fn(t, a);
            best.set(a, Math.min(best.get(a)!, cpuMs() - c0));
          }
        }
        const rate = (ms: number) => (gflop / (ms / 1e3) * t).toFixed(1);
        const direct = best.get("direct")!;
        console.log(
          `${op.padEnd(16)} ${`${c}->${c}@${hw}x${hw}`.padEnd(17)} ${t}T` +
            algos.map((a) => {
              const ms = best.get(a)!;
              return `  ${a} ${ms.toFixed(1).padStart(6)} ms ${
                rate(ms).padStart(5)
              } GF/s x${(direct / ms).toFixed(2)}`;
            }).join(""),
        );
      }
    }
    for (const p of [x, y, dy, dx, w, dw]) engine.free(p);
  }
}

async function main(): Promise<void> {
  setWasmPaths(
    new URL(
      "../node_modules/@tensorflow/tfjs-backend-wasm/dist/",
      import.meta.url,
    ).href,
  );
  await tf.setBackend("wasm");
  await tf.ready();

  const dir = flags["wasm-dir"] ?? Deno.env.get("IMPASTO_WASM_DIR");
  const engine = await Engine.create({
    wasmBaseUrl: dir
      ? new URL(dir.endsWith("/") ? dir : dir + "/", `file://${Deno.cwd()}/`)
      : undefined,
  });
  if (flags.algorithms) {
    try {
      compareAlgorithms(engine);
    } finally {
      engine.dispose();
    }
    return;
  }
  const rows: Row[] = [];
  try {
    const threadCounts = [...new Set([1, engine.threads])];
    console.log(
      `engine ${engine.variant}, ${engine.threads} threads; tfjs-wasm ${tf.version_core} (SIMD, 1 thread); ${RUNS} run(s), median; load average ${loadavg()}`,
    );
    for (const { label, shape: s } of cases()) {
      const { outHeight: oh, outWidth: ow } = conv2dOutputSize(s);
      const act = s.batch * s.inChannels * s.inHeight * s.inWidth;
      const out = s.batch * s.outChannels * oh * ow;
      const wsz = s.outChannels * s.inChannels * s.kernelH * s.kernelW;
      const gflop = 2 * out * s.inChannels * s.kernelH * s.kernelW / 1e9;
      const x = engine.allocF32(act), dx = engine.allocF32(act);
      const y = engine.allocF32(out), dy = engine.allocF32(out);
      const w = engine.allocF32(wsz), dw = engine.allocF32(wsz);
      const b = engine.allocF32(s.outChannels);
      const db = engine.allocF32(s.outChannels);
      fill(engine, x, act, 1);
      fill(engine, dy, out, 2);
      fill(engine, w, wsz, 3);
      fill(engine, b, s.outChannels, 4);
      const [tfFwd, tfBwd] = await tfjsTimes(s);
      const ops: [Op, (threads: number) => void, number | null][] = [
        [
          "forward",
          (t) => conv2dForward(engine, s, x, w, b, y, { threads: t }),
          tfFwd,
        ],
        [
          "backward-data",
          (t) => conv2dBackwardData(engine, s, dy, w, dx, { threads: t }),
          tfBwd,
        ],
        [
          "backward-filter",
          (t) => conv2dBackwardFilter(engine, s, x, dy, dw, db, { threads: t }),
          null,
        ],
      ];
      for (const [op, fn, tfMs] of ops) {
        for (const threads of threadCounts) {
          const t = timeCpu(() => fn(threads));
          const ms = t.ms;
          rows.push({
            op,
            shape: label,
            threads,
            ms: +ms.toFixed(2),
            gflops: +(gflop / (ms / 1e3)).toFixed(2),
            cpu_ms: +t.cpuMs.toFixed(2),
            cpu_per_wall: +t.cpuPerWall.toFixed(2),
            tfjs_wasm_ms: tfMs === null ? null : +tfMs.toFixed(2),
            ratio_vs_tfjs_wasm: tfMs === null ? null : +(tfMs / ms).toFixed(2),
            tfjs_wasm_gflops: tfMs === null
              ? null
              : +(gflop / (tfMs / 1e3)).toFixed(2),
          });
        }
      }
      for (const p of [x, y, dy, dx, w, dw, b, db]) engine.free(p);
    }
  } finally {
    engine.dispose();
  }
  console.log(`load average after: ${loadavg()}`);
  console.log(
    "op               shape                    threads        ms   GFLOP/s    cpu ms  cpu/wall  tfjs-wasm ms  tfjs GFLOP/s  ratio",
  );
  for (const r of rows) {
    console.log(
      [
        r.op.padEnd(16),
        r.shape.padEnd(24),
        String(r.threads).padStart(7),
        r.ms.toFixed(1).padStart(9),
        r.gflops.toFixed(1).padStart(9),
        r.cpu_ms.toFixed(1).padStart(9),
        r.cpu_per_wall.toFixed(2).padStart(9),
        (r.tfjs_wasm_ms?.toFixed(1) ?? "-").padStart(13),
        (r.tfjs_wasm_gflops?.toFixed(1) ?? "-").padStart(13),
        (r.ratio_vs_tfjs_wasm?.toFixed(2) ?? "-").padStart(6),
      ].join(" "),
    );
  }
  if (flags.json) {
    await writeFile(flags.json, JSON.stringify(rows, null, 2) + "\n");
    console.log(`wrote ${flags.json}`);
  }
}

await main();
