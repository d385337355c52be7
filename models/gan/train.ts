// The GAN training loop as a library (deno task train-gan is a thin wrapper):
// data loading, iterations with a callback per iteration, sample grids from
// a fixed noise batch, atomic checkpoints (both networks and optimisers),
// --resume, loss / D-output / per-layer gradient-norm curves as CSV, JSON
// and a PNG plot, and the quality measure (./quality.ts) at intervals on
// MNIST. A NaN loss stops the run with NonFiniteError before anything NaN
// is written.
// Needs a file system (Deno) for its outputs.
import { encodeImage } from "../../runtime/io/image.ts";
import { type PlotSpec, writePlotPng } from "../../runtime/io/png_plot.ts";
import { loadFashionMnist } from "../../runtime/data/fashion_mnist.ts";
import { loadImageFolder } from "../../runtime/data/image_folder.ts";
import {
  type ImageDataset,
  loadMnist,
  splitMnist,
  subset,
} from "../../runtime/data/mnist.ts";
import { currentPlatform } from "../../runtime/platform/mod.ts";
import { Random } from "../../runtime/random.ts";
import type { DigitClassifier } from "../digit_classifier.ts";
import {
  type FeatureReference,
  featureReference,
  frechetDistanceOf,
  measureQuality,
  type SampleQuality,
} from "./quality.ts";
import { imageGrid } from "./sampling.ts";
import {
  type GanConfig,
  type GanHistory,
  GanTrainer,
  type IterationRecord,
  readGanCheckpointInfo,
  resolveGanConfig,
} from "./trainer.ts";

/** Loads `mnist`, `fashion-mnist` or a directory of images. */
export async function loadGanData(spec: string): Promise<ImageDataset> {
  if (spec === "mnist") return await loadMnist();
  if (spec === "fashion-mnist") {
    const split = await loadFashionMnist("train");
    const images = new Float32Array(split.images.length);
    for (let i = 0; i < images.length; i++) images[i] = split.images[i] / 255;
    return {
      images,
      labels: split.labels,
      count: split.count,
      channels: 1,
      height: split.rows,
      width: split.cols,
      source: "fashion-mnist",
    };
  }
  return await loadImageFolder(spec);
}

/**
 * Quality of generated digits at intervals: n samples from a fixed noise
 * set, against the classifier features of the 999 held-out real digits.
 */
export class QualityProbe {
  readonly reference: FeatureReference;
  /** Fréchet distance of n real training digits to the reference (the floor). */
  readonly realBaseline: number;
  readonly #noise: Float32Array;

  constructor(
    readonly classifier: DigitClassifier,
    mnist: ImageDataset,
    latent: number,
    readonly n = 1000,
    seed = 12345,
  ) {
    const { train, test } = splitMnist(mnist);
    this.reference = featureReference(classifier, test.images);
    const rng = new Random(seed);
    const pick = rng.permutation(train.count).slice(0, n);
    const real = subset(train, pick);
    const realFeatures = classifier.describe(real.images).features;
    const refFeatures = classifier.describe(test.images).features;
    this.realBaseline = frechetDistanceOf(
      realFeatures,
      refFeatures,
      this.reference.dims,
    );
    this.#noise = rng.fillNormal(new Float32Array(n * latent), 0, 1);
  }

