// Run by tests/node/style.test.mjs: the same tiny seeded style run under
// Deno, printing its per-iteration losses and image digest as JSON so that
// Node can check it reproduces them bit for bit.
import { initBackend } from "../../runtime/mod.ts";
import { decodeImage } from "../../runtime/io/image.ts";
import { createStyleRun } from "../../hosts/style_run.ts";
import { engineVariant } from "../../hosts/variant.ts";

const [contentPath, stylePath, optionsJson, weightsPath] = Deno.args;
const options = JSON.parse(optionsJson);
const backend = await initBackend({
  threads: options.threads,
  variant: engineVariant(),
});
const run = await createStyleRun(
  decodeImage(await Deno.readFile(contentPath)),
  decodeImage(await Deno.readFile(stylePath)),
  options,
  weightsPath ? await Deno.readFile(weightsPath) : null,
);
const losses: number[] = [];
for (let i = 0; i < options.iterations; i++) losses.push(run.step(1).loss);
const image = Array.from(run.image().data.subarray(0, 64));
run.dispose();
console.log(JSON.stringify({
  variant: (backend as unknown as { engine: { variant: string } }).engine
    .variant,
  losses,
  image,
}));
backend.dispose();
