// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28x28 grey images of ten
// kinds of clothing, 60 000 for training and 10 000 for testing, in the
// MNIST IDX format. Read from Debian's `dataset-fashion-mnist` package by
// default; the directory can be overridden.
// This module is browser compatible (pass a directory the platform can read).
import { currentPlatform } from "../platform/mod.ts";
import { parseIdx } from "./idx.ts";

/** Where Debian's dataset-fashion-mnist package installs the files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

export interface FashionMnistSplit {
  /** `count` images of rows x cols bytes (0 = background, 255 = ink). */
  readonly images: Uint8Array;
  /** `count` class indices 0-9. */
  readonly labels: Uint8Array;
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
}

export interface LoadFashionMnistOptions {
  /** Directory holding the four .gz files (default FASHION_MNIST_DIR). */
  dir?: string;
  /** Keep only the first `limit` examples. */
  limit?: number;
}

/** File names of a split. */
export function fashionMnistFiles(
  split: "train" | "test",
): { images: string; labels: string } {
  const prefix = split === "train" ? "train" : "t10k";
  return {
    images: `${prefix}-images-idx3-ubyte.gz`,
    labels: `${prefix}-labels-idx1-ubyte.gz`,
  };
}

async function readOrExplain(path: string): Promise<Uint8Array> {
  const platform = await currentPlatform();
  try {
    return await platform.readFile(path);
  } catch (e) {
    const missing = (e as { code?: string; name?: string }).code === "ENOENT" ||
      (e as Error).name === "NotFound";
    if (missing) {
      throw new Error(
        `Fashion-MNIST not found (${path}): install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), or give a directory holding its four *-ubyte.gz files`,
      );
    }
    throw e;
  }
}

/** Loads one split (images and labels), validated against each other. */
export async function loadFashionMnist(
  split: "train" | "test",
  options: LoadFashionMnistOptions = {},
): Promise<FashionMnistSplit> {
  const dir = (options.dir ?? FASHION_MNIST_DIR).replace(/\/+$/, "");
  const files = fashionMnistFiles(split);
  const imagesPath = `${dir}/${files.images}`;
  const labelsPath = `${dir}/${files.labels}`;
  const imageBytes = await readOrExplain(imagesPath);
  const labelBytes = await readOrExplain(labelsPath);
  const images = await parseIdx(imageBytes, { source: imagesPath });
  const labels = await parseIdx(labelBytes, { source: labelsPath });
  if (images.dtype !== "u8" || images.shape.length !== 3) {
    throw new Error(
      `${imagesPath}: expected u8 images [n, rows, cols], got ${images.dtype} [${images.shape}]`,
    );
  }
  if (labels.dtype !== "u8" || labels.shape.length !== 1) {
    throw new Error(
      `${labelsPath}: expected u8 labels [n], got ${labels.dtype} [${labels.shape}]`,
    );
  }
  const [n, rows, cols] = images.shape;
  if (labels.shape[0] !== n) {
    throw new Error(
      `${labelsPath}: ${
        labels.shape[0]
      } labels for ${n} images in ${imagesPath}`,
    );
  }
  const count = Math.min(n, options.limit ?? n);
  const labelData = (labels.data as Uint8Array).subarray(0, count);
  for (const l of labelData) {
    if (l > 9) throw new Error(`${labelsPath}: label ${l} is not a class 0-9`);
  }
  return {
    images: (images.data as Uint8Array).subarray(0, count * rows * cols),
    labels: labelData,
    count,
    rows,
    cols,
  };
}

/**
 * Examples [start, start + size) (wrapping around) as f32: `x` [size, rows *
 * cols] scaled to [0, 1] and `y` [size] class indices (the layout the
 * SoftmaxCrossEntropy kernel takes).
 */
export function fashionMnistBatch(
  split: FashionMnistSplit,
  start: number,
  size: number,
): { x: Float32Array; y: Float32Array } {
  const pixels = split.rows * split.cols;
  const x = new Float32Array(size * pixels);
  const y = new Float32Array(size);
  for (let b = 0; b < size; b++) {
    const i = (start + b) % split.count;
    const src = split.images.subarray(i * pixels, (i + 1) * pixels);
    for (let p = 0; p < pixels; p++) x[b * pixels + p] = src[p] / 255;
    y[b] = split.labels[i];
  }
  return { x, y };
}