  measure(trainer: GanTrainer): SampleQuality {
    return measureQuality(
      this.classifier,
      trainer.generateUnit(this.#noise),
      this.reference,
    );
  }
}

export interface TrainGanOptions {
  /** Overrides of the model's defaults (defaultGanConfig). */
  config?: Partial<GanConfig> & { model?: GanConfig["model"] };
  /** "mnist", "fashion-mnist" or a directory of images. */
  data?: string;
  /** A dataset already loaded (tests); `data` then only names it. */
  dataset?: ImageDataset;
  /** Total iterations (a resumed run continues up to this). */
  iterations?: number;
  /** Or epochs over the data (k·batch real samples per iteration). */
  epochs?: number;
  /** Stop (and checkpoint) after this many seconds of this process. */
  maxSeconds?: number;
  /** Output directory. */
  out: string;
  /** Continue from OUT/checkpoint.safetensors. */
  resume?: boolean;
  /** Sample grid and checkpoint every N iterations (0: only at the end). */
  sampleEvery?: number;
  /** Quality measure every N iterations (needs `classifier`; 0: end only). */
  evalEvery?: number;
  /** Samples per quality measurement. */
  evalSamples?: number;
  /** The digit classifier (MNIST runs): enables the quality measure. */
  classifier?: DigitClassifier;
  /** Called after every iteration. */
  onIteration?: (record: IterationRecord, trainer: GanTrainer) => void;
  /** Messages (default console.log). */
  log?: (line: string) => void;
}

export interface TrainGanResult {
  trainer: GanTrainer;
  history: GanHistory;
  /** Latest quality measurement, if measured. */
  quality?: SampleQuality;
  /** Real-vs-real Fréchet distance at the same n. */
  realBaseline?: number;
  checkpoint: string;
  /** Files written. */
  files: string[];
  stoppedEarly: boolean;
}

export const CHECKPOINT_FILE = "checkpoint.safetensors";

async function mkdirp(dir: string): Promise<void> {
  await (globalThis as {
    Deno?: { mkdir(p: string, o: { recursive: boolean }): Promise<void> };
  }).Deno?.mkdir(dir, { recursive: true });
}

async function readIfExists(path: string): Promise<Uint8Array | null> {
  try {
    return await (await currentPlatform()).readFile(path);
  } catch (e) {
    if (
      (e as Error).name === "NotFound" ||
      (e as { code?: string }).code === "ENOENT"
    ) return null;
    throw e;
  }
}

/**
 * Trains (or resumes) a GAN and writes its outputs into `out`. The caller
 * disposes `result.trainer`.
 */
export async function trainGan(o: TrainGanOptions): Promise<TrainGanResult> {
  const log = o.log ?? console.log;
  const dataName = o.data ?? o.dataset?.source ?? "mnist";
  const data = o.dataset ?? await loadGanData(dataName);
  await mkdirp(o.out);
  const checkpoint = `${o.out}/${CHECKPOINT_FILE}`;
  const platform = await currentPlatform();

  let trainer: GanTrainer;
  if (o.resume) {
    const bytes = await readIfExists(checkpoint);
    if (!bytes) {
      throw new Error(
        `--resume: no ${checkpoint}; train without --resume first, or give the --out of an earlier run`,
      );
    }
    const info = readGanCheckpointInfo(bytes, checkpoint);
    if (o.config?.model && o.config.model !== info.config.model) {
      throw new Error(
        `${checkpoint} holds a ${info.config.model} GAN, not ${o.config.model}; resume with --model ${info.config.model} or use another --out`,
      );
    }
    trainer = new GanTrainer(info.config, data);
    try {
      trainer.restore(bytes, checkpoint);
    } catch (e) {
      trainer.dispose();
      throw e;
    }
    log(`Resumed ${checkpoint} at iteration ${trainer.iteration}`);
  } else {
    trainer = new GanTrainer(resolveGanConfig(o.config), data);
  }

  const c = trainer.config;
  // --minutes alone runs until the time is up.
  const total = o.iterations ??
    (o.epochs === undefined && o.maxSeconds !== undefined
      ? Infinity
      : Math.ceil(((o.epochs ?? 1) * data.count) / (c.k * c.batch)));
  const sampleEvery = o.sampleEvery ?? 0;
  const evalEvery = o.evalEvery ?? 0;
  const files = new Set<string>();
  const probe = o.classifier && data.channels === 1 && data.height === 28 &&
      data.width === 28 && dataName === "mnist"
    ? new QualityProbe(o.classifier, data, c.latent, o.evalSamples ?? 1000)
    : undefined;
  if (probe) {
    log(
      `Quality probe: ${probe.n} samples; real-vs-real Fréchet distance at n=${probe.n}: ${
        probe.realBaseline.toFixed(3)
      }`,
    );
  }
  const fixed = trainer.fixedNoise(64);
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  let quality: SampleQuality | undefined;

  const measure = () => {
    if (!probe) return;
    const t0 = performance.now();
    quality = probe.measure(trainer);
    trainer.history.quality.push({
      iteration: trainer.iteration,
      confident: quality.confident,
      entropy: quality.entropy,
      frechet: quality.frechet,
      seconds: trainer.secondsBefore + elapsed(),
    });
    log(
      `iteration ${trainer.iteration}: ${
        (100 * quality.confident).toFixed(1)
      }% confident, class entropy ${quality.entropy.toFixed(3)} nats, Fréchet ${
        quality.frechet.toFixed(3)
      } (real ${probe.realBaseline.toFixed(3)}) [${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s]`,
    );
  };

  const writeSamples = async (name: string) => {
    const grid = imageGrid(trainer.generateUnit(fixed), trainer.shape, 8);
    const path = `${o.out}/${name}`;
    await platform.writeFileAtomic(path, encodeImage(grid));
    files.add(path);
  };

  const writeState = async () => {
    await platform.writeFileAtomic(
      checkpoint,
      trainer.encodeCheckpoint(dataName, trainer.secondsBefore + elapsed()),
    );
    files.add(checkpoint);
    for (const path of await writeHistory(trainer.history, o.out)) {
      files.add(path);
    }
  };

  if (probe && trainer.iteration === 0 && evalEvery > 0) measure();
  let stoppedEarly = false;
  while (trainer.iteration < total) {
    const record = trainer.step(); // NonFiniteError on NaN: nothing written
    o.onIteration?.(record, trainer);
    const it = trainer.iteration;
    if (evalEvery > 0 && it % evalEvery === 0 && it < total) measure();
    if (sampleEvery > 0 && it % sampleEvery === 0 && it < total) {
      await writeSamples(`samples_${String(it).padStart(6, "0")}.png`);
      await writeState();
    }
    if (o.maxSeconds !== undefined && elapsed() >= o.maxSeconds) {
      stoppedEarly = trainer.iteration < total;
      if (stoppedEarly) {
        log(`Time limit of ${o.maxSeconds} s reached at iteration ${it}`);
      }
      break;
    }
  }
  measure();
  await writeSamples("samples.png");
  await writeState();
  return {
    trainer,
    history: trainer.history,
    quality,
    realBaseline: probe?.realBaseline,
    checkpoint,
    files: [...files],
    stoppedEarly,
  };
}

function csv(rows: (string | number)[][]): Uint8Array {
  return new TextEncoder().encode(
    rows.map((r) => r.join(",")).join("\n") + "\n",
  );
}

/** Writes losses.csv, gradients.csv, quality.csv, history.json, training.png. */
export async function writeHistory(
  history: GanHistory,
  out: string,
  title = "GAN training",
): Promise<string[]> {
  const platform = await currentPlatform();
  const files: string[] = [];
  const write = async (name: string, bytes: Uint8Array) => {
    await platform.writeFileAtomic(`${out}/${name}`, bytes);
    files.push(`${out}/${name}`);
  };
  await write(
    "losses.csv",
    csv([
      ["iteration", "d_loss", "g_loss", "d_real", "d_fake"],
      ...history.iterations.map((r) => [
        r.iteration,
        r.dLoss,
        r.gLoss,
        r.dReal,
        r.dFake,
      ]),
    ]),
  );
  const gLayers = Object.keys(history.gradients[0]?.generator ?? {});
  const dLayers = Object.keys(history.gradients[0]?.discriminator ?? {});
  await write(
    "gradients.csv",
    csv([
      [
        "iteration",
        ...gLayers.map((l) => `G.${l}`),
        ...dLayers.map((l) => `D.${l}`),
      ],
      ...history.gradients.map((r) => [
        r.iteration,
        ...gLayers.map((l) => r.generator[l] ?? ""),
        ...dLayers.map((l) => r.discriminator[l] ?? ""),
      ]),
    ]),
  );
  if (history.quality.length) {
    await write(
      "quality.csv",
      csv([
        ["iteration", "seconds", "confident", "entropy", "frechet"],
        ...history.quality.map((q) => [
          q.iteration,
          q.seconds.toFixed(1),
          q.confident,
          q.entropy,
          q.frechet,
        ]),
      ]),
    );
  }
  await write(
    "history.json",
    new TextEncoder().encode(JSON.stringify(history)),
  );
  await writePlotPng(`${out}/training.png`, trainingFigure(history), {
    width: 520,
    height: 340,
    columns: 3,
    title,
  });
  files.push(`${out}/training.png`);
  return files;
}

/** Moving average over `w` points (the raw losses are noisy). */
function smooth(y: readonly number[], w: number): number[] {
  const out: number[] = [];
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    s += y[i];
    if (i >= w) s -= y[i - w];
    out.push(s / Math.min(i + 1, w));
  }
  return out;
}

