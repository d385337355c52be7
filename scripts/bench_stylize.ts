// deno task bench:stylize — time per style-transfer evaluation (what one
// L-BFGS step's closure costs: forward, loss, gradient to the image) and
// peak memory, ours next to tfjs-wasm on the same problem (same random
// weights, images and loss; models/style_bench.ts).
//
// Workloads: "relu5_1" (VGG19 to relu5_1, content relu4_2, style Grams on
// relu1_1..relu5_1: Gatys et al. 2016) and "conv3_1" (conv1_1..conv3_1,
// content relu2_2, style relu1_1..relu3_1: what the real weights cover).
// Ours: 1 warm-up evaluation (V8 runs a long first wasm call in its baseline
// tier; the first run at a size also grows memory), then the median of 5
// (3 when one takes over 5 s). tfjs-wasm 4.22 (single thread, SIMD): one
// warm-up at 64 px, then 2 runs at the size, the faster reported; sizes over
// 256 px only with --full (~14 s and ~60 s per evaluation at 256 and 512).
// Memory: the engine's peak live bytes during the timed runs (reset first),
// and the process's resident set (current and peak; the peak is reset per
// row where Linux allows). Memory-only rows (default 1024 px): ours, one
// cold evaluation with all threads.
// Each row records its CPU time / wall time, the cores other processes used
// meanwhile (Linux /proc/stat) and the load average; rows where others used
// more than a quarter of a core are flagged busy.
import process from "node:process";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { getBackend } from "../runtime/backend.ts";
import { initBackend } from "../runtime/mod.ts";
import { currentPlatform } from "../runtime/platform/mod.ts";
import {
  evaluationFlops,
  GatysProblem,
  registerTfjsGradients,
  STYLE_WORKLOADS,
  type StyleWorkloadName,
  TfjsGatysProblem,
} from "../models/style_bench.ts";
import { type CliSpec, parseCommandLine } from "./_cli.ts";

export const CLI: CliSpec = {
  name: "deno task bench:stylize",
  summary:
    "Time per style-transfer evaluation (VGG19 forward, Gatys loss, gradient to the image) and peak memory, ours vs tfjs-wasm.",
  flags: {
    json: {
      type: "string",
      valueName: "FILE",
      description: "Also write the rows as JSON",
    },
    quick: {
      type: "boolean",
      description: "Tiny sizes, one run each (a smoke test, not a benchmark)",
    },
    full: {
      type: "boolean",
      description: "Also run tfjs-wasm above 256 px (~60 s per run at 512)",
    },
    sizes: {
      type: "string",
      valueName: "LIST",
      description:
        "Image sizes, e.g. 256,512,256x172 (WxH; N = NxN). Default: 256,512 and, for conv3_1, also 256x172",
    },
    threads: {
      type: "string",
      valueName: "LIST",
      default: "1,all",
      description: "Thread counts for our side (all = every logical CPU)",
    },
    workloads: {
      type: "string",
      valueName: "LIST",
      default: "relu5_1,conv3_1",
      description: "Which workloads (relu5_1, conv3_1)",
    },
    "memory-sizes": {
      type: "string",
      valueName: "LIST",
      default: "1024",
      description:
        "Extra memory-only sizes (ours, one cold evaluation, all threads); empty for none",
    },
    runs: {
      type: "integer",
      min: 1,
      max: 100,
      description: "Timed runs per row of ours (default 5, 3 when slow)",
    },
    tfjs: {
      type: "boolean",
      default: true,
      description: "Run the tfjs-wasm side (--no-tfjs to skip)",
    },
    "wasm-dir": {
      type: "string",
      valueName: "DIR",
      description: "Engine build to use (default build/; or IMPASTO_WASM_DIR)",
    },
  },
  epilog: [
    "Examples:",
    "  deno task bench:stylize --json docs/bench_stylize.json",
    "  deno task bench:stylize --workloads conv3_1 --sizes 256x172 --threads 2",
  ].join("\n"),
};

