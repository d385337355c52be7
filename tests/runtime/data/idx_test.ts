// IDX parser: generated files (raw and gzip'd) of every element type,
// validation of magic, type and length, the gzip size cap, and the
// Fashion-MNIST loader (real files when Debian's package is installed).
import assert from "node:assert/strict";
import {
  encodeIdx,
  gunzip,
  IdxError,
  parseIdx,
  parseIdxRaw,
} from "../../../runtime/data/idx.ts";
import {
  FASHION_MNIST_DIR,
  fashionMnistBatch,
  loadFashionMnist,
} from "../../../runtime/data/fashion_mnist.ts";

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("idx: parses a small generated u8 image file, raw and gzip'd", async () => {
  // 3 images of 2x4, pixel value = 10 * image + index.
  const data = new Uint8Array(3 * 2 * 4).map((_, i) =>
    10 * Math.floor(i / 8) + (i % 8)
  );
  const bytes = encodeIdx({ dtype: "u8", shape: [3, 2, 4], data });
  // Hand-check the header: magic 00 00 08 03, then dims big-endian.
  assert.deepEqual([...bytes.subarray(0, 8)], [0, 0, 8, 3, 0, 0, 0, 3]);
  assert.equal(bytes.length, 4 + 12 + 24);
  for (const input of [bytes, await gzip(bytes)]) {
    const arr = await parseIdx(input);
    assert.equal(arr.dtype, "u8");
    assert.deepEqual(arr.shape, [3, 2, 4]);
    assert.deepEqual(arr.data, data);
  }
});

Deno.test("idx: every element type round-trips big-endian", () => {
  const cases = [
    { dtype: "i8" as const, data: new Int8Array([-128, 0, 127]) },
    { dtype: "i16" as const, data: new Int16Array([-32768, 1, 258]) },
    { dtype: "i32" as const, data: new Int32Array([-1, 16909060, 7]) },
    { dtype: "f32" as const, data: new Float32Array([1.5, -2.25, 3e-9]) },
    { dtype: "f64" as const, data: new Float64Array([Math.PI, -1e300, 0]) },
  ];
  for (const c of cases) {
    const bytes = encodeIdx({ dtype: c.dtype, shape: [3], data: c.data });
    const arr = parseIdxRaw(bytes);
    assert.equal(arr.dtype, c.dtype);
    assert.deepEqual(arr.data, c.data);
  }
  // i32 258 is stored 00 00 01 02 (big-endian).
  const i16 = encodeIdx({
    dtype: "i16",
    shape: [1],
    data: new Int16Array([258]),
  });
  assert.deepEqual([...i16.subarray(8)], [1, 2]);
});

Deno.test("idx: validation errors name the file and the problem", async () => {
  const good = encodeIdx({
    dtype: "u8",
    shape: [2, 3],
    data: new Uint8Array(6),
  });
  const check = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(() => parseIdxRaw(bytes, "x.idx"), (e: Error) => {
      assert.ok(e instanceof IdxError);
      assert.match(e.message, /^x\.idx: /);
      assert.match(e.message, pattern);
      return true;
    });
  check(good.subarray(0, 3), /too short/);
  const magic = good.slice();
  magic[0] = 1;
  check(magic, /bad magic 01 00 08 02/);
  const type = good.slice();
  type[2] = 0x0a;
  check(type, /unknown IDX element type 0xa/);
  const rank0 = good.slice();
  rank0[3] = 0;
  check(rank0, /rank 0/);
  check(good.subarray(0, 9), /too short for the 2 dimensions/);
  check(
    good.subarray(0, good.length - 1),
    /dimensions \[2, 3\] of u8 need 18 bytes, the file has 17/,
  );
  const extra = new Uint8Array(good.length + 1);
  extra.set(good);
  check(extra, /need 18 bytes, the file has 19/);
  // Dimensions claiming 4 GB x 4 GB fail on length, before any allocation.
  const huge = good.slice();
  new DataView(huge.buffer).setUint32(4, 0xffffffff, false);
  new DataView(huge.buffer).setUint32(8, 0xffffffff, false);
  check(huge, /need \d+ bytes/);
  // Corrupt gzip and the inflated-size cap.
  const gz = await gzip(new Uint8Array(100000));
  await assert.rejects(
    () => gunzip(gz, 1000, "bomb.gz"),
    /bomb\.gz: inflates to more than 1000 bytes/,
  );
  const corrupt = gz.slice(0, 30);
  await assert.rejects(
    () => parseIdx(corrupt, { source: "c.gz" }),
    /c\.gz: corrupt gzip data/,
  );
});

Deno.test("fashion-mnist: a missing directory names the Debian package or the files", async () => {
  await assert.rejects(
    () => loadFashionMnist("train", { dir: "/nonexistent/fmnist" }),
    /^Error: Fashion-MNIST not found \(\/nonexistent\/fmnist\/train-images-idx3-ubyte\.gz\): install the Debian package dataset-fashion-mnist/,
  );
});

Deno.test("fashion-mnist: loads a generated directory with the Debian file names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const images = new Uint8Array(5 * 28 * 28).map((_, i) => i % 256);
    const labels = new Uint8Array([3, 1, 4, 1, 5]);
    await Deno.writeFile(
      `${dir}/t10k-images-idx3-ubyte.gz`,
      await gzip(encodeIdx({ dtype: "u8", shape: [5, 28, 28], data: images })),
    );
    await Deno.writeFile(
      `${dir}/t10k-labels-idx1-ubyte.gz`,
      await gzip(encodeIdx({ dtype: "u8", shape: [5], data: labels })),
    );
    const split = await loadFashionMnist("test", { dir, limit: 4 });
    assert.equal(split.count, 4);
    assert.deepEqual([...split.labels], [3, 1, 4, 1]);
    const batch = fashionMnistBatch(split, 3, 2); // wraps to example 0
    assert.deepEqual([...batch.y], [1, 3]);
    assert.equal(batch.x.length, 2 * 784);
    assert.equal(batch.x[784 + 255], 255 / 255);
    assert.equal(batch.x[1], Math.fround(((3 * 784 + 1) % 256) / 255));
    // Mismatched counts are refused.
    await Deno.writeFile(
      `${dir}/t10k-labels-idx1-ubyte.gz`,
      await gzip(
        encodeIdx({ dtype: "u8", shape: [4], data: labels.subarray(0, 4) }),
      ),
    );
    await assert.rejects(
      () => loadFashionMnist("test", { dir }),
      /4 labels for 5 images/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "fashion-mnist: the Debian package's files parse (when installed)",
  ignore: !(() => {
    try {
      return Deno.statSync(`${FASHION_MNIST_DIR}/t10k-labels-idx1-ubyte.gz`)
        .isFile;
    } catch {
      return false;
    }
  })(),
  fn: async () => {
    const test = await loadFashionMnist("test");
    assert.equal(test.count, 10000);
    assert.equal(test.rows, 28);
    assert.equal(test.cols, 28);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(1000)); // balanced classes
  },
});
