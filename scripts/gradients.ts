// deno task gradients — vanishing and exploding gradients, measured.
//
// Trains a deep MLP (784 -> `layers` hidden layers of `width` -> 10) on a
// Fashion-MNIST subset with plain SGD, once with sigmoid units and a naive
// small-Gaussian init, once with ReLU units and He init (He et al. 2015),
// recording every layer's gradient L2 norm at every step
// (runtime/health.ts). Backpropagation multiplies the gradient by
// W^T diag(f'(z)) per layer; with sigmoid (f' <= 1/4) and small weights each
// factor shrinks it, so the first layers get gradients orders of magnitude
// smaller than the last (Glorot & Bengio 2010); He init keeps the factor near
// one for ReLU. With --clip it also trains ReLU with a too-large init and a
// high learning rate, with and without clipping by global norm (Pascanu et
// al. 2013): unclipped, gradients explode until the loss is NaN and the run
// stops (runtime/health.ts NonFiniteError); clipped, it trains.
//
// Writes OUT/gradients.png (per-layer gradient norm vs step, log scale, one
// panel per configuration, plus the losses) and OUT/gradients.csv (one row
// per configuration and step: loss, global norm, each layer's norm), and
// prints a summary table.
import { getBackend } from "../runtime/backend.ts";
import {
  fashionMnistBatch,
  type FashionMnistSplit,
  loadFashionMnist,
} from "../runtime/data/fashion_mnist.ts";
import { backward } from "../runtime/grad.ts";
import { GradientMonitor, NonFiniteError } from "../runtime/health.ts";
import { kaimingNormal, normal, zeros } from "../runtime/init.ts";
import {
  type PlotSpec,
  sequentialColor,
  writePlotPng,
} from "../runtime/io/png_plot.ts";
import { initBackend } from "../runtime/mod.ts";
import { Linear, Module, ReLU, Sigmoid } from "../runtime/nn/mod.ts";
import { softmaxCrossEntropy } from "../runtime/ops/loss.ts";
import { SGD } from "../runtime/optim/mod.ts";
import { Random } from "../runtime/random.ts";
import { runKernel } from "../runtime/kernel_registry.ts";
import { type Tensor, tensor, tidy } from "../runtime/tensor.ts";
import { currentPlatform } from "../runtime/platform/mod.ts";
import {
  BACKEND_FLAG,
  type CliSpec,
  logBackend,
  parseCommandLine,
  Progress,
} from "./_cli.ts";

/** One training configuration. */
export interface RunConfig {
  name: string;
  activation: "sigmoid" | "relu";
  /** Weight init: N(0, std²), or He (kaiming normal, fan_in, ReLU gain). */
  init: { kind: "normal"; std: number } | { kind: "he"; gain?: number };
  lr: number;
  /** Clip gradients to this global L2 norm before each step. */
  clipNorm?: number;
}

export interface RunResult {
  config: RunConfig;
  /** Loss per completed step. */
  losses: number[];
  /** Global gradient norm per completed step (before clipping). */
  gradNorms: number[];
  /** Layer name -> gradient norm per completed step. */
  layerNorms: Map<string, number[]>;
  /** Set when the run stopped early on a NaN/Inf. */
  stopped?: { step: number; message: string };
  /** Warnings from the gradient monitor. */
  warnings: string[];
}

export interface GradientsOptions {
  /** Output directory (created if missing). */
  out: string;
  steps: number;
  /** Hidden layers. */
  layers: number;
  /** Units per hidden layer. */
  width: number;
  batch: number;
  /** Training examples used (the first ones of the training split). */
  samples: number;
  seed: number;
  clip: boolean;
  /** Std of the naive Gaussian init of the sigmoid network. */
  naiveStd: number;
  /** Learning rate of the vanishing comparison. */
  lr: number;
  /** Fashion-MNIST directory (default: Debian's). */
  data?: string;
  /** Progress and summary output (default console.log; tests pass a no-op). */
  log?: (line: string) => void;
  /** Progress bars (default true). */
  progress?: boolean;
}

export const DEFAULTS: GradientsOptions = {
  out: "out/gradients",
  steps: 200,
  layers: 12,
  width: 64,
  batch: 64,
  samples: 4096,
  seed: 1,
  clip: false,
  naiveStd: 0.1,
  lr: 0.05,
};

