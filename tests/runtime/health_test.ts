// Gradient health: per-layer norms against f64 references, vanishing and
// exploding warnings (once per layer and condition), NonFiniteError on NaN
// losses, gradients and updates, overflow without NaN, z-score skipping,
// and update/parameter ratios.
import assert from "node:assert/strict";
import { getBackend } from "../../runtime/backend.ts";
import {
  assertFinite,
  GradientMonitor,
  type GradientWarning,
  layerGradNorms,
  layerOf,
  namedTensors,
  NonFiniteError,
  RollingZScore,
} from "../../runtime/health.ts";
import { initBackend } from "../../runtime/mod.ts";
import { type Tensor, tensor } from "../../runtime/tensor.ts";
import { randomArray } from "../_check.ts";
import { testWasmDir } from "../_engine.ts";

await initBackend({ threads: 2, wasmBaseUrl: testWasmDir() });

/** A named parameter with a gradient. */
function param(
  name: string,
  values: Float32Array,
  grad: ArrayLike<number>,
): Tensor {
  const p = tensor(values);
  p.name = name;
  p.requiresGrad = true;
  p.grad = tensor(grad);
  return p;
}

function norm64(...arrays: ArrayLike<number>[]): number {
  let s = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

function dispose(params: Tensor[]): void {
  for (const p of params) p.dispose();
}

Deno.test("health: layer names and named tensors", () => {
  assert.equal(layerOf("fc3.weight"), "fc3");
  assert.equal(layerOf("fc3.bias"), "fc3");
  assert.equal(layerOf("features.0.weight"), "features.0");
  assert.equal(layerOf("scale"), "scale");
  const a = tensor([1]);
  a.name = "x.weight";
  const b = tensor([2]);
  assert.deepEqual(namedTensors([a, b]).map(([n]) => n), [
    "x.weight",
    "param1",
  ]);
  assert.deepEqual(namedTensors(new Map([["m", a]])).map(([n]) => n), ["m"]);
  assert.deepEqual(namedTensors({ r: b }).map(([n]) => n), ["r"]);
  a.dispose();
  b.dispose();
});

Deno.test("health: per-layer gradient norms match f64 (rtol 1e-6)", () => {
  // Sizes not multiples of 4, and large enough to use both threads.
  const g1w = randomArray(37 * 53, 1), g1b = randomArray(37, 2);
  const g2w = randomArray(70001, 3, -1e-3, 1e-3);
  const params = [
    param("fc1.weight", randomArray(37 * 53, 4), g1w),
    param("fc1.bias", randomArray(37, 5), g1b),
    param("fc2.weight", randomArray(70001, 6), g2w),
  ];
  const noGrad = tensor([1, 2, 3]);
  noGrad.name = "fc3.weight";
  const norms = layerGradNorms([...params, noGrad]);
  assert.deepEqual([...norms.keys()], ["fc1", "fc2"]);
  const close = (a: number, b: number) =>
    assert.ok(Math.abs(a - b) <= 1e-6 * b, `${a} vs ${b}`);
  close(norms.get("fc1")!, norm64(g1w, g1b));
  close(norms.get("fc2")!, norm64(g2w));
  const monitor = new GradientMonitor({ onWarning: () => {} });
  const rec = monitor.observe(params, 1.5, 0);
  close(rec.gradNorm, norm64(g1w, g1b, g2w));
  close(rec.layers.fc1.paramNorm, norm64(params[0].data(), params[1].data()));
  dispose([...params, noGrad]);
});

Deno.test("health: vanishing and exploding warnings, once per layer and condition", () => {
  const tiny = param(
    "early.weight",
    new Float32Array(10).fill(1),
    new Float32Array(10).fill(1e-10),
  );
  const huge = param(
    "late.weight",
    new Float32Array(10).fill(1),
    new Float32Array(10).fill(1e4),
  );
  const fine = param(
    "mid.weight",
    new Float32Array(10).fill(1),
    new Float32Array(10).fill(0.1),
  );
  const warnings: GradientWarning[] = [];
  const monitor = new GradientMonitor({
    lowerBound: 1e-6,
    upperBound: 100,
    onWarning: (w) => warnings.push(w),
  });
  for (let step = 0; step < 3; step++) {
    monitor.observe([tiny, fine, huge], 2.0, step);
  }
  assert.deepEqual(warnings.map((w) => [w.layer, w.kind, w.step]), [[
    "early",
    "vanishing",
    0,
  ], ["late", "exploding", 0]]);
  assert.match(
    warnings[0].message,
    /Vanishing gradient: layer early has gradient norm 3\.16e-10 < 0\.000001 at step 0/,
  );
  assert.match(
    warnings[1].message,
    /Exploding gradient: layer late has gradient norm 3\.16e\+4 > 100/,
  );
  // Default: console.warn, once per layer and condition.
  const original = console.warn;
  const lines: string[] = [];
  console.warn = (m: string) => lines.push(m);
  try {
    const m2 = new GradientMonitor({ lowerBound: 1e-6, upperBound: 100 });
    for (let step = 0; step < 4; step++) m2.observe([tiny, fine, huge], 2.0);
    assert.equal(lines.length, 2);
    assert.deepEqual(m2.history.map((r) => r.step), [0, 1, 2, 3]);
  } finally {
    console.warn = original;
  }
  // warnOnce: false reports every step.
  const all: GradientWarning[] = [];
  const m3 = new GradientMonitor({
    lowerBound: 1e-6,
    upperBound: 100,
    warnOnce: false,
    onWarning: (w) => all.push(w),
  });
  for (let step = 0; step < 3; step++) m3.observe([tiny], 2.0);
  assert.equal(all.length, 3);
  assert.throws(
    () => new GradientMonitor({ lowerBound: 1, upperBound: 0.5 }),
    /not increasing/,
  );
  dispose([tiny, huge, fine]);
});

Deno.test("health: NaN/Inf loss or gradient stops with a NonFiniteError naming it", () => {
  const ok = param("fc1.weight", randomArray(50, 1), randomArray(50, 2));
  const g = randomArray(1001, 3);
  g[777] = NaN;
  g[5] = -Infinity;
  const bad = param("fc2.bias", randomArray(1001, 4), g);
  const monitor = new GradientMonitor();
  assert.throws(() => monitor.observe([ok, bad], 0.5, 7), (e: Error) => {
    assert.ok(e instanceof NonFiniteError);
    assert.equal(e.what, "gradient");
    assert.equal(e.tensor, "fc2.bias");
    assert.equal(e.layer, "fc2");
    assert.equal(e.step, 7);
    assert.equal(
      e.message,
      "Gradient of fc2.bias (layer fc2) holds 2 NaN/Inf of 1001 values at step 7",
    );
    return true;
  });
  assert.equal(monitor.history.length, 0, "nothing recorded for a failed step");
  for (const lossValue of [NaN, Infinity]) {
    assert.throws(() => monitor.observe([ok], lossValue, 3), (e: Error) => {
      assert.ok(e instanceof NonFiniteError);
      assert.equal(e.what, "loss");
      assert.equal(e.message, `Loss is ${lossValue} at step 3`);
      return true;
    });
  }
  // The loss may be a one-element tensor.
  const lossTensor = tensor([NaN]);
  assert.throws(() => monitor.observe([ok], lossTensor), NonFiniteError);
  lossTensor.dispose();
  // assertFinite on parameters.
  const p = tensor([1, NaN, 3]);
  p.name = "conv1.weight";
  assert.throws(
    () => assertFinite([p]),
    /Parameter conv1\.weight \(layer conv1\) holds 1 NaN\/Inf of 3 values/,
  );
  assertFinite([ok]);
  assertFinite([ok], "gradient");
  assert.throws(
    () => assertFinite([bad], "gradient", 2),
    /Gradient of fc2\.bias .* at step 2/,
  );
  dispose([ok, bad, p]);
});

Deno.test("health: an f32 overflow of the norm from finite values is Infinity, not NaN", () => {
  // Each square is finite in f64 partials but the total exceeds f32.
  const big = param(
    "fc9.weight",
    new Float32Array(64).fill(1),
    new Float32Array(64).fill(3e19),
  );
  const warnings: GradientWarning[] = [];
  const monitor = new GradientMonitor({ onWarning: (w) => warnings.push(w) });
  const rec = monitor.observe([big], 1.0);
  assert.ok(rec.layers.fc9.gradNorm > 1e20, `norm ${rec.layers.fc9.gradNorm}`);
  assert.equal(warnings[0]?.kind, "exploding");
  big.dispose();
});

Deno.test("health: rolling z-scores flag a loss spike and skip the update", () => {
  const z = new RollingZScore(4);
  assert.ok(Number.isNaN(z.push(1)));
  z.push(2);
  z.push(1);
  z.push(2);
  // Window [1, 2, 1, 2]: mean 1.5, std 0.5.
  assert.equal(z.push(3), 3);
  // Window [2, 1, 2, 3].
  assert.equal(z.push(2), 0);
  assert.equal(z.push(Infinity), Infinity);
  assert.throws(() => new RollingZScore(1), /window/);

  const p = param(
    "fc.weight",
    new Float32Array(4).fill(1),
    new Float32Array(4).fill(0.5),
  );
  const monitor = new GradientMonitor({
    window: 8,
    skipLossZ: 4,
    onWarning: () => {},
  });
  const losses = [2.0, 2.1, 1.9, 2.0, 2.05, 1.95, 2.0, 2.02, 1.98, 9.0, 2.0];
  const skips = losses.map((l) => monitor.observe([p], l).skip);
  assert.deepEqual(skips, losses.map((l) => l === 9.0));
  assert.ok(monitor.history[9].lossZ > 4);
  assert.ok(Number.isNaN(monitor.history[0].lossZ));
  // maxHistory bounds memory.
  const m2 = new GradientMonitor({ maxHistory: 3, onWarning: () => {} });
  for (let i = 0; i < 10; i++) m2.observe([p], 1);
  assert.deepEqual(m2.history.map((r) => r.step), [7, 8, 9]);
  p.dispose();
});

Deno.test("health: update/parameter ratios and NaN updates", () => {
  const w = param("fc1.weight", randomArray(300, 1), randomArray(300, 2));
  const b = param("fc1.bias", randomArray(30, 3), randomArray(30, 4));
  const monitor = new GradientMonitor({ onWarning: () => {} });
  monitor.observe([w, b], 1.0);
  const before = [w.data(), b.data()];
  // p <- 1.1 p: ||Δ|| / ||p|| = 0.1.
  const result = monitor.measureUpdate([w, b], () => {
    w.write(before[0].map((v) => v * 1.1));
    b.write(before[1].map((v) => v * 1.1));
    return "done";
  });
  assert.equal(result, "done");
  const ratio = monitor.last!.layers.fc1.updateRatio!;
  assert.ok(Math.abs(ratio - 0.1) < 1e-6, `ratio ${ratio}`);
  const series = monitor.series("updateRatio");
  assert.deepEqual([...series.keys()], ["fc1"]);
  assert.equal(series.get("fc1")![0], ratio);
  assert.deepEqual(monitor.layers(), ["fc1"]);
  // An update that produces NaN is caught, and the copies are freed.
  const live = getBackend().memory().liveCount;
  assert.throws(
    () =>
      monitor.measureUpdate(
        [w, b],
        () => b.write(new Float32Array(30).fill(NaN)),
      ),
    /Parameter fc1\.bias \(layer fc1\) holds 30 NaN\/Inf of 30 values at step 0/,
  );
  assert.equal(getBackend().memory().liveCount, live);
  dispose([w, b]);
});

Deno.test("health: norms are bit-identical with 1 thread, 2 threads and the single-thread build", async () => {
  const g = randomArray(100003, 11, -2, 2);
  const results: number[] = [];
  for (
    const options of [{ threads: 2 }, { threads: 1 }, {
      threads: 1,
      variant: "single-simd" as const,
    }]
  ) {
    await initBackend({ ...options, wasmBaseUrl: testWasmDir() });
    const p = param("fc1.weight", new Float32Array(g.length), g);
    results.push(layerGradNorms([p]).get("fc1")!);
    p.dispose();
  }
  assert.equal(results[1], results[0]);
  assert.equal(results[2], results[0]);
  assert.ok(Math.abs(results[0] - norm64(g)) <= 1e-6 * norm64(g));
});

Deno.test("dispose the backend", () => getBackend().dispose());
