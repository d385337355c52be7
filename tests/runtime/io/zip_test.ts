// The ZIP reader: hand-built archives (stored, deflate, ZIP64, comments)
// read back byte for byte; corrupt or hostile archives throw a one-line
// ZipError quickly; the real torch.save checkpoint's directory is read when
// the shared test weights are present.
import assert from "node:assert/strict";
import { crc32, ZipError, ZipReader } from "../../../runtime/io/zip.ts";
import { buildZip, crc32Bitwise, randomFloats } from "./_torch_fixtures.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function assertZipError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ZipError, `expected ZipError, got ${e}`);
    assert.match(e.message, pattern);
    assert.match(e.message, /at byte \d+$/);
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  });
}

async function assertZipErrorAsync(
  fn: () => Promise<unknown>,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof ZipError, `expected ZipError, got ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  });
}

/** Archive with a stored text entry and a deflated, compressible binary entry. */
async function sample(options: { zip64?: boolean; comment?: string } = {}) {
  const text = enc.encode("hello, stored entry\n");
  const binary = new Uint8Array(20000).map((_, i) => (i * 7) % 13); // compressible
  const zip = await buildZip([
    { name: "dir/text.txt", data: text },
    { name: "dir/data.bin", data: binary, deflate: true, localPad: 9 },
    { name: "empty", data: new Uint8Array(0) },
  ], options);
  return { zip, text, binary };
}

Deno.test("crc32: check value and chunked continuation match a bitwise CRC", () => {
  assert.equal(crc32(enc.encode("123456789")), 0xcbf43926); // the CRC-32/ISO-HDLC check value
  assert.equal(crc32(new Uint8Array(0)), 0);
  const data = new Uint8Array(1000).map((_, i) => (i * 131 + 7) & 0xff);
  for (const n of [1, 7, 8, 9, 63, 1000]) {
    assert.equal(crc32(data.subarray(0, n)), crc32Bitwise(data.subarray(0, n)));
  }
  assert.equal(
    crc32(data.subarray(300), crc32(data.subarray(0, 300))),
    crc32(data),
  );
});

for (const zip64 of [false, true]) {
  Deno.test(`zip: stored + deflate entries read back (zip64 ${zip64})`, async () => {
    const { zip, text, binary } = await sample({ zip64 });
    const r = new ZipReader(zip);
    assert.deepEqual(r.entries.map((e) => e.name), [
      "dir/text.txt",
      "dir/data.bin",
      "empty",
    ]);
    assert.equal(r.get("dir/data.bin")!.method, 8);
    assert.ok(r.get("dir/data.bin")!.compressedSize < binary.length / 4);
    assert.deepEqual(r.readStored("dir/text.txt"), text);
    assert.deepEqual(await r.read("dir/text.txt"), text);
    assert.deepEqual(await r.read("dir/data.bin"), binary);
    assert.deepEqual(r.readStored("empty"), new Uint8Array(0));
    // Stored data is a view into the archive, not a copy.
    assert.equal(r.readStored("dir/text.txt").buffer, zip.buffer);
    assertZipError(
      () => r.readStored("dir/data.bin"),
      /compressed \(method 8\): read it asynchronously/,
    );
    assertZipError(() => r.readStored("nope"), /no entry named "nope"/);
  });
}

Deno.test("zip: archive comment (EOCD found by scanning back past it)", async () => {
  const comment = "PK\x05\x06 a comment that mentions the EOCD signature"
    .repeat(20);
  const { zip, text } = await sample({ comment });
  const r = new ZipReader(zip);
  assert.equal(r.comment, comment);
  assert.deepEqual(r.readStored("dir/text.txt"), text);
});

Deno.test("zip: bad CRC is detected for stored and deflated entries", async () => {
  const { zip } = await sample();
  const r0 = new ZipReader(zip);
  const stored = zip.slice();
  stored[r0.get("dir/text.txt")!.dataOffset] ^= 1;
  assertZipError(
    () => new ZipReader(stored).readStored("dir/text.txt"),
    /CRC-32 mismatch in entry "dir\/text.txt"/,
  );
  // Opting out of the check returns the corrupted bytes.
  assert.equal(
    new ZipReader(stored).readStored("dir/text.txt", { verifyCrc: false })[0],
    "h".charCodeAt(0) ^ 1,
  );
  const crcField = zip.slice();
  new DataView(crcField.buffer).setUint32(
    r0.get("dir/data.bin")!.centralOffset + 16,
    0x12345678,
    true,
  );
  await assertZipErrorAsync(
    () => new ZipReader(crcField).read("dir/data.bin"),
    /CRC-32 mismatch.*0x12345678/,
  );
});

Deno.test("zip: corrupt or lying deflate data is rejected with bounded output", async () => {
  const { zip } = await sample();
  const e = new ZipReader(zip).get("dir/data.bin")!;
  // Declared smaller than the real output: stops at the declared size (a bomb cannot over-allocate).
  const small = zip.slice();
  new DataView(small.buffer).setUint32(e.centralOffset + 24, 100, true);
  await assertZipErrorAsync(
    () => new ZipReader(small).read("dir/data.bin"),
    /inflates past its declared size of 100/,
  );
  // Declared larger: the short output is reported.
  const large = zip.slice();
  new DataView(large.buffer).setUint32(e.centralOffset + 24, 30000, true);
  await assertZipErrorAsync(
    () => new ZipReader(large).read("dir/data.bin"),
    /inflated to 20000 bytes.*30000/,
  );
  // Garbage compressed bytes (block type 3 is invalid).
  const garbage = zip.slice();
  garbage.fill(0xff, e.dataOffset, e.dataOffset + e.compressedSize);
  await assertZipErrorAsync(
    () => new ZipReader(garbage).read("dir/data.bin"),
    /corrupt deflate data/,
  );
});

Deno.test("zip: truncated archives and central directories", async () => {
  const { zip } = await sample();
  const r = new ZipReader(zip);
  const cdOffset = r.entries[0].centralOffset;
  assertZipError(() => new ZipReader(zip.subarray(0, 10)), /too short/);
  assertZipError(
    () => new ZipReader(zip.subarray(0, zip.length - 1)),
    /no end of central directory/,
  );
  assertZipError(
    () => new ZipReader(zip.subarray(0, cdOffset + 30)),
    /no end of central directory/,
  );
  // EOCD intact, but it claims more entries than its directory holds.
  const eocd = zip.length - 22;
  const more = zip.slice();
  new DataView(more.buffer).setUint16(eocd + 10, 4, true);
  assertZipError(
    () => new ZipReader(more),
    /truncated central directory record|cannot fit/,
  );
  // Directory size shortened: the last record runs past it.
  const shorter = zip.slice();
  const dv = new DataView(shorter.buffer);
  dv.setUint32(eocd + 12, dv.getUint32(eocd + 12, true) - 3, true);
  assertZipError(
    () => new ZipReader(shorter),
    /runs past the directory|truncated central directory record/,
  );
  // Every truncation point throws ZipError (or, for none, parses): never another error or a hang.
  for (let n = 0; n < zip.length; n += 7) {
    try {
      new ZipReader(zip.subarray(0, n));
    } catch (e) {
      assert.ok(e instanceof ZipError, `length ${n}: ${e}`);
    }
  }
});

Deno.test("zip: offsets and sizes past the end, absurd counts, overlaps", async () => {
  const { zip } = await sample();
  const r = new ZipReader(zip);
  const e0 = r.entries[0], e1 = r.entries[1];
  const eocd = zip.length - 22;
  const mutate = (f: (v: DataView) => void) => {
    const z = zip.slice();
    f(new DataView(z.buffer));
    return z;
  };
  assertZipError(
    () =>
      new ZipReader(
        mutate((v) => v.setUint32(e0.centralOffset + 42, 0x7fff0000, true)),
      ),
    /local header offset 2147418112 is past the end/,
  );
  assertZipError(
    () =>
      new ZipReader(
        mutate((
          v,
        ) => (v.setUint32(e0.centralOffset + 20, 0xfffffff0, true),
          v.setUint32(e0.centralOffset + 24, 0xfffffff0, true))
        ),
      ),
    /runs past the end of the archive/,
  );
  assertZipError(
    () =>
      new ZipReader(
        mutate((v) => v.setUint32(eocd + 16, zip.length + 100, true)),
      ),
    /central directory/,
  );
  assertZipError(
    () => new ZipReader(mutate((v) => v.setUint16(eocd + 10, 0xfffe, true))),
    /cannot fit/,
  );
  assertZipError(
    () => new ZipReader(zip, { maxEntries: 2 }),
    /3 entries exceed the limit of 2/,
  );
  // Two directory records pointing at the same local header (a zip-bomb trick).
  assertZipError(
    () =>
      new ZipReader(
        mutate((v) =>
          v.setUint32(e1.centralOffset + 42, e0.localHeaderOffset, true)
        ),
      ),
    /overlap/,
  );
  assertZipError(
    () =>
      new ZipReader(mutate((v) => v.setUint32(e0.localHeaderOffset, 0, true))),
    /bad local header/,
  );
  assertZipError(
    () =>
      new ZipReader(
        mutate((v) => v.setUint16(e0.centralOffset + 10, 12, true)),
      ),
    /method 12/,
  );
  assertZipError(
    () =>
      new ZipReader(mutate((v) => v.setUint16(e0.centralOffset + 8, 1, true))),
    /encrypted/,
  );
  // ZIP64 placeholders with no ZIP64 locator.
  assertZipError(
    () =>
      new ZipReader(mutate((v) => v.setUint32(eocd + 16, 0xffffffff, true))),
    /no ZIP64 locator/,
  );
});

Deno.test("zip: random byte corruption never escapes as another error type", async () => {
  const { zip } = await sample({ zip64: true });
  const noise = randomFloats(4000, 99);
  for (let trial = 0; trial < 1000; trial++) {
    const z = zip.slice();
    for (let k = 0; k < 3; k++) {
      const at = Math.floor(
        ((noise[(trial * 4 + k) % noise.length] + 1) / 2) * z.length,
      );
      z[at] = Math.floor(
        ((noise[(trial * 4 + k + 1) % noise.length] + 1) / 2) * 256,
      );
    }
    try {
      const r = new ZipReader(z);
      for (const e of r.entries) await r.read(e);
    } catch (e) {
      assert.ok(e instanceof ZipError, `trial ${trial}: ${e}`);
    }
  }
});

// The repository's sibling shared/ folder (tests only; never copied into the repo).
const SHARED_PTH = new URL(
  "../../../../shared/data/weights/vgg19-normalised-conv3_1/vgg19_normalised_conv1_1-conv3_1.pth",
  import.meta.url,
);
const sharedPresent = (() => {
  try {
    return Deno.statSync(SHARED_PTH).isFile;
  } catch {
    return false;
  }
})();
if (!sharedPresent) {
  console.log(
    `zip_test: skipping the real-file test, ${SHARED_PTH.pathname} is absent`,
  );
}

Deno.test({
  name: "zip: the real torch.save archive (stored entries, CRCs check)",
  ignore: !sharedPresent,
  fn: async () => {
    const r = new ZipReader(await Deno.readFile(SHARED_PTH));
    const prefix = "vgg19_normalised_conv1_1-conv3_1";
    assert.deepEqual(
      r.entries.map((e) => e.name),
      [
        `${prefix}/data.pkl`,
        ...Array.from({ length: 10 }, (_, k) => `${prefix}/data/${k}`),
        `${prefix}/version`,
      ],
    );
    assert.ok(r.entries.every((e) => e.method === 0));
    assert.equal(dec.decode(r.readStored(`${prefix}/version`)), "3\n");
    assert.equal(r.readStored(`${prefix}/data/0`).length, 64 * 3 * 3 * 3 * 4);
    for (const e of r.entries) r.readStored(e); // every CRC
  },
});
