// deno task train-gan: a shortened training run on real MNIST digits
// improves the classifier-based quality measure over its start, writes its
// outputs (grid, checkpoint, curves, plot), resumes, and the scripts give
// one-line errors for bad input.
import assert from "node:assert/strict";
import { decode } from "image-js";
import { getBackend } from "../../runtime/backend.ts";
import {
  loadMnist,
  MNIST_DIGITS_URL,
  splitMnist,
} from "../../runtime/data/mnist.ts";
import { initBackend } from "../../runtime/mod.ts";
import {
  defaultClassifierPath,
  DigitClassifier,
  loadDigitClassifier,
  trainDigitClassifier,
} from "../../models/digit_classifier.ts";
import { trainGan } from "../../models/gan/train.ts";
import { sampleGan } from "../../scripts/sample_gan.ts";
import { testWasmDir } from "../_engine.ts";

const havePackage = (() => {
  try {
    return Deno.statSync(new URL("0.json", MNIST_DIGITS_URL)).isFile;
  } catch {
    return false;
  }
})();

/** The cached classifier, or (no cache, e.g. CI) a quickly trained one. */
async function classifier(): Promise<DigitClassifier> {
  try {
    Deno.statSync(defaultClassifierPath());
    return (await loadDigitClassifier()).model;
  } catch {
    const { train, test } = splitMnist(await loadMnist());
    // ~90% accurate after 80 steps: enough to rank samples.
    const r = trainDigitClassifier(train, test, {
      epochs: 80 * 64 / train.count,
    });
    assert.ok(r.accuracy > 0.8, `quick classifier ${r.accuracy}`);
    return r.model.eval();
  }
}

Deno.test({
  name:
    "a short MNIST run improves the quality measure, writes outputs, resumes",
  ignore: !havePackage,
  fn: async () => {
    await initBackend({ threads: 2, wasmBaseUrl: testWasmDir() });
    const model = await classifier();
    const out = await Deno.makeTempDir();
    try {
      // A half-width DCGAN (32/64 channels instead of 64/128) with a
      // larger Adam step: fast enough for CI on two cores (~10 s idle).
      const config = {
        model: "dcgan" as const,
        lr: 1e-3,
        batch: 32,
        network: { width: 64 },
      };
      const r = await trainGan({
        config,
        data: "mnist",
        iterations: 120,
        maxSeconds: 45,
        out,
        evalEvery: 1_000_000, // start and end only
        evalSamples: 500,
        sampleEvery: 0,
        classifier: model,
        log: () => {},
      });
      const q = r.history.quality;
      assert.equal(q[0].iteration, 0);
      const start = q[0], end = q[q.length - 1];
      assert.ok(end.iteration >= 80, `only ${end.iteration} iterations`);
      // Stated margin: the Fréchet distance falls to under half its start.
      assert.ok(
        end.frechet < 0.5 * start.frechet,
        `Fréchet ${start.frechet} -> ${end.frechet}`,
      );
      assert.ok(end.entropy > 1.0, `class entropy ${end.entropy}`);
      for (
        const f of [
          "samples.png",
          "training.png",
          "checkpoint.safetensors",
          "losses.csv",
          "gradients.csv",
          "quality.csv",
          "history.json",
        ]
      ) {
        assert.ok(Deno.statSync(`${out}/${f}`).size > 0, f);
      }
      const grid = decode(await Deno.readFile(`${out}/samples.png`));
      assert.deepEqual([grid.width, grid.height], [8 * 30 + 2, 8 * 30 + 2]);
      const lines = (await Deno.readTextFile(`${out}/losses.csv`)).trim().split(
        "\n",
      );
      assert.equal(lines.length, end.iteration + 1);
      r.trainer.dispose();
      // Resume for a few more iterations, then sample a walk.
      const r2 = await trainGan({
        data: "mnist",
        iterations: end.iteration + 3,
        out,
        resume: true,
        log: () => {},
      });
      assert.equal(r2.trainer.iteration, end.iteration + 3);
      assert.equal(r2.history.iterations.length, end.iteration + 3);
      r2.trainer.dispose();
      const n = await sampleGan({
        checkpoint: `${out}/checkpoint.safetensors`,
        n: 20,
        steps: 5,
        interpolate: true,
        seed: 1,
        out: `${out}/walk.png`,
      });
      assert.equal(n, 20);
    } finally {
      model.dispose();
      await Deno.remove(out, { recursive: true });
      getBackend().dispose();
    }
  },
});

async function runScript(script: string, args: string[]) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr).trim() };
}

Deno.test("train-gan and sample-gan: bad input is one line on stderr", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let r = await runScript("scripts/train_gan.ts", [
      "--data",
      "/nonexistent/dir",
      "--out",
      dir,
      "--iterations",
      "1",
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^train-gan: Cannot read image directory \/nonexistent\/dir/,
    );
    assert.equal(r.stderr.split("\n").length, 1);
    r = await runScript("scripts/train_gan.ts", ["--model", "vae"]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.split("\n").length, 1);
    await Deno.writeTextFile(`${dir}/not.safetensors`, "hello");
    r = await runScript("scripts/sample_gan.ts", [
      "--checkpoint",
      `${dir}/not.safetensors`,
      "--out",
      `${dir}/x.png`,
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^sample-gan: .*not\.safetensors is not a checkpoint/,
    );
    assert.equal(r.stderr.split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
