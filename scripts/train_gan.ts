// deno task train-gan — trains Goodfellow et al.'s MLP GAN or a DCGAN
// (models/gan/) on MNIST, Fashion-MNIST or a directory of images, with a
// progress bar (L_D, L_G, D(x), D(G(z))), sample grids from a fixed noise
// batch, checkpoints, --resume, loss and gradient-norm curves, and on MNIST
// the classifier-based quality measure. --compare-losses N instead runs N
// iterations with each generator loss and plots G's gradient norms.
import { getBackend } from "../runtime/backend.ts";
import { NonFiniteError } from "../runtime/health.ts";
import { initBackend } from "../runtime/mod.ts";
import { loadDigitClassifier } from "../models/digit_classifier.ts";
import { GENERATOR_LOSSES } from "../models/gan/losses.ts";
import {
  compareGeneratorLosses,
  loadGanData,
  trainGan,
} from "../models/gan/train.ts";
import type { GanConfig } from "../models/gan/trainer.ts";
import {
  BACKEND_FLAG,
  type CliSpec,
  type FlagValue,
  logBackend,
  parseCommandLine,
  Progress,
} from "./_cli.ts";

export const CLI: CliSpec = {
  name: "deno task train-gan",
  summary:
    "Trains a GAN (Goodfellow et al. 2014 Algorithm 1): the paper's MLP GAN or a DCGAN, " +
    "writing sample grids from a fixed noise batch, checkpoints, loss and per-layer " +
    "gradient-norm curves (CSV, JSON, PNG) and, on MNIST, a classifier-based quality measure.",
  flags: {
    model: {
      type: "string",
      choices: ["mlp", "dcgan"],
      default: "dcgan",
      description: "Network pair",
    },
    data: {
      type: "string",
      default: "mnist",
      description: "mnist, fashion-mnist, or a directory of same-sized images",
      valueName: "SPEC",
    },
    batch: {
      type: "integer",
      min: 2,
      description: "Minibatch size m (default: mlp 100, dcgan 64)",
    },
    epochs: {
      type: "number",
      min: 0,
      description: "Epochs over the data (default 1 unless --iterations)",
    },
    iterations: {
      type: "integer",
      min: 1,
      description: "Training iterations (k D steps + 1 G step each)",
    },
    minutes: {
      type: "number",
      min: 0,
      description: "Stop (with a checkpoint) after this many minutes",
    },
    k: {
      type: "integer",
      min: 1,
      description: "Discriminator steps per iteration (default 1)",
    },
    optimizer: {
      type: "string",
      choices: ["sgd", "adam"],
      description: "Optimiser (default: mlp sgd, dcgan adam)",
    },
    lr: {
      type: "number",
      min: 0,
      description: "Learning rate (default: sgd 0.1, adam 2e-4)",
    },
    beta1: { type: "number", min: 0, max: 0.999, description: "Adam β1 (0.5)" },
    momentum: {
      type: "number",
      min: 0,
      description: "SGD momentum at the start (0.5)",
    },
    "momentum-final": {
      type: "number",
      min: 0,
      description: "SGD momentum after --momentum-steps steps (0.7)",
    },
    "momentum-steps": {
      type: "integer",
      min: 0,
      description: "Steps of the linear momentum schedule (10000)",
    },
    latent: { type: "integer", min: 1, description: "Noise dimension (100)" },
    "generator-loss": {
      type: "string",
      choices: GENERATOR_LOSSES,
      description:
        "non-saturating -log D(G(z)) (default) or minimax log(1-D(G(z)))",
    },
    update: {
      type: "string",
      choices: ["alternating", "simultaneous"],
      description:
        "D then G on fresh samples (Algorithm 1), or both from one D pass (default: mlp simultaneous, dcgan alternating)",
    },
    kernel: {
      type: "string",
      choices: ["4", "5"],
      description: "DCGAN kernel size: 4 (4x4/2, default) or 5 (5x5/2)",
    },
    seed: {
      type: "integer",
      default: 1,
      description: "Seed of everything random",
    },
    out: {
      type: "string",
      default: "out/gan",
      description: "Output directory",
      valueName: "DIR",
    },
    resume: {
      type: "boolean",
      description: "Continue from OUT/checkpoint.safetensors",
    },
    "sample-every": {
      type: "integer",
      default: 500,
      min: 0,
      description: "Sample grid + checkpoint every N iterations (0: end only)",
    },
    "eval-every": {
      type: "integer",
      default: 500,
      min: 0,
      description: "Quality measure every N iterations on MNIST (0: end only)",
    },
    "eval-samples": {
      type: "integer",
      default: 1000,
      min: 10,
      description: "Samples per quality measurement",
    },
    "compare-losses": {
      type: "integer",
      min: 1,
      description:
        "Instead of training: N iterations with each generator loss, plot G's gradient norms",
      valueName: "N",
    },
    backend: BACKEND_FLAG,
    threads: {
      type: "integer",
      min: 1,
      description: "Compute threads (default: all cores)",
    },
  },
  epilog: "Examples:\n" +
    "  deno task train-gan --model dcgan --minutes 15 --out out/dcgan\n" +
    "  deno task train-gan --model mlp --iterations 5000\n" +
    "  deno task train-gan --resume --out out/dcgan --iterations 20000\n" +
    "  deno task train-gan --compare-losses 200 --out out/losses",
};

