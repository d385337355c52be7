// A directory of the user's own images as a training set (`--data DIR`):
// every PNG/JPEG/BMP/TIFF file directly inside DIR, decoded by
// runtime/io/image.ts. All images must have the same size; the set is grey
// (one channel) when every image is grey (R = G = B everywhere), else RGB.
// Errors name the file and say what to do, in one line.
// Needs a file system (Deno or Node).
import { decodeImage } from "../io/image.ts";
import { currentPlatform } from "../platform/mod.ts";
import type { ImageDataset } from "./mnist.ts";

const IMAGE_EXTENSIONS = /\.(png|jpe?g|bmp|tiff?)$/i;

export interface LoadImageFolderOptions {
  /** Force 1 (grey) or 3 (RGB) channels instead of detecting. */
  channels?: 1 | 3;
  /** Keep at most this many images (sorted by name). */
  limit?: number;
}

async function listDirectory(dir: string): Promise<string[]> {
  const deno = (globalThis as {
    Deno?: {
      readDir(p: string): AsyncIterable<{ name: string; isFile: boolean }>;
    };
  }).Deno;
  const names: string[] = [];
  try {
    if (deno) {
      for await (const e of deno.readDir(dir)) if (e.isFile) names.push(e.name);
    } else {
      const fs = await import("node:fs/promises");
      for (const e of await fs.readdir(dir, { withFileTypes: true })) {
        if (e.isFile()) names.push(e.name);
      }
    }
  } catch (e) {
    const why = String((e as Error).message ?? e).split("\n")[0];
    throw new Error(
      `Cannot read image directory ${dir} (${why}); pass an existing directory of PNG/JPEG images`,
    );
  }
  return names.sort();
}

/** Loads every image file directly inside `dir` as one dataset. */
export async function loadImageFolder(
  dir: string,
  options: LoadImageFolderOptions = {},
): Promise<ImageDataset> {
  const names = (await listDirectory(dir)).filter((n) =>
    IMAGE_EXTENSIONS.test(n)
  ).slice(0, options.limit ?? Infinity);
  if (names.length === 0) {
    throw new Error(
      `${dir} holds no PNG, JPEG, BMP or TIFF files; put the training images directly inside it`,
    );
  }
  const platform = await currentPlatform();
  const base = dir.replace(/\/+$/, "");
  const decoded: { name: string; data: Float32Array }[] = [];
  let width = 0, height = 0, grey = true;
  for (const name of names) {
    const path = `${base}/${name}`;
    let bytes: Uint8Array;
    try {
      bytes = await platform.readFile(path);
    } catch (e) {
      const why = String((e as Error).message ?? e).split("\n")[0];
      throw new Error(`Cannot read ${path} (${why})`);
    }
    const img = decodeImage(bytes, { name: path }); // ImageError: one line
    if (decoded.length === 0) {
      width = img.width;
      height = img.height;
    } else if (img.width !== width || img.height !== height) {
      throw new Error(
        `${path} is ${img.width}x${img.height} but ${base}/${
          decoded[0].name
        } is ${width}x${height}: all training images must have the same size; resize them first`,
      );
    }
    const n = width * height;
    if (grey) {
      for (let i = 0; i < n; i++) {
        const r = img.data[i];
        if (r !== img.data[n + i] || r !== img.data[2 * n + i]) {
          grey = false;
          break;
        }
      }
    }
    decoded.push({ name, data: img.data });
  }
  const channels = options.channels ?? (grey ? 1 : 3);
  const n = width * height;
  const size = channels * n;
  const images = new Float32Array(decoded.length * size);
  decoded.forEach(({ data }, k) => {
    if (channels === 3) images.set(data, k * size);
    else if (grey) images.set(data.subarray(0, n), k * size);
    else {
      // Luma (ITU-R BT.601) for colour images forced to grey.
      for (let i = 0; i < n; i++) {
        images[k * size + i] = 0.299 * data[i] + 0.587 * data[n + i] +
          0.114 * data[2 * n + i];
      }
    }
  });
  return {
    images,
    count: decoded.length,
    channels,
    height,
    width,
    source: base,
  };
}