function gradientPanel(
  history: GanHistory,
  net: "generator" | "discriminator",
  title: string,
  range?: { lo: number; hi: number },
): PlotSpec {
  const layers = Object.keys(history.gradients[0]?.[net] ?? {});
  const x = history.gradients.map((r) => r.iteration);
  return {
    title,
    xLabel: "iteration",
    yLabel: "gradient L2 norm",
    logY: true,
    yMin: range?.lo,
    yMax: range?.hi,
    series: layers.map((l) => ({
      name: l,
      x,
      y: history.gradients.map((r) => r[net][l] ?? NaN),
    })),
  };
}

/** Losses, D outputs, both networks' gradient norms, quality if measured. */
export function trainingFigure(history: GanHistory): PlotSpec[] {
  const it = history.iterations;
  const x = it.map((r) => r.iteration);
  const w = Math.max(1, Math.round(it.length / 100));
  const panels: PlotSpec[] = [
    {
      title: `losses (moving average of ${w})`,
      xLabel: "iteration",
      yLabel: "loss",
      series: [
        { name: "L_D", x, y: smooth(it.map((r) => r.dLoss), w) },
        { name: "L_G", x, y: smooth(it.map((r) => r.gLoss), w) },
      ],
    },
    {
      title: "discriminator outputs",
      xLabel: "iteration",
      yLabel: "mean probability",
      yMin: 0,
      yMax: 1,
      series: [
        { name: "D(x)", x, y: smooth(it.map((r) => r.dReal), w) },
        { name: "D(G(z))", x, y: smooth(it.map((r) => r.dFake), w) },
      ],
    },
    gradientPanel(history, "generator", "generator gradient norms"),
    gradientPanel(history, "discriminator", "discriminator gradient norms"),
  ];
  if (history.quality.length) {
    const q = history.quality;
    const qx = q.map((r) => r.iteration);
    panels.push({
      title: "Frechet distance (classifier features)",
      xLabel: "iteration",
      yLabel: "distance",
      logY: true,
      series: [{ name: "Frechet", x: qx, y: q.map((r) => r.frechet) }],
    });
    panels.push({
      title: "sample quality",
      xLabel: "iteration",
      yLabel: "fraction / nats",
      yMin: 0,
      yMax: 2.4,
      series: [
        { name: "confident >= 0.9", x: qx, y: q.map((r) => r.confident) },
        { name: "class entropy", x: qx, y: q.map((r) => r.entropy) },
      ],
    });
  }
  return panels;
}

