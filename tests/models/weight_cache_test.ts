// models/weight_cache.ts and models/weight_registry.ts: cache location,
// resolving names and paths with one-line errors, and fetchWeights against a
// local HTTP server (never an external host): a torchvision-style .pth
// converted to safetensors with its preprocessing, hash prefix and
// trust-on-first-use full hash, and --only-taps on a safetensors source
// fetching only the needed byte ranges (or everything when the server has no
// range support).
import assert from "node:assert/strict";
import {
  cacheDir,
  cachePath,
  fetchWeights,
  readCacheIndex,
  resolveWeights,
  WeightCacheError,
} from "../../models/weight_cache.ts";
import {
  findWeightEntry,
  layersForTaps,
  WEIGHT_REGISTRY,
} from "../../models/weight_registry.ts";
import { readWeights } from "../../models/weights.ts";
import { sha256Hex } from "../../runtime/io/download.ts";
import { readHeader, writeSafetensors } from "../../runtime/io/safetensors.ts";
import { vggTaps } from "../../models/vgg.ts";
import { buildZipPth } from "../runtime/io/_torch_fixtures.ts";
import { startFileServer } from "../runtime/io/_http_fixture.ts";

/** A tiny stand-in for torchvision's VGG19 state dict (real names, small shapes). */
function tinyVgg19(): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  let k = 1;
  for (const t of vggTaps(19)) {
    if (t.kind !== "conv") continue;
    const w = new Float32Array(2 * 2 * 3 * 3).map((_, i) => k + i / 100);
    out.set(`features.${t.index}.weight`, { shape: [2, 2, 3, 3], data: w });
    out.set(`features.${t.index}.bias`, {
      shape: [2],
      data: new Float32Array([k, -k]),
    });
    k++;
  }
  for (const i of [0, 3, 6]) {
    out.set(`classifier.${i}.weight`, {
      shape: [4, 4],
      data: new Float32Array(16).fill(i),
    });
    out.set(`classifier.${i}.bias`, {
      shape: [4],
      data: new Float32Array(4).fill(-i),
    });
  }
  return out;
}

function toPth(
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
): Promise<Uint8Array> {
  return buildZipPth(
    [...tensors].map(([name, t], i) => ({
      name,
      key: String(i),
      dtype: "float32" as const,
      storage: new Uint8Array(t.data.buffer.slice(0)),
      shape: t.shape,
    })),
  );
}

