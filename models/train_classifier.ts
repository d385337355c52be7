// Training the small VGG-style and AlexNet-style classifiers
// (models/small_cnn.ts) on Fashion-MNIST: shuffled mini-batches, SGD with
// momentum or Adam with a cosine learning-rate decay, per-epoch evaluation on
// the test split, checkpoints after every epoch, a JSON/CSV log and a
// loss/accuracy plot. `deno task train-classifier` is a thin wrapper.
//
// Resuming is exact: everything a step depends on is either a closed-form
// function of (seed, epoch, step) — the epoch's shuffle order and the
// learning rate — or saved in the checkpoint — parameters, batch-norm
// running statistics, the optimiser's state and the dropout generator's
// state. So a run stopped after epoch k and resumed ends with the same bits
// as an uninterrupted run (tests/models/train_classifier_test.ts).
import { backward } from "../runtime/grad.ts";
import { loadCheckpoint, saveCheckpoint } from "../runtime/io/checkpoint.ts";
import { type PlotSpec, writePlotPng } from "../runtime/io/png_plot.ts";
import {
  type FashionMnistSplit,
  loadFashionMnist,
} from "../runtime/data/fashion_mnist.ts";
import { softmaxCrossEntropy } from "../runtime/ops/loss.ts";
import { Adam, type Optimizer, SGD } from "../runtime/optim/mod.ts";
import { currentPlatform } from "../runtime/platform/mod.ts";
import { Random } from "../runtime/random.ts";
import { readHeader } from "../runtime/io/safetensors.ts";
import { tensor, tidy } from "../runtime/tensor.ts";
import {
  createClassifier,
  type SmallClassifier,
  type SmallCnnKind,
} from "./small_cnn.ts";

/** Fashion-MNIST training-set pixel mean and std (of values in [0, 1]). */
export const FASHION_MNIST_MEAN = 0.2860;
export const FASHION_MNIST_STD = 0.3530;

export interface TrainClassifierOptions {
  model: SmallCnnKind;
  epochs: number;
  batch: number;
  /** Peak learning rate (default: 1e-3 for Adam, 0.05 for SGD). */
  lr?: number;
  optimizer: "sgd" | "adam";
  /** SGD momentum. */
  momentum: number;
  /** L2 weight decay. */
  weightDecay: number;
  /** "cosine": lr·(1 + cos(π t / T)) / 2 over all T steps; "constant". */
  schedule: "cosine" | "constant";
  /** Training examples used (the first ones of the split). */
  samples: number;
  /** Test examples evaluated after each epoch. */
  testSamples: number;
  seed: number;
  /** Channels of the VGG-style net's first block (the second has twice). */
  width: number;
  /** Batch norm in the VGG-style net. */
  batchNorm: boolean;
  /** Output directory: checkpoint, log and plot (none when undefined). */
  out?: string;
  /** Continue from `out`/checkpoint.safetensors. */
  resume: boolean;
  /** Fashion-MNIST directory (default: Debian's dataset-fashion-mnist). */
  data?: string;
  /** Stop (after checkpointing) once this many epochs are done in this call. */
  stopAfterEpochs?: number;
  /** Lines of progress and results (default console.log). */
  log?: (line: string) => void;
  /**
   * Called after every training step with the steps done and to do in this
   * call and a one-line status (scripts draw a progress bar from it).
   */
  onStep?: (done: number, total: number, status: string) => void;
}

export const TRAIN_DEFAULTS: TrainClassifierOptions = {
  model: "vgg",
  epochs: 3,
  batch: 64,
  optimizer: "adam",
  momentum: 0.9,
  weightDecay: 0,
  schedule: "cosine",
  samples: 60000,
  testSamples: 10000,
  seed: 1,
  width: 16,
  batchNorm: true,
  resume: false,
};

/** One epoch's results. */
export interface EpochRecord {
  epoch: number;
  /** Optimiser steps taken so far (all epochs). */
  steps: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  /** Training throughput of the epoch (forward + backward + update). */
  trainImagesPerSecond: number;
  /** Inference throughput of the evaluation. */
  inferenceImagesPerSecond: number;
  /** Wall time of the epoch, training and evaluation. */
  seconds: number;
}

