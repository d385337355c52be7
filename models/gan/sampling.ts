// Sample grids and latent-space walks of a generator.
// This module is browser compatible.
import type { RgbImage } from "../../runtime/io/image.ts";
import type { Random } from "../../runtime/random.ts";

/**
 * Tiles n planar images [n, C, H, W] (values in 0..1, C = 1 or 3) into one
 * RGB image, `columns` per row, separated by `gap` pixels of mid grey, each
 * pixel drawn as a `scale`x`scale` block (nearest neighbour).
 */
export function imageGrid(
  images: Float32Array,
  shape: { channels: number; height: number; width: number },
  columns = 8,
  gap = 2,
  scale = 1,
): RgbImage {
  const { channels } = shape;
  const h0 = shape.height, w0 = shape.width;
  const height = h0 * scale, width = w0 * scale;
  const size = channels * h0 * w0;
  const n = images.length / size;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `imageGrid: ${images.length} values are not images of ${size}`,
    );
  }
  const cols = Math.min(columns, n);
  const rows = Math.ceil(n / cols);
  const W = cols * width + (cols + 1) * gap;
  const H = rows * height + (rows + 1) * gap;
  const plane = W * H;
  const data = new Float32Array(3 * plane).fill(0.5);
  for (let k = 0; k < n; k++) {
    const x0 = gap + (k % cols) * (width + gap);
    const y0 = gap + Math.floor(k / cols) * (height + gap);
    for (let c = 0; c < 3; c++) {
      const src = k * size + (channels === 1 ? 0 : c) * h0 * w0;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const v = images[
            src + Math.floor(y / scale) * w0 + Math.floor(x / scale)
          ];
          data[c * plane + (y0 + y) * W + x0 + x] = Math.min(1, Math.max(0, v));
        }
      }
    }
  }
  return { width: W, height: H, data };
}

/** Spherical interpolation between two noise vectors (White 2016). */
export function slerp(
  a: Float32Array,
  b: Float32Array,
  t: number,
): Float32Array {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const cos = Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb)));
  const omega = Math.acos(cos);
  const out = new Float32Array(a.length);
  if (omega < 1e-6) {
    for (let i = 0; i < a.length; i++) out[i] = (1 - t) * a[i] + t * b[i];
    return out;
  }
  const sa = Math.sin((1 - t) * omega) / Math.sin(omega);
  const sb = Math.sin(t * omega) / Math.sin(omega);
  for (let i = 0; i < a.length; i++) out[i] = sa * a[i] + sb * b[i];
  return out;
}

/**
 * A latent walk: `rows` walks of `steps` points each, every walk along the
 * great circle between two random noise vectors. Returns [rows·steps, latent].
 */
export function latentWalk(
  rng: Random,
  latent: number,
  rows: number,
  steps: number,
): Float32Array {
  const out = new Float32Array(rows * steps * latent);
  for (let r = 0; r < rows; r++) {
    const a = rng.fillNormal(new Float32Array(latent), 0, 1);
    const b = rng.fillNormal(new Float32Array(latent), 0, 1);
    for (let s = 0; s < steps; s++) {
      const t = steps === 1 ? 0 : s / (steps - 1);
      out.set(slerp(a, b, t), (r * steps + s) * latent);
    }
  }
  return out;
}