Deno.test("weight cache: directory from override, IMPASTO_CACHE, XDG or HOME", () => {
  const saved = ["IMPASTO_CACHE", "XDG_CACHE_HOME", "HOME"].map(
    (k) => [k, Deno.env.get(k)] as const,
  );
  try {
    Deno.env.set("IMPASTO_CACHE", "/tmp/x-cache/");
    assert.equal(cacheDir(), "/tmp/x-cache");
    assert.equal(cacheDir("/elsewhere"), "/elsewhere");
    Deno.env.delete("IMPASTO_CACHE");
    Deno.env.set("XDG_CACHE_HOME", "/xdg");
    assert.equal(cacheDir(), "/xdg/impasto/weights");
    Deno.env.delete("XDG_CACHE_HOME");
    Deno.env.set("HOME", "/home/u");
    assert.equal(cacheDir(), "/home/u/.cache/impasto/weights");
    assert.equal(cachePath("vgg19", "/c"), "/c/vgg19.safetensors");
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
});

Deno.test("weight cache: resolveWeights returns paths or says how to get the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const oneLine = (re: RegExp) => (e: Error) => {
      assert.ok(e instanceof WeightCacheError);
      assert.ok(!e.message.includes("\n"), e.message);
      assert.match(e.message, re);
      return true;
    };
    await assert.rejects(
      resolveWeights("vgg19", { cacheDir: dir }),
      oneLine(
        /weights "vgg19" are not in the cache \(.*vgg19\.safetensors\): run `deno task weights vgg19`, or point at a local file with --weights FILE/,
      ),
    );
    await assert.rejects(
      resolveWeights("vgg19-to-conv3_1", { cacheDir: dir }),
      oneLine(/run `deno task weights vgg19`/),
    );
    await assert.rejects(
      resolveWeights("vgg99", { cacheDir: dir }),
      oneLine(/unknown weights "vgg99": known names are vgg19, vgg16, alexnet/),
    );
    await assert.rejects(
      resolveWeights(`${dir}/nope.pth`, { cacheDir: dir }),
      oneLine(/weights file .*nope\.pth not found: check the path/),
    );
    await Deno.writeFile(`${dir}/vgg19.safetensors`, new Uint8Array(16));
    assert.equal(
      await resolveWeights("vgg19", { cacheDir: dir }),
      `${dir}/vgg19.safetensors`,
    );
    assert.equal(
      await resolveWeights(`${dir}/vgg19.safetensors`),
      `${dir}/vgg19.safetensors`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("weight registry: canonical URLs, hash prefixes from file names, taps to layers", () => {
  const vgg19 = findWeightEntry("vgg19")!;
  assert.equal(
    vgg19.url,
    "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
  );
  assert.equal(vgg19.preprocessing.kind, "torch-rgb");
  for (const e of WEIGHT_REGISTRY) {
    if (e.sha256Prefix) {
      assert.ok(e.url.includes(`-${e.sha256Prefix}.`), e.name);
    }
    assert.ok(e.url.startsWith("https://"), e.name);
  }
  assert.deepEqual(layersForTaps("vgg19", ["relu1_1"]), ["conv1_1"]);
  assert.deepEqual(layersForTaps("vgg19", ["relu2_1", "pool1"]), [
    "conv1_1",
    "conv1_2",
    "conv2_1",
  ]);
  assert.equal(layersForTaps("vgg19", ["relu5_1"]).length, 13);
  assert.deepEqual(layersForTaps("alexnet", ["pool2"]), ["conv1", "conv2"]);
  assert.equal(layersForTaps("vgg16", ["fc7"]).length, 15);
  assert.throws(
    () => layersForTaps("vgg16", ["relu5_4"]),
    /vgg16 has no tap "relu5_4"/,
  );
});

Deno.test("weight cache: a .pth download is verified, recorded and converted with its preprocessing", async () => {
  const server = startFileServer({ ranges: true });
  const dir = await Deno.makeTempDir();
  try {
    const tensors = tinyVgg19();
    const pth = await toPth(tensors);
    const sha = sha256Hex(pth);
    server.files.set(`/models/vgg19-${sha.slice(0, 8)}.pth`, pth);
    const url = `${server.base}/models/vgg19-${sha.slice(0, 8)}.pth`;
    const progress: number[] = [];
    const r = await fetchWeights({
      name: "vgg19",
      url,
      sha256: sha.slice(0, 8),
      cacheDir: dir,
      onProgress: (p) => progress.push(p.done),
    });
    assert.equal(r.path, `${dir}/vgg19.safetensors`);
    assert.equal(r.sourceSha256, sha);
    assert.equal(r.transferred, pth.length);
    assert.equal(progress[progress.length - 1], pth.length);
    const converted = await readWeights(await Deno.readFile(r.path));
    assert.equal(converted.format, "safetensors");
    assert.equal(converted.preprocessing?.kind, "torch-rgb");
    assert.equal(converted.metadata.source_sha256, sha);
    assert.equal(converted.metadata.model, "vgg19");
    assert.equal(converted.tensors.size, tensors.size);
    assert.deepEqual(
      converted.tensors.get("features.34.weight")!.data,
      tensors.get("features.34.weight")!.data,
    );
    // The full hash is recorded (trust on first use), the file resolves.
    const index = await readCacheIndex(dir);
    assert.equal(index.files[`vgg19-${sha.slice(0, 8)}.pth`].sha256, sha);
    assert.equal(await resolveWeights("vgg19", { cacheDir: dir }), r.path);
    // Cached: nothing fetched again.
    const before = server.requests.length;
    const again = await fetchWeights({ name: "vgg19", url, cacheDir: dir });
    assert.equal(again.cached, true);
    assert.equal(server.requests.length, before);
    // --only-taps from the verified download: no network, only conv1_1..conv3_1.
    const taps = await fetchWeights({
      name: "vgg19",
      url,
      cacheDir: dir,
      onlyTaps: ["relu3_1"],
    });
    assert.equal(server.requests.length, before);
    assert.equal(taps.path, `${dir}/vgg19-to-conv3_1.safetensors`);
    const small = readHeader(await Deno.readFile(taps.path));
    assert.deepEqual([...small.tensors.keys()], [
      "features.0.weight",
      "features.0.bias",
      "features.2.weight",
      "features.2.bias",
      "features.5.weight",
      "features.5.bias",
      "features.7.weight",
      "features.7.bias",
      "features.10.weight",
      "features.10.bias",
    ]);
    assert.equal(small.metadata.taps, "relu3_1");
    // The server's file changes: a new download is checked against the
    // recorded full hash and rejected.
    server.files.set(
      `/models/vgg19-${sha.slice(0, 8)}.pth`,
      await toPth(new Map([...tensors].slice(2))),
    );
    await assert.rejects(
      fetchWeights({ name: "vgg19", url, cacheDir: dir, force: true }),
      /does not match the expected/,
    );
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("weight cache: --only-taps on a safetensors source fetches only the needed tensors", async () => {
  const server = startFileServer({ ranges: true });
  const dir = await Deno.makeTempDir();
  try {
    // Bigger tensors so that the header is small next to the data.
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    let k = 0;
    for (const t of vggTaps(19)) {
      if (t.kind !== "conv") continue;
      const n = 4000 + 10 * k++;
      tensors.set(`features.${t.index}.weight`, {
        shape: [n],
        data: new Float32Array(n).fill(k),
      });
      tensors.set(`features.${t.index}.bias`, {
        shape: [2],
        data: new Float32Array([k, k]),
      });
    }
    const file = writeSafetensors(tensors, { format: "pt" });
    server.files.set("/timm/model.safetensors", file);
    const url = `${server.base}/timm/model.safetensors`;
    const r = await fetchWeights({
      name: "vgg19-timm",
      url,
      cacheDir: dir,
      onlyTaps: ["relu1_1", "relu2_1"],
    });
    assert.equal(r.partial, true);
    assert.equal(r.tensors, 6);
    const header = readHeader(file);
    const needed = ["features.0", "features.2", "features.5"].reduce((n, p) => {
      const w = header.tensors.get(`${p}.weight`)!,
        b = header.tensors.get(`${p}.bias`)!;
      return n + (w.end - w.begin) + (b.end - b.begin);
    }, 0);
    // Transferred: the header (with its 8-byte length) and the six tensors.
    assert.equal(r.transferred, header.dataStart + needed);
    assert.equal(server.bytesSent, header.dataStart + needed);
    assert.ok(
      r.transferred < file.length / 5,
      `${r.transferred} of ${file.length}`,
    );
    const out = await readWeights(await Deno.readFile(r.path));
    assert.equal(out.preprocessing?.kind, "torch-rgb");
    assert.equal(out.metadata.partial, "true");
    assert.deepEqual(
      out.tensors.get("features.5.weight")!.data,
      tensors.get("features.5.weight")!.data,
    );
    // Without range support: the whole file, then the same subset.
    server.ranges = false;
    server.bytesSent = 0;
    const lines: string[] = [];
    const full = await fetchWeights({
      name: "vgg19-timm",
      url,
      cacheDir: dir,
      onlyTaps: ["relu1_1", "relu2_1"],
      force: true,
      log: (l) => lines.push(l),
    });
    assert.equal(full.partial, false);
    assert.equal(full.tensors, 6);
    assert.ok(lines.some((l) => /does not support range requests/.test(l)));
    assert.ok(server.bytesSent >= file.length);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("weight cache: unknown names, bad taps and HTTP errors are one line", async () => {
  const server = startFileServer();
  const dir = await Deno.makeTempDir();
  try {
    const oneLine = (re: RegExp) => (e: Error) => {
      assert.ok(!e.message.includes("\n"), e.message);
      assert.match(e.message, re);
      return true;
    };
    await assert.rejects(
      fetchWeights({ name: "resnet", cacheDir: dir }),
      oneLine(/unknown weights "resnet": known names are .*give --url URL/),
    );
    await assert.rejects(
      fetchWeights({ name: "vgg16", cacheDir: dir, onlyTaps: ["relu9_9"] }),
      oneLine(/vgg16 has no tap "relu9_9"/),
    );
    await assert.rejects(
      fetchWeights({
        name: "vgg16",
        url: `${server.base}/vgg16-00000000.pth`,
        cacheDir: dir,
      }),
      oneLine(/HTTP 404/),
    );
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
