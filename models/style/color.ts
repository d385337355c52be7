// Colour control for style transfer (Gatys, Bethge, Hertzmann & Shechtman,
// "Preserving Color in Neural Artistic Style Transfer", arXiv 1606.05897):
//
// - luminance-only transfer: keep the luminance Y of the stylised image and
//   the chrominance (U, V) of the content image, in YUV (BT.601);
// - colour histogram matching: before the run, give the style image the
//   content's colour distribution with a linear map x' = A x + b that makes
//   its mean and covariance equal the content's (A = Σ_c^½ Σ_s^-½, the
//   symmetric "Image Analogies" variant of the paper's section 2.1).
// All images are planar RGB in 0..1 (runtime/io/image.ts).
// This module is browser compatible.
import { resizeImage, type RgbImage } from "../../runtime/io/image.ts";

export type OriginalColors = "none" | "luminance" | "histogram";

// BT.601 RGB -> YUV (analogue form, as jcjohnson/neural-style uses).
const TO_YUV = [
  [0.299, 0.587, 0.114],
  [-0.14713, -0.28886, 0.436],
  [0.615, -0.51499, -0.10001],
];
const FROM_YUV = [
  [1, 0, 1.13983],
  [1, -0.39465, -0.5806],
  [1, 2.03211, 0],
];

function mix(m: number[][], a: number, b: number, c: number, row: number) {
  return m[row][0] * a + m[row][1] * b + m[row][2] * c;
}

/** Planar YUV (BT.601) of a planar RGB image. */
export function rgbToYuv(image: RgbImage): Float32Array {
  const n = image.width * image.height, d = image.data;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const r = d[i], g = d[n + i], b = d[2 * n + i];
    for (let k = 0; k < 3; k++) out[k * n + i] = mix(TO_YUV, r, g, b, k);
  }
  return out;
}

/** Planar RGB of planar YUV values. */
export function yuvToRgb(
  yuv: Float32Array,
  width: number,
  height: number,
): RgbImage {
  const n = width * height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const y = yuv[i], u = yuv[n + i], v = yuv[2 * n + i];
    for (let k = 0; k < 3; k++) out[k * n + i] = mix(FROM_YUV, y, u, v, k);
  }
  return { width, height, data: out };
}

/**
 * Luminance-only transfer: the luminance of `stylised` with the chrominance
 * of `content` (resized to the stylised image's size when they differ).
 */
export function transferLuminance(
  stylised: RgbImage,
  content: RgbImage,
): RgbImage {
  const { width, height } = stylised;
  const c = content.width === width && content.height === height
    ? content
    : resizeImage(content, width, height);
  const s = rgbToYuv(stylised), k = rgbToYuv(c);
  const n = width * height;
  s.set(k.subarray(n), n); // U and V planes from the content
  return yuvToRgb(s, width, height);
}

/** Mean and 3x3 covariance of an image's pixels. */
export function colourStatistics(
  image: RgbImage,
): { mean: number[]; cov: number[][] } {
  const n = image.width * image.height, d = image.data;
  const mean = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[c * n + i];
    mean[c] = s / n;
  }
  const cov = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let a = 0; a < 3; a++) {
    for (let b = a; b < 3; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        s += (d[a * n + i] - mean[a]) * (d[b * n + i] - mean[b]);
      }
      cov[a][b] = cov[b][a] = s / n;
    }
  }
  return { mean, cov };
}

/** Eigenvalues and eigenvectors (columns) of a symmetric 3x3 (Jacobi). */
function symmetricEigen(
  m: number[][],
): { values: number[]; vectors: number[][] } {
  const a = m.map((r) => [...r]);
  const v = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[0][1] ** 2 + a[0][2] ** 2 + a[1][2] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < 2; p++) {
      for (let q = p + 1; q < 3; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) /
          (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < 3; k++) {
          const akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < 3; k++) {
          const apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 3; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: [a[0][0], a[1][1], a[2][2]], vectors: v };
}

/** V diag(f(λ)) Vᵀ of a symmetric 3x3. */
function matrixFunction(m: number[][], f: (x: number) => number): number[][] {
  const { values, vectors: v } = symmetricEigen(m);
  const out = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += v[i][k] * f(values[k]) * v[j][k];
      out[i][j] = s;
    }
  }
  return out;
}

/**
 * Colour histogram matching (paper section 2.1): `source` recoloured so
 * that its pixels' mean and covariance equal those of `reference`:
 * x' = Σ_r^½ Σ_s^-½ (x − μ_s) + μ_r, clamped to 0..1.
 */
export function matchColourHistogram(
  source: RgbImage,
  reference: RgbImage,
): RgbImage {
  const s = colourStatistics(source), r = colourStatistics(reference);
  // A small ridge keeps flat (single-colour) images invertible.
  const ridge = (c: number[][]) =>
    c.map((row, i) => row.map((x, j) => x + (i === j ? 1e-5 : 0)));
  const sInvHalf = matrixFunction(
    ridge(s.cov),
    (x) => 1 / Math.sqrt(Math.max(x, 1e-10)),
  );
  const rHalf = matrixFunction(ridge(r.cov), (x) => Math.sqrt(Math.max(x, 0)));
  const a = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) a[i][j] += rHalf[i][k] * sInvHalf[k][j];
    }
  }
  const n = source.width * source.height, d = source.data;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const x0 = d[i] - s.mean[0],
      x1 = d[n + i] - s.mean[1],
      x2 = d[2 * n + i] - s.mean[2];
    for (let c = 0; c < 3; c++) {
      const v = a[c][0] * x0 + a[c][1] * x1 + a[c][2] * x2 + r.mean[c];
      out[c * n + i] = Math.min(1, Math.max(0, v));
    }
  }
  return { width: source.width, height: source.height, data: out };
}

/** Mean |Δ chroma| (U and V, BT.601) between two images of one size. */
export function meanChromaDifference(a: RgbImage, b: RgbImage): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError("meanChromaDifference: the images differ in size");
  }
  const n = a.width * a.height;
  const ya = rgbToYuv(a), yb = rgbToYuv(b);
  let s = 0;
  for (let i = n; i < 3 * n; i++) s += Math.abs(ya[i] - yb[i]);
  return s / (2 * n);
}
