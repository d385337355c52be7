// deno task weights, run as a subprocess against a local HTTP server (never
// an external host): a download into a --cache-dir, an interrupted download
// resumed by running the same command again, one-line failures with exit
// status 1 (404, wrong hash, nothing listening), usage errors with status 2,
// --list; and the download progress line.
import assert from "node:assert/strict";
import { sha256Hex } from "../../runtime/io/download.ts";
import { readWeights } from "../../models/weights.ts";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";
import { progressPrinter, splitName } from "../../scripts/weights.ts";
import { startFileServer } from "../runtime/io/_http_fixture.ts";

async function run(...args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/weights.ts", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { IMPASTO_CACHE: "/nonexistent/should-not-be-used" },
  }).output();
  return {
    code: r.code,
    out: new TextDecoder().decode(r.stdout),
    err: new TextDecoder().decode(r.stderr),
  };
}

function weightsFile(): Uint8Array {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const i of [0, 2, 5, 7]) {
    tensors.set(`features.${i}.weight`, {
      shape: [1000],
      data: new Float32Array(1000).fill(i),
    });
    tensors.set(`features.${i}.bias`, {
      shape: [2],
      data: new Float32Array([i, i]),
    });
  }
  return writeSafetensors(tensors, { format: "pt" });
}

Deno.test("weights script: downloads, verifies and converts; resumes when run again", async () => {
  const server = startFileServer({ ranges: true });
  const dir = await Deno.makeTempDir();
  try {
    const file = weightsFile();
    const sha = sha256Hex(file);
    server.files.set("/w/model.safetensors", file);
    const url = `${server.base}/w/model.safetensors`;
    server.cutAfter(10_000);
    const first = await run(
      "mine",
      "--url",
      url,
      "--sha256",
      sha,
      "--cache-dir",
      dir,
    );
    assert.equal(first.code, 1);
    assert.match(
      first.err.trim(),
      /^weights: Download of .* interrupted after \d+ of \d+ bytes( \(.*\))?; run the same command again to resume$/,
    );
    const second = await run(
      "mine",
      "--url",
      url,
      "--sha256",
      sha,
      "--cache-dir",
      dir,
    );
    assert.equal(second.code, 0, second.err);
    assert.equal(server.requests[server.requests.length - 1].status, 206);
    assert.match(second.out, /Verified SHA-256 [0-9a-f]{64}/);
    assert.match(second.out, /MB .*MB\/s/); // the progress line
    const converted = await readWeights(
      await Deno.readFile(`${dir}/mine.safetensors`),
    );
    assert.equal(converted.tensors.size, 8);
    assert.equal(converted.metadata.source_sha256, sha);
    const third = await run("mine", "--url", url, "--cache-dir", dir);
    assert.equal(third.code, 0);
    assert.match(third.out, /already in the cache/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("weights script: failures are one line with exit status 1, usage errors 2", async () => {
  const server = startFileServer();
  const dir = await Deno.makeTempDir();
  try {
    server.files.set("/x.safetensors", weightsFile());
    const wrong = await run(
      "x",
      "--url",
      `${server.base}/x.safetensors`,
      "--sha256",
      "00112233",
      "--cache-dir",
      dir,
    );
    assert.equal(wrong.code, 1);
    assert.equal(wrong.err.trim().split("\n").length, 1);
    assert.match(wrong.err, /does not match the expected 00112233/);
    const missing = await run(
      "x",
      "--url",
      `${server.base}/nope.pth`,
      "--cache-dir",
      dir,
    );
    assert.equal(missing.code, 1);
    assert.equal(missing.err.trim().split("\n").length, 1);
    assert.match(missing.err, /HTTP 404/);
    const unknown = await run("resnet50", "--cache-dir", dir);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.err.trim(),
      /^weights: unknown weights "resnet50": known names are vgg19, /,
    );
    const noName = await run("--cache-dir", dir);
    assert.equal(noName.code, 2);
    assert.match(noName.err, /give a weights name/);
    const badFlag = await run("vgg19", "--cach-dir", dir);
    assert.equal(badFlag.code, 2);
    assert.equal(
      badFlag.err.trim(),
      "deno task weights: unknown flag --cach-dir (see --help)",
    );
    const list = await run("--list");
    assert.equal(list.code, 0);
    assert.match(list.out, /vgg19 +VGG19 ImageNet weights from torchvision/);
    assert.match(
      list.out,
      /https:\/\/download\.pytorch\.org\/models\/vgg19-dcbb9e9d\.pth/,
    );
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("weights script: progress line shows bytes, rate and ETA", () => {
  const lines: string[] = [];
  let t = 0;
  const p = progressPrinter((s) => lines.push(s), false, () => t);
  t = 1000;
  p({ done: 0, total: 10e6, received: 0 });
  t = 2000;
  p({ done: 5e6, total: 10e6, received: 5e6 });
  t = 3000;
  p({ done: 10e6, total: 10e6, received: 10e6 });
  assert.equal(lines.length, 3);
  assert.match(
    lines[1],
    /^\[#{15}\.{15}\] 5\.0\/10\.0 MB 50% 2\.50 MB\/s ETA 2s\n$/,
  );
  assert.match(lines[2], /^\[#{30}\] 10\.0\/10\.0 MB 100% 3\.33 MB\/s\n$/);
  assert.deepEqual(splitName(["vgg19", "--force"]), ["vgg19", ["--force"]]);
  assert.deepEqual(splitName(["--list"]), [undefined, ["--list"]]);
});
