// deno task train-classifier — trains the small VGG-style or AlexNet-style
// net (models/small_cnn.ts) on Fashion-MNIST with the runtime's optimisers.
// Thin: flags in, models/train_classifier.ts does the work. Writes
// OUT/checkpoint.safetensors after every epoch (--resume continues from it
// exactly), OUT/log.json, OUT/log.csv and OUT/curves.png.
import { getBackend } from "../runtime/backend.ts";
import { initBackend } from "../runtime/mod.ts";
import {
  TRAIN_DEFAULTS,
  trainClassifier,
  type TrainClassifierOptions,
} from "../models/train_classifier.ts";
import {
  BACKEND_FLAG,
  type CliSpec,
  logBackend,
  parseCommandLine,
  Progress,
} from "./_cli.ts";

export const CLI: CliSpec = {
  name: "deno task train-classifier",
  summary:
    "Trains a small VGG-style (3x3 conv blocks, batch norm) or AlexNet-style (LRN, overlapping " +
    "pooling, grouped convolutions, dropout) net on Fashion-MNIST, evaluates on the test split " +
    "after every epoch, checkpoints every epoch and writes a log and a loss/accuracy plot.",
  flags: {
    model: {
      type: "string",
      choices: ["vgg", "alexnet"],
      description: `Architecture (default: ${TRAIN_DEFAULTS.model})`,
    },
    epochs: {
      type: "integer",
      default: TRAIN_DEFAULTS.epochs,
      min: 1,
      description: "Passes over the training examples",
    },
    batch: {
      type: "integer",
      min: 1,
      description: `Batch size (default: ${TRAIN_DEFAULTS.batch})`,
    },
    lr: {
      type: "number",
      min: 0,
      description: "Peak learning rate (default: 0.001 adam, 0.05 sgd)",
    },
    optimizer: {
      type: "string",
      choices: ["adam", "sgd"],
      description: `Optimiser (default: ${TRAIN_DEFAULTS.optimizer})`,
    },
    momentum: {
      type: "number",
      min: 0,
      description: `SGD momentum (default: ${TRAIN_DEFAULTS.momentum})`,
    },
    "weight-decay": {
      type: "number",
      min: 0,
      description: "L2 weight decay (default: 0)",
    },
    schedule: {
      type: "string",
      choices: ["cosine", "constant"],
      description: "Learning-rate schedule (default: cosine)",
    },
    samples: {
      type: "integer",
      min: 1,
      max: 60000,
      description: "Training examples used (default: all 60000)",
    },
    "test-samples": {
      type: "integer",
      min: 1,
      max: 10000,
      description:
        `Test examples evaluated after each epoch (default: all ${TRAIN_DEFAULTS.testSamples})`,
    },
    width: {
      type: "integer",
      min: 1,
      description:
        `VGG-style net: channels of the first block, twice that in the second (default: ${TRAIN_DEFAULTS.width})`,
    },
    bn: {
      type: "boolean",
      description: "Batch norm in the VGG-style net (default on; --no-bn)",
    },
    seed: {
      type: "integer",
      description:
        `Seed of the init, shuffling and dropout (default: ${TRAIN_DEFAULTS.seed})`,
    },
    backend: BACKEND_FLAG,
    threads: {
      type: "integer",
      min: 1,
      description: "Compute threads (default: all cores)",
    },
    out: {
      type: "string",
      default: "out/train-classifier",
      description:
        "Output directory (checkpoint, log.json, log.csv, curves.png)",
      valueName: "DIR",
    },
    resume: {
      type: "boolean",
      description:
        "Continue from OUT/checkpoint.safetensors (its settings are kept)",
    },
    data: {
      type: "string",
      description:
        "Fashion-MNIST directory (default: Debian's dataset-fashion-mnist)",
      valueName: "DIR",
    },
  },
  epilog: "Examples:\n" +
    "  deno task train-classifier --model vgg --epochs 2\n" +
    "  deno task train-classifier --model alexnet --optimizer sgd --lr 0.02 --out out/alexnet\n" +
    "  deno task train-classifier --epochs 4 --resume   # two more epochs",
};

/**
 * Options from parsed flags; unset flags stay unset, so that --resume keeps
 * the checkpoint's settings.
 */
export function optionsFromFlags(
  flags: Record<string, string | number | boolean | undefined>,
): Partial<TrainClassifierOptions> {
  const o: Partial<TrainClassifierOptions> = {
    model: flags.model as TrainClassifierOptions["model"],
    epochs: flags.epochs as number,
    batch: flags.batch as number | undefined,
    lr: flags.lr as number | undefined,
    optimizer: flags.optimizer as TrainClassifierOptions["optimizer"],
    momentum: flags.momentum as number | undefined,
    weightDecay: flags["weight-decay"] as number | undefined,
    schedule: flags.schedule as TrainClassifierOptions["schedule"],
    samples: flags.samples as number | undefined,
    testSamples: flags["test-samples"] as number | undefined,
    width: flags.width as number | undefined,
    batchNorm: flags.bn as boolean | undefined,
    seed: flags.seed as number | undefined,
    out: flags.out as string,
    resume: flags.resume === true,
    data: flags.data as string | undefined,
  };
  for (const k of Object.keys(o) as (keyof typeof o)[]) {
    if (o[k] === undefined) delete o[k];
  }
  return o;
}

if (import.meta.main) {
  const flags = parseCommandLine(CLI);
  const threads = flags.threads as number | undefined;
  // IMPASTO_WASM_DIR: an engine build other than build/ (tests, dev builds).
  const wasmDir = Deno.env.get("IMPASTO_WASM_DIR");
  await initBackend({
    backend: flags.backend as "auto" | "webgpu" | "wasm",
    log: logBackend,
    threads,
    wasmBaseUrl: wasmDir
      ? new URL(wasmDir.replace(/\/?$/, "/"), `file://${Deno.cwd()}/`)
      : undefined,
  });
  try {
    let progress: Progress | null = null;
    const result = await trainClassifier({
      ...optionsFromFlags(flags),
      onStep: (_done, total, status) => {
        progress ??= new Progress(total, { label: "train", everyPercent: 5 });
        progress.tick(1, status);
      },
    });
    const last = result.history[result.history.length - 1];
    if (last) {
      console.log(
        `Test accuracy ${
          (100 * last.testAccuracy).toFixed(2)
        }% after ${last.epoch} epochs; ` +
          `training ${last.trainImagesPerSecond.toFixed(0)} img/s, inference ${
            last.inferenceImagesPerSecond.toFixed(0)
          } img/s (${getBackend().name}, ${
            threads ?? navigator.hardwareConcurrency
          } threads)`,
      );
    }
    const f = result.files;
    if (f.checkpoint) {
      console.log(`Wrote ${f.checkpoint}, ${f.json}, ${f.csv} and ${f.png}`);
    }
    result.dispose();
  } catch (e) {
    console.error(`train-classifier: ${(e as Error).message.split("\n")[0]}`);
    Deno.exitCode = 1;
  } finally {
    getBackend().dispose();
  }
}
