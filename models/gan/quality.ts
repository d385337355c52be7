// Sample quality of a digit GAN, measured with a digit classifier
// (models/digit_classifier.ts) trained on real MNIST:
//   - confident: the fraction of samples the classifier labels with
//     probability ≥ 0.9 (legible digits);
//   - entropy: the entropy (nats) of the distribution of predicted classes
//     over all samples (mode coverage: ln 10 ≈ 2.303 when every digit is
//     generated equally often, 0 when all samples are one digit);
//   - frechet: the Fréchet distance between Gaussians fitted to the
//     classifier's 64-dimensional penultimate features of generated and of
//     real digits (FID, Heusel et al. 2017, with this classifier in place of
//     Inception): ||μ1 − μ2||² + Tr(Σ1 + Σ2 − 2(Σ1Σ2)^½).
// Tr((Σ1Σ2)^½) = Tr((Σ1^½ Σ2 Σ1^½)^½): both square roots are of symmetric
// positive semi-definite matrices, computed in f64 by Jacobi
// eigen-decomposition. The distance depends strongly on the number of
// samples; always compare at the same n and report the real-vs-real value
// at that n beside it.
// This module is browser compatible.
import type { DigitClassifier } from "../digit_classifier.ts";

/** Mean [d] and covariance [d·d] (unbiased, f64) of n rows of d features. */
export function meanCovariance(
  x: ArrayLike<number>,
  d: number,
): { mean: Float64Array; cov: Float64Array } {
  const n = x.length / d;
  if (!Number.isInteger(n) || n < 2) {
    throw new RangeError(`meanCovariance: need at least 2 rows of ${d}`);
  }
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  }
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] += ra * row[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b] / (n - 1);
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  return { mean, cov };
}

/**
 * Eigen-decomposition of a symmetric d×d matrix by cyclic Jacobi rotations
 * (Golub & Van Loan §8.5): A = V diag(values) Vᵀ, V's columns the vectors.
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  d: number,
  { tolerance = 1e-14, maxSweeps = 100 } = {},
): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let scale = 0;
  for (let i = 0; i < d * d; i++) scale += m[i] * m[i];
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) off += m[p * d + q] * m[p * d + q];
    }
    if (off <= tolerance * tolerance * scale || off === 0) break;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q];
        if (apq === 0) continue;
        const app = m[p * d + p], aqq = m[q * d + q];
        // The rotation angle that zeroes A[p][q] (stable form).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) /
          (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = m[k * d + p], akq = m[k * d + q];
          m[k * d + p] = c * akp - s * akq;
          m[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = m[p * d + k], aqk = m[q * d + k];
          m[p * d + k] = c * apk - s * aqk;
          m[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p], vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = m[i * d + i];
  return { values, vectors: v };
}

/** The PSD square root V diag(√max(λ, 0)) Vᵀ of a symmetric matrix. */
export function sqrtSymmetric(a: ArrayLike<number>, d: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    if (s === 0) continue;
    for (let i = 0; i < d; i++) {
      const vik = vectors[i * d + k] * s;
      for (let j = 0; j < d; j++) out[i * d + j] += vik * vectors[j * d + k];
    }
  }
  return out;
}

function matmul(
  a: Float64Array,
  b: ArrayLike<number>,
  d: number,
): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k];
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] += aik * b[k * d + j];
    }
  }
  return out;
}

/** Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2) in d dimensions. */
export function frechetDistance(
  mu1: ArrayLike<number>,
  cov1: ArrayLike<number>,
  mu2: ArrayLike<number>,
  cov2: ArrayLike<number>,
  d: number,
): number {
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (mu1[i] - mu2[i]) ** 2;
  const s1 = sqrtSymmetric(cov1, d);
  const inner = matmul(matmul(s1, cov2, d), s1, d);
  // Symmetrise away rounding before the eigen-decomposition.
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const v = (inner[i * d + j] + inner[j * d + i]) / 2;
      inner[i * d + j] = v;
      inner[j * d + i] = v;
    }
  }
  const { values } = symmetricEigen(inner, d);
  let traceSqrt = 0;
  for (const v of values) traceSqrt += Math.sqrt(Math.max(v, 0));
  let trace = 0;
  for (let i = 0; i < d; i++) trace += cov1[i * d + i] + cov2[i * d + i];
  return meanTerm + trace - 2 * traceSqrt;
}

/** Fréchet distance between two sets of feature rows. */
export function frechetDistanceOf(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  d: number,
): number {
  const x = meanCovariance(a, d), y = meanCovariance(b, d);
  return frechetDistance(x.mean, x.cov, y.mean, y.cov, d);
}

export interface SampleQuality {
  /** Samples measured. */
  n: number;
  /** Fraction with max class probability ≥ threshold. */
  confident: number;
  /** Entropy (nats) of the predicted-class histogram. */
  entropy: number;
  /** Samples per predicted class. */
  classCounts: number[];
  /** Fréchet distance of the features to the reference set's. */
  frechet: number;
}

/** Reference statistics of real digits' features. */
export interface FeatureReference {
  n: number;
  mean: Float64Array;
  cov: Float64Array;
  dims: number;
}

export function featureReference(
  classifier: DigitClassifier,
  images: Float32Array,
): FeatureReference {
  const { features } = classifier.describe(images);
  const dims = features.length / (images.length / 784);
  const { mean, cov } = meanCovariance(features, dims);
  return { n: images.length / 784, mean, cov, dims };
}

/**
 * The quality of `images` (n·784 values in 0..1) against `reference`
 * (features of real digits).
 */
export function measureQuality(
  classifier: DigitClassifier,
  images: Float32Array,
  reference: FeatureReference,
  threshold = 0.9,
): SampleQuality {
  const n = images.length / 784;
  const { features, probabilities } = classifier.describe(images);
  const counts = new Array(10).fill(0);
  let confident = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) {
      if (probabilities[i * 10 + c] > probabilities[i * 10 + best]) best = c;
    }
    counts[best]++;
    if (probabilities[i * 10 + best] >= threshold) confident++;
  }
  let entropy = 0;
  for (const c of counts) {
    if (c > 0) entropy -= (c / n) * Math.log(c / n);
  }
  const { mean, cov } = meanCovariance(features, reference.dims);
  return {
    n,
    confident: confident / n,
    entropy,
    classCounts: counts,
    frechet: frechetDistance(
      mean,
      cov,
      reference.mean,
      reference.cov,
      reference.dims,
    ),
  };
}