export interface BenchOptions {
  workloads: StyleWorkloadName[];
  /** Sizes per workload as [width, height]. */
  sizes: Record<StyleWorkloadName, [number, number][]>;
  threads: number[];
  memorySizes: [number, number][];
  /** Timed runs of ours; undefined: 5, or 3 when one takes over 5 s. */
  runs?: number;
  warmups: number;
  tfjs: boolean;
  tfjsRuns: number;
  /** tfjs only up to this longest side. */
  tfjsMaxSide: number;
  tfjsWarmupSide: number;
  wasmBaseUrl?: URL;
  log: (line: string) => void;
}

/** One result row (--json writes an array of these). */
export interface BenchRow {
  workload: StyleWorkloadName;
  /** "WxH". */
  size: string;
  threads: number;
  ms_per_iteration: number | null;
  /** Engine peak live bytes during the row, MiB. */
  peak_mb: number | null;
  tfjs_wasm_ms_per_iteration: number | null;
  /** tfjs ms / our ms: > 1 means we are faster. */
  ratio_vs_tfjs_wasm: number | null;
  width: number;
  height: number;
  /** "time": warm-up + median of runs; "memory": one cold evaluation. */
  kind: "time" | "memory";
  runs: number;
  gflop_per_iteration: number;
  gflops: number | null;
  /** Process resident set after the row and its peak during it, MiB. */
  rss_mb: number | null;
  rss_peak_mb: number | null;
  /** Process CPU time / wall time over the timed runs. */
  cpu_per_wall: number | null;
  /** Cores used by other processes during the timed runs (Linux). */
  other_cores: number | null;
  loadavg_1m: number;
  /** Cores used by other processes during the tfjs runs of this size. */
  tfjs_other_cores: number | null;
  /** Others used over a quarter of a core during our or tfjs's runs. */
  busy: boolean;
  variant: string;
  error?: string;
}

const MIB = 1024 * 1024;
const round = (x: number, d = 1) => +x.toFixed(d);

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** "256" → [256, 256]; "256x172" → [256, 172] (width x height). */
export function parseSizes(text: string, flag: string): [number, number][] {
  if (text.trim() === "") return [];
  return text.split(",").map((part) => {
    const m = /^\s*(\d+)(?:x(\d+))?\s*$/.exec(part);
    const w = m ? Number(m[1]) : NaN, h = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || w < 16 || h < 16 || w > 4096 || h > 4096) {
      throw new RangeError(
        `--${flag}: "${part}" is not a size from 16 to 4096 (N or WxH)`,
      );
    }
    return [w, h];
  });
}

function variantOf(backend: ReturnType<typeof getBackend>): string {
  const engine = (backend as { engine?: { variant?: string } }).engine;
  return engine?.variant ?? backend.name;
}

const sizeLabel = ([w, h]: [number, number]) => `${w}x${h}`;

