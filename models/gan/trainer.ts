// GAN training, one iteration at a time (Goodfellow et al. 2014, Algorithm 1):
//
//   for each training iteration:
//     for k steps:
//       sample m noise samples z and m data samples x;
//       update D by descending L_D (= ascending its objective)
//     sample m noise samples z; update G by descending L_G
//
// with L_D and L_G from ./losses.ts (non-saturating or minimax L_G). That is
// the "alternating" order: G's step sees the D just updated. The
// "simultaneous" order (the paper's original Pylearn2 code) evaluates G's
// gradient and D's last gradient at the same parameters, from one batch of
// generated samples, and then updates both; on MNIST with the paper's SGD
// settings the MLP GAN trains in that order and collapses in the other
// (see docs/gan.md).
//
// Everything random comes from seeded generators whose states are saved with
// the checkpoint (noise, minibatch order, dropout masks), together with both
// networks, both optimisers and the batch-norm running statistics, so a run
// resumed from a checkpoint continues bit-identically.
// This module is browser compatible.
import { noGrad, releaseGraph } from "../../runtime/autograd.ts";
import {
  EpochSampler,
  gatherBatch,
  type ImageDataset,
  type SamplerState,
} from "../../runtime/data/mnist.ts";
import { backward } from "../../runtime/grad.ts";
import { layerGradNorms, NonFiniteError } from "../../runtime/health.ts";
import {
  type CheckpointContents,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
} from "../../runtime/io/checkpoint.ts";
import { readSafetensors } from "../../runtime/io/safetensors.ts";
import type { Module } from "../../runtime/nn/module.ts";
import { Adam, type Optimizer, SGD } from "../../runtime/optim/mod.ts";
import { Random } from "../../runtime/random.ts";
import { type Tensor, tensor, tidy } from "../../runtime/tensor.ts";
import {
  discriminatorLoss,
  generatorLoss,
  type GeneratorLossKind,
  meanProbability,
} from "./losses.ts";
import {
  createGan,
  type Discriminator,
  type GanModelKind,
  type GanNetworkOptions,
  type GanShape,
  type Generator,
  imageRange,
} from "./networks.ts";

export type GanOptimizerKind = "sgd" | "adam";
export type UpdateOrder = "alternating" | "simultaneous";

/** Everything that defines a training run (saved in its checkpoints). */
export interface GanConfig {
  model: GanModelKind;
  latent: number;
  /** Minibatch size m (noise and data samples per step). */
  batch: number;
  /** Discriminator steps per iteration (Algorithm 1's k). */
  k: number;
  optimizer: GanOptimizerKind;
  lr: number;
  /** Adam β1 (DCGAN: 0.5) and β2. */
  beta1: number;
  beta2: number;
  /** SGD momentum at the start of the schedule. */
  momentum: number;
  /** SGD momentum after `momentumSteps` optimiser steps (paper: 0.5 → 0.7). */
  momentumFinal: number;
  momentumSteps: number;
  generatorLoss: GeneratorLossKind;
  update: UpdateOrder;
  seed: number;
  network: GanNetworkOptions;
}

/** The defaults per model: the papers' settings. */
export function defaultGanConfig(model: GanModelKind): GanConfig {
  const common = {
    latent: 100,
    k: 1,
    beta2: 0.999,
    generatorLoss: "non-saturating" as const,
    seed: 1,
    network: {},
  };
  if (model === "mlp") {
    // Goodfellow et al.'s Pylearn2 MNIST configuration: SGD, lr 0.1,
    // batch 100, momentum 0.5 rising linearly to 0.7.
    return {
      ...common,
      model,
      batch: 100,
      optimizer: "sgd",
      lr: 0.1,
      beta1: 0.5,
      momentum: 0.5,
      momentumFinal: 0.7,
      momentumSteps: 10_000,
      update: "simultaneous",
    };
  }
  // Radford et al. 2016 §4: Adam, lr 2e-4, β1 0.5, batch 64 (PyTorch's
  // example; the paper used 128).
  return {
    ...common,
    model,
    batch: 64,
    optimizer: "adam",
    lr: 2e-4,
    beta1: 0.5,
    momentum: 0.5,
    momentumFinal: 0.5,
    momentumSteps: 0,
    update: "alternating",
  };
}

/** The model's defaults with the defined entries of `overrides` on top. */
export function resolveGanConfig(
  overrides: Partial<GanConfig> = {},
): GanConfig {
  const model = overrides.model ?? "dcgan";
  const config = defaultGanConfig(model) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined) config[k] = v;
  }
  return config as unknown as GanConfig;
}

