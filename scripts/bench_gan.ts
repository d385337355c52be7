// deno task bench:gan — milliseconds per DCGAN training iteration (one
// discriminator step and one generator step, Adam, batch 64 by default) on
// one thread and on all cores, after warm-up iterations; synthetic data so
// nothing is read. Records the process CPU time / wall time so a busy
// machine shows. --json FILE writes [{model, batch, threads, ms_per_iteration}].
import { getBackend } from "../runtime/backend.ts";
import { initBackend } from "../runtime/mod.ts";
import { currentPlatform } from "../runtime/platform/mod.ts";
import { Random } from "../runtime/random.ts";
import { defaultGanConfig, GanTrainer } from "../models/gan/trainer.ts";
import type { GanModelKind } from "../models/gan/networks.ts";
import { type CliSpec, parseCommandLine } from "./_cli.ts";

export const CLI: CliSpec = {
  name: "deno task bench:gan",
  summary:
    "Time per GAN training iteration (one D step + one G step) with 1 thread and all cores.",
  flags: {
    model: {
      type: "string",
      choices: ["dcgan", "mlp"],
      default: "dcgan",
      description: "Network pair",
    },
    batch: { type: "integer", default: 64, min: 2, description: "Batch size" },
    iterations: {
      type: "integer",
      default: 10,
      min: 1,
      description: "Timed iterations per thread count",
    },
    warmup: {
      type: "integer",
      default: 3,
      min: 0,
      description: "Untimed iterations first",
    },
    threads: {
      type: "string",
      description: "Comma-separated thread counts (default: 1 and all cores)",
    },
    json: {
      type: "string",
      description: "Write the results as JSON",
      valueName: "FILE",
    },
  },
};

export interface GanBenchResult {
  model: string;
  batch: number;
  threads: number;
  ms_per_iteration: number;
  /** Median of the timed iterations. */
  median_ms: number;
  /** Process CPU seconds / wall seconds (≈ threads when the machine is idle). */
  cpu_per_wall: number;
}

function cpuSeconds(): number {
  const u = (globalThis as {
    process?: { cpuUsage(): { user: number; system: number } };
  }).process?.cpuUsage();
  return u ? (u.user + u.system) / 1e6 : NaN;
}

/** Times `iterations` training iterations with `threads` threads. */
export async function benchGan(o: {
  model: GanModelKind;
  batch: number;
  threads: number;
  iterations: number;
  warmup: number;
}): Promise<GanBenchResult> {
  await initBackend({ threads: o.threads });
  const rng = new Random(7);
  const count = Math.max(256, 2 * o.batch);
  const data = {
    images: rng.fillUniform(new Float32Array(count * 784), 0, 1),
    count,
    channels: 1,
    height: 28,
    width: 28,
    source: "synthetic",
  };
  const trainer = new GanTrainer(
    { ...defaultGanConfig(o.model), batch: o.batch },
    data,
  );
  trainer.gradientEvery = Number.MAX_SAFE_INTEGER; // time the step alone
  try {
    for (let i = 0; i < o.warmup; i++) trainer.step();
    const times: number[] = [];
    const cpu0 = cpuSeconds(), wall0 = performance.now();
    for (let i = 0; i < o.iterations; i++) {
      const t0 = performance.now();
      trainer.step();
      times.push(performance.now() - t0);
    }
    const wall = (performance.now() - wall0) / 1000;
    const cpu = cpuSeconds() - cpu0;
    times.sort((a, b) => a - b);
    return {
      model: o.model,
      batch: o.batch,
      threads: o.threads,
      ms_per_iteration: (wall * 1000) / o.iterations,
      median_ms: times[times.length >> 1],
      cpu_per_wall: cpu / wall,
    };
  } finally {
    trainer.dispose();
    getBackend().dispose();
  }
}

if (import.meta.main) {
  const flags = parseCommandLine(CLI);
  const platform = await currentPlatform();
  const cores = platform.hardwareConcurrency();
  const threadList = flags.threads
    ? String(flags.threads).split(",").map(Number)
    : [...new Set([1, cores])];
  const results: GanBenchResult[] = [];
  try {
    for (const threads of threadList) {
      const r = await benchGan({
        model: flags.model as GanModelKind,
        batch: flags.batch as number,
        threads,
        iterations: flags.iterations as number,
        warmup: flags.warmup as number,
      });
      results.push(r);
      console.log(
        `${r.model} batch ${r.batch} threads ${r.threads}: ${
          r.ms_per_iteration.toFixed(1)
        } ms/iteration (median ${r.median_ms.toFixed(1)}), CPU/wall ${
          r.cpu_per_wall.toFixed(2)
        }`,
      );
    }
    console.log("PyTorch CPU reference (2 threads): ~70 ms per iteration");
    if (flags.json) {
      await platform.writeFileAtomic(
        flags.json as string,
        new TextEncoder().encode(JSON.stringify(results, null, 2) + "\n"),
      );
      console.log(`Wrote ${flags.json}`);
    }
  } catch (e) {
    console.error(`bench:gan: ${(e as Error).message.split("\n")[0]}`);
    Deno.exitCode = 1;
  }
}
