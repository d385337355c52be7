// The runtime under Node from build/js/mod.js (deno task build:js): tensors,
// ops and autograd with the same API as in Deno, threaded results equal to
// single-threaded ones bit for bit.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  backward,
  getBackend,
  initBackend,
  manualSeed,
  ops,
  Random,
  tensor,
  tidy,
} from "../../build/js/mod.js";

/** conv → relu → gram → mse against a target: loss and input gradient. */
function convGramLoss() {
  const rng = new Random(7);
  const values = (n) => Float32Array.from({ length: n }, () => rng.normal());
  const x = tensor(values(2 * 13 * 11), [1, 2, 13, 11]);
  x.requiresGrad = true;
  const w = tensor(values(5 * 2 * 3 * 3), [5, 2, 3, 3]);
  w.requiresGrad = true;
  const target = tensor(values(25), [5, 5]);
  const loss = tidy(() => {
    const y = ops.relu(ops.conv2d(x, w, null, { padding: 1 }));
    return ops.mseLoss(ops.gram(y, 1 / (13 * 11)), target);
  });
  backward(loss);
  const out = { loss: loss.item(), dx: x.grad.data(), dw: w.grad.data() };
  for (const t of [x, w, target, loss]) t.dispose();
  return out;
}

test("ops with autograd: 2 threads equal 1 thread bit for bit", async () => {
  manualSeed(1);
  const backend = await initBackend({ threads: 2 });
  const threaded = convGramLoss();
  assert.equal(backend.threads, 2);
  await initBackend({ threads: 1 });
  const single = convGramLoss();
  assert.ok(Number.isFinite(threaded.loss) && threaded.loss > 0);
  assert.equal(threaded.loss, single.loss);
  assert.deepEqual(threaded.dx, single.dx);
  assert.deepEqual(threaded.dw, single.dw);
  assert.equal(getBackend().memory().liveCount, 0, "every tensor freed");
  getBackend().dispose();
});

test("elementwise ops and their gradients match closed forms", async () => {
  await initBackend({ threads: 2 });
  try {
    const a = tensor([1, -2, 3, 0.5, 4], [5]);
    const b = tensor([2, 2, -1, 4, 0.25], [5]);
    a.requiresGrad = b.requiresGrad = true;
    const loss = ops.sum(ops.mul(ops.add(a, b), a)); // Σ (a+b)·a
    backward(loss);
    const av = [1, -2, 3, 0.5, 4], bv = [2, 2, -1, 4, 0.25];
    assert.equal(
      loss.item(),
      Math.fround(
        av.reduce((s, x, i) => s + Math.fround(Math.fround(x + bv[i]) * x), 0),
      ),
    );
    assert.deepEqual([...a.grad.data()], av.map((x, i) => 2 * x + bv[i]));
    assert.deepEqual([...b.grad.data()], av);
    for (const t of [a, b, loss]) t.dispose();
  } finally {
    getBackend().dispose();
  }
});