/** One training iteration's numbers. */
export interface IterationRecord {
  iteration: number;
  /** L_D of the last discriminator step. */
  dLoss: number;
  gLoss: number;
  /** Mean D(x) on real data and D(G(z)) on generated, before D's update. */
  dReal: number;
  dFake: number;
}

/** Per-layer gradient L2 norms of both networks at one iteration. */
export interface GradientRecord {
  iteration: number;
  generator: Record<string, number>;
  discriminator: Record<string, number>;
}

/** A quality measurement (./quality.ts) at one iteration. */
export interface QualityRecord {
  iteration: number;
  confident: number;
  entropy: number;
  frechet: number;
  seconds: number;
}

export interface GanHistory {
  iterations: IterationRecord[];
  gradients: GradientRecord[];
  quality: QualityRecord[];
}

export const GAN_CHECKPOINT_KIND = "impasto-gan";
const G_PREFIX = "generator.";
const D_PREFIX = "discriminator.";

/** What a checkpoint's metadata says about the GAN in it. */
export interface GanCheckpointInfo {
  kind: typeof GAN_CHECKPOINT_KIND;
  config: GanConfig;
  shape: GanShape;
  /** The training data ("mnist", a directory, ...). */
  data: string;
  iteration: number;
  sampler: SamplerState;
  noise: (number | null)[];
  dropout: (number | null)[] | null;
  history: GanHistory;
  /** Wall-clock seconds of training so far. */
  seconds: number;
}

function stateToJson(s: number[]): (number | null)[] {
  return s.map((v) => (Number.isNaN(v) ? null : v));
}

function stateFromJson(s: readonly (number | null)[]): number[] {
  return s.map((v) => (v === null ? NaN : v));
}

interface DiscriminatorStep {
  loss: number;
  dReal: number;
  dFake: number;
  norms?: Map<string, number>;
}

/** Sets requiresGrad on every parameter of `m` (freezes D in G's step). */
function setTrainable(m: Module, on: boolean): void {
  for (const p of m.parameters()) p.requiresGrad = on;
}

function prefixed(prefix: string, entries: [string, Tensor][]) {
  return entries.map(([n, t]) => [prefix + n, t] as [string, Tensor]);
}

