import assert from "node:assert/strict";
import { getBackend } from "../../runtime/backend.ts";
import {
  isRecording,
  noGrad,
  record,
  releaseGraph,
  save,
} from "../../runtime/autograd.ts";
import { backward, grad } from "../../runtime/grad.ts";
import type { KernelName } from "../../runtime/kernel_names.ts";
import { hasKernel, runKernel } from "../../runtime/kernel_registry.ts";
import {
  add,
  conv2d,
  linear,
  maxPool2d,
  mseLoss,
  mul,
  relu,
  reshape,
  sigmoid,
  sum,
} from "../../runtime/ops/mod.ts";
import { type Tensor, tensor, tidy } from "../../runtime/tensor.ts";
import { randomArray } from "../_check.ts";
import {
  disposeBackendAtEnd,
  distinctValues,
  gradcheck,
  liveCount,
  setupBackend,
} from "./_gradcheck.ts";

await setupBackend();

Deno.test("every kernel in KernelSignatures is registered for wasm", () => {
  // `satisfies` makes this list fail type-checking when a name is missing.
  const names = {
    Add: 1,
    Sub: 1,
    Mul: 1,
    Scale: 1,
    AddScalar: 1,
    Copy: 1,
    CopyInto: 1,
    AxpyInPlace: 1,
    AxpbyInPlace: 1,
    ScaleInPlace: 1,
    FillInPlace: 1,
    ClampInPlace: 1,
    AddChannelBias: 1,
    ChannelSum: 1,
    Relu: 1,
    ReluGrad: 1,
    LeakyRelu: 1,
    LeakyReluGrad: 1,
    Sigmoid: 1,
    SigmoidGrad: 1,
    Tanh: 1,
    TanhGrad: 1,
    Sum: 1,
    Dot: 1,
    SquaredNorm: 1,
    MaxAbs: 1,
    CountNonFinite: 1,
    MatMul: 1,
    Conv2D: 1,
    Conv2DBackpropInput: 1,
    Conv2DBackpropFilter: 1,
    ConvTranspose2D: 1,
    ConvTranspose2DBackpropInput: 1,
    ConvTranspose2DBackpropFilter: 1,
    MaxPool: 1,
    MaxPoolGrad: 1,
    AvgPool: 1,
    AvgPoolGrad: 1,
    GlobalAvgPool: 1,
    GlobalAvgPoolGrad: 1,
    UpsampleNearest: 1,
    UpsampleNearestGrad: 1,
    LRN: 1,
    LRNGrad: 1,
    BatchNormTrain: 1,
    BatchNormEval: 1,
    BatchNormGrad: 1,
    Gram: 1,
    GramGrad: 1,
    MseLoss: 1,
    BceWithLogitsLoss: 1,
    SoftmaxCrossEntropy: 1,
    Softmax: 1,
    SgdUpdate: 1,
    AdamUpdate: 1,
    AbsSum: 1,
  } satisfies Record<KernelName, 1>;
  for (const n of Object.keys(names) as KernelName[]) {
    assert.ok(hasKernel(n), n);
  }
});

Deno.test("in-place and reduction kernels not covered by the ops", () => {
  tidy(() => {
    const x = tensor([1, -2, 3, Infinity, NaN]);
    assert.equal(runKernel("MaxAbs", tensor([1, -5, 3])).item(), 5);
    assert.equal(runKernel("CountNonFinite", x).item(), 2);
    const y = tensor([1, 2, 3]);
    runKernel("AxpyInPlace", 2, tensor([1, 1, 1]), y);
    assert.deepEqual([...y.data()], [3, 4, 5]);
    runKernel("AxpbyInPlace", 2, tensor([1, 1, 1]), 0.5, y);
    assert.deepEqual([...y.data()], [3.5, 4, 4.5]);
    runKernel("ClampInPlace", y, 3.75, 4.25);
    assert.deepEqual([...y.data()], [3.75, 4, 4.25]);
    const dst = tensor([0, 0, 0, 0, 0]);
    runKernel("CopyInto", tensor([7, 8]), dst, 3);
    assert.deepEqual([...dst.data()], [0, 0, 0, 7, 8]);
    assert.throws(
      () => runKernel("CopyInto", tensor([7, 8]), dst, 4),
      /overrun/,
    );
  });
});

Deno.test("the gradient check catches a wrong backward rule", () => {
  // y = x², recorded with the rule dy/dx = x (should be 2x).
  const square = (x: Tensor) => {
    const y = runKernel("Mul", x, x);
    const sx = save(x);
    return record(y, "badSquare", [x], (g) => [runKernel("Mul", g, sx)], [sx]);
  };
  assert.throws(
    () =>
      gradcheck([{ shape: [6] }], ([x]) => square(x), {
        h: 0.25,
        atol: 1e-5,
        rtol: 1e-5,
      }),
    /element/,
  );
});

Deno.test("a small network: ops used twice, gradients to inputs and parameters", () => {
  // conv → relu → conv with the SAME weight → maxPool → linear → sigmoid.
  // Kinks (ReLU at 0, max-pool ties) make h = 1e-3 with a loose tolerance
  // the safe choice: atol 2e-3 of the largest gradient, rtol 1e-2.
  const x = distinctValues(1 * 2 * 6 * 6, 3, 0.02);
  gradcheck(
    [{ shape: [1, 2, 6, 6], values: x }, { shape: [2, 2, 3, 3] }, {
      shape: [3, 8],
    }, { shape: [3] }],
    ([inp, w, lw, lb]) => {
      const h1 = relu(conv2d(inp, w, null, { padding: 1 }));
      const h2 = conv2d(h1, w, null, { padding: 1 });
      const p = maxPool2d(h2, 3);
      return sigmoid(linear(reshape(p, [1, 8]), lw, lb));
    },
    {
      h: 1e-3,
      atol: 2e-3,
      rtol: 1e-2,
      label: "conv-relu-conv(shared w)-pool-linear",
    },
  );
});

