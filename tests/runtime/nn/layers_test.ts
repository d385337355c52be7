import assert from "node:assert/strict";
import { noGrad } from "../../../runtime/autograd.ts";
import { grad } from "../../../runtime/grad.ts";
import {
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  Flatten,
  LeakyReLU,
  Linear,
  LRN,
  MaxPool2d,
  ReLU,
  Sequential,
  Sigmoid,
  Tanh,
} from "../../../runtime/nn/mod.ts";
import * as ops from "../../../runtime/ops/mod.ts";
import { Random } from "../../../runtime/random.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { assertClose, randomArray } from "../../_check.ts";
import { disposeBackendAtEnd, liveCount, setupBackend } from "../_gradcheck.ts";

await setupBackend();

function maxAbs(v: Float32Array): number {
  return v.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
}

Deno.test("default initialisation follows PyTorch's bounds", () => {
  const before = liveCount();
  const conv = new Conv2d(6, 8, [3, 5], { rng: new Random(1) });
  const bound = 1 / Math.sqrt(6 * 15); // kaiming_uniform(a=√5) = U(±1/√fan_in)
  assert.ok(maxAbs(conv.weight.data()) <= bound);
  assert.ok(maxAbs(conv.weight.data()) > 0.9 * bound);
  assert.ok(maxAbs(conv.bias!.data()) <= bound);
  const ct = new ConvTranspose2d(4, 6, 3, { groups: 2, rng: new Random(2) });
  assert.deepEqual(ct.weight.shape, [4, 3, 3, 3]);
  assert.ok(maxAbs(ct.weight.data()) <= 1 / Math.sqrt(3 * 9));
  const lin = new Linear(20, 3, { bias: false });
  assert.equal(lin.bias, null);
  assert.ok(maxAbs(lin.weight.data()) <= 1 / Math.sqrt(20));
  const bn = new BatchNorm2d(3);
  assert.deepEqual([...bn.weight!.data()], [1, 1, 1]);
  assert.deepEqual([...bn.bias!.data()], [0, 0, 0]);
  assert.deepEqual([...bn.runningVar!.data()], [1, 1, 1]);
  for (const m of [conv, ct, lin, bn]) m.dispose();
  assert.equal(liveCount(), before);
});

Deno.test("layers compute their functional ops", () => {
  const before = liveCount();
  const x = randomArray(2 * 4 * 6 * 6, 1);
  const conv = new Conv2d(4, 6, 3, { stride: 2, padding: "same", groups: 2 });
  const ct = new ConvTranspose2d(4, 2, 2, { stride: 2 });
  noGrad(() =>
    tidy(() => {
      const t = tensor(x, [2, 4, 6, 6]);
      const same = (a: Float32Array, b: Float32Array, label: string) =>
        assert.deepEqual(a, b, label);
      same(
        conv.forward(t).data(),
        ops.conv2d(t, conv.weight, conv.bias, {
          stride: 2,
          padding: "same",
          groups: 2,
        }).data(),
        "Conv2d",
      );
      assert.deepEqual(conv.forward(t).shape, [2, 6, 3, 3]);
      same(
        ct.forward(t).data(),
        ops.convTranspose2d(t, ct.weight, ct.bias, { stride: 2 }).data(),
        "ConvT",
      );
      assert.deepEqual(ct.forward(t).shape, [2, 2, 12, 12]);
      same(new ReLU().forward(t).data(), ops.relu(t).data(), "ReLU");
      same(
        new LeakyReLU(0.2).forward(t).data(),
        ops.leakyRelu(t, 0.2).data(),
        "LeakyReLU",
      );
      same(new Sigmoid().forward(t).data(), ops.sigmoid(t).data(), "Sigmoid");
      same(new Tanh().forward(t).data(), ops.tanh(t).data(), "Tanh");
      same(
        new MaxPool2d(3, { stride: 2 }).forward(t).data(),
        ops.maxPool2d(t, 3, { stride: 2 }).data(),
        "MaxPool",
      );
      same(
        new AvgPool2d(2, { padding: 1, countIncludePad: false }).forward(t)
          .data(),
        ops.avgPool2d(t, 2, { padding: 1, countIncludePad: false }).data(),
        "AvgPool",
      );
      same(
        new LRN(3, 1e-2, 0.75, 2).forward(t).data(),
        ops.lrn(t, { size: 3, alpha: 1e-2, bias: 2 }).data(),
        "LRN",
      );
      assert.deepEqual(new Flatten().forward(t).shape, [2, 144]);
      const d = new Dropout(0.5);
      d.eval();
      same(d.forward(t).data(), Float32Array.from(x), "Dropout eval");
    })
  );
  conv.dispose();
  ct.dispose();
  assert.equal(liveCount(), before);
});

Deno.test("BatchNorm2d: batch stats in training, running stats in eval", () => {
  const bn = new BatchNorm2d(2, { momentum: 0.5 });
  const x = randomArray(3 * 2 * 4, 2, 1, 3);
  noGrad(() =>
    tidy(() => {
      const t = tensor(x, [3, 2, 2, 2]);
      const y = bn.forward(t).data();
      // Training output has zero mean per channel.
      let m0 = 0;
      for (let b = 0; b < 3; b++) {
        for (let i = 0; i < 4; i++) m0 += y[b * 8 + i];
      }
      assert.ok(Math.abs(m0 / 12) < 1e-5);
      assert.ok(bn.runningMean!.data()[0] > 0.4); // 0.5 · mean(x) with x in [1, 3)
      bn.eval();
      const e = bn.forward(t).data();
      const rm = bn.runningMean!.data(), rv = bn.runningVar!.data();
      assertClose(
        e,
        Array.from(x, (v, i) => {
          const c = Math.floor(i / 4) % 2;
          return (v - rm[c]) / Math.sqrt(rv[c] + 1e-5);
        }),
        { atol: 1e-5, label: "eval" },
      );
    })
  );
  bn.dispose();
});

Deno.test("Sequential: children named 0, 1, …; parameter gradients by finite differences", () => {
  const before = liveCount();
  const rng = new Random(3);
  const net = new Sequential(
    new Linear(4, 5, { rng }),
    new Tanh(),
    new Linear(5, 2, { rng }),
  );
  assert.deepEqual(net.namedParameters().map(([n]) => n), [
    "0.weight",
    "0.bias",
    "2.weight",
    "2.bias",
  ]);
  const x = randomArray(3 * 4, 4);
  const loss = () => ops.sum(ops.sigmoid(net.forward(tensor(x, [3, 4]))));
  let analytic: Float32Array[] = [];
  tidy(() => {
    analytic = grad(loss(), net.parameters()).map((g) => g.data());
  });
  // Smooth network: h = 1e-2 on parameters, f64 differences of the f32
  // forward; atol 1e-3, rtol 1e-2.
  net.parameters().forEach((p, k) => {
    const v = p.data();
    const numeric = Array.from(v, (_, j) => {
      const at = (d: number) => {
        const w = v.slice();
        w[j] = Math.fround(v[j] + d);
        p.write(w);
        return noGrad(() => tidy(() => loss().item()));
      };
      const hp = Math.fround(v[j] + 1e-2) - v[j],
        hm = Math.fround(v[j] - 1e-2) - v[j];
      const r = (at(1e-2) - at(-1e-2)) / (hp - hm);
      p.write(v);
      return r;
    });
    assertClose(analytic[k], numeric, {
      atol: 1e-3,
      rtol: 1e-2,
      label: net.namedParameters()[k][0],
    });
  });
  net.dispose();
  assert.equal(liveCount(), before);
});

disposeBackendAtEnd();
