// deno task bench:kernels — GFLOP/s of the conv2d kernels on VGG shapes
// (3x3, stride 1, pad 1, batch 1), forward, backward-data and
// backward-filter, with 1 thread and all threads, side by side with
// tfjs-wasm (@tensorflow/tfjs-backend-wasm, single-threaded SIMD, NHWC: its
// native layout). GFLOP/s counts 2 * MACs of the direct convolution for
// every pass. Warm-up, then the median of several runs.
// Flags: --json FILE (array of {op, shape, threads, ms, gflops,
// tfjs_wasm_ms, ratio_vs_tfjs_wasm}; ratio > 1 means we are faster),
// --quick (one timed run per case), --wasm-dir DIR (engine build to use,
// default build/; IMPASTO_WASM_DIR works too).
import { parseArgs } from "node:util";
import { writeFile } from "node:fs/promises";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { Engine } from "../runtime/engine/engine.ts";
import {
  conv2dBackwardData,
  conv2dBackwardFilter,
  conv2dForward,
  type Conv2dShape,
} from "../runtime/backends/wasm/conv2d.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "string" },
    quick: { type: "boolean", default: false },
    "wasm-dir": { type: "string" },
  },
});

const RUNS = flags.quick ? 1 : 5;
const WARMUP = flags.quick ? 1 : 2;

const VGG: [number, number][] = [[64, 256], [128, 128], [256, 64], [512, 32]];

type Op = "forward" | "backward-data" | "backward-filter";

interface Row {
  op: Op;
  shape: string;
  threads: number;
  ms: number;
  gflops: number;
  tfjs_wasm_ms: number | null;
  ratio_vs_tfjs_wasm: number | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function time(fn: () => void): number {
  for (let i = 0; i < WARMUP; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
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

async function tfjsTimes(c: number, hw: number): Promise<[number, number]> {
  const x = tf.randomUniform([1, hw, hw, c]) as tf.Tensor4D;
  const w = tf.randomUniform([3, 3, c, c]) as tf.Tensor4D;
  const dy = tf.randomUniform([1, hw, hw, c]) as tf.Tensor4D;
  const fwd = time(() => {
    const y = tf.conv2d(x, w, 1, "same");
    y.dataSync();
    y.dispose();
  });
  const bwd = time(() => {
    const dx = tf.conv2dTranspose(dy, w, [1, hw, hw, c], 1, "same");
    dx.dataSync();
    dx.dispose();
  });
  tf.dispose([x, w, dy]);
  await Promise.resolve();
  return [fwd, bwd];
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
  const rows: Row[] = [];
  try {
    const threadCounts = [...new Set([1, engine.threads])];
    console.log(
      `engine ${engine.variant}, ${engine.threads} threads; tfjs-wasm ${tf.version_core} (SIMD, 1 thread); ${RUNS} run(s), median`,
    );
    for (const [c, hw] of VGG) {
      const s = vggShape(c, hw);
      const label = `${c}->${c}@${hw}x${hw}`;
      const act = c * hw * hw, wsz = c * c * 9;
      const gflop = 2 * act * c * 9 / 1e9;
      const x = engine.allocF32(act), y = engine.allocF32(act);
      const dy = engine.allocF32(act), dx = engine.allocF32(act);
      const w = engine.allocF32(wsz), dw = engine.allocF32(wsz);
      const b = engine.allocF32(c), db = engine.allocF32(c);
      fill(engine, x, act, 1);
      fill(engine, dy, act, 2);
      fill(engine, w, wsz, 3);
      fill(engine, b, c, 4);
      const [tfFwd, tfBwd] = await tfjsTimes(c, hw);
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
          const ms = time(() => fn(threads));
          rows.push({
            op,
            shape: label,
            threads,
            ms: +ms.toFixed(2),
            gflops: +(gflop / (ms / 1e3)).toFixed(2),
            tfjs_wasm_ms: tfMs === null ? null : +tfMs.toFixed(2),
            ratio_vs_tfjs_wasm: tfMs === null ? null : +(tfMs / ms).toFixed(2),
          });
        }
      }
      for (const p of [x, y, dy, dx, w, dw, b, db]) engine.free(p);
    }
  } finally {
    engine.dispose();
  }
  console.log(
    "op               shape            threads        ms   GFLOP/s  tfjs-wasm ms  tfjs GFLOP/s  ratio",
  );
  for (const r of rows) {
    const gf = 2 * shapeMacs(r.shape) / 1e9;
    console.log(
      [
        r.op.padEnd(16),
        r.shape.padEnd(16),
        String(r.threads).padStart(7),
        r.ms.toFixed(1).padStart(9),
        r.gflops.toFixed(1).padStart(9),
        (r.tfjs_wasm_ms?.toFixed(1) ?? "-").padStart(13),
        (r.tfjs_wasm_ms ? (gf / (r.tfjs_wasm_ms / 1e3)).toFixed(1) : "-")
          .padStart(13),
        (r.ratio_vs_tfjs_wasm?.toFixed(2) ?? "-").padStart(6),
      ].join(" "),
    );
  }
  if (flags.json) {
    await writeFile(flags.json, JSON.stringify(rows, null, 2) + "\n");
    console.log(`wrote ${flags.json}`);
  }
}

function shapeMacs(label: string): number {
  const [c, hw] = label.split(/->|@|x/).filter((_, i) => i !== 1).map(Number);
  return c * c * 9 * hw * hw;
}

await main();
