// deno task bench:backends: the same workloads on the WebGPU and the wasm
// backends: 3×3 convolutions at VGG shapes (forward, input and filter
// gradients), a VGG19 style-transfer evaluation to relu5_1 (forward, loss,
// gradient to the image; models/style_bench.ts) at each --sizes, and a DCGAN
// training iteration (models/gan/trainer.ts). Prints a table; --json FILE
// writes every number.
import { parseArgs } from "node:util";
import { type Backend, setBackend } from "../runtime/backend.ts";
import { selectBackend } from "../runtime/backend_select.ts";
import type { WebGpuBackend } from "../runtime/backends/webgpu/backend.ts";
import { gemmTuning } from "../runtime/backends/webgpu/gemm.ts";
import { runKernel } from "../runtime/kernel_registry.ts";
import type { Conv2dAttrs } from "../runtime/kernel_names.ts";
import { Random } from "../runtime/random.ts";
import { tensor, tidy } from "../runtime/tensor.ts";
import { GatysProblem, STYLE_WORKLOADS } from "../models/style_bench.ts";
import { defaultGanConfig, GanTrainer } from "../models/gan/trainer.ts";
import { currentPlatform } from "../runtime/platform/mod.ts";

const HELP = `deno task bench:backends [options]
  --backends LIST    webgpu,wasm (default both; webgpu forced, software allowed)
  --workloads LIST   conv,style,gan (default all)
  --sizes LIST       style image sizes in px (default 512,1024)
  --wasm-sizes LIST  style sizes on wasm (default: --sizes)
  --conv-scale N     divide the VGG conv resolutions by N (default 1)
  --iterations N     timed iterations (default 5; wasm style: --wasm-iterations)
  --conv-iterations N  timed iterations per convolution (default 10×
                     --iterations, so one read's latency does not dominate)
  --wasm-iterations N  timed style iterations on wasm (default 2)
  --warmup N         untimed iterations first (default 1)
  --batch N          DCGAN batch (default 64)
  --threads N        wasm threads (default: all cores)
  --gemm-min-tiles N WebGPU GEMM: use a 128-wide tile only when it gives
                     at least N workgroups (default 264; 0: always,
                     1e9: never, i.e. 64×64 tiles everywhere)
  --json FILE        write the results as JSON`;

interface Result {
  backend: string;
  device: string;
  workload: string;
  ms: number;
  gflops?: number;
  iterations: number;
  error?: string;
}

function sync(b: Backend): void {
  if (b.name === "webgpu") (b as WebGpuBackend).sync();
}

function time(b: Backend, warmup: number, n: number, fn: () => void): number {
  for (let i = 0; i < warmup; i++) fn();
  sync(b);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  sync(b);
  return (performance.now() - t0) / n;
}

const VGG_CONVS: [number, number, number][] = [
  [3, 64, 224],
  [64, 64, 224],
  [128, 128, 112],
  [256, 256, 56],
  [512, 512, 28],
];

