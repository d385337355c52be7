import assert from "node:assert/strict";
import {
  BatchNorm2d,
  Conv2d,
  Flatten,
  Linear,
  MaxPool2d,
  Module,
  ReLU,
  Sequential,
} from "../../../runtime/nn/mod.ts";
import { backward } from "../../../runtime/grad.ts";
import { noGrad, releaseGraph } from "../../../runtime/autograd.ts";
import { mseLoss } from "../../../runtime/ops/mod.ts";
import { Random } from "../../../runtime/random.ts";
import { type Tensor, tensor, tidy, zeros } from "../../../runtime/tensor.ts";
import { randomArray } from "../../_check.ts";
import { disposeBackendAtEnd, liveCount, setupBackend } from "../_gradcheck.ts";

await setupBackend();

class Net extends Module {
  features: Sequential;
  classifier: Linear;
  constructor() {
    super();
    const rng = new Random(1);
    this.features = this.addModule(
      "features",
      new Sequential(
        new Conv2d(3, 4, 3, { padding: 1, rng }),
        new BatchNorm2d(4),
        new ReLU(),
        new MaxPool2d(2),
      ),
    );
    this.classifier = this.addModule(
      "classifier",
      new Linear(4 * 2 * 2, 5, { rng }),
    );
  }
  forward(x: Tensor): Tensor {
    const f = this.features.forward(x);
    const flat = new Flatten().forward(f);
    f.dispose();
    const y = this.classifier.forward(flat);
    flat.dispose();
    return y;
  }
}

Deno.test("dotted names, parameters, buffers (PyTorch's)", () => {
  const before = liveCount();
  const net = new Net();
  assert.deepEqual(net.namedParameters().map(([n]) => n), [
    "features.0.weight",
    "features.0.bias",
    "features.1.weight",
    "features.1.bias",
    "classifier.weight",
    "classifier.bias",
  ]);
  assert.deepEqual(net.namedBuffers().map(([n]) => n), [
    "features.1.running_mean",
    "features.1.running_var",
  ]);
  for (const [n, p] of net.namedParameters()) {
    assert.equal(p.name, n);
    assert.equal(p.requiresGrad, true);
  }
  assert.equal(net.parameters().length, 6);
  assert.deepEqual(
    [...net.stateDict().keys()].sort(),
    [
      ...net.namedParameters().map(([n]) => n),
      ...net.namedBuffers().map(([n]) => n),
    ].sort(),
  );
  assert.deepEqual(net.namedModules().map(([n]) => n), [
    "",
    "features",
    "features.0",
    "features.1",
    "features.2",
    "features.3",
    "classifier",
  ]);
  net.dispose();
  assert.equal(liveCount(), before);
});

Deno.test("train/eval, zeroGrad, state dicts, dispose", () => {
  const before = liveCount();
  const net = new Net();
  assert.ok(net.namedModules().every(([, m]) => m.training));
  net.eval();
  assert.ok(net.namedModules().every(([, m]) => !m.training));
  net.train();
  const x = randomArray(2 * 3 * 4 * 4, 2);
  tidy(() => {
    const y = net.forward(tensor(x, [2, 3, 4, 4]));
    backward(mseLoss(y, zeros(y.shape)));
  });
  assert.ok(net.parameters().every((p) => p.grad !== null));
  // Training mode moved the running stats.
  assert.ok(
    net.stateDict().get("features.1.running_mean")!.some((v) => v !== 0),
  );
  net.zeroGrad();
  assert.ok(net.parameters().every((p) => p.grad === null));

  const state = net.stateDict();
  const other = new Net();
  for (const p of other.parameters()) p.write(new Float32Array(p.size));
  other.loadStateDict(state);
  for (const [k, v] of other.stateDict()) assert.deepEqual(v, state.get(k), k);
  // Same outputs in eval mode. Inference runs under noGrad: a recorded
  // graph that is never back-propagated holds its saved values until
  // releaseGraph().
  net.eval();
  other.eval();
  noGrad(() =>
    tidy(() => {
      const t = tensor(x, [2, 3, 4, 4]);
      assert.deepEqual(net.forward(t).data(), other.forward(t).data());
    })
  );
  const inGraph = liveCount();
  tidy(() => releaseGraph(net.forward(tensor(x, [2, 3, 4, 4]))));
  assert.equal(liveCount(), inGraph);

  const bad = new Map(state);
  bad.delete("classifier.bias");
  bad.set("features.0.weight", new Float32Array(3));
  bad.set("extra.weight", new Float32Array(1));
  assert.throws(
    () => other.loadStateDict(bad),
    (e: Error) =>
      /missing: classifier.bias/.test(e.message) &&
      /unexpected: extra.weight/.test(e.message) &&
      /size mismatch: features.0.weight \(expected \[4,3,3,3\]/.test(e.message),
  );
  // Non-strict loads what matches, still refusing mismatched sizes.
  bad.set("features.0.weight", state.get("features.0.weight")!);
  other.loadStateDict(bad, { strict: false });
  net.dispose();
  other.dispose();
  assert.equal(liveCount(), before);
});

Deno.test("parameters survive tidy scopes they were created in", () => {
  const before = liveCount();
  let lin: Linear | null = null;
  tidy(() => {
    lin = new Linear(3, 2);
    zeros([4]);
  });
  // Linear's two parameters were kept; the zeros freed.
  assert.equal(liveCount(), before + 2);
  assert.equal(lin!.weight.disposed, false);
  lin!.dispose();
  assert.equal(liveCount(), before);
});

disposeBackendAtEnd();