/** The configurations a run compares. */
export function configurations(o: GradientsOptions): RunConfig[] {
  const runs: RunConfig[] = [
    {
      name: `sigmoid + N(0, ${o.naiveStd}^2)`,
      activation: "sigmoid",
      init: { kind: "normal", std: o.naiveStd },
      lr: o.lr,
    },
    { name: "relu + He", activation: "relu", init: { kind: "he" }, lr: o.lr },
  ];
  if (o.clip) {
    // 1.5 times He's std: each layer multiplies activations and gradients
    // by about 1.5, so 1.5^layers overall (130 for 12); with a high learning
    // rate the first SGD step overshoots and the loss runs away to NaN.
    const exploding = {
      activation: "relu" as const,
      init: { kind: "he" as const, gain: 1.5 },
      lr: 0.5,
    };
    runs.push({ name: "relu + 1.5x He, lr 0.5", ...exploding });
    runs.push({
      name: "relu + 1.5x He, lr 0.5, clip 1",
      ...exploding,
      clipNorm: 1,
    });
  }
  return runs;
}

/** fc1 .. fc(layers+1) with an activation after every hidden layer. */
export class DeepMlp extends Module {
  readonly fcs: Linear[] = [];
  readonly activation: Module;

  constructor(
    inputs: number,
    width: number,
    layers: number,
    classes: number,
    config: RunConfig,
    rng: Random,
  ) {
    super();
    for (let i = 0; i <= layers; i++) {
      const fc = new Linear(
        i === 0 ? inputs : width,
        i === layers ? classes : width,
        { rng },
      );
      const init = config.init;
      if (init.kind === "normal") normal(fc.weight, init.std, 0, { rng });
      else {
        kaimingNormal(fc.weight, { nonlinearity: "relu", rng });
        if (init.gain && init.gain !== 1) {
          runKernel("ScaleInPlace", fc.weight, init.gain);
        }
      }
      zeros(fc.bias!);
      this.fcs.push(this.addModule(`fc${i + 1}`, fc));
    }
    this.activation = this.addModule(
      "act",
      config.activation === "sigmoid" ? new Sigmoid() : new ReLU(),
    );
  }

  forward(x: Tensor): Tensor {
    let h = x;
    this.fcs.forEach((fc, i) => {
      const z = fc.forward(h);
      if (h !== x) h.dispose();
      if (i === this.fcs.length - 1) {
        h = z;
      } else {
        h = this.activation.forward(z);
        z.dispose();
      }
    });
    return h;
  }
}

/** Trains one configuration and records its gradient norms. */
export function train(
  config: RunConfig,
  data: FashionMnistSplit,
  o: GradientsOptions,
): RunResult {
  const log = o.log ?? console.log;
  const rng = new Random(o.seed);
  const model = new DeepMlp(
    data.rows * data.cols,
    o.width,
    o.layers,
    10,
    config,
    rng,
  );
  const params = model.namedParameters();
  const optimizer = new SGD(model.parameters(), {
    lr: config.lr,
    clipNorm: config.clipNorm,
  });
  const warnings: string[] = [];
  const monitor = new GradientMonitor({
    lowerBound: 1e-6,
    upperBound: 1e3,
    paramNorms: false,
    onWarning: (w) => warnings.push(w.message),
  });
  // A bar on a terminal; with a custom log (or a pipe), plain lines.
  const progress = o.progress === false ? null : new Progress(o.steps, {
    label: config.name.padEnd(30),
    everyPercent: 25,
    ...(o.log
      ? { terminal: false, write: (s) => log(s.replace(/\n$/, "")) }
      : {}),
  });
  let stopped: RunResult["stopped"];
  try {
    for (let step = 0; step < o.steps; step++) {
      const start = (step * o.batch) % data.count;
      const batch = fashionMnistBatch(data, start, o.batch);
      const loss = tidy(() => {
        const x = tensor(batch.x, [o.batch, data.rows * data.cols]);
        const l = softmaxCrossEntropy(model.forward(x), batch.y);
        const value = l.item();
        // A NaN loss stops before backward, which would spread it.
        if (Number.isFinite(value)) backward(l);
        return value;
      });
      monitor.observe(params, loss, step); // throws NonFiniteError
      optimizer.step();
      optimizer.zeroGrad();
      progress?.tick(1, `loss ${loss.toFixed(4)}`);
    }
  } catch (e) {
    if (!(e instanceof NonFiniteError)) throw e;
    stopped = { step: e.step ?? -1, message: e.message };
    log(`${config.name}: stopped: ${e.message}`);
  } finally {
    model.zeroGrad();
    optimizer.dispose();
    model.dispose();
  }
  return {
    config,
    losses: monitor.history.map((r) => r.loss),
    gradNorms: monitor.history.map((r) => r.gradNorm),
    layerNorms: monitor.series("gradNorm"),
    stopped,
    warnings,
  };
}