// Process and machine probes (Deno on Linux; others degrade to null).

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineJiffies(): { busy: number; total: number } | null {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Resets the kernel's peak-RSS counter (VmHWM); false where not allowed. */
function resetPeakRss(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

function peakRssMib(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(
      Deno.readTextFileSync("/proc/self/status"),
    );
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function loadavg1(): number {
  try {
    return Deno.loadavg()[0];
  } catch {
    return NaN;
  }
}

const HZ = 100; // USER_HZ: /proc/stat counts in 1/100 s on Linux.

interface Window {
  wallMs: number;
  cpuPerWall: number | null;
  otherCores: number | null;
}

/** Wall and CPU time of `fn`, and what other processes used meanwhile. */
function measured<T>(fn: () => T): [T, Window] {
  const j0 = machineJiffies(), c0 = cpuMs(), t0 = performance.now();
  const result = fn();
  const wallMs = performance.now() - t0, ownMs = cpuMs() - c0;
  const j1 = machineJiffies();
  let otherCores: number | null = null;
  if (j0 && j1 && wallMs > 50) {
    const machineMs = (j1.busy - j0.busy) * 1000 / HZ;
    otherCores = Math.max(0, (machineMs - ownMs) / wallMs);
  }
  return [result, {
    wallMs,
    cpuPerWall: wallMs > 0 ? ownMs / wallMs : null,
    otherCores,
  }];
}

function timeOurs(
  workload: StyleWorkloadName,
  size: [number, number],
  threads: number,
  kind: "time" | "memory",
  o: BenchOptions,
): BenchRow {
  const [width, height] = size;
  const spec = STYLE_WORKLOADS[workload];
  const flop = evaluationFlops(spec, height, width);
  const backend = getBackend();
  const row: BenchRow = {
    workload,
    size: sizeLabel(size),
    threads,
    ms_per_iteration: null,
    peak_mb: null,
    tfjs_wasm_ms_per_iteration: null,
    ratio_vs_tfjs_wasm: null,
    width,
    height,
    kind,
    runs: 0,
    gflop_per_iteration: round(flop / 1e9, 2),
    gflops: null,
    rss_mb: null,
    rss_peak_mb: null,
    cpu_per_wall: null,
    other_cores: null,
    loadavg_1m: round(loadavg1(), 2),
    tfjs_other_cores: null,
    busy: false,
    variant: variantOf(backend),
  };
  let problem: GatysProblem | null = null;
  try {
    problem = new GatysProblem(spec, height, width);
    const p = problem;
    if (kind === "time") { for (let i = 0; i < o.warmups; i++) p.evaluate(); }
    const peakResettable = resetPeakRss();
    backend.resetPeak();
    const times: number[] = [];
    const [, win] = measured(() => {
      const want = kind === "memory" ? 1 : o.runs;
      for (let i = 0; want === undefined || i < want; i++) {
        const t0 = performance.now();
        p.evaluate();
        times.push(performance.now() - t0);
        if (want === undefined && i + 1 >= (times[0] > 5000 ? 3 : 5)) break;
      }
    });
    const ms = median(times);
    row.runs = times.length;
    row.ms_per_iteration = round(ms);
    row.gflops = round(flop / 1e9 / (ms / 1e3), 1);
    row.peak_mb = round(backend.memory().peakBytes / MIB);
    row.rss_mb = round(Deno.memoryUsage().rss / MIB);
    const hwm = peakResettable ? peakRssMib() : null;
    row.rss_peak_mb = hwm === null ? null : round(hwm);
    row.cpu_per_wall = win.cpuPerWall === null
      ? null
      : round(win.cpuPerWall, 2);
    row.other_cores = win.otherCores === null ? null : round(win.otherCores, 2);
    row.busy = (win.otherCores ?? 0) > 0.25;
    row.loadavg_1m = round(Math.max(row.loadavg_1m, loadavg1()), 2);
  } catch (e) {
    row.error = (e as Error).message.split("\n")[0];
  } finally {
    problem?.dispose();
  }
  return row;
}

async function setUpTfjs(): Promise<string[]> {
  setWasmPaths(
    new URL(
      "../node_modules/@tensorflow/tfjs-backend-wasm/dist/",
      import.meta.url,
    ).href,
  );
  await tf.setBackend("wasm");
  await tf.ready();
  return registerTfjsGradients(tf);
}

/** Fastest of `runs` tfjs evaluations (after the caller's warm-up). */
function timeTfjs(
  workload: StyleWorkloadName,
  size: [number, number],
  runs: number,
): { ms: number; window: Window } {
  const ours = new GatysProblem(STYLE_WORKLOADS[workload], size[1], size[0]);
  const theirs = new TfjsGatysProblem(tf, ours);
  ours.dispose();
  try {
    const times: number[] = [];
    const [, window] = measured(() => {
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        theirs.evaluate();
        times.push(performance.now() - t0);
      }
    });
    return { ms: Math.min(...times), window };
  } finally {
    theirs.dispose();
  }
}

function formatRow(r: BenchRow): string {
  const f = (x: number | null, d = 0) => x === null ? "-" : x.toFixed(d);
  return [
    r.workload.padEnd(8),
    r.size.padEnd(10),
    String(r.threads).padStart(3),
    r.kind.padEnd(6),
    String(r.runs).padStart(4),
    f(r.ms_per_iteration).padStart(9),
    f(r.gflops, 1).padStart(7),
    f(r.peak_mb).padStart(8),
    f(r.rss_peak_mb ?? r.rss_mb).padStart(8),
    f(r.tfjs_wasm_ms_per_iteration).padStart(9),
    f(r.ratio_vs_tfjs_wasm, 1).padStart(6),
    f(r.cpu_per_wall, 2).padStart(8),
    f(r.other_cores, 2).padStart(6),
    r.loadavg_1m.toFixed(1).padStart(5),
    (r.error ? `error: ${r.error}` : r.busy ? "busy" : "").padEnd(0),
  ].join(" ");
}

export const TABLE_HEADER =
  "workload size       thr kind   runs  ms/iter GFLOP/s peak MiB  RSS MiB   tfjs ms ratio cpu/wall others load1";

/** Targets from /work/shared/notes/performance.md. */
function targetLines(rows: BenchRow[]): string[] {
  const lines: string[] = [];
  const timed = rows.filter((r) => r.kind === "time" && r.ms_per_iteration);
  const withTf = timed.filter((r) => r.ratio_vs_tfjs_wasm !== null);
  if (withTf.length) {
    const worst = Math.min(...withTf.map((r) => r.ratio_vs_tfjs_wasm!));
    lines.push(
      `vs tfjs-wasm (target >= 10x faster): worst ratio ${
        worst.toFixed(1)
      }x -> ${worst >= 10 ? "met" : "not met"}`,
    );
  }
  const best = (w: StyleWorkloadName, size: string) => {
    const c = timed.filter((r) => r.workload === w && r.size === size);
    return c.length ? Math.min(...c.map((r) => r.ms_per_iteration!)) : null;
  };
  for (
    const [w, size, torchMs] of [
      ["relu5_1", "256x256", 287],
      ["conv3_1", "256x172", 110],
    ] as const
  ) {
    const ms = best(w, size);
    if (ms === null) continue;
    lines.push(
      `vs PyTorch CPU ${w} @ ${size} (${torchMs} ms, 2 threads; target within 3x): ${
        ms.toFixed(0)
      } ms = ${(ms / torchMs).toFixed(1)}x -> ${
        ms <= 3 * torchMs ? "met" : "not met"
      }`,
    );
  }
  for (const r of rows.filter((r) => r.size === "512x512" && r.peak_mb)) {
    const bytes = r.peak_mb! * MIB;
    lines.push(
      `memory ${r.workload} @ 512 (target < 1.5 GB): engine peak ${
        (bytes / 1e9).toFixed(2)
      } GB, process RSS peak ${
        r.rss_peak_mb === null ? "?" : (r.rss_peak_mb * MIB / 1e9).toFixed(2)
      } GB -> ${bytes < 1.5e9 ? "met" : "not met"} (threads ${r.threads})`,
    );
  }
  return lines;
}

/** Runs the benchmark; returns the rows (ours, then tfjs filled in). */
export async function runBenchStylize(o: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  let tfNote = "tfjs-wasm skipped";
  if (o.tfjs) {
    const registered = await setUpTfjs();
    tfNote = `tfjs-wasm ${tf.version_core} (SIMD, 1 thread)` +
      (registered.length
        ? `; gradients registered from tfjs's own definitions: ${
          registered.join(", ")
        }`
        : "");
  }
  o.log(
    `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}); ${tfNote}; load average ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    } on ${navigator.hardwareConcurrency} logical CPUs`,
  );
  const maxThreads = Math.max(...o.threads);
  for (const threads of o.threads) {
    await initBackend({ threads, wasmBaseUrl: o.wasmBaseUrl });
    o.log(
      `engine ${variantOf(getBackend())}, ${getBackend().threads} thread(s)`,
    );
    for (const w of o.workloads) {
      for (const size of o.sizes[w]) {
        const r = timeOurs(w, size, getBackend().threads, "time", o);
        rows.push(r);
        o.log(formatRow(r));
      }
    }
    if (threads !== maxThreads) continue;
    for (const w of o.workloads) {
      for (const size of o.memorySizes) {
        const r = timeOurs(w, size, getBackend().threads, "memory", o);
        rows.push(r);
        o.log(formatRow(r));
      }
    }
  }
  getBackend().dispose();
  if (o.tfjs) {
    // The problems are set up on our engine (weights, images, then copied):
    // one thread, so that no idle workers sit beside tfjs.
    await initBackend({ threads: 1, wasmBaseUrl: o.wasmBaseUrl });
    const tfMs = new Map<string, { ms: number; window: Window }>();
    for (const w of o.workloads) {
      const side = o.tfjsWarmupSide;
      timeTfjs(w, [side, side], 1);
      for (const size of o.sizes[w]) {
        if (Math.max(...size) > o.tfjsMaxSide) continue;
        const t = timeTfjs(w, size, o.tfjsRuns);
        tfMs.set(`${w} ${sizeLabel(size)}`, t);
        o.log(
          `tfjs-wasm ${w} ${sizeLabel(size)}: ${
            t.ms.toFixed(0)
          } ms (best of ${o.tfjsRuns}; cpu/wall ${
            t.window.cpuPerWall?.toFixed(2) ?? "?"
          }, other processes ${t.window.otherCores?.toFixed(2) ?? "?"} cores)`,
        );
      }
    }
    getBackend().dispose();
    for (const r of rows) {
      const t = r.kind === "time"
        ? tfMs.get(`${r.workload} ${r.size}`)
        : undefined;
      if (!t) continue;
      const ms = t.ms;
      r.tfjs_wasm_ms_per_iteration = round(ms);
      r.tfjs_other_cores = t.window.otherCores === null
        ? null
        : round(t.window.otherCores, 2);
      r.busy ||= (t.window.otherCores ?? 0) > 0.25;
      if (r.ms_per_iteration) {
        r.ratio_vs_tfjs_wasm = round(ms / r.ms_per_iteration, 2);
      }
    }
  }
  return rows;
}

export function summary(rows: BenchRow[]): string[] {
  return [
    TABLE_HEADER,
    ...rows.map(formatRow),
    "",
    ...targetLines(rows),
  ];
}

if (import.meta.main) {
  const flags = parseCommandLine(CLI);
  const fail = (message: string): never => {
    console.error(`${CLI.name}: ${message}`);
    Deno.exit(2);
  };
  const quick = flags.quick as boolean;
  const cores = navigator.hardwareConcurrency;
  const threads = [
    ...new Set(
      (flags.threads as string).split(",").map((t) => {
        const n = t.trim() === "all" ? cores : Number(t);
        if (!Number.isInteger(n) || n < 1) {
          fail(`--threads: "${t}" is not a thread count or "all"`);
        }
        return n;
      }),
    ),
  ];
  const workloads = (flags.workloads as string).split(",").map((w) => {
    if (!(w in STYLE_WORKLOADS)) {
      fail(
        `--workloads: unknown workload "${w}" (use ${
          Object.keys(STYLE_WORKLOADS).join(", ")
        })`,
      );
    }
    return w as StyleWorkloadName;
  });
  let sizes: Record<StyleWorkloadName, [number, number][]>;
  let memorySizes: [number, number][];
  try {
    if (flags.sizes !== undefined) {
      const s = parseSizes(flags.sizes as string, "sizes");
      sizes = { relu5_1: s, conv3_1: s };
    } else if (quick) {
      sizes = { relu5_1: [[32, 32]], conv3_1: [[48, 32]] };
    } else {
      sizes = {
        relu5_1: [[256, 256], [512, 512]],
        conv3_1: [[256, 172], [256, 256], [512, 512]],
      };
    }
    memorySizes = quick
      ? [[64, 64]]
      : parseSizes(flags["memory-sizes"] as string, "memory-sizes");
  } catch (e) {
    fail((e as Error).message);
  }
  const dir = (flags["wasm-dir"] as string | undefined) ??
    Deno.env.get("IMPASTO_WASM_DIR");
  const rows = await runBenchStylize({
    workloads,
    sizes: sizes!,
    threads,
    memorySizes: memorySizes!,
    runs: quick ? 1 : flags.runs as number | undefined,
    warmups: 1,
    tfjs: flags.tfjs as boolean,
    tfjsRuns: quick ? 1 : 2,
    tfjsMaxSide: flags.full ? Infinity : 256,
    tfjsWarmupSide: quick ? 24 : 64,
    wasmBaseUrl: dir
      ? new URL(dir.endsWith("/") ? dir : dir + "/", `file://${Deno.cwd()}/`)
      : undefined,
    log: (l) => console.log(l),
  });
  console.log("");
  for (const line of summary(rows)) console.log(line);
  if (flags.json) {
    const path = flags.json as string;
    await (await currentPlatform()).writeFileAtomic(
      path,
      new TextEncoder().encode(JSON.stringify(rows, null, 2) + "\n"),
    );
    console.log(`wrote ${path}`);
  }
}
