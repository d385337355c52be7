// runtime/io/download.ts against a local HTTP server started here (never an
// external host): incremental SHA-256 against WebCrypto, whole downloads,
// interrupted transfers resumed with and without range support, hash
// mismatches, 404, and range reads of a safetensors file that fetch only the
// header and the tensors asked for.
import assert from "node:assert/strict";
import {
  DownloadError,
  downloadFile,
  openHttpRange,
  parseContentRange,
  RangeNotSupportedError,
  Sha256,
  sha256Hex,
  toHex,
} from "../../../runtime/io/download.ts";
import {
  LazySafetensors,
  writeSafetensors,
} from "../../../runtime/io/safetensors.ts";
import { randomBytes, startFileServer } from "./_http_fixture.ts";

async function subtleHex(bytes: Uint8Array): Promise<string> {
  return toHex(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice())),
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("sha256: known vectors (FIPS 180-4 examples)", () => {
  const enc = new TextEncoder();
  assert.equal(
    sha256Hex(new Uint8Array(0)),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    sha256Hex(enc.encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    sha256Hex(
      enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    ),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("sha256: incremental updates in random chunks match crypto.subtle.digest", async () => {
  // Sizes around the 55/56/64-byte padding boundaries, and larger ones.
  const sizes = [
    1,
    55,
    56,
    57,
    63,
    64,
    65,
    119,
    120,
    128,
    1000,
    65_537,
    300_003,
  ];
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (const size of sizes) {
    const data = randomBytes(size, size + 3);
    const expected = await subtleHex(data);
    assert.equal(sha256Hex(data), expected, `one update, ${size} bytes`);
    const h = new Sha256();
    for (let at = 0; at < size;) {
      const n = 1 + rand(Math.min(size - at, 200));
      h.update(data.subarray(at, at + n));
      at += n;
    }
    assert.equal(h.hex(), expected, `chunked, ${size} bytes`);
  }
  const done = new Sha256();
  done.digest();
  assert.throws(() => done.update(new Uint8Array(1)), /after digest/);
});

Deno.test("parseContentRange", () => {
  assert.deepEqual(parseContentRange("bytes 0-7/100"), {
    start: 0,
    end: 8,
    total: 100,
  });
  assert.deepEqual(parseContentRange("bytes 5-9/*"), {
    start: 5,
    end: 10,
    total: undefined,
  });
  assert.equal(parseContentRange(null), null);
  assert.equal(parseContentRange("bytes */100"), null);
});

Deno.test("download: whole file, verified, .part renamed, progress reported", async () => {
  const server = startFileServer();
  const dir = await Deno.makeTempDir();
  try {
    const data = randomBytes(200_000, 11);
    server.files.set("/w.bin", data);
    const sha = await subtleHex(data);
    const seen: number[] = [];
    const r = await downloadFile({
      url: `${server.base}/w.bin`,
      dest: `${dir}/w.bin`,
      sha256: sha,
      onProgress: (p) => {
        assert.equal(p.total, data.length);
        seen.push(p.done);
      },
    });
    assert.equal(r.sha256, sha);
    assert.equal(r.bytes, data.length);
    assert.equal(r.received, data.length);
    assert.equal(r.resumed, false);
    assert.deepEqual(await Deno.readFile(`${dir}/w.bin`), data);
    assert.ok(!(await exists(`${dir}/w.bin.part`)));
    assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]));
    assert.equal(seen[seen.length - 1], data.length);
    // A hash prefix (as torchvision publishes) is accepted too.
    const again = await downloadFile({
      url: `${server.base}/w.bin`,
      dest: `${dir}/w2.bin`,
      sha256: sha.slice(0, 8).toUpperCase(),
    });
    assert.equal(again.sha256, sha);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: an interrupted transfer resumes with a Range request", async () => {
  const server = startFileServer({ ranges: true });
  const dir = await Deno.makeTempDir();
  try {
    const data = randomBytes(300_000, 12);
    server.files.set("/w.bin", data);
    const sha = await subtleHex(data);
    const dest = `${dir}/w.bin`;
    server.cutAfter(120_000);
    await assert.rejects(
      downloadFile({ url: `${server.base}/w.bin`, dest, sha256: sha }),
      (e: Error) => {
        assert.ok(e instanceof DownloadError);
        assert.ok(!e.message.includes("\n"));
        assert.match(e.message, /interrupted after \d+ of 300000 bytes/);
        assert.match(e.message, /run the same command again to resume/);
        return true;
      },
    );
    assert.ok(!(await exists(dest)), "no final file after an interruption");
    const kept = (await Deno.stat(`${dest}.part`)).size;
    assert.ok(kept > 0 && kept <= 120_000, `kept ${kept} bytes`);
    server.bytesSent = 0;
    const r = await downloadFile({
      url: `${server.base}/w.bin`,
      dest,
      sha256: sha,
    });
    assert.equal(r.resumed, true);
    assert.equal(r.received, data.length - kept);
    assert.equal(server.bytesSent, data.length - kept);
    assert.equal(
      server.requests[server.requests.length - 1].range,
      `bytes=${kept}-`,
    );
    assert.equal(r.sha256, sha);
    assert.deepEqual(await Deno.readFile(dest), data);
    assert.ok(!(await exists(`${dest}.part`)));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: without range support an interrupted transfer restarts from zero", async () => {
  const server = startFileServer({ ranges: false });
  const dir = await Deno.makeTempDir();
  try {
    const data = randomBytes(150_000, 13);
    server.files.set("/w.bin", data);
    const dest = `${dir}/w.bin`;
    server.cutAfter(50_000);
    await assert.rejects(
      downloadFile({ url: `${server.base}/w.bin`, dest }),
      /interrupted/,
    );
    assert.ok(await exists(`${dest}.part`));
    const r = await downloadFile({ url: `${server.base}/w.bin`, dest });
    assert.equal(r.resumed, false);
    assert.equal(r.received, data.length);
    assert.deepEqual(await Deno.readFile(dest), data);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: a complete .part left before the rename is verified (416)", async () => {
  const server = startFileServer({ ranges: true });
  const dir = await Deno.makeTempDir();
  try {
    const data = randomBytes(10_000, 14);
    server.files.set("/w.bin", data);
    const dest = `${dir}/w.bin`;
    await Deno.writeFile(`${dest}.part`, data);
    const r = await downloadFile({
      url: `${server.base}/w.bin`,
      dest,
      sha256: await subtleHex(data),
    });
    assert.equal(r.received, 0);
    assert.equal(server.requests[0].status, 416);
    assert.deepEqual(await Deno.readFile(dest), data);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: a wrong hash is rejected and the download deleted; 404 is one line", async () => {
  const server = startFileServer();
  const dir = await Deno.makeTempDir();
  try {
    const data = randomBytes(5_000, 15);
    server.files.set("/w.bin", data);
    const dest = `${dir}/w.bin`;
    await assert.rejects(
      downloadFile({ url: `${server.base}/w.bin`, dest, sha256: "deadbeef" }),
      (e: Error) => {
        assert.ok(e instanceof DownloadError);
        assert.match(e.message, /does not match the expected deadbeef/);
        assert.match(e.message, /deleted/);
        assert.ok(!e.message.includes("\n"));
        return true;
      },
    );
    assert.ok(!(await exists(dest)));
    assert.ok(!(await exists(`${dest}.part`)));
    await assert.rejects(
      downloadFile({ url: `${server.base}/missing.bin`, dest }),
      (e: Error) => {
        assert.ok(e instanceof DownloadError);
        assert.equal(e.status, 404);
        assert.match(e.message, /HTTP 404 \(not found/);
        assert.ok(!e.message.includes("\n"));
        return true;
      },
    );
    assert.ok(!(await exists(`${dest}.part`)));
    // Nothing listening: one line too.
    const closed = startFileServer();
    const url = `${closed.base}/w.bin`;
    await closed.close();
    await assert.rejects(
      downloadFile({ url, dest }),
      (e: Error) =>
        e instanceof DownloadError && /Cannot reach/.test(e.message),
    );
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("range source: a safetensors header then only the requested tensors", async () => {
  const server = startFileServer({ ranges: true });
  try {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (let i = 0; i < 10; i++) {
      const n = 5000 + 37 * i;
      const data = new Float32Array(n).map((_, j) => i + j / n);
      tensors.set(`layer${i}.weight`, { shape: [n], data });
    }
    const file = writeSafetensors(tensors, { preprocess: "torch-rgb" });
    server.files.set("/m.safetensors", file);
    const source = await openHttpRange(`${server.base}/m.safetensors`);
    assert.equal(source.size, file.length);
    const lazy = await LazySafetensors.open(source, "m.safetensors");
    assert.equal(lazy.metadata.preprocess, "torch-rgb");
    const headerEnd = lazy.header.dataStart;
    const wanted = ["layer2.weight", "layer7.weight"];
    let needed = 0;
    for (const name of wanted) {
      const t = await lazy.read(name);
      assert.deepEqual(t.data, tensors.get(name)!.data);
      needed += t.data.length * 4;
    }
    // 8 bytes of length, the header, the two tensors: nothing else.
    assert.equal(source.bytesTransferred, headerEnd + needed);
    assert.equal(server.bytesSent, headerEnd + needed);
    assert.ok(source.bytesTransferred < file.length / 4);
    assert.equal(source.requests, 2 + wanted.length);
    // A server without range support is detected on the first request.
    server.ranges = false;
    await assert.rejects(
      openHttpRange(`${server.base}/m.safetensors`),
      (e: Error) => e instanceof RangeNotSupportedError,
    );
  } finally {
    await server.close();
  }
});