function validateConfig(c: GanConfig): void {
  const positiveInt = (name: string, v: number) => {
    if (!(Number.isInteger(v) && v >= 1)) {
      throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
  };
  positiveInt("batch", c.batch);
  positiveInt("k", c.k);
  positiveInt("latent", c.latent);
  if (c.batch < 2 && c.model === "dcgan") {
    throw new RangeError("DCGAN batch norm needs a batch of at least 2");
  }
  if (!(c.lr > 0)) throw new RangeError(`lr must be positive, got ${c.lr}`);
  if (c.optimizer !== "sgd" && c.optimizer !== "adam") {
    throw new RangeError(`Unknown optimizer "${c.optimizer}" (sgd or adam)`);
  }
  if (c.update !== "alternating" && c.update !== "simultaneous") {
    throw new RangeError(
      `Unknown update order "${c.update}" (alternating or simultaneous)`,
    );
  }
}

/** A GAN, its optimisers and its training state. */
export class GanTrainer {
  readonly config: GanConfig;
  readonly shape: GanShape;
  readonly generator: Generator;
  readonly discriminator: Discriminator;
  readonly optimizerG: Optimizer<object> & { step(): unknown };
  readonly optimizerD: Optimizer<object> & { step(): unknown };
  readonly sampler: EpochSampler;
  readonly noise: Random;
  readonly history: GanHistory = { iterations: [], gradients: [], quality: [] };
  /** Completed iterations. */
  iteration = 0;
  /** Record gradient norms every this many iterations. */
  gradientEvery = 10;
  /** Training seconds before this process (resumed runs). */
  secondsBefore = 0;
  readonly #range: [number, number];

  constructor(config: GanConfig, readonly data: ImageDataset) {
    validateConfig(config);
    this.config = structuredClone(config);
    this.shape = {
      model: config.model,
      latent: config.latent,
      channels: data.channels,
      height: data.height,
      width: data.width,
    };
    this.#range = imageRange(config.model);
    // Independent streams: weights, noise, minibatch order, dropout.
    const { generator, discriminator } = createGan(
      this.shape,
      config.network,
      new Random(config.seed * 4 + 1),
      new Random(config.seed * 4 + 2),
    );
    this.generator = generator;
    this.discriminator = discriminator;
    this.noise = new Random(config.seed * 4 + 3);
    this.sampler = new EpochSampler(data.count, config.seed);
    this.optimizerG = this.#optimizer(generator);
    this.optimizerD = this.#optimizer(discriminator);
  }

  #optimizer(m: Module): Optimizer<object> & { step(): unknown } {
    const c = this.config;
    if (c.optimizer === "adam") {
      return new Adam(m.parameters(), {
        lr: c.lr,
        beta1: c.beta1,
        beta2: c.beta2,
      }) as unknown as Optimizer<object> & { step(): unknown };
    }
    const scheduled = c.momentumSteps > 0 && c.momentumFinal !== c.momentum;
    return new SGD(m.parameters(), {
      lr: c.lr,
      momentum: c.momentum,
      momentumSchedule: scheduled
        ? {
          initial: c.momentum,
          final: c.momentumFinal,
          steps: c.momentumSteps,
        }
        : null,
    }) as unknown as Optimizer<object> & { step(): unknown };
  }

  /** The interval G's images live in (sigmoid 0..1, tanh -1..1). */
  get range(): [number, number] {
    return [...this.#range];
  }

  /** n noise vectors [n, latent] from N(0, 1) drawn from `rng`. */
  sampleNoise(n: number, rng: Random = this.noise): Float32Array {
    return rng.fillNormal(new Float32Array(n * this.config.latent), 0, 1);
  }

  /** The fixed noise batch of the progress grids (same for every run of a seed). */
  fixedNoise(n = 64): Float32Array {
    return this.sampleNoise(n, new Random(this.config.seed * 4 + 4));
  }

  #realBatch(): Tensor {
    const { batch } = this.config;
    const { channels, height, width } = this.shape;
    const x = gatherBatch(this.data, this.sampler.next(batch), this.#range);
    return tensor(x, [batch, channels, height, width]);
  }

  #noiseTensor(): Tensor {
    const m = this.config.batch;
    return tensor(this.sampleNoise(m), [m, this.config.latent]);
  }

  #finite(value: number, what: string): void {
    if (!Number.isFinite(value)) {
      throw new NonFiniteError(
        `${what} is ${value} at iteration ${
          this.iteration + 1
        }: training diverged; lower --lr or resume from an earlier checkpoint`,
        "loss",
        undefined,
        undefined,
        this.iteration + 1,
      );
    }
  }

  /**
   * One discriminator step on a real minibatch and `fake` (generated
   * without a graph; drawn here when not given). Leaves D's gradient in
   * .grad when `keepGrad`, else applies and clears it.
   */
  #discriminatorStep(
    fake: Tensor | null,
    recordNorms: boolean,
  ): DiscriminatorStep {
    return tidy(() => {
      const real = this.#realBatch();
      const generated = fake ?? noGrad(() => {
        const z = this.#noiseTensor();
        return this.generator.forward(z);
      });
      const realLogits = this.discriminator.forward(real);
      const fakeLogits = this.discriminator.forward(generated);
      const loss = discriminatorLoss(realLogits, fakeLogits);
      const value = loss.item();
      const dReal = meanProbability(realLogits.data());
      const dFake = meanProbability(fakeLogits.data());
      if (!Number.isFinite(value)) releaseGraph(loss);
      this.#finite(value, "Discriminator loss");
      backward(loss);
      const norms = recordNorms
        ? layerGradNorms(this.discriminator.namedParameters(), this.iteration)
        : undefined;
      this.optimizerD.step();
      this.optimizerD.zeroGrad();
      return { loss: value, dReal, dFake, norms };
    });
  }

  /**
   * G's loss and gradient (in G's .grad) on a fresh noise batch, with D
   * frozen (no gradient for D's weights is computed). Returns the samples.
   */
  #generatorGradient(): { loss: number; fake: Tensor } {
    setTrainable(this.discriminator, false);
    try {
      return tidy(() => {
        const z = this.#noiseTensor();
        const fake = this.generator.forward(z);
        const logits = this.discriminator.forward(fake);
        const loss = generatorLoss(logits, this.config.generatorLoss);
        const value = loss.item();
        if (!Number.isFinite(value)) releaseGraph(loss);
        this.#finite(value, "Generator loss");
        backward(loss);
        // The values, without the (released) graph.
        const samples = fake.view(fake.shape);
        return { loss: value, fake: samples };
      });
    } finally {
      setTrainable(this.discriminator, true);
    }
  }

  /** Runs one training iteration (k D steps and one G step). */
  step(): IterationRecord {
    const c = this.config;
    const recordNorms = this.iteration % this.gradientEvery === 0;
    let d: DiscriminatorStep = { loss: NaN, dReal: NaN, dFake: NaN };
    let gLoss: number;
    let gNorms: Map<string, number> | undefined;
    if (c.update === "alternating") {
      for (let j = 0; j < c.k; j++) {
        d = this.#discriminatorStep(null, recordNorms && j === c.k - 1);
      }
      const g = this.#generatorGradient();
      g.fake.dispose();
      gLoss = g.loss;
    } else {
      for (let j = 0; j < c.k - 1; j++) {
        d = this.#discriminatorStep(null, false);
      }
      // Both gradients at the current (θ_G, θ_D): G's first, then D's on
      // the same generated batch; then both updates.
      const g = this.#generatorGradient();
      gLoss = g.loss;
      try {
        if (recordNorms) {
          gNorms = layerGradNorms(
            this.generator.namedParameters(),
            this.iteration,
          );
        }
        d = this.#discriminatorStep(g.fake, recordNorms);
      } finally {
        g.fake.dispose();
      }
    }
    if (c.update === "alternating" && recordNorms) {
      gNorms = layerGradNorms(this.generator.namedParameters(), this.iteration);
    }
    this.optimizerG.step();
    this.optimizerG.zeroGrad();
    const record: IterationRecord = {
      iteration: this.iteration,
      dLoss: d.loss,
      gLoss,
      dReal: d.dReal,
      dFake: d.dFake,
    };
    this.history.iterations.push(record);
    if (recordNorms && gNorms && d.norms) {
      this.history.gradients.push({
        iteration: this.iteration,
        generator: Object.fromEntries(gNorms),
        discriminator: Object.fromEntries(d.norms),
      });
    }
    this.iteration++;
    return record;
  }

  /**
   * Images from noise `z` ([n, latent] values), in G's range, planar
   * [n, C, H, W]; G in eval mode (batch norm on running statistics), no
   * graph, training state untouched. Large n is generated in chunks.
   */
  generate(z: Float32Array, chunk = 256): Float32Array {
    const latent = this.config.latent;
    return generateImages(this.generator, z, latent, chunk);
  }

  /** Images mapped to 0..1 (for display and the digit classifier). */
  generateUnit(z: Float32Array): Float32Array {
    return toUnitRange(this.generate(z), this.#range);
  }

  /** The checkpoint contents: both nets, both optimisers, the run state. */
  checkpointContents(dataName: string, seconds = 0): CheckpointContents {
    const g = this.generator, d = this.discriminator;
    const optG = this.optimizerG, optD = this.optimizerD;
    const info: GanCheckpointInfo = {
      kind: GAN_CHECKPOINT_KIND,
      config: this.config,
      shape: this.shape,
      data: dataName,
      iteration: this.iteration,
      sampler: this.sampler.state(),
      noise: stateToJson(this.noise.getState()),
      dropout: d.rng ? stateToJson(d.rng.getState()) : null,
      history: this.history,
      seconds,
    };
    return {
      parameters: [
        ...prefixed(G_PREFIX, g.namedParameters()),
        ...prefixed(D_PREFIX, d.namedParameters()),
      ],
      buffers: [
        ...prefixed(G_PREFIX, g.namedBuffers()),
        ...prefixed(D_PREFIX, d.namedBuffers()),
      ],
      optimizer: {
        stateDict: () => ({
          generator: optG.stateDict(),
          discriminator: optD.stateDict(),
        }),
        loadStateDict: (s: unknown) => {
          const st = s as {
            generator: Parameters<typeof optG.loadStateDict>[0];
            discriminator: Parameters<typeof optD.loadStateDict>[0];
          };
          optG.loadStateDict(st.generator);
          optD.loadStateDict(st.discriminator);
        },
      },
      extra: info as unknown as Record<string, unknown>,
    };
  }

  /** Checkpoint bytes (safetensors; refuses NaN/Inf). */
  encodeCheckpoint(dataName: string, seconds = 0): Uint8Array {
    return encodeCheckpoint(this.checkpointContents(dataName, seconds));
  }

  /**
   * Restores a checkpoint written by encodeCheckpoint() into this trainer
   * (built with the checkpoint's config): weights, optimiser state,
   * iteration, minibatch order, random streams, history.
   */
  restore(bytes: Uint8Array, source = "checkpoint"): GanCheckpointInfo {
    const info = readGanCheckpointInfo(bytes, source);
    if (info.config.model !== this.config.model) {
      throw new CheckpointError(
        `${source} holds a ${info.config.model} GAN, not a ${this.config.model} one`,
      );
    }
    decodeCheckpoint(bytes, this.checkpointContents(info.data), { source });
    this.iteration = info.iteration;
    this.sampler.setState(info.sampler);
    this.noise.setState(stateFromJson(info.noise));
    if (info.dropout && this.discriminator.rng) {
      this.discriminator.rng.setState(stateFromJson(info.dropout));
    }
    this.history.iterations = info.history.iterations;
    this.history.gradients = info.history.gradients;
    this.history.quality = info.history.quality;
    this.secondsBefore = info.seconds ?? 0;
    return info;
  }

  /** Frees both networks and optimiser states. */
  dispose(): void {
    this.generator.zeroGrad();
    this.discriminator.zeroGrad();
    this.optimizerG.dispose();
    this.optimizerD.dispose();
    this.generator.dispose();
    this.discriminator.dispose();
  }
}