export interface TrainClassifierResult {
  model: SmallClassifier;
  history: EpochRecord[];
  /** Test accuracy after the last epoch (NaN when no epoch ran). */
  testAccuracy: number;
  /** Whether this call stopped early (stopAfterEpochs). */
  stopped: boolean;
  /** Files written (empty without `out`). */
  files: { checkpoint?: string; json?: string; csv?: string; png?: string };
  /** Frees the model's tensors. */
  dispose(): void;
}

/** The learning rate of step `step` of `total`. */
export function learningRate(
  peak: number,
  schedule: "cosine" | "constant",
  step: number,
  total: number,
): number {
  if (schedule === "constant" || total <= 1) return peak;
  return peak * 0.5 * (1 + Math.cos(Math.PI * Math.min(step, total) / total));
}

/** The order examples are visited in during `epoch` (0-based). */
export function epochOrder(
  seed: number,
  epoch: number,
  count: number,
): number[] {
  // A generator per epoch, derived from the seed: nothing to checkpoint.
  return new Random(seed * 1_000_003 + epoch + 1).permutation(count);
}

/**
 * Examples `indices` as a normalised batch: x [n, 1, rows, cols] values
 * (pixel / 255 - mean) / std, y class indices.
 */
export function normalisedBatch(
  split: FashionMnistSplit,
  indices: ArrayLike<number>,
): { x: Float32Array; y: Float32Array } {
  const pixels = split.rows * split.cols;
  const n = indices.length;
  const x = new Float32Array(n * pixels);
  const y = new Float32Array(n);
  const scale = 1 / (255 * FASHION_MNIST_STD);
  const shift = -FASHION_MNIST_MEAN / FASHION_MNIST_STD;
  for (let b = 0; b < n; b++) {
    const i = indices[b];
    const src = split.images.subarray(i * pixels, (i + 1) * pixels);
    const dst = x.subarray(b * pixels, (b + 1) * pixels);
    for (let p = 0; p < pixels; p++) dst[p] = src[p] * scale + shift;
    y[b] = split.labels[i];
  }
  return { x, y };
}

/** Index of the largest logit per row, and how many match `labels`. */
function countCorrect(
  logits: Float32Array,
  labels: Float32Array,
  classes: number,
): number {
  let correct = 0;
  for (let r = 0; r < labels.length; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (logits[r * classes + c] > logits[r * classes + best]) best = c;
    }
    if (best === labels[r]) correct++;
  }
  return correct;
}

/** Mean loss, accuracy and throughput of a model on a split (eval mode). */
export function evaluate(
  model: SmallClassifier,
  split: FashionMnistSplit,
  batch = 256,
): { loss: number; accuracy: number; imagesPerSecond: number } {
  const wasTraining = model.training;
  model.eval();
  const start = performance.now();
  let lossSum = 0, correct = 0;
  try {
    for (let at = 0; at < split.count; at += batch) {
      const n = Math.min(batch, split.count - at);
      const indices = Array.from({ length: n }, (_, i) => at + i);
      const b = normalisedBatch(split, indices);
      tidy(() => {
        const x = tensor(b.x, [n, 1, split.rows, split.cols]);
        const logits = model.predict(x);
        const l = softmaxCrossEntropy(logits, b.y, "sum");
        lossSum += l.item();
        correct += countCorrect(logits.data(), b.y, logits.shape[1]);
      });
    }
  } finally {
    model.train(wasTraining);
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    loss: lossSum / split.count,
    accuracy: correct / split.count,
    imagesPerSecond: split.count / seconds,
  };
}

function makeOptimizer(
  model: SmallClassifier,
  o: TrainClassifierOptions,
  lr: number,
): Optimizer<object> {
  return o.optimizer === "sgd"
    ? new SGD(model.parameters(), {
      lr,
      momentum: o.momentum,
      weightDecay: o.weightDecay,
    })
    : new Adam(model.parameters(), { lr, weightDecay: o.weightDecay });
}

// Settings that must match between a checkpoint and a resumed run.
const FIXED_ON_RESUME = [
  "model",
  "batch",
  "optimizer",
  "momentum",
  "weightDecay",
  "schedule",
  "samples",
  "seed",
  "width",
  "batchNorm",
] as const;

