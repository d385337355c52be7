// The quality measure's maths in f64: Jacobi eigen-decomposition, PSD
// square roots, and the Fréchet distance against closed forms; the
// confident-fraction and class-entropy bookkeeping.
import assert from "node:assert/strict";
import { Random } from "../../../runtime/random.ts";
import {
  frechetDistance,
  frechetDistanceOf,
  meanCovariance,
  sqrtSymmetric,
  symmetricEigen,
} from "../../../models/gan/quality.ts";
import { imageGrid, latentWalk, slerp } from "../../../models/gan/sampling.ts";

function randomSpd(d: number, rng: Random): Float64Array {
  // A Aᵀ + d·I/10: symmetric positive definite.
  const a = Float64Array.from(rng.fillNormal(new Float32Array(d * d), 0, 1));
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += a[i * d + k] * a[j * d + k];
      m[i * d + j] = s + (i === j ? d / 10 : 0);
    }
  }
  return m;
}

Deno.test("symmetricEigen reconstructs A = V Λ Vᵀ with orthonormal V (d = 7, 64)", () => {
  const rng = new Random(1);
  for (const d of [7, 64]) {
    const a = randomSpd(d, rng);
    const { values, vectors: v } = symmetricEigen(a, d);
    let maxErr = 0, maxOrtho = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let s = 0, o = 0;
        for (let k = 0; k < d; k++) {
          s += v[i * d + k] * values[k] * v[j * d + k];
          o += v[k * d + i] * v[k * d + j];
        }
        maxErr = Math.max(maxErr, Math.abs(s - a[i * d + j]));
        maxOrtho = Math.max(maxOrtho, Math.abs(o - (i === j ? 1 : 0)));
      }
    }
    assert.ok(maxErr < 1e-9 * d, `d=${d} reconstruction ${maxErr}`);
    assert.ok(maxOrtho < 1e-12 * d, `d=${d} orthogonality ${maxOrtho}`);
  }
});

Deno.test("sqrtSymmetric squares back to the matrix", () => {
  const d = 9, a = randomSpd(d, new Random(2));
  const s = sqrtSymmetric(a, d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let k = 0; k < d; k++) v += s[i * d + k] * s[k * d + j];
      assert.ok(Math.abs(v - a[i * d + j]) < 1e-9, `${i},${j}`);
    }
  }
});

Deno.test("Fréchet distance: closed forms", () => {
  // 1-D: (μ1-μ2)² + (σ1-σ2)².
  assert.ok(Math.abs(frechetDistance([1], [4], [3], [9], 1) - (4 + 1)) < 1e-12);
  // Commuting diagonal covariances: Σ (√a - √b)² + |Δμ|².
  const d1 = [1, 4, 9], d2 = [4, 4, 1];
  const diag = (v: number[]) => {
    const m = new Float64Array(9);
    v.forEach((x, i) => (m[i * 3 + i] = x));
    return m;
  };
  const expected = 1 + 0 + 4 + (1 + 0 + 4);
  const got = frechetDistance([0, 0, 0], diag(d1), [1, 0, 2], diag(d2), 3);
  assert.ok(Math.abs(got - expected) < 1e-10, `${got}`);
  // Identical distributions: 0; non-commuting ones: symmetric in its arguments.
  const rng = new Random(3);
  const a = randomSpd(6, rng), b = randomSpd(6, rng);
  const mu = new Float64Array(6);
  assert.ok(Math.abs(frechetDistance(mu, a, mu, a, 6)) < 1e-8);
  const ab = frechetDistance(mu, a, mu, b, 6),
    ba = frechetDistance(mu, b, mu, a, 6);
  assert.ok(ab > 0 && Math.abs(ab - ba) < 1e-8 * ab);
});

Deno.test("meanCovariance and sample Fréchet distance of shifted Gaussians", () => {
  const rng = new Random(4);
  const n = 4000, d = 3;
  const x = rng.fillNormal(new Float32Array(n * d), 0, 1);
  const y = rng.fillNormal(new Float32Array(n * d), 0, 1);
  for (let i = 0; i < n; i++) y[i * d] += 2;
  const { mean, cov } = meanCovariance(x, d);
  for (let j = 0; j < d; j++) {
    assert.ok(Math.abs(mean[j]) < 0.06);
    assert.ok(Math.abs(cov[j * d + j] - 1) < 0.08);
  }
  // Expected ≈ |Δμ|² = 4 (plus sampling noise).
  const fd = frechetDistanceOf(x, y, d);
  assert.ok(Math.abs(fd - 4) < 0.3, `${fd}`);
});

Deno.test("imageGrid layout, slerp endpoints and latentWalk shape", () => {
  const img = new Float32Array(2 * 4).fill(1); // two 2x2 grey images
  const g = imageGrid(img, { channels: 1, height: 2, width: 2 }, 2, 1);
  assert.deepEqual([g.width, g.height], [7, 4]);
  assert.equal(g.data[0], 0.5); // gap
  assert.equal(g.data[1 * 7 + 1], 1); // first pixel of the first image
  const a = Float32Array.from([1, 0]), b = Float32Array.from([0, 2]);
  assert.deepEqual([...slerp(a, b, 0)], [1, 0]);
  const end = slerp(a, b, 1);
  assert.ok(Math.abs(end[0]) < 1e-7 && Math.abs(end[1] - 2) < 1e-6);
  assert.equal(latentWalk(new Random(1), 5, 3, 4).length, 3 * 4 * 5);
});