/** G(z) in eval mode without a graph, in chunks of `chunk` rows. */
export function generateImages(
  generator: Generator,
  z: Float32Array,
  latent: number,
  chunk = 256,
): Float32Array {
  const n = z.length / latent;
  if (!Number.isInteger(n)) {
    throw new RangeError(
      `generate: ${z.length} values are not rows of ${latent}`,
    );
  }
  const { channels, height, width } = generator.shape;
  const size = channels * height * width;
  const out = new Float32Array(n * size);
  const wasTraining = generator.training;
  generator.eval();
  try {
    for (let s = 0; s < n; s += chunk) {
      const rows = Math.min(chunk, n - s);
      const values = noGrad(() =>
        tidy(() => {
          const zt = tensor(z.subarray(s * latent, (s + rows) * latent), [
            rows,
            latent,
          ]);
          return generator.forward(zt);
        })
      );
      out.set(values.data(), s * size);
      values.dispose();
    }
  } finally {
    generator.train(wasTraining);
  }
  return out;
}

/** Maps values from [lo, hi] to [0, 1] (clamped). */
export function toUnitRange(
  x: Float32Array,
  [lo, hi]: readonly [number, number],
): Float32Array {
  const out = new Float32Array(x.length);
  const s = 1 / (hi - lo);
  for (let i = 0; i < x.length; i++) {
    out[i] = Math.min(1, Math.max(0, (x[i] - lo) * s));
  }
  return out;
}