/** The run's settings as saved in the checkpoint. */
type SavedSettings =
  & Pick<TrainClassifierOptions, typeof FIXED_ON_RESUME[number]>
  & { lr: number; testSamples: number };

/** CSV of the history, one row per epoch. */
export function historyCsv(history: readonly EpochRecord[]): string {
  const cols: (keyof EpochRecord)[] = [
    "epoch",
    "steps",
    "lr",
    "trainLoss",
    "trainAccuracy",
    "testLoss",
    "testAccuracy",
    "trainImagesPerSecond",
    "inferenceImagesPerSecond",
    "seconds",
  ];
  return [
    cols.join(","),
    ...history.map((h) => cols.map((c) => h[c]).join(",")),
  ]
    .join("\n") + "\n";
}

/** Loss and accuracy panels over epochs, plus per-step training loss. */
export function historyFigure(
  history: readonly EpochRecord[],
  stepLosses: readonly number[],
): PlotSpec[] {
  const epochs = history.map((h) => h.epoch);
  return [
    {
      title: "training loss per step",
      xLabel: "step",
      yLabel: "cross-entropy",
      logY: true,
      series: [{ name: "train (batch)", y: stepLosses }],
    },
    {
      title: "loss per epoch",
      xLabel: "epoch",
      yLabel: "cross-entropy",
      series: [
        { name: "train", x: epochs, y: history.map((h) => h.trainLoss) },
        { name: "test", x: epochs, y: history.map((h) => h.testLoss) },
      ],
    },
    {
      title: "accuracy per epoch",
      xLabel: "epoch",
      yLabel: "accuracy",
      series: [
        { name: "train", x: epochs, y: history.map((h) => h.trainAccuracy) },
        { name: "test", x: epochs, y: history.map((h) => h.testAccuracy) },
      ],
    },
  ];
}

// Decoded splits by directory, so repeated runs in one process (tests,
// notebooks) decompress the files once.
const splits = new Map<string, Promise<FashionMnistSplit>>();

/** A split's first `limit` examples (loaded once per process). */
async function loadSplit(
  split: "train" | "test",
  dir: string | undefined,
  limit: number,
): Promise<FashionMnistSplit> {
  const key = `${split}:${dir ?? ""}`;
  let whole = splits.get(key);
  if (!whole) {
    whole = loadFashionMnist(split, { dir });
    splits.set(key, whole);
    whole.catch(() => splits.delete(key));
  }
  const s = await whole;
  const count = Math.min(limit, s.count);
  const pixels = s.rows * s.cols;
  return {
    ...s,
    count,
    images: s.images.subarray(0, count * pixels),
    labels: s.labels.subarray(0, count),
  };
}

async function makeDirectory(path: string): Promise<void> {
  await (globalThis as { Deno?: typeof Deno }).Deno?.mkdir(path, {
    recursive: true,
  });
}

async function readIfPresent(path: string): Promise<Uint8Array | null> {
  try {
    return await (await currentPlatform()).readFile(path);
  } catch (e) {
    const missing = (e as { code?: string }).code === "ENOENT" ||
      (e as Error).name === "NotFound";
    if (missing) return null;
    throw e;
  }
}

/**
 * Trains a classifier on Fashion-MNIST. Throws one-line errors for missing
 * data, a missing checkpoint with `resume`, or settings that contradict the
 * checkpoint being resumed.
 */
