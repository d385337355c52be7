// A tiny seeded style-transfer run under Node reproduces the Deno run bit for
// bit: the same losses at every iteration and the same pixels. Deno's values
// come from tests/node/_deno_reference.ts, run here as a child process.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { initBackend } from "../../build/js/mod.js";
import { decodeImage } from "../../build/js/image.js";
import { createStyleRun } from "../../build/js/style_run.js";
import { engineVariant } from "../../build/js/variant.js";

const root = new URL("../../", import.meta.url);
const content = fileURLToPath(new URL("assets/images/chelsea.png", root));
const style = fileURLToPath(new URL("assets/images/starry_night.jpg", root));
// Real VGG weights where the shared test weights exist (Gatys et al. through
// models/style), else the weight-free stand-in.
const weightsPath = fileURLToPath(
  new URL(
    "../shared/data/weights/vgg19-normalised-conv3_1/vgg19_normalised_conv1_1-conv3_1.safetensors",
    root,
  ),
);
const weights = existsSync(weightsPath) ? await readFile(weightsPath) : null;
const options = {
  size: 40,
  styleWeight: 1e5,
  iterations: 8,
  keepColors: false,
  seed: 5,
};

async function nodeRun(threads) {
  const backend = await initBackend({ threads, variant: engineVariant() });
  const run = await createStyleRun(
    decodeImage(await readFile(content)),
    decodeImage(await readFile(style)),
    options,
    weights ? new Uint8Array(weights) : null,
  );
  const losses = [];
  for (let i = 0; i < options.iterations; i++) losses.push(run.step(1).loss);
  const image = Array.from(run.image().data.subarray(0, 64));
  run.dispose();
  const variant = backend.engine.variant;
  backend.dispose();
  return { variant, losses, image };
}

function denoRun(threads) {
  const deno = fileURLToPath(new URL("node_modules/.bin/deno", root));
  const out = execFileSync(deno, [
    "run",
    "-A",
    "tests/node/_deno_reference.ts",
    content,
    style,
    JSON.stringify({ ...options, threads }),
    ...(weights ? [weightsPath] : []),
  ], { cwd: fileURLToPath(root), encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop());
}

for (const threads of [2, 1]) {
  test(`style run (${threads} thread(s), ${weights ? "VGG weights" : "stand-in"}): Node equals Deno bit for bit`, async () => {
    const node = await nodeRun(threads);
    const deno = denoRun(threads);
    assert.equal(node.variant, deno.variant);
    assert.ok(node.losses.every(Number.isFinite));
    assert.ok(node.losses.at(-1) < node.losses[0], "the loss goes down");
    assert.deepEqual(node.losses, deno.losses);
    assert.deepEqual(node.image, deno.image);
  });
}