/** The GAN metadata of a checkpoint; one-line errors for other files. */
export function readGanCheckpointInfo(
  bytes: Uint8Array,
  source = "checkpoint",
): GanCheckpointInfo {
  let extra: string | undefined;
  try {
    extra = readSafetensors(bytes, source).metadata.extra;
  } catch (e) {
    throw new CheckpointError(
      `${source} is not a checkpoint (${
        String((e as Error).message).split("\n")[0]
      })`,
    );
  }
  let info: Partial<GanCheckpointInfo> | undefined;
  try {
    info = extra ? JSON.parse(extra) : undefined;
  } catch {
    info = undefined;
  }
  if (!info || info.kind !== GAN_CHECKPOINT_KIND || !info.config) {
    throw new CheckpointError(
      `${source} is not a GAN checkpoint (written by deno task train-gan)`,
    );
  }
  return info as GanCheckpointInfo;
}

/** A GAN trainer rebuilt from checkpoint bytes (for sampling or resuming). */
export function trainerFromCheckpoint(
  bytes: Uint8Array,
  data: ImageDataset,
  source = "checkpoint",
): GanTrainer {
  const info = readGanCheckpointInfo(bytes, source);
  const s = info.shape;
  if (
    s.channels !== data.channels || s.height !== data.height ||
    s.width !== data.width
  ) {
    throw new CheckpointError(
      `${source} was trained on ${s.channels}x${s.height}x${s.width} images, the data are ${data.channels}x${data.height}x${data.width}`,
    );
  }
  const trainer = new GanTrainer(info.config, data);
  try {
    trainer.restore(bytes, source);
  } catch (e) {
    trainer.dispose();
    throw e;
  }
  return trainer;
}

/**
 * Just the generator of a GAN checkpoint (sampling): no data needed.
 * Returns it with the checkpoint's info.
 */
export function generatorFromCheckpoint(
  bytes: Uint8Array,
  source = "checkpoint",
): { generator: Generator; info: GanCheckpointInfo } {
  const info = readGanCheckpointInfo(bytes, source);
  const { generator, discriminator } = createGan(
    info.shape,
    info.config.network,
  );
  discriminator.dispose();
  try {
    decodeCheckpoint(bytes, {
      parameters: prefixed(G_PREFIX, generator.namedParameters()),
      buffers: prefixed(G_PREFIX, generator.namedBuffers()),
    }, { source, strict: false });
  } catch (e) {
    generator.dispose();
    throw e;
  }
  return { generator, info };
}
