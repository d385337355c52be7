// deno task stylize through the command line: a tiny successful run writes a
// PNG of the requested size and a JSON report; every bad input ends with a
// one-line error on stderr and a non-zero exit. Runs that need the weights
// skip without ../shared.
import assert from "node:assert/strict";
import { decodeImage } from "../../runtime/io/image.ts";

const ROOT = new URL("../../", import.meta.url);
const DENO = new URL("node_modules/.bin/deno", ROOT).pathname;
const haveWeights = (() => {
  try {
    return Deno.statSync(
      new URL(
        "../shared/data/weights/vgg19-normalised-conv3_1/vgg19_normalised_conv1_1-conv3_1.safetensors",
        ROOT,
      ),
    ).isFile;
  } catch {
    return false;
  }
})();

async function stylize(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = {
    NO_COLOR: "1",
    IMPASTO_CACHE: "/nonexistent-impasto-cache",
  };
  const wasm = Deno.env.get("IMPASTO_WASM_DIR");
  if (wasm) env.IMPASTO_WASM_DIR = wasm;
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "scripts/stylize.ts", "--threads", "1", ...args],
    cwd: ROOT.pathname,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

function assertOneLineError(
  r: { code: number; stderr: string },
  pattern: RegExp,
): void {
  assert.notEqual(r.code, 0, "non-zero exit");
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^deno task stylize: /);
  assert.match(lines[0], pattern);
}

Deno.test({
  name: "stylize CLI: a 32 px run writes a PNG of that size and a JSON report",
  ignore: !haveWeights,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const r = await stylize(
        "--size",
        "32",
        "-i",
        "3",
        "-o",
        `${dir}/o.png`,
        "--json",
        `${dir}/o.json`,
        "--save-every",
        "2",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /weights stop at relu3_1/);
      const img = decodeImage(await Deno.readFile(`${dir}/o.png`));
      assert.deepEqual([img.width, img.height], [32, 21]);
      decodeImage(await Deno.readFile(`${dir}/o_2.png`));
      const report = JSON.parse(await Deno.readTextFile(`${dir}/o.json`));
      assert.equal(report.stages[0].records.length, 3);
      assert.ok(
        report.stages[0].records.every((x: { loss: number; ms: number }) =>
          x.loss > 0 && x.ms >= 0
        ),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("stylize CLI: usage errors exit 2 with one line", async () => {
  assertOneLineError(await stylize("--bogus"), /unknown flag --bogus/);
  const r = await stylize("--size", "8");
  assert.equal(r.code, 2);
  assertOneLineError(r, /--size must be at least 16/);
});

Deno.test({
  name:
    "stylize CLI: missing and corrupt images, bad layers, NaN losses, impossible sizes are one-line errors",
  ignore: !haveWeights,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const o = ["-o", `${dir}/o.png`, "--size", "24", "-i", "2"];
      assertOneLineError(
        await stylize(...o, "-c", `${dir}/missing.png`),
        /cannot read content image .*missing\.png: not found/,
      );
      await Deno.writeFile(
        `${dir}/bad.png`,
        new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]),
      );
      assertOneLineError(
        await stylize(...o, "-s", `${dir}/bad.png`),
        /style image .*bad\.png is a corrupt or unsupported PNG/,
      );
      await Deno.writeTextFile(`${dir}/text.jpg`, "hello");
      assertOneLineError(
        await stylize(...o, "-c", `${dir}/text.jpg`),
        /is not a PNG, JPEG, BMP or TIFF image/,
      );
      assertOneLineError(
        await stylize(...o, "--style-layers", "relu9_9"),
        /unknown style layer "relu9_9"/,
      );
      assertOneLineError(
        await stylize(...o, "--content-layers", "relu4_2"),
        /content layer relu4_2 is beyond the loaded weights .* stops at relu3_1/,
      );
      assertOneLineError(
        await stylize(...o, "--style-weight", "1e39"),
        /the (style|total) loss became (Infinity|NaN) at iteration 1: lower --lr/,
      );
      assertOneLineError(
        await stylize(...o, "--size", "16384"),
        /needs about .* GiB, more than the 4\.00 GiB .*--tile/,
      );
      assertOneLineError(
        await stylize(...o, "--scales", "64,32"),
        /scales must increase/,
      );
      assertOneLineError(
        await stylize(...o, "--weights", `${dir}/none.safetensors`),
        /weights file .*none\.safetensors not found/,
      );
      assertOneLineError(
        await stylize(...o, "--style-blend", "1,2"),
        /2 style blend weights for 1 style images/,
      );
      assertOneLineError(
        await stylize(...o, "--size", "20", "--style-scale", "0.05"),
        /too small for layer relu3_1/,
      );
      assert.equal(
        [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("o")).length,
        0,
        "no output written",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