/** Median of the finite values (NaN if none). */
export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/**
 * First-layer / last-layer gradient norm ratio of a run, from the medians
 * over its steps: far below 1 means vanishing gradients.
 */
export function firstLastRatio(run: RunResult): number {
  const layers = [...run.layerNorms.keys()];
  const first = median(run.layerNorms.get(layers[0]) ?? []);
  const last = median(run.layerNorms.get(layers[layers.length - 1]) ?? []);
  return first / last;
}

function sci(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return v === 0 ? "0" : v.toExponential(2);
}

/** The table of median per-layer norms, one column per run. */
export function summaryTable(runs: RunResult[]): string {
  const names = runs.map((r) => r.config.name);
  const layers = [...runs[0].layerNorms.keys()];
  const colWidth = Math.max(12, ...names.map((n) => n.length)) + 2;
  const row = (label: string, cells: string[]) =>
    label.padEnd(12) + cells.map((c) => c.padStart(colWidth)).join("");
  const lines = [
    "Median gradient L2 norm per layer over the steps (fc1 = first layer):",
    row("layer", names),
  ];
  for (const layer of layers) {
    lines.push(
      row(layer, runs.map((r) => sci(median(r.layerNorms.get(layer) ?? [])))),
    );
  }
  lines.push(
    row(
      `${layers[0]}/${layers[layers.length - 1]}`,
      runs.map((r) => sci(firstLastRatio(r))),
    ),
  );
  const loss = (v: number | undefined) =>
    v === undefined ? "-" : Math.abs(v) < 1e4 ? v.toFixed(4) : sci(v);
  lines.push(row("loss first", runs.map((r) => loss(r.losses[0]))));
  lines.push(
    row("loss last", runs.map((r) => loss(r.losses[r.losses.length - 1]))),
  );
  lines.push(
    row(
      "steps",
      runs.map((r) =>
        r.stopped ? `${r.losses.length} (NaN)` : String(r.losses.length)
      ),
    ),
  );
  return lines.join("\n");
}

/** CSV: config, step, loss, global norm, then one column per layer. */
export function toCsv(runs: RunResult[]): string {
  const layers = [...runs[0].layerNorms.keys()];
  const lines = [["config", "step", "loss", "grad_norm", ...layers].join(",")];
  for (const r of runs) {
    r.losses.forEach((loss, step) => {
      lines.push([
        `"${r.config.name}"`,
        step,
        loss,
        r.gradNorms[step],
        ...layers.map((l) => r.layerNorms.get(l)?.[step] ?? ""),
      ].join(","));
    });
  }
  return lines.join("\n") + "\n";
}

/**
 * One panel per run plus a loss panel. The vanishing pair (the first two
 * runs) shares one log y range and the exploding pair another, so each pair
 * compares at a glance.
 */
export function figure(runs: RunResult[], steps: number): PlotSpec[] {
  const range = (group: RunResult[]) => {
    let lo = Infinity, hi = 0;
    for (const r of group) {
      for (const s of r.layerNorms.values()) {
        for (const v of s) {
          if (v > 0 && Number.isFinite(v)) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
          }
        }
      }
    }
    return { lo, hi };
  };
  const ranges = [range(runs.slice(0, 2)), range(runs.slice(2))];
  const panels: PlotSpec[] = runs.map((r, k) => {
    const layers = [...r.layerNorms.keys()];
    const { lo, hi } = ranges[k < 2 ? 0 : 1];
    return {
      title: r.config.name +
        (r.stopped ? ` (NaN at step ${r.stopped.step})` : ""),
      xLabel: "step",
      yLabel: "gradient L2 norm",
      logY: true,
      yMin: lo,
      yMax: hi,
      xMin: 0,
      xMax: steps - 1,
      series: layers.map((l, i) => ({
        name: l,
        y: r.layerNorms.get(l)!,
        color: sequentialColor(i / Math.max(1, layers.length - 1)),
      })),
    };
  });
  panels.push({
    title: "training loss",
    xLabel: "step",
    yLabel: "cross-entropy",
    logY: true,
    xMin: 0,
    xMax: steps - 1,
    // A diverging run's loss leaves the axis rather than flattening the rest.
    yMax: Math.min(
      1e4,
      Math.max(...runs.flatMap((r) => r.losses.filter(Number.isFinite))),
    ),
    series: runs.map((r) => ({ name: r.config.name, y: r.losses })),
  });
  return panels;
}

