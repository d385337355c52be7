// 1,000 training steps of a small conv net must not grow memory: live bytes
// and the engine's reserved linear memory stay where they were after warm-up.
import assert from "node:assert/strict";
import {
  backward,
  getBackend,
  initBackend,
  manualSeed,
  nn,
  ops,
  optim,
  tensor,
  tidy,
} from "../../runtime/mod.ts";
import type { WasmBackend } from "../../runtime/backends/wasm/backend.ts";

Deno.test("1,000 training steps keep live bytes and reserved memory flat", async () => {
  await initBackend({ threads: 2, backend: "wasm" });
  try {
    manualSeed(7);
    const net = new nn.Sequential(
      new nn.Conv2d(1, 4, 3, { padding: 1 }),
      new nn.BatchNorm2d(4),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Flatten(),
      new nn.Linear(4 * 4 * 4, 3),
    );
    const opt = new optim.Adam(net.parameters(), { lr: 1e-2 });
    const x = tensor(
      Float32Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i * 0.37)),
      [8, 1, 8, 8],
    );
    const labels = [0, 1, 2, 0, 1, 2, 0, 1];
    const step = () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = ops.softmaxCrossEntropy(net.forward(x), labels);
        backward(loss);
        opt.step();
        return loss.item();
      });
    const memory = () => getBackend().memory();
    const reserved = () =>
      (getBackend() as WasmBackend).engine.heap.reservedBytes;
    let first = 0;
    for (let i = 0; i < 10; i++) first = step();
    const live = memory().liveBytes, count = memory().liveCount;
    const bytes = reserved();
    let last = first;
    for (let i = 0; i < 1000; i++) last = step();
    assert.equal(memory().liveBytes, live, "live bytes after 1,010 steps");
    assert.equal(memory().liveCount, count, "live storages after 1,010 steps");
    assert.equal(reserved(), bytes, "engine memory did not grow");
    assert.ok(last < first, `training made progress (${first} -> ${last})`);
    console.log(
      `loss ${first.toFixed(4)} -> ${last.toFixed(4)} over 1,000 steps`,
    );
    net.dispose();
    opt.dispose?.();
    x.dispose();
  } finally {
    getBackend().dispose();
  }
});