function attrs(): Conv2dAttrs {
  return {
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backends: { type: "string", default: "webgpu,wasm" },
      workloads: { type: "string", default: "conv,style,gan" },
      sizes: { type: "string", default: "512,1024" },
      "wasm-sizes": { type: "string" },
      "conv-scale": { type: "string", default: "1" },
      iterations: { type: "string", default: "5" },
      "conv-iterations": { type: "string" },
      "wasm-iterations": { type: "string", default: "2" },
      warmup: { type: "string", default: "1" },
      batch: { type: "string", default: "64" },
      threads: { type: "string" },
      json: { type: "string" },
      "gemm-min-tiles": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const list = (s: string) => s.split(",").filter(Boolean);
  const workloads = new Set(list(values.workloads!));
  const sizes = list(values.sizes!).map(Number);
  const wasmSizes = values["wasm-sizes"] !== undefined
    ? list(values["wasm-sizes"]).map(Number)
    : sizes;
  const iterations = Number(values.iterations);
  const convIterations = values["conv-iterations"] !== undefined
    ? Number(values["conv-iterations"])
    : 10 * iterations;
  const wasmIterations = Number(values["wasm-iterations"]);
  const warmup = Number(values.warmup);
  const convScale = Number(values["conv-scale"]);
  if (values["gemm-min-tiles"] !== undefined) {
    gemmTuning.minTiles = Number(values["gemm-min-tiles"]);
  }
  const platform = await currentPlatform();
  const threads = values.threads
    ? Number(values.threads)
    : platform.hardwareConcurrency();
  const results: Result[] = [];
  const record = (r: Result) => {
    results.push(r);
    console.log(
      `${r.backend.padEnd(7)} ${r.workload.padEnd(34)} ${
        r.error
          ? `not measured: ${r.error}`
          : `${r.ms.toFixed(2)} ms${
            r.gflops ? ` (${r.gflops.toFixed(0)} GFLOP/s)` : ""
          }`
      }`,
    );
  };

  for (const name of list(values.backends!)) {
    const sel = await selectBackend({
      backend: name as "webgpu" | "wasm",
      threads,
    });
    const b = sel.backend;
    setBackend(b);
    console.log(sel.summary);
    const device = sel.summary;
    const isWasm = b.name === "wasm";
    const run = (workload: string, n: number, fn: () => void, flop = 0) => {
      try {
        const ms = time(b, warmup, n, fn);
        record({
          backend: b.name,
          device,
          workload,
          ms,
          iterations: n,
          gflops: flop ? flop / ms / 1e6 : undefined,
        });
      } catch (e) {
        record({
          backend: b.name,
          device,
          workload,
          ms: NaN,
          iterations: 0,
          error: e instanceof Error ? e.message.split("\n")[0] : String(e),
        });
      }
    };

    if (workloads.has("conv")) {
      const rng = new Random(3);
      for (const [c, k, hw0] of VGG_CONVS) {
        const hw = Math.max(4, Math.round(hw0 / convScale));
        const fill = (n: number) => rng.fillUniform(new Float32Array(n), -1, 1);
        const x = tensor(fill(c * hw * hw), [1, c, hw, hw]);
        const w = tensor(fill(k * c * 9), [k, c, 3, 3]);
        const dy = tensor(fill(k * hw * hw), [1, k, hw, hw]);
        const flop = 2 * c * k * 9 * hw * hw;
        const label = `conv3x3 ${c}->${k} ${hw}px`;
        const a = attrs();
        run(`${label} forward`, convIterations, () =>
          tidy(() => {
            runKernel("Conv2D", x, w, null, a);
          }), flop);
        run(`${label} backprop input`, convIterations, () =>
          tidy(() => {
            runKernel("Conv2DBackpropInput", dy, w, x.shape, a);
          }), flop);
        run(`${label} backprop filter`, convIterations, () =>
          tidy(() => {
            runKernel("Conv2DBackpropFilter", x, dy, w.shape, false, a);
          }), flop);
        x.dispose();
        w.dispose();
        dy.dispose();
      }
    }

    if (workloads.has("style")) {
      for (const size of isWasm ? wasmSizes : sizes) {
        let problem: GatysProblem | null = null;
        try {
          problem = new GatysProblem(STYLE_WORKLOADS.relu5_1, size, size);
          const p = problem;
          run(
            `VGG19 style iteration relu5_1 ${size}px`,
            isWasm ? wasmIterations : iterations,
            () => void p.evaluate(),
          );
        } catch (e) {
          record({
            backend: b.name,
            device,
            workload: `VGG19 style iteration relu5_1 ${size}px`,
            ms: NaN,
            iterations: 0,
            error: e instanceof Error ? e.message.split("\n")[0] : String(e),
          });
        } finally {
          problem?.dispose();
        }
      }
    }

    if (workloads.has("gan")) {
      const batch = Number(values.batch);
      const rng = new Random(7);
      const count = Math.max(256, 2 * batch);
      const data = {
        images: rng.fillUniform(new Float32Array(count * 784), 0, 1),
        count,
        channels: 1,
        height: 28,
        width: 28,
        source: "synthetic",
      };
      let trainer: GanTrainer | null = null;
      try {
        trainer = new GanTrainer(
          { ...defaultGanConfig("dcgan"), batch },
          data,
        );
        trainer.gradientEvery = Number.MAX_SAFE_INTEGER;
        const t = trainer;
        run(`DCGAN training step batch ${batch}`, iterations, () => t.step());
      } catch (e) {
        record({
          backend: b.name,
          device,
          workload: `DCGAN training step batch ${batch}`,
          ms: NaN,
          iterations: 0,
          error: e instanceof Error ? e.message.split("\n")[0] : String(e),
        });
      } finally {
        trainer?.dispose();
      }
    }
    if (b.name === "webgpu") {
      const gb = b as WebGpuBackend;
      // One read's round trip on an idle GPU (nothing queued before it).
      gb.sync();
      const s0 = { ...gb.readStats };
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) gb.sync();
      const idle = (performance.now() - t0) / 10;
      gb.readStats.count = s0.count;
      gb.readStats.ms = s0.ms;
      record({
        backend: b.name,
        device,
        workload: "read round trip, idle GPU",
        ms: idle,
        iterations: 10,
      });
      const s = gb.readStats;
      console.log(`webgpu reads answered from piggybacked copies: ${s.cached}`);
      console.log(
        `webgpu reads: ${s.count}, mean blocking time ${
          (s.ms / Math.max(1, s.count)).toFixed(3)
        } ms (includes waiting for queued GPU work)`,
      );
      results.push({
        backend: "webgpu",
        device,
        workload: "mean read latency (incl. queued work)",
        ms: s.ms / Math.max(1, s.count),
        iterations: s.count,
      });
    }
    b.dispose();
  }

  if (values.json) {
    await platform.writeFileAtomic(
      values.json,
      new TextEncoder().encode(JSON.stringify({ results }, null, 2)),
    );
    console.log(`wrote ${values.json}`);
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(
      `bench:backends: ${e instanceof Error ? e.message : String(e)}`,
    );
    Deno.exit(1);
  }
}