/** Runs every configuration and writes the plot and the table. */
export async function runGradients(
  options: Partial<GradientsOptions> = {},
): Promise<{ runs: RunResult[]; png: string; csv: string }> {
  const o = { ...DEFAULTS, ...options };
  const log = o.log ?? console.log;
  const data = await loadFashionMnist("train", {
    dir: o.data,
    limit: o.samples,
  });
  const runs: RunResult[] = [];
  for (const config of configurations(o)) runs.push(train(config, data, o));
  const platform = await currentPlatform();
  await (globalThis as { Deno?: typeof Deno }).Deno?.mkdir(o.out, {
    recursive: true,
  });
  const png = `${o.out}/gradients.png`;
  const csv = `${o.out}/gradients.csv`;
  await writePlotPng(png, figure(runs, o.steps), {
    width: 560,
    height: 400,
    columns: 3,
    title:
      `Gradient norms of a ${o.layers}-hidden-layer MLP (width ${o.width}) on Fashion-MNIST, SGD`,
  });
  await platform.writeFileAtomic(csv, new TextEncoder().encode(toCsv(runs)));
  log("");
  log(summaryTable(runs));
  for (const r of runs) {
    for (const w of r.warnings.slice(0, 3)) log(`${r.config.name}: ${w}`);
    if (r.warnings.length > 3) {
      log(`${r.config.name}: ... ${r.warnings.length - 3} more warnings`);
    }
  }
  log(`\nWrote ${png} and ${csv}`);
  return { runs, png, csv };
}

export const CLI: CliSpec = {
  name: "deno task gradients",
  summary:
    "Trains a deep MLP on Fashion-MNIST with sigmoid + naive init and with ReLU + He init, " +
    "records every layer's gradient norm per step, and writes gradients.png and gradients.csv " +
    "showing the vanishing gradient; --clip adds an exploding run with and without gradient clipping.",
  flags: {
    out: {
      type: "string",
      default: DEFAULTS.out,
      description: "Output directory",
      valueName: "DIR",
    },
    steps: {
      type: "integer",
      default: DEFAULTS.steps,
      min: 1,
      description: "SGD steps per configuration",
    },
    layers: {
      type: "integer",
      default: DEFAULTS.layers,
      min: 1,
      max: 100,
      description: "Hidden layers",
    },
    width: {
      type: "integer",
      default: DEFAULTS.width,
      min: 1,
      description: "Units per hidden layer",
    },
    batch: {
      type: "integer",
      default: DEFAULTS.batch,
      min: 1,
      description: "Batch size",
    },
    samples: {
      type: "integer",
      default: DEFAULTS.samples,
      min: 1,
      description: "Training examples used",
    },
    lr: {
      type: "number",
      default: DEFAULTS.lr,
      min: 0,
      description: "Learning rate (sigmoid and ReLU + He runs)",
    },
    "naive-std": {
      type: "number",
      default: DEFAULTS.naiveStd,
      min: 0,
      description: "Std of the sigmoid run's Gaussian init",
    },
    seed: {
      type: "integer",
      default: DEFAULTS.seed,
      description: "Seed of the weight init",
    },
    backend: BACKEND_FLAG,
    threads: {
      type: "integer",
      min: 1,
      description: "Compute threads (default: all cores)",
    },
    clip: {
      type: "boolean",
      description:
        "Also run an exploding configuration with and without clipping",
    },
    data: {
      type: "string",
      description:
        "Fashion-MNIST directory (default: Debian's dataset-fashion-mnist)",
      valueName: "DIR",
    },
  },
  epilog: "Example: deno task gradients --steps 100 --clip --out out/grad",
};

if (import.meta.main) {
  const flags = parseCommandLine(CLI);
  await initBackend({
    backend: flags.backend as "auto" | "webgpu" | "wasm",
    log: logBackend,
    threads: flags.threads as number | undefined,
  });
  try {
    await runGradients({
      out: flags.out as string,
      steps: flags.steps as number,
      layers: flags.layers as number,
      width: flags.width as number,
      batch: flags.batch as number,
      samples: flags.samples as number,
      lr: flags.lr as number,
      naiveStd: flags["naive-std"] as number,
      seed: flags.seed as number,
      clip: flags.clip as boolean ?? false,
      data: flags.data as string | undefined,
    });
  } catch (e) {
    console.error(`gradients: ${(e as Error).message}`);
    Deno.exitCode = 1;
  } finally {
    getBackend().dispose();
  }
}