Deno.test("noGrad records nothing", () => {
  tidy(() => {
    const a = tensor([1, 2]), b = tensor([3, 4]);
    a.requiresGrad = true;
    const y = noGrad(() => {
      assert.equal(isRecording(), false);
      return mul(a, b);
    });
    assert.equal(isRecording(), true);
    assert.equal(y.node, null);
    assert.equal(y.requiresGrad, false);
    const z = mul(a, b);
    assert.equal(z.node?.op, "mul");
    releaseGraph(z);
  });
});

Deno.test("gradients accumulate across two backward calls", () => {
  const before = liveCount();
  const a = tensor(randomArray(5, 1)), b = tensor(randomArray(5, 2));
  a.requiresGrad = true;
  tidy(() => backward(sum(mul(a, b))));
  const g1 = a.grad!.data();
  assert.deepEqual(g1, b.data());
  tidy(() => backward(sum(mul(a, b))));
  assert.deepEqual(a.grad!.data(), Float32Array.from(g1, (v) => 2 * v));
  assert.equal(b.grad, null);
  a.dispose();
  b.dispose();
  assert.equal(liveCount(), before);
});

Deno.test("grad() leaves every .grad alone; backward() needs a seed for non-scalars", () => {
  const before = liveCount();
  tidy(() => {
    const a = tensor([1, 2, 3]), w = tensor([4, 5, 6]);
    a.requiresGrad = w.requiresGrad = true;
    backward(sum(mul(a, w)));
    const oldA = a.grad!, oldW = w.grad!;
    const [ga] = grad(sum(mul(mul(a, a), w)), [a]);
    assert.deepEqual([...ga.data()], [8, 20, 36]); // 2·a·w
    assert.equal(a.grad, oldA);
    assert.equal(w.grad, oldW);
    assert.deepEqual([...oldA.data()], [4, 5, 6]);
    assert.deepEqual([...oldW.data()], [1, 2, 3]);
    assert.throws(() => backward(mul(a, w)), /gradOutput/);
    // An input the loss does not reach gets zeros.
    const c = tensor([1]);
    c.requiresGrad = true;
    const [gc] = grad(sum(a), [c]);
    assert.deepEqual([...gc.data()], [0]);
    a.grad?.dispose();
    w.grad?.dispose();
    a.grad = w.grad = null;
  });
  assert.equal(liveCount(), before);
});

Deno.test("tidy and dispose leave no live storages (graph, saved values, grads)", () => {
  const mem = getBackend().memory();
  const x = tensor(randomArray(2 * 3 * 5 * 5, 4), [2, 3, 5, 5]);
  const w = tensor(randomArray(4 * 3 * 9, 5), [4, 3, 3, 3]);
  w.requiresGrad = true;
  const before = getBackend().memory();
  for (let i = 0; i < 3; i++) {
    tidy(() => {
      const y = maxPool2d(relu(conv2d(x, w, null, { padding: 1 })), 2);
      backward(mseLoss(y, tensor(new Float32Array(y.size), y.shape)));
    });
  }
  // Only w.grad was added.
  assert.equal(getBackend().memory().liveCount, before.liveCount + 1);
  // A graph that is never back-propagated is freed by releaseGraph.
  tidy(() => {
    const y = sum(relu(add(x.view([150]), x.view([150]))));
    assert.equal(y.requiresGrad, false);
    const z = sum(mul(w.view([108]), w.view([108])));
    assert.equal(z.requiresGrad, false); // views do not carry gradients
    const q = sum(relu(conv2d(x, w)));
    releaseGraph(q);
  });
  assert.equal(getBackend().memory().liveCount, before.liveCount + 1);
  w.dispose();
  x.dispose();
  assert.equal(getBackend().memory().liveCount, mem.liveCount);
  assert.equal(getBackend().memory().liveBytes, mem.liveBytes);
});

Deno.test("a deep chain back-propagates without recursion limits", () => {
  const before = liveCount();
  tidy(() => {
    const a = tensor([0.5]);
    a.requiresGrad = true;
    let y = a;
    for (let i = 0; i < 3000; i++) y = add(y, a);
    const [g] = grad(y, [a]);
    assert.equal(g.item(), 3001);
  });
  assert.equal(liveCount(), before);
});

Deno.test("gradients are bit-identical with 1 and 2 threads", async () => {
  // Big enough that the kernels split work over both threads.
  const run = () => {
    let out: Float32Array[] = [];
    tidy(() => {
      const x = tensor(randomArray(2 * 8 * 24 * 24, 1), [2, 8, 24, 24]);
      const w = tensor(randomArray(16 * 8 * 9, 2), [16, 8, 3, 3]);
      x.requiresGrad = w.requiresGrad = true;
      const y = sum(relu(conv2d(x, w, null, { padding: 1 })));
      const [gx, gw] = grad(y, [x, w]);
      out = [gx.data(), gw.data()];
    });
    return out;
  };
  assert.equal(getBackend().threads, 2);
  const two = run();
  await setupBackend(1);
  assert.equal(getBackend().threads, 1);
  const one = run();
  assert.deepEqual(one, two);
});

disposeBackendAtEnd();
