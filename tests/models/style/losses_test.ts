// The Gatys losses and the input gradient of a whole evaluation against a
// float64 reference on a tiny network: a VGG-19 cut at relu2_1 with random
// weights, a 12x12 image, Caffe preprocessing. Values: 1e-4 relative;
// gradients against central finite differences of the float64 reference at
// 12 random pixels: |g − fd| ≤ 2e-3 · max|fd| + 1e-3 |fd|.
import assert from "node:assert/strict";
import { VGG } from "../../../models/vgg.ts";
import { CAFFE_BGR, toModelValues } from "../../../models/preprocess.ts";
import {
  styleNetworkFromVgg,
  StyleTransfer,
} from "../../../models/style/mod.ts";
import type { RgbImage } from "../../../runtime/io/image.ts";
import { getBackend, initBackend, Random } from "../../../runtime/mod.ts";

type Planes = Float64Array[]; // one plane per channel, row-major

function conv3(
  x: Planes,
  h: number,
  w: number,
  wt: Float32Array,
  b: Float32Array,
  k: number,
): Planes {
  const c = x.length;
  const out: Planes = [];
  for (let o = 0; o < k; o++) {
    const y = new Float64Array(h * w).fill(b[o]);
    for (let i = 0; i < c; i++) {
      for (let r = 0; r < 3; r++) {
        for (let s = 0; s < 3; s++) {
          const wv = wt[((o * c + i) * 3 + r) * 3 + s];
          for (let p = 0; p < h; p++) {
            const pp = p + r - 1;
            if (pp < 0 || pp >= h) continue; // zero padding
            for (let q = 0; q < w; q++) {
              const qq = q + s - 1;
              if (qq < 0 || qq >= w) continue;
              y[p * w + q] += wv * x[i][pp * w + qq];
            }
          }
        }
      }
    }
    out.push(y);
  }
  return out;
}

const relu = (x: Planes) => x.map((p) => p.map((v) => Math.max(0, v)));

function avgPool(x: Planes, h: number, w: number): Planes {
  const ho = Math.floor(h / 2), wo = Math.floor(w / 2);
  return x.map((p) => {
    const y = new Float64Array(ho * wo);
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        y[i * wo + j] = 0.25 *
          (p[2 * i * w + 2 * j] + p[2 * i * w + 2 * j + 1] +
            p[(2 * i + 1) * w + 2 * j] + p[(2 * i + 1) * w + 2 * j + 1]);
      }
    }
    return y;
  });
}

/** relu1_1, relu1_2, relu2_1 of model-space planes. */
function reference(
  params: Map<string, Float32Array>,
  x: Planes,
  h: number,
  w: number,
) {
  const r11 = relu(
    conv3(
      x,
      h,
      w,
      params.get("features.0.weight")!,
      params.get("features.0.bias")!,
      64,
    ),
  );
  const r12 = relu(
    conv3(
      r11,
      h,
      w,
      params.get("features.2.weight")!,
      params.get("features.2.bias")!,
      64,
    ),
  );
  const p1 = avgPool(r12, h, w);
  const h2 = Math.floor(h / 2), w2 = Math.floor(w / 2);
  const r21 = relu(
    conv3(
      p1,
      h2,
      w2,
      params.get("features.5.weight")!,
      params.get("features.5.bias")!,
      128,
    ),
  );
  return { relu1_1: r11, relu1_2: r12, relu2_1: r21 };
}

function normGram(f: Planes): Float64Array {
  const n = f.length, m = f[0].length;
  const g = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let s = 0;
      for (let k = 0; k < m; k++) s += f[a][k] * f[b][k];
      g[a * n + b] = g[b * n + a] = s / m;
    }
  }
  return g;
}

interface Weights {
  alpha: number;
  beta: number;
  tv: number;
}

/** Total loss, float64, of model-space values x (3 planes of h x w). */
function referenceLoss(
  params: Map<string, Float32Array>,
  values: Float64Array,
  h: number,
  w: number,
  contentTaps: ReturnType<typeof reference>,
  styleGrams: Float64Array[],
  wt: Weights,
) {
  const planes = [0, 1, 2].map((c) =>
    values.subarray(c * h * w, (c + 1) * h * w)
  );
  const t = reference(params, planes, h, w);
  let content = 0;
  t.relu1_2.forEach((p, c) =>
    p.forEach((v, k) => content += (v - contentTaps.relu1_2[c][k]) ** 2)
  );
  content *= 0.5 * wt.alpha;
  let style = 0;
  [t.relu1_1, t.relu2_1].forEach((f, l) => {
    const g = normGram(f), n = f.length;
    let e = 0;
    g.forEach((v, i) => e += (v - styleGrams[l][i]) ** 2);
    style += wt.beta * 0.5 * e / (4 * n * n); // w_l = 1/2
  });
  let tv = 0;
  const unit = 1 / 255;
  for (const p of planes) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        if (j + 1 < w) tv += ((p[i * w + j + 1] - p[i * w + j]) * unit) ** 2;
        if (i + 1 < h) tv += ((p[(i + 1) * w + j] - p[i * w + j]) * unit) ** 2;
      }
    }
  }
  tv *= wt.tv;
  return { loss: content + style + tv, content, style, tv };
}