/** GanConfig overrides from the flags (undefined: the model's default). */
export function configFromFlags(
  flags: Record<string, FlagValue>,
): Partial<GanConfig> & { model: GanConfig["model"] } {
  const num = (k: string) => flags[k] as number | undefined;
  const kernel = flags.kernel ? Number(flags.kernel) : undefined;
  return {
    model: flags.model as GanConfig["model"],
    batch: num("batch"),
    k: num("k"),
    optimizer: flags.optimizer as GanConfig["optimizer"] | undefined,
    lr: num("lr"),
    beta1: num("beta1"),
    momentum: num("momentum"),
    momentumFinal: num("momentum-final"),
    momentumSteps: num("momentum-steps"),
    latent: num("latent"),
    generatorLoss: flags["generator-loss"] as GanConfig["generatorLoss"],
    update: flags.update as GanConfig["update"] | undefined,
    seed: num("seed"),
    network: kernel ? { kernel: kernel as 4 | 5 } : undefined,
  };
}

async function main(): Promise<void> {
  const flags = parseCommandLine(CLI);
  const config = configFromFlags(flags);
  const out = flags.out as string;
  if (flags["compare-losses"]) {
    const data = await loadGanData(flags.data as string);
    const { png } = await compareGeneratorLosses({
      out,
      data,
      config,
      iterations: flags["compare-losses"] as number,
    });
    console.log(`Wrote ${png}`);
    return;
  }
  const isMnist = flags.data === "mnist";
  const classifier = isMnist
    ? (await loadDigitClassifier({ log: console.log })).model
    : undefined;
  let progress: Progress | null = null;
  let timeBar = false;
  let started = 0;
  const result = await trainGan({
    config,
    data: flags.data as string,
    iterations: flags.iterations as number | undefined,
    epochs: flags.epochs as number | undefined,
    maxSeconds: flags.minutes !== undefined
      ? (flags.minutes as number) * 60
      : undefined,
    out,
    resume: flags.resume as boolean | undefined,
    sampleEvery: flags["sample-every"] as number,
    evalEvery: flags["eval-every"] as number,
    evalSamples: flags["eval-samples"] as number,
    classifier,
    log: (line) => {
      if (progress) console.log("");
      console.log(line);
    },
    onIteration: (r, trainer) => {
      const info = `L_D ${r.dLoss.toFixed(3)} L_G ${r.gLoss.toFixed(3)} D(x) ${
        r.dReal.toFixed(2)
      } D(G(z)) ${r.dFake.toFixed(2)}`;
      const c = trainer.config;
      if (!progress) {
        // With --minutes alone the bar counts seconds, else iterations.
        timeBar = flags.iterations === undefined &&
          flags.epochs === undefined && flags.minutes !== undefined;
        const planned = (flags.iterations as number | undefined) ??
          Math.ceil(
            ((flags.epochs as number | undefined ?? 1) * trainer.data.count) /
              (c.k * c.batch),
          );
        // Called after the first step of this process.
        const total = timeBar
          ? Math.ceil((flags.minutes as number) * 60)
          : planned - trainer.iteration + 1;
        progress = new Progress(total, {
          label: `${c.model} ${c.generatorLoss}${timeBar ? " (seconds)" : ""}`,
        });
        started = performance.now();
      }
      const step = timeBar
        ? Math.floor((performance.now() - started) / 1000) - progress.done
        : 1;
      progress.tick(step, `it ${trainer.iteration} ${info}`);
    },
  });
  const q = result.quality;
  console.log(
    `\n${result.trainer.iteration} iterations; wrote ${out}/samples.png, ${out}/training.png, ${result.checkpoint}`,
  );
  if (q) {
    console.log(
      `Quality (n=${q.n}): ${
        (100 * q.confident).toFixed(1)
      }% confident, class entropy ${
        q.entropy.toFixed(3)
      } nats (ideal 2.303), Fréchet ${q.frechet.toFixed(3)} (real vs real ${
        result.realBaseline!.toFixed(3)
      })`,
    );
  }
  result.trainer.dispose();
  classifier?.dispose();
}

if (import.meta.main) {
  const flags = parseCommandLine(CLI);
  await initBackend({
    backend: flags.backend as "auto" | "webgpu" | "wasm",
    log: logBackend,
    threads: flags.threads as number | undefined,
  });
  try {
    await main();
  } catch (e) {
    const message = (e as Error).message.split("\n")[0];
    console.error(
      e instanceof NonFiniteError
        ? `\ntrain-gan: stopped: ${message}`
        : `train-gan: ${message}`,
    );
    Deno.exitCode = 1;
  } finally {
    getBackend().dispose();
  }
}
