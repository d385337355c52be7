// The GAN trainer: a short seeded run is bit-identical when repeated and
// when resumed from a checkpoint (weights, optimiser states, batch-norm
// statistics, minibatch order, noise and dropout streams); a checkpoint of
// another model or another file is refused with a one-line error; a NaN
// loss stops training with NonFiniteError and writes nothing.
import assert from "node:assert/strict";
import { NonFiniteError } from "../../../runtime/health.ts";
import { Random } from "../../../runtime/random.ts";
import { encodeCheckpoint } from "../../../runtime/io/checkpoint.ts";
import {
  defaultGanConfig,
  type GanConfig,
  GanTrainer,
  generatorFromCheckpoint,
  trainerFromCheckpoint,
} from "../../../models/gan/trainer.ts";
import { trainGan } from "../../../models/gan/train.ts";
import { Linear } from "../../../runtime/nn/layers.ts";
import { disposeBackendAtEnd, setupBackend } from "../../runtime/_gradcheck.ts";

await setupBackend();

function synthetic(count: number, size: number, seed = 5) {
  return {
    images: new Random(seed).fillUniform(
      new Float32Array(count * size * size),
      0,
      1,
    ),
    count,
    channels: 1,
    height: size,
    width: size,
    source: "synthetic",
  };
}

const configs: Record<string, GanConfig> = {
  dcgan: {
    ...defaultGanConfig("dcgan"),
    batch: 6,
    latent: 8,
    network: { width: 16 },
    seed: 3,
  },
  mlp: {
    ...defaultGanConfig("mlp"),
    batch: 5,
    latent: 6,
    k: 2,
    momentumSteps: 4,
    network: { generatorHidden: 24, discriminatorHidden: 16 },
    seed: 4,
  },
};

function parameterBytes(t: GanTrainer): Float32Array[] {
  return [
    ...t.generator.namedParameters(),
    ...t.generator.namedBuffers(),
    ...t.discriminator.namedParameters(),
    ...t.discriminator.namedBuffers(),
  ].map(([, p]) => p.data());
}

function run(config: GanConfig, iterations: number): GanTrainer {
  const t = new GanTrainer(config, synthetic(20, 8));
  t.gradientEvery = 2;
  for (let i = 0; i < iterations; i++) t.step();
  return t;
}

for (const model of ["dcgan", "mlp"] as const) {
  for (const update of ["alternating", "simultaneous"] as const) {
    Deno.test(`${model} ${update}: repeated and resumed runs are bit-identical`, () => {
      const config = { ...configs[model], update };
      const a = run(config, 7);
      const b = run(config, 7);
      // Resume: 3 iterations, checkpoint, a fresh trainer continues 4 more.
      const first = run(config, 3);
      const bytes = first.encodeCheckpoint("synthetic");
      first.dispose();
      const resumed = trainerFromCheckpoint(bytes, synthetic(20, 8));
      resumed.gradientEvery = 2;
      assert.equal(resumed.iteration, 3);
      for (let i = 0; i < 4; i++) resumed.step();
      try {
        const pa = parameterBytes(a);
        for (const other of [b, resumed]) {
          const po = parameterBytes(other);
          pa.forEach((p, i) => assert.deepEqual(po[i], p));
          assert.deepEqual(other.history.iterations, a.history.iterations);
          assert.deepEqual(other.history.gradients, a.history.gradients);
        }
        // Training moved the weights and produced finite numbers.
        for (const r of a.history.iterations) {
          assert.ok(Number.isFinite(r.dLoss) && Number.isFinite(r.gLoss));
          assert.ok(r.dReal > 0 && r.dReal < 1 && r.dFake > 0 && r.dFake < 1);
        }
        assert.equal(a.history.gradients.length, 4);
        assert.ok(Object.keys(a.history.gradients[0].generator).length >= 3);
      } finally {
        for (const t of [a, b, resumed]) t.dispose();
      }
    });
  }
}

Deno.test("generator output shapes and ranges; sampling leaves training state alone", () => {
  const t = run(configs.dcgan, 1);
  try {
    const z = t.sampleNoise(3, new Random(1));
    const before = parameterBytes(t);
    const x = t.generate(z);
    assert.equal(x.length, 3 * 64);
    for (const v of x) assert.ok(v >= -1 && v <= 1);
    assert.deepEqual(t.generate(z), x);
    parameterBytes(t).forEach((p, i) => assert.deepEqual(p, before[i]));
    // Sampling from the checkpoint's generator alone gives the same images.
    const { generator, info } = generatorFromCheckpoint(
      t.encodeCheckpoint("s"),
    );
    assert.equal(info.config.model, "dcgan");
    const t2 = new GanTrainer(configs.dcgan, synthetic(20, 8));
    try {
      assert.equal(info.iteration, 1);
    } finally {
      t2.dispose();
      generator.dispose();
    }
  } finally {
    t.dispose();
  }
});

Deno.test("checkpoints of another model or of no GAN are refused in one line", async () => {
  const mlp = run(configs.mlp, 1);
  const mlpBytes = mlp.encodeCheckpoint("synthetic");
  mlp.dispose();
  const oneLine = (re: RegExp) => (e: Error) =>
    re.test(e.message) && !e.message.includes("\n");
  // A DCGAN trainer cannot restore an MLP checkpoint.
  const dc = new GanTrainer(configs.dcgan, synthetic(20, 8));
  try {
    assert.throws(
      () => dc.restore(mlpBytes, "mlp.safetensors"),
      oneLine(/holds a mlp GAN, not a dcgan one/),
    );
  } finally {
    dc.dispose();
  }
  // A checkpoint of some other network.
  const other = new Linear(2, 2);
  const otherBytes = encodeCheckpoint({ model: other });
  other.dispose();
  assert.throws(
    () =>
      trainerFromCheckpoint(otherBytes, synthetic(20, 8), "other.safetensors"),
    oneLine(/other\.safetensors is not a GAN checkpoint/),
  );
  assert.throws(
    () =>
      trainerFromCheckpoint(new Uint8Array(10), synthetic(20, 8), "junk.bin"),
    oneLine(/junk\.bin is not a checkpoint/),
  );
  // Resuming with --model dcgan from an MLP run's directory.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/checkpoint.safetensors`, mlpBytes);
    await assert.rejects(
      () =>
        trainGan({
          out: dir,
          resume: true,
          config: { model: "dcgan" },
          dataset: synthetic(20, 8),
          iterations: 2,
          log: () => {},
        }),
      oneLine(/holds a mlp GAN, not dcgan; resume with --model mlp/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a NaN loss stops training with a clear message and writes nothing", async () => {
  const data = synthetic(20, 8);
  data.images.fill(NaN);
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () =>
        trainGan({
          out: dir,
          config: configs.dcgan,
          dataset: data,
          iterations: 3,
          sampleEvery: 1,
          log: () => {},
        }),
      (e: Error) =>
        e instanceof NonFiniteError &&
        /Discriminator loss is NaN at iteration 1: training diverged/.test(
          e.message,
        ),
    );
    const files = [...Deno.readDirSync(dir)].map((f) => f.name);
    assert.deepEqual(files, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

disposeBackendAtEnd();