function randomImage(rng: Random, width: number, height: number): RgbImage {
  const data = new Float32Array(3 * width * height);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(0, 1);
  return { width, height, data };
}

const CASES: [string, Weights][] = [
  ["content", { alpha: 1e-3, beta: 0, tv: 0 }],
  ["style (style image 16x10, output 12x12)", { alpha: 0, beta: 1, tv: 0 }],
  ["total variation", { alpha: 0, beta: 0, tv: 0.5 }],
  ["all three", { alpha: 1e-3, beta: 1, tv: 0.5 }],
];

Deno.test("Gatys losses and their input gradient match a float64 reference and finite differences", async () => {
  await initBackend({ threads: 2 });
  try {
    const rng = new Random(7);
    const vgg = new VGG({
      depth: 19,
      upTo: "relu2_1",
      pooling: "avg",
      padMode: "zero",
      rng,
    });
    // Smaller weights keep Caffe-range inputs (±128) from saturating f32.
    const params = new Map<string, Float32Array>();
    for (const [name, t] of vgg.namedParameters()) {
      const v = t.data().map((x) => x * 0.05);
      t.write(v);
      params.set(name, v);
    }
    const network = styleNetworkFromVgg(vgg, CAFFE_BGR, { padMode: "zero" });
    const h = 12, w = 12;
    const content = randomImage(rng, w, h),
      style = randomImage(rng, 16, 10),
      start = randomImage(rng, w, h);
    const toPlanes = (img: RgbImage) => {
      const v = Float64Array.from(toModelValues(img, CAFFE_BGR));
      const n = img.width * img.height;
      return [0, 1, 2].map((c) => v.subarray(c * n, (c + 1) * n));
    };
    const contentTaps = reference(params, toPlanes(content), h, w);
    const st = reference(params, toPlanes(style), 10, 16);
    const styleGrams = [normGram(st.relu1_1), normGram(st.relu2_1)];
    const x64 = Float64Array.from(toModelValues(start, CAFFE_BGR));
    for (const [name, wt] of CASES) {
      const run = new StyleTransfer(network, content, [style], {
        contentWeight: wt.alpha,
        styleWeight: wt.beta,
        tvWeight: wt.tv,
        contentLayers: ["relu1_2"],
        styleLayers: ["relu1_1", "relu2_1"],
        init: start,
        // Keep the style image at its own 16x10 (longest side 16 = 16/12 x 12).
        styleScale: 16 / 12,
      });
      try {
        const ours = run.evaluate();
        const ref = referenceLoss(
          params,
          x64,
          h,
          w,
          contentTaps,
          styleGrams,
          wt,
        );
        for (const k of ["loss", "content", "style", "tv"] as const) {
          const tol = 1e-4 * Math.abs(ref[k]) + 1e-9;
          assert.ok(
            Math.abs(ours[k] - ref[k]) <= tol,
            `${name}: ${k} ${ours[k]} vs ${ref[k]}`,
          );
        }
        const pick = new Random(11);
        const idx = Array.from({ length: 12 }, () => pick.int(x64.length));
        const fd = idx.map((i) => {
          const e = 1e-3;
          const xp = x64.slice(), xm = x64.slice();
          xp[i] += e;
          xm[i] -= e;
          const fp =
            referenceLoss(params, xp, h, w, contentTaps, styleGrams, wt).loss;
          const fm =
            referenceLoss(params, xm, h, w, contentTaps, styleGrams, wt).loss;
          return (fp - fm) / (2 * e);
        });
        const scale = Math.max(...fd.map(Math.abs));
        assert.ok(scale > 0, `${name}: zero gradient`);
        idx.forEach((i, k) => {
          const g = ours.gradient[i];
          assert.ok(
            Math.abs(g - fd[k]) <= 2e-3 * scale + 1e-3 * Math.abs(fd[k]),
            `${name}: d/dx[${i}] ${g} vs finite difference ${fd[k]}`,
          );
        });
      } finally {
        run.dispose();
      }
    }
    network.dispose();
    assert.equal(getBackend().memory().liveCount, 0);
  } finally {
    getBackend().dispose();
  }
});
