// Logistic regression on real data: Fashion-MNIST classes 0 (T-shirt/top)
// and 1 (Trouser) from the 10k test file (2000 images: 1500 to train, 500
// held out), trained by SGD, Adam and L-BFGS. Each must reach 96% held-out
// accuracy. The objective (mean binary cross-entropy with logits) is
// evaluated in f64 in the test; the optimisers run on the engine.
import assert from "node:assert/strict";
import { getBackend } from "../../../runtime/backend.ts";
import { Adam, LBFGS, SGD } from "../../../runtime/optim/mod.ts";
import { type Tensor, tensor } from "../../../runtime/tensor.ts";
import { setGrad, setupBackend } from "./_setup.ts";

const DIR = "/usr/share/datasets/fashion-mnist";
const ACCURACY = 0.96;

async function gunzip(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path);
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function u32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset).getUint32(off, false);
}

/** Images of classes 0 and 1, pixels scaled to [0, 1], labels 0/1. */
async function loadTwoClasses(): Promise<{ x: Float64Array[]; y: number[] }> {
  const images = await gunzip(`${DIR}/t10k-images-idx3-ubyte.gz`);
  const labels = await gunzip(`${DIR}/t10k-labels-idx1-ubyte.gz`);
  assert.equal(u32(images, 0), 2051, "IDX image magic");
  assert.equal(u32(labels, 0), 2049, "IDX label magic");
  const n = u32(images, 4), pixels = u32(images, 8) * u32(images, 12);
  const x: Float64Array[] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = labels[8 + i];
    if (label > 1) continue;
    const img = images.subarray(16 + i * pixels, 16 + (i + 1) * pixels);
    x.push(Float64Array.from(img, (v) => v / 255));
    y.push(label);
  }
  return { x, y };
}

const available = await Deno.stat(DIR).then(() => true, () => false);
if (!available) console.log(`logistic_test: ${DIR} is absent; skipping`);
const data = available ? await loadTwoClasses() : { x: [], y: [] };
const TRAIN = 1500;

/** Mean BCE-with-logits over the training set and its gradient, in f64. */
function objective(
  w: Float32Array,
  b: number,
): { f: number; gw: Float64Array; gb: number } {
  const d = w.length;
  const gw = new Float64Array(d);
  let f = 0, gb = 0;
  for (let i = 0; i < TRAIN; i++) {
    const xi = data.x[i];
    let z = b;
    for (let j = 0; j < d; j++) z += w[j] * xi[j];
    // log(1 + e^z) - y z, computed stably; d/dz = sigmoid(z) - y.
    f += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - data.y[i] * z;
    const r = 1 / (1 + Math.exp(-z)) - data.y[i];
    for (let j = 0; j < d; j++) gw[j] += r * xi[j];
    gb += r;
  }
  for (let j = 0; j < d; j++) gw[j] /= TRAIN;
  return { f: f / TRAIN, gw, gb: gb / TRAIN };
}

function heldOutAccuracy(w: Float32Array, b: number): number {
  let correct = 0;
  for (let i = TRAIN; i < data.x.length; i++) {
    let z = b;
    for (let j = 0; j < w.length; j++) z += w[j] * data.x[i][j];
    if ((z > 0 ? 1 : 0) === data.y[i]) correct++;
  }
  return correct / (data.x.length - TRAIN);
}

function model(): { w: Tensor; b: Tensor; closure: () => number } {
  const w = tensor(new Float32Array(784), [1, 784]);
  const b = tensor([0]);
  const closure = () => {
    const { f, gw, gb } = objective(w.data(), b.item());
    setGrad(w, gw);
    setGrad(b, [gb]);
    return f;
  };
  return { w, b, closure };
}

Deno.test({
  name:
    "logistic regression on Fashion-MNIST (T-shirt vs trouser) with SGD, Adam, L-BFGS",
  ignore: !available,
  fn: async () => {
    await setupBackend();
    assert.equal(data.x.length, 2000);
    const results: string[] = [];
    const run = (
      name: string,
      train: (
        m: ReturnType<typeof model>,
      ) => { loss: number; dispose: () => void },
    ) => {
      const m = model();
      const { loss, dispose } = train(m);
      const acc = heldOutAccuracy(m.w.data(), m.b.item());
      results.push(
        `${name}: loss ${loss.toExponential(2)}, held-out accuracy ${
          (acc * 100).toFixed(1)
        }%`,
      );
      assert.ok(acc >= ACCURACY, `${name}: accuracy ${acc}`);
      dispose();
      m.w.dispose();
      m.b.dispose();
    };
    run("SGD (momentum 0.9, 60 steps)", (m) => {
      const opt = new SGD([m.w, m.b], { lr: 0.1, momentum: 0.9 });
      let loss = NaN;
      for (let k = 0; k < 60; k++) {
        loss = m.closure();
        opt.step();
      }
      return { loss, dispose: () => opt.dispose() };
    });
    run("Adam (lr 0.01, 60 steps)", (m) => {
      const opt = new Adam([m.w, m.b], { lr: 0.01 });
      let loss = NaN;
      for (let k = 0; k < 60; k++) {
        loss = m.closure();
        opt.step();
      }
      return { loss, dispose: () => opt.dispose() };
    });
    run("L-BFGS (30 iterations)", (m) => {
      const opt = new LBFGS([m.w, m.b], { maxIter: 30, historySize: 10 });
      opt.step(m.closure);
      const loss = m.closure();
      return { loss, dispose: () => opt.dispose() };
    });
    console.log(results.join("\n"));
    getBackend().dispose();
  },
});
