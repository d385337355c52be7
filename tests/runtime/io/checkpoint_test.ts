// Checkpoints: a model's parameters and buffers plus an SGD-momentum state
// survive a save/load round trip bit-exactly (training continues
// identically), files are written atomically, NaN/Inf are refused, and
// mismatched or foreign files fail with clear errors.
import assert from "node:assert/strict";
import { getBackend } from "../../../runtime/backend.ts";
import {
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "../../../runtime/io/checkpoint.ts";
import {
  readSafetensors,
  writeSafetensors,
} from "../../../runtime/io/safetensors.ts";
import { initBackend } from "../../../runtime/mod.ts";
import { BatchNorm2d, Linear } from "../../../runtime/nn/mod.ts";
import { SGD } from "../../../runtime/optim/mod.ts";
import { Random } from "../../../runtime/random.ts";
import { tensor } from "../../../runtime/tensor.ts";
import { randomArray } from "../../_check.ts";
import { testWasmDir } from "../../_engine.ts";

await initBackend({ threads: 2, wasmBaseUrl: testWasmDir() });

/** One SGD step on made-up gradients (deterministic per seed). */
function step(model: Linear, opt: SGD, seed: number): void {
  for (const [i, p] of model.parameters().entries()) {
    p.grad?.dispose();
    p.grad = tensor(randomArray(p.size, seed * 10 + i), p.shape);
  }
  opt.step();
}

Deno.test("checkpoint: parameters, buffers and SGD momentum round-trip and training continues identically", async () => {
  const model = new Linear(13, 7, { rng: new Random(1) });
  const bn = new BatchNorm2d(5);
  bn.namedBuffers()[0][1].write(randomArray(5, 9)); // running_mean
  const opt = new SGD(model.parameters(), {
    lr: 0.1,
    momentum: 0.9,
    clipNorm: 5,
  });
  step(model, opt, 1);
  step(model, opt, 2);
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ckpt.safetensors`;
  try {
    await saveCheckpoint(path, {
      model,
      buffers: bn.namedBuffers(),
      optimizer: opt,
      extra: { step: 2, seed: 1 },
    });
    // Atomic write: only the file itself is left in the directory.
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["ckpt.safetensors"]);
    // A plain safetensors reader sees the weights under their own names.
    const file = readSafetensors(await Deno.readFile(path));
    assert.deepEqual(file.tensors.get("weight")!.shape, [7, 13]);
    assert.ok([...file.tensors.keys()].some((k) => k.startsWith("optimizer/")));
    assert.equal(file.metadata.format, "impasto-checkpoint");

    // Continue the original for one step.
    step(model, opt, 3);
    const expected = model.weight.data();

    // A fresh model and optimiser restored from the file take the same step.
    const model2 = new Linear(13, 7, { rng: new Random(99) });
    const bn2 = new BatchNorm2d(5);
    const opt2 = new SGD(model2.parameters(), { lr: 0.5, momentum: 0.1 });
    const loaded = await loadCheckpoint(path, {
      model: model2,
      buffers: bn2.namedBuffers(),
      optimizer: opt2,
    });
    assert.deepEqual(loaded.extra, { step: 2, seed: 1 });
    assert.deepEqual(
      bn2.namedBuffers()[0][1].data(),
      bn.namedBuffers()[0][1].data(),
    );
    assert.equal(opt2.paramGroups[0].lr, 0.1);
    assert.equal(opt2.paramGroups[0].momentum, 0.9);
    assert.equal(opt2.clip.clipNorm, 5);
    assert.equal(opt2.steps, 2);
    step(model2, opt2, 3);
    assert.deepEqual(model2.weight.data(), expected);
    model2.dispose();
    opt2.dispose();
    bn2.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
    model.dispose();
    opt.dispose();
    bn.dispose();
  }
});

Deno.test("checkpoint: refuses to save NaN/Inf and leaves an existing file intact", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/good.safetensors`;
  const w = tensor(randomArray(10, 1), [2, 5]);
  w.name = "fc.weight";
  try {
    await saveCheckpoint(path, { parameters: [w] });
    const good = await Deno.readFile(path);
    const data = w.data();
    data[3] = NaN;
    w.write(data);
    await assert.rejects(
      () => saveCheckpoint(path, { parameters: [w] }),
      (e: Error) => {
        assert.ok(e instanceof CheckpointError);
        assert.equal(
          e.message,
          "Refusing to save a checkpoint: tensor fc.weight holds 1 NaN/Inf values",
        );
        return true;
      },
    );
    assert.deepEqual(await Deno.readFile(path), good);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [
      "good.safetensors",
    ]);
    // Non-finite optimiser buffers are refused too.
    const fakeOpt = {
      stateDict: () => ({
        state: { 0: { buf: new Float32Array([1, Infinity]) } },
      }),
      loadStateDict() {},
    };
    w.write(randomArray(10, 2));
    assert.throws(
      () => encodeCheckpoint({ parameters: [w], optimizer: fakeOpt }),
      /optimizer\/state\/0\/buf holds NaN\/Inf/,
    );
  } finally {
    w.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint: non-finite numbers and nesting in optimiser state survive JSON", () => {
  const w = tensor([1, 2, 3]);
  w.name = "w";
  const state = {
    type: "X",
    best: Infinity,
    worst: -Infinity,
    lr: 0.1,
    hist: [new Float32Array([1, 2]), { d: new Float32Array([3]) }],
    "a/b": 1,
    none: null,
  };
  let restored: unknown;
  const bytes = encodeCheckpoint({
    parameters: [w],
    optimizer: { stateDict: () => state, loadStateDict: (s) => (restored = s) },
  });
  decodeCheckpoint(bytes, {
    parameters: [w],
    optimizer: { stateDict: () => ({}), loadStateDict: (s) => (restored = s) },
  });
  assert.deepEqual(restored, state);
  w.dispose();
});

Deno.test("checkpoint: mismatches and foreign files fail clearly, before writing anything", () => {
  const w = tensor(randomArray(6, 1), [2, 3]);
  w.name = "fc.weight";
  const b = tensor(randomArray(2, 2), [2]);
  b.name = "fc.bias";
  const bytes = encodeCheckpoint({ parameters: [w, b] });
  const other = tensor(new Float32Array(6), [3, 2]);
  other.name = "fc.weight";
  const bias0 = tensor(new Float32Array(2), [2]);
  bias0.name = "fc.bias";
  assert.throws(
    () =>
      decodeCheckpoint(bytes, { parameters: [bias0, other] }, {
        source: "x.ckpt",
      }),
    /^CheckpointError: x\.ckpt: tensor "fc\.weight" has shape \[2,3\], the model has \[3,2\]$/,
  );
  assert.deepEqual([...bias0.data()], [0, 0], "nothing written on failure");
  const missing = tensor([0]);
  missing.name = "fc2.weight";
  assert.throws(
    () => decodeCheckpoint(bytes, { parameters: [missing] }),
    /no tensor "fc2\.weight"/,
  );
  assert.throws(
    () => decodeCheckpoint(bytes, { parameters: [bias0] }),
    /tensor "fc\.weight" has no counterpart in the model \(strict\)/,
  );
  decodeCheckpoint(bytes, { parameters: [bias0] }, { strict: false });
  assert.deepEqual(bias0.data(), b.data());
  assert.throws(
    () =>
      decodeCheckpoint(bytes, {
        parameters: [bias0],
        optimizer: { stateDict: () => ({}), loadStateDict() {} },
      }, { strict: false }),
    /holds no optimizer state/,
  );
  const plain = writeSafetensors({
    "fc.bias": { shape: [2], data: new Float32Array(2) },
  });
  assert.throws(
    () => decodeCheckpoint(plain, { parameters: [bias0] }),
    /not an impasto checkpoint/,
  );
  const future = writeSafetensors({}, {
    format: "impasto-checkpoint",
    version: "9",
  });
  assert.throws(
    () => decodeCheckpoint(future, {}),
    /version 9 is not supported/,
  );
  assert.throws(() => decodeCheckpoint(new Uint8Array(4), {}), /too short/);
  for (const t of [w, b, other, bias0, missing]) t.dispose();
});

Deno.test("dispose the backend", () => getBackend().dispose());