export async function trainClassifier(
  options: Partial<TrainClassifierOptions> = {},
): Promise<TrainClassifierResult> {
  let o: TrainClassifierOptions = { ...TRAIN_DEFAULTS, ...options };
  const log = o.log ?? console.log;
  const files: TrainClassifierResult["files"] = {};
  const checkpointPath = o.out ? `${o.out}/checkpoint.safetensors` : undefined;
  if (o.resume && !checkpointPath) {
    throw new Error("resume needs an output directory holding a checkpoint");
  }

  // Settings saved by an earlier run override the defaults; explicit
  // options that contradict them are an error.
  let resumed: SavedSettings | undefined;
  if (o.resume) {
    const bytes = await readIfPresent(checkpointPath!);
    if (!bytes) {
      throw new Error(
        `no checkpoint at ${checkpointPath} to resume; run without --resume to start`,
      );
    }
    const extra = JSON.parse(readHeader(bytes).metadata.extra ?? "{}");
    resumed = extra.settings as SavedSettings;
    if (!resumed) {
      throw new Error(`${checkpointPath} was not written by train-classifier`);
    }
    for (const key of FIXED_ON_RESUME) {
      const given = (options as Record<string, unknown>)[key];
      if (given !== undefined && given !== resumed[key]) {
        throw new Error(
          `${checkpointPath} was trained with ${key} ${
            resumed[key]
          }, not ${given}; drop the flag or start a new --out directory`,
        );
      }
    }
    // The test-set size is remembered too, but may be changed.
    o = {
      ...o,
      ...resumed,
      testSamples: options.testSamples ?? resumed.testSamples ?? o.testSamples,
    };
  }
  const peakLr = resumed?.lr ?? o.lr ?? (o.optimizer === "sgd" ? 0.05 : 1e-3);

  const train = await loadSplit("train", o.data, o.samples);
  const test = await loadSplit("test", o.data, o.testSamples);
  const rng = new Random(o.seed);
  const model = createClassifier(o.model, {
    rng,
    size: train.rows,
    blocks: [o.width, 2 * o.width],
    batchNorm: o.batchNorm,
  });
  const optimizer = makeOptimizer(model, o, peakLr);
  const stepsPerEpoch = Math.ceil(train.count / o.batch);
  const totalSteps = stepsPerEpoch * o.epochs;
  let history: EpochRecord[] = [];
  let stepLosses: number[] = [];
  let startEpoch = 0;
  const dispose = () => {
    optimizer.dispose();
    model.dispose();
  };

  try {
    if (o.resume) {
      const loaded = await loadCheckpoint(checkpointPath!, {
        model,
        optimizer,
      });
      const extra = loaded.extra as {
        epoch: number;
        history: EpochRecord[];
        stepLosses: number[];
        rng: (number | null)[];
      };
      startEpoch = extra.epoch;
      history = extra.history;
      stepLosses = extra.stepLosses;
      // JSON turns the generator's "no spare normal" NaN into null.
      rng.setState(extra.rng.map((v) => v ?? NaN));
      log(
        `Resuming ${checkpointPath} after epoch ${startEpoch} of ${o.epochs}`,
      );
    }
    const settings: SavedSettings = {
      model: o.model,
      batch: o.batch,
      optimizer: o.optimizer,
      momentum: o.momentum,
      weightDecay: o.weightDecay,
      schedule: o.schedule,
      samples: train.count,
      seed: o.seed,
      width: o.width,
      batchNorm: o.batchNorm,
      lr: peakLr,
      testSamples: test.count,
    };
    if (o.out) await makeDirectory(o.out);
    const parameterCount = model.parameters().reduce((n, p) => n + p.size, 0);
    if (startEpoch === 0) {
      log(
        `Training ${o.model} (${parameterCount} parameters) on ${train.count} Fashion-MNIST images ` +
          `for ${o.epochs} epochs, batch ${o.batch}, ${o.optimizer} lr ${peakLr} (${o.schedule}); ` +
          `testing on ${test.count}`,
      );
    }

    const totalThisCall = Math.max(0, (o.epochs - startEpoch) * stepsPerEpoch);
    let doneThisCall = 0;
    let stopped = false;
    let epochsThisCall = 0;
    for (let epoch = startEpoch; epoch < o.epochs; epoch++) {
      if (
        o.stopAfterEpochs !== undefined && epochsThisCall >= o.stopAfterEpochs
      ) {
        stopped = true;
        break;
      }
      const epochStart = performance.now();
      const order = epochOrder(o.seed, epoch, train.count);
      model.train();
      let lossSum = 0, correct = 0, seen = 0, lr = peakLr;
      for (let s = 0; s < stepsPerEpoch; s++) {
        const step = epoch * stepsPerEpoch + s;
        lr = learningRate(peakLr, o.schedule, step, totalSteps);
        for (const g of optimizer.paramGroups) {
          (g as unknown as { lr: number }).lr = lr;
        }
        const indices = order.slice(s * o.batch, (s + 1) * o.batch);
        const n = indices.length;
        const b = normalisedBatch(train, indices);
        const { loss, hits } = tidy(() => {
          const x = tensor(b.x, [n, 1, train.rows, train.cols]);
          const logits = model.forward(x);
          const l = softmaxCrossEntropy(logits, b.y);
          const value = l.item();
          const hits = countCorrect(logits.data(), b.y, logits.shape[1]);
          if (!Number.isFinite(value)) {
            throw new Error(
              `loss became ${value} at step ${step}; lower --lr (now ${peakLr})`,
            );
          }
          backward(l);
          return { loss: value, hits };
        });
        (optimizer as unknown as { step(): void }).step();
        optimizer.zeroGrad();
        lossSum += loss * n;
        correct += hits;
        seen += n;
        stepLosses.push(loss);
        const rate = seen / ((performance.now() - epochStart) / 1000);
        o.onStep?.(
          ++doneThisCall,
          totalThisCall,
          `epoch ${epoch + 1}/${o.epochs} loss ${
            (lossSum / seen).toFixed(4)
          } ` +
            `acc ${(100 * correct / seen).toFixed(1)}% ${
              rate.toFixed(0)
            } img/s`,
        );
      }
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const ev = evaluate(model, test);
      const record: EpochRecord = {
        epoch: epoch + 1,
        steps: (epoch + 1) * stepsPerEpoch,
        lr,
        trainLoss: lossSum / seen,
        trainAccuracy: correct / seen,
        testLoss: ev.loss,
        testAccuracy: ev.accuracy,
        trainImagesPerSecond: seen / trainSeconds,
        inferenceImagesPerSecond: ev.imagesPerSecond,
        seconds: (performance.now() - epochStart) / 1000,
      };
      history.push(record);
      epochsThisCall++;
      log(
        `epoch ${record.epoch}/${o.epochs}: train loss ${
          record.trainLoss.toFixed(4)
        } acc ${(100 * record.trainAccuracy).toFixed(2)}% | test loss ${
          record.testLoss.toFixed(4)
        } acc ${(100 * record.testAccuracy).toFixed(2)}% | ${
          record.trainImagesPerSecond.toFixed(0)
        } train img/s, ${
          record.inferenceImagesPerSecond.toFixed(0)
        } inference img/s, ${record.seconds.toFixed(1)} s`,
      );
      if (o.out) {
        await saveCheckpoint(checkpointPath!, {
          model,
          optimizer,
          extra: {
            epoch: epoch + 1,
            settings,
            modelConfig: model.config,
            history,
            stepLosses,
            rng: rng.getState().map((v) => Number.isNaN(v) ? null : v),
          },
        });
        files.checkpoint = checkpointPath;
        await writeLogs(o.out, history, stepLosses, o, files);
      }
    }
    return {
      model,
      history,
      testAccuracy: history.length
        ? history[history.length - 1].testAccuracy
        : NaN,
      stopped,
      files,
      dispose,
    };
  } catch (e) {
    dispose();
    throw e;
  }
}

async function writeLogs(
  out: string,
  history: EpochRecord[],
  stepLosses: number[],
  o: TrainClassifierOptions,
  files: TrainClassifierResult["files"],
): Promise<void> {
  const platform = await currentPlatform();
  const encode = (s: string) => new TextEncoder().encode(s);
  files.json = `${out}/log.json`;
  files.csv = `${out}/log.csv`;
  files.png = `${out}/curves.png`;
  await platform.writeFileAtomic(
    files.json,
    encode(
      JSON.stringify(
        {
          model: o.model,
          optimizer: o.optimizer,
          batch: o.batch,
          epochs: o.epochs,
          history,
          stepLosses,
        },
        null,
        1,
      ) + "\n",
    ),
  );
  await platform.writeFileAtomic(files.csv, encode(historyCsv(history)));
  await writePlotPng(files.png, historyFigure(history, stepLosses), {
    width: 480,
    height: 360,
    title: `${o.model} on Fashion-MNIST (${o.optimizer}, batch ${o.batch})`,
  });
}