/**
 * The vanishing generator gradient of the minimax loss, side by side with
 * the non-saturating loss: G's per-layer gradient norms (shared log axis)
 * and D(G(z)) for two runs that differ only in the generator loss.
 */
export function lossComparisonFigure(
  runs: { name: string; history: GanHistory }[],
): PlotSpec[] {
  let lo = Infinity, hi = 0;
  for (const r of runs) {
    for (const g of r.history.gradients) {
      for (const v of Object.values(g.generator)) {
        if (v > 0 && Number.isFinite(v)) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
  }
  const panels = runs.map((r) =>
    gradientPanel(r.history, "generator", `G gradient norms: ${r.name}`, {
      lo,
      hi,
    })
  );
  panels.push({
    title: "D(G(z)) (moving average of 10)",
    xLabel: "iteration",
    yLabel: "mean probability",
    yMin: 0,
    yMax: 1,
    series: runs.map((r) => ({
      name: r.name,
      x: r.history.iterations.map((i) => i.iteration),
      y: smooth(r.history.iterations.map((i) => i.dFake), 10),
    })),
  });
  return panels;
}

/**
 * Runs `iterations` of both generator losses from the same seed and writes
 * OUT/loss_comparison.png and .csv (G's gradient norms per layer).
 */
export async function compareGeneratorLosses(o: {
  out: string;
  data: ImageDataset;
  config?: Partial<GanConfig>;
  iterations: number;
  log?: (line: string) => void;
}): Promise<{ png: string; runs: { name: string; history: GanHistory }[] }> {
  const log = o.log ?? console.log;
  const model = o.config?.model ?? "dcgan";
  const runs: { name: string; history: GanHistory }[] = [];
  for (const loss of ["minimax", "non-saturating"] as const) {
    const t = new GanTrainer(
      resolveGanConfig({ ...o.config, generatorLoss: loss }),
      o.data,
    );
    t.gradientEvery = 1;
    try {
      for (let i = 0; i < o.iterations; i++) t.step();
    } finally {
      t.dispose();
    }
    const last = t.history.gradients.at(-1)!.generator;
    log(
      `${loss}: G gradient norms at iteration ${o.iterations - 1}: ${
        Object.entries(last).map(([k, v]) => `${k} ${v.toExponential(2)}`)
          .join(", ")
      }`,
    );
    runs.push({ name: loss, history: t.history });
  }
  await mkdirp(o.out);
  const png = `${o.out}/loss_comparison.png`;
  await writePlotPng(png, lossComparisonFigure(runs), {
    width: 520,
    height: 340,
    columns: 3,
    title:
      `Generator gradient: minimax log(1 - D(G(z))) vs non-saturating -log D(G(z)) (${model})`,
  });
  const layers = Object.keys(runs[0].history.gradients[0].generator);
  const rows: (string | number)[][] = [[
    "loss",
    "iteration",
    "d_fake",
    ...layers,
  ]];
  for (const r of runs) {
    r.history.gradients.forEach((g, i) => {
      rows.push([
        r.name,
        g.iteration,
        r.history.iterations[i].dFake,
        ...layers.map((l) => g.generator[l]),
      ]);
    });
  }
  await (await currentPlatform()).writeFileAtomic(
    `${o.out}/loss_comparison.csv`,
    csv(rows),
  );
  return { png, runs };
}
