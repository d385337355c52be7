// The PyTorch checkpoint reader: the real ZIP and legacy files of the shared
// test weights load with the README's names and shapes and hold values
// bit-identical to each other and to the safetensors copy; hand-built
// checkpoints cover dtype conversion, strides, offsets, shared storages,
// wrapped state dicts, deflated archives, big-endian data and every error
// path (missing storage, size mismatch, truncation, out-of-range views).
import assert from "node:assert/strict";
import {
  PickleError,
  PthError,
  readPth,
  readPthAsync,
  ZipError,
} from "../../../runtime/io/pth.ts";
import {
  buildLegacyPth,
  buildZip,
  buildZipPth,
  f32Bytes,
  FixtureTensor,
  randomFloats,
  stateDictPickle,
} from "./_torch_fixtures.ts";

// The repository's sibling shared/ folder (tests only; never copied into the repo).
const DIR = new URL(
  "../../../../shared/data/weights/vgg19-normalised-conv3_1/",
  import.meta.url,
);
const ZIP_FILE = new URL("vgg19_normalised_conv1_1-conv3_1.pth", DIR);
const LEGACY_FILE = new URL("wct_encoder_conv3_1.legacy.pth", DIR);
const SAFETENSORS_FILE = new URL(
  "vgg19_normalised_conv1_1-conv3_1.safetensors",
  DIR,
);
const sharedPresent = (() => {
  try {
    return [ZIP_FILE, LEGACY_FILE, SAFETENSORS_FILE].every((f) =>
      Deno.statSync(f).isFile
    );
  } catch {
    return false;
  }
})();
if (!sharedPresent) {
  console.log(
    `pth_test: skipping the real-file tests, ${DIR.pathname} is absent`,
  );
}

/** README table: torchvision key, legacy key, shape. */
const VGG_TABLE: [string, string, number[]][] = [
  ["features.0.weight", "2.weight", [64, 3, 3, 3]],
  ["features.0.bias", "2.bias", [64]],
  ["features.2.weight", "5.weight", [64, 64, 3, 3]],
  ["features.2.bias", "5.bias", [64]],
  ["features.5.weight", "9.weight", [128, 64, 3, 3]],
  ["features.5.bias", "9.bias", [128]],
  ["features.7.weight", "12.weight", [128, 128, 3, 3]],
  ["features.7.bias", "12.bias", [128]],
  ["features.10.weight", "16.weight", [256, 128, 3, 3]],
  ["features.10.bias", "16.bias", [256]],
];

/** The safetensors format in a few lines: u64 LE header length, JSON header, raw data section. */
function readSafetensors(
  bytes: Uint8Array,
): Map<string, { shape: number[]; data: Float32Array; begin: number }> {
  const headerLength = Number(
    new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true),
  );
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)),
  );
  const dataStart = 8 + headerLength;
  const out = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: [begin, end] } = info as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    assert.equal(dtype, "F32");
    const data = new Float32Array(
      bytes.slice(dataStart + begin, dataStart + end).buffer,
    );
    out.set(name, { shape, data, begin });
  }
  return out;
}

function bitsEqual(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  assert.deepEqual(
    new Uint32Array(a.buffer, a.byteOffset, a.length),
    new Uint32Array(b.buffer, b.byteOffset, b.length),
    what,
  );
}

function sum(a: Float32Array): number {
  let s = 0;
  for (const x of a) s += x;
  return s;
}

function assertError(
  fn: () => unknown,
  type: new (...args: never[]) => Error,
  pattern: RegExp,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    assert.match((e as Error).message, pattern);
    assert.ok(!(e as Error).message.includes("\n"), "one line");
    return true;
  });
}

Deno.test({
  name:
    "pth: the real ZIP and legacy checkpoints load with the README's names and shapes",
  ignore: !sharedPresent,
  fn: async () => {
    const zip = readPth(await Deno.readFile(ZIP_FILE));
    assert.equal(zip.format, "zip");
    assert.deepEqual([...zip.tensors.keys()], VGG_TABLE.map((r) => r[0]));
    for (const [key, , shape] of VGG_TABLE) {
      const t = zip.tensors.get(key)!;
      assert.deepEqual(t.shape, shape, key);
      assert.equal(t.dtype, "float32");
      assert.equal(t.data.length, shape.reduce((a, b) => a * b, 1));
    }
    const legacy = readPth(await Deno.readFile(LEGACY_FILE));
    assert.equal(legacy.format, "legacy");
    assert.deepEqual(
      [...legacy.tensors.keys()],
      ["0.weight", "0.bias", ...VGG_TABLE.map((r) => r[1])],
    );
    for (const [, key, shape] of VGG_TABLE) {
      assert.deepEqual(legacy.tensors.get(key)!.shape, shape, key);
    }
    // The 1×1 preprocessing conv: 255 × the RGB→BGR swap, bias −mean (float32).
    const w0 = legacy.tensors.get("0.weight")!;
    assert.deepEqual(w0.shape, [3, 3, 1, 1]);
    assert.deepEqual([...w0.data], [0, 0, 255, 0, 255, 0, 255, 0, 0]);
    assert.deepEqual(
      [...legacy.tensors.get("0.bias")!.data],
      [-103.939, -116.779, -123.68].map(Math.fround),
    );
  },
});

Deno.test({
  name: "pth: ZIP, legacy and safetensors hold bit-identical values",
  ignore: !sharedPresent,
  fn: async () => {
    const zip = readPth(await Deno.readFile(ZIP_FILE)).tensors;
    const legacy = readPth(await Deno.readFile(LEGACY_FILE)).tensors;
    const st = readSafetensors(await Deno.readFile(SAFETENSORS_FILE));
    assert.equal(st.size, 10);
    for (const [key, legacyKey, shape] of VGG_TABLE) {
      bitsEqual(
        zip.get(key)!.data,
        legacy.get(legacyKey)!.data,
        `${key} ↔ ${legacyKey}`,
      );
      assert.deepEqual(st.get(key)!.shape, shape);
      bitsEqual(zip.get(key)!.data, st.get(key)!.data, `${key} ↔ safetensors`);
    }
    // A few sums against the safetensors values (and their README offsets).
    assert.equal(st.get("features.0.weight")!.begin, 256);
    assert.equal(st.get("features.10.weight")!.begin, 8192);
    for (
      const key of [
        "features.0.weight",
        "features.0.bias",
        "features.10.weight",
      ]
    ) {
      const expected = sum(st.get(key)!.data);
      assert.equal(sum(zip.get(key)!.data), expected, key);
      assert.ok(Number.isFinite(expected) && expected !== 0);
    }
    // The async path reads the same.
    const viaAsync =
      (await readPthAsync(await Deno.readFile(ZIP_FILE))).tensors;
    for (const [key] of VGG_TABLE) {
      bitsEqual(viaAsync.get(key)!.data, zip.get(key)!.data, key);
    }
  },
});

Deno.test({
  name: "pth: the real files, truncated or corrupted, throw one-line errors",
  ignore: !sharedPresent,
  fn: async () => {
    const types = [PthError, ZipError, PickleError];
    for (const file of [ZIP_FILE, LEGACY_FILE]) {
      const bytes = await Deno.readFile(file);
      for (
        const n of [
          0,
          1,
          15,
          100,
          900,
          1852,
          1860,
          100000,
          bytes.length - 30,
          bytes.length - 1,
        ]
      ) {
        assert.throws(() => readPth(bytes.subarray(0, n)), (e: unknown) => {
          assert.ok(
            types.some((t) => e instanceof t),
            `${file} cut at ${n}: ${e}`,
          );
          assert.ok(!(e as Error).message.includes("\n"));
          return true;
        });
      }
    }
    const zip = (await Deno.readFile(ZIP_FILE)).slice();
    zip[100000] ^= 0x40; // inside data/2
    assertError(
      () => readPth(zip),
      ZipError,
      /CRC-32 mismatch in entry "vgg19_normalised_conv1_1-conv3_1\/data\/2"/,
    );
    assert.equal(readPth(zip, { verifyCrc: false }).tensors.size, 10);
  },
});

// ---------------------------------------------------------------- hand-built

const half = (bits: number[]) => new Uint8Array(Uint16Array.from(bits).buffer);

function dtypeCases(): {
  tensors: FixtureTensor[];
  expected: Map<string, number[]>;
} {
  const f64 = [0.1, 1e40, -1.5, 2 ** -140];
  const i64 = new BigInt64Array([-1n, 2n ** 40n, -(2n ** 53n), 7n]);
  const tensors: FixtureTensor[] = [
    {
      name: "f16",
      key: "h",
      dtype: "float16",
      storage: half([
        0x3c00,
        0xc000,
        0x0001,
        0x7bff,
        0x7c00,
        0xfc00,
        0x8000,
        0x3555,
      ]),
      shape: [2, 4],
    },
    {
      name: "bf16",
      key: "b",
      dtype: "bfloat16",
      storage: half([0x3f80, 0xc040, 0x7f80, 0x0001]),
      shape: [4],
    },
    {
      name: "f64",
      key: "d",
      dtype: "float64",
      storage: new Uint8Array(Float64Array.from(f64).buffer),
      shape: [4],
    },
    {
      name: "i64",
      key: "l",
      dtype: "int64",
      storage: new Uint8Array(i64.buffer),
      shape: [4],
    },
  ];
  const expected = new Map([
    ["f16", [1, -2, 2 ** -24, 65504, Infinity, -Infinity, -0, 0.333251953125]],
    ["bf16", [1, -3, Infinity, 2 ** -133]],
    ["f64", f64.map(Math.fround)],
    ["i64", [-1, 2 ** 40, -(2 ** 53), 7]],
  ]);
  return { tensors, expected };
}

for (const format of ["zip", "legacy"] as const) {
  const build = (t: FixtureTensor[], o: { wrapKey?: string } = {}) =>
    format === "zip"
      ? buildZipPth(t, o)
      : Promise.resolve(buildLegacyPth(t, o));

  Deno.test(`pth (${format}): float16, bfloat16, float64 and int64 storages convert to float32`, async () => {
    const { tensors, expected } = dtypeCases();
    const r = readPth(await build(tensors));
    assert.equal(r.format, format);
    for (const [name, values] of expected) {
      assert.deepEqual([...r.tensors.get(name)!.data], values, name);
    }
    assert.deepEqual(r.tensors.get("f16")!.shape, [2, 4]);
    assert.equal(r.tensors.get("bf16")!.dtype, "bfloat16");
    // NaN payloads survive as NaN.
    const nan = readPth(
      await build([{
        name: "n",
        key: "0",
        dtype: "float16",
        storage: half([0x7e00]),
        shape: [1],
      }]),
    );
    assert.ok(Number.isNaN(nan.tensors.get("n")!.data[0]));
  });

  Deno.test(`pth (${format}): strides, storage offsets, shared storages and parameters`, async () => {
    const values = randomFloats(24, 5);
    const storage = f32Bytes(values);
    const f = Math.fround;
    const tensors: FixtureTensor[] = [
      {
        name: "full",
        key: "s",
        dtype: "float32",
        storage,
        shape: [4, 6],
        parameter: true,
      },
      // The transpose of `full`: shape [6, 4], stride [1, 6].
      {
        name: "transposed",
        key: "s",
        dtype: "float32",
        storage,
        shape: [6, 4],
        stride: [1, 6],
      },
      // A contiguous slice: rows 2..3.
      {
        name: "rows",
        key: "s",
        dtype: "float32",
        storage,
        shape: [2, 6],
        offset: 12,
      },
      // Every other column of rows 1..3, offset into the storage: [3, 3] stride [6, 2].
      {
        name: "strided",
        key: "s",
        dtype: "float32",
        storage,
        shape: [3, 3],
        stride: [6, 2],
        offset: 7,
      },
      // A broadcast row (stride 0): allowed while it views no more elements than the storage holds.
      {
        name: "expanded",
        key: "s",
        dtype: "float32",
        storage,
        shape: [3, 2],
        stride: [0, 1],
        offset: 4,
      },
      {
        name: "scalar",
        key: "s",
        dtype: "float32",
        storage,
        shape: [],
        offset: 23,
      },
      {
        name: "empty",
        key: "e",
        dtype: "float32",
        storage: new Uint8Array(0),
        shape: [0, 5],
      },
    ];
    const r = readPth(await build(tensors)).tensors;
    const at = (i: number) => f(values[i]);
    assert.deepEqual([...r.get("full")!.data], values.map(f));
    const transposed: number[] = [];
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 4; j++) transposed.push(at(j * 6 + i));
    }
    assert.deepEqual([...r.get("transposed")!.data], transposed);
    assert.deepEqual([...r.get("rows")!.data], values.slice(12).map(f));
    const strided: number[] = [];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) strided.push(at(7 + 6 * i + 2 * j));
    }
    assert.deepEqual([...r.get("strided")!.data], strided);
    assert.deepEqual([...r.get("expanded")!.data], [4, 5, 4, 5, 4, 5].map(at));
    assert.deepEqual(r.get("scalar")!.shape, []);
    assert.deepEqual([...r.get("scalar")!.data], [at(23)]);
    assert.deepEqual(r.get("empty")!.shape, [0, 5]);
    assert.equal(r.get("empty")!.data.length, 0);
    // Tensors sharing a storage get independent arrays.
    r.get("full")!.data[12] = 99;
    assert.equal(r.get("rows")!.data[0], at(12));
  });

  Deno.test(`pth (${format}): checkpoints wrapping the state dict under state_dict / model`, async () => {
    const t: FixtureTensor[] = [{
      name: "w",
      key: "0",
      dtype: "float32",
      storage: f32Bytes([1, 2]),
      shape: [2],
    }];
    for (const wrapKey of ["state_dict", "model"]) {
      const r = readPth(await build(t, { wrapKey }));
      assert.deepEqual([...r.tensors.keys()], ["w"], wrapKey);
      assert.deepEqual([...r.tensors.get("w")!.data], [1, 2]);
    }
    assertError(
      () => readPth(buildLegacyPth(t, { wrapKey: "weights" })),
      PthError,
      /no tensors.*"weights", "epoch"/,
    );
  });

  Deno.test(`pth (${format}): views outside their storage are refused`, async () => {
    const storage = f32Bytes([1, 2, 3, 4, 5, 6]);
    const one = async (extra: Partial<FixtureTensor>) =>
      readPth(
        await build([{
          name: "t",
          key: "0",
          dtype: "float32",
          storage,
          shape: [2, 3],
          ...extra,
        }]),
      );
    await assert.rejects(
      () => one({ offset: 1 }),
      /tensor "t": view \(offset 1, size \[2,3\], stride \[3,1\]\) runs past its storage of 6 elements/,
    );
    await assert.rejects(
      () => one({ stride: [4, 1] }),
      /runs past its storage/,
    );
    await assert.rejects(() => one({ shape: [7] }), /runs past its storage/);
    await assert.rejects(
      () => one({ shape: [1000, 1000], stride: [0, 0] }),
      /1000000 elements view a storage of only 6 \(expanded views are not supported\)/,
    );
    await assert.rejects(
      () => one({ shape: [2, 3], stride: [-3, 1], offset: 3 }),
      /negative size or stride/,
    );
    // Every tensor's float32 output counts against maxTotalBytes.
    const bytes = await build([
      { name: "a", key: "0", dtype: "float32", storage, shape: [6] },
      { name: "b", key: "0", dtype: "float32", storage, shape: [6] },
    ]);
    assert.equal(readPth(bytes, { maxTotalBytes: 48 }).tensors.size, 2);
    assertError(
      () => readPth(bytes, { maxTotalBytes: 47 }),
      PthError,
      /tensors exceed 47 bytes of float32 output \(at "b"\)/,
    );
  });

  Deno.test(`pth (${format}): every truncation throws a one-line error of the reader's types`, async () => {
    const { tensors } = dtypeCases();
    const bytes = await build(tensors);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => readPth(bytes.subarray(0, n)), (e: unknown) => {
        const ok = e instanceof PthError || e instanceof ZipError ||
          e instanceof PickleError;
        assert.ok(ok, `cut at ${n}: ${e}`);
        assert.ok(!(e as Error).message.includes("\n"));
        return true;
      });
    }
  });
}

Deno.test("pth (zip): deflated entries need readPthAsync; byteorder big is honoured", async () => {
  const values = [1.5, -2.25, 3, 1e-3];
  const t: FixtureTensor[] = [{
    name: "w",
    key: "0",
    dtype: "float32",
    storage: f32Bytes(values),
    shape: [4],
  }];
  const deflated = await buildZipPth(t, { deflate: true });
  assertError(
    () => readPth(deflated),
    ZipError,
    /entry "archive\/data\/0" is compressed \(method 8\)/,
  );
  const r = await readPthAsync(deflated);
  assert.deepEqual([...r.tensors.get("w")!.data], values.map(Math.fround));
  // Big-endian storages (torch.save on a big-endian host writes byteorder "big").
  const big = new Uint8Array(16);
  values.forEach((v, i) =>
    new DataView(big.buffer).setFloat32(4 * i, v, false)
  );
  const be = await buildZipPth([{ ...t[0], storage: big }], {
    byteorder: "big",
  });
  assert.deepEqual(
    [...readPth(be).tensors.get("w")!.data],
    values.map(Math.fround),
  );
  const little = await buildZipPth(t, { byteorder: "little" });
  assert.deepEqual(
    [...readPth(little).tensors.get("w")!.data],
    values.map(Math.fround),
  );
  const odd = await buildZipPth(t, { byteorder: "middle" });
  assertError(() => readPth(odd), PthError, /unknown byteorder "middle"/);
  // Other archive names than torch's default work (the name is the file's stem).
  const named = await buildZipPth(t, { archive: "my_model" });
  assert.deepEqual([...readPth(named).tensors.keys()], ["w"]);
});

Deno.test("pth (zip): missing storage, size mismatch, not a checkpoint", async () => {
  const t: FixtureTensor[] = [{
    name: "w",
    key: "0",
    dtype: "float32",
    storage: f32Bytes([1, 2, 3]),
    shape: [3],
  }];
  const pkl = stateDictPickle(t, false);
  const missing = await buildZip([{ name: "archive/data.pkl", data: pkl }, {
    name: "archive/version",
    data: Uint8Array.of(51, 10),
  }]);
  assertError(
    () => readPth(missing),
    PthError,
    /^missing storage: no ZIP entry "archive\/data\/0"$/,
  );
  const short = await buildZip([{ name: "archive/data.pkl", data: pkl }, {
    name: "archive/data/0",
    data: f32Bytes([1, 2]),
  }]);
  assertError(
    () => readPth(short),
    PthError,
    /^size mismatch: storage "0" declares 3 float32 elements \(12 bytes\) but its entry holds 8 bytes$/,
  );
  const noPickle = await buildZip([{ name: "x/data/0", data: f32Bytes([1]) }]);
  assertError(
    () => readPth(noPickle),
    PthError,
    /no <archive>\/data\.pkl entry/,
  );
  assertError(
    () => readPth(Uint8Array.of(1, 2, 3)),
    PthError,
    /not a PyTorch checkpoint/,
  );
  assertError(
    () => readPth(new Uint8Array(0)),
    PthError,
    /not a PyTorch checkpoint/,
  );
  // A refused global inside the archive's pickle.
  const evil = await buildZip([{
    name: "archive/data.pkl",
    data: Uint8Array.from([
      ...[0x80, 2, 0x63],
      ...new TextEncoder().encode("os\nsystem\n"),
      0x2e,
    ]),
  }]);
  assertError(
    () => readPth(evil),
    PickleError,
    /^GLOBAL: refused global "os\.system" .* at byte 2$/,
  );
});

Deno.test("pth (legacy): storage views, size mismatch, truncation, bad magic", () => {
  const values = [10, 11, 12, 13, 14, 15];
  const t: FixtureTensor[] = [
    {
      name: "whole",
      key: "r",
      dtype: "float32",
      storage: f32Bytes(values),
      shape: [6],
    },
    // A view (pre-0.4 style) of elements 2..5 of root storage "r".
    {
      name: "view",
      key: "r",
      dtype: "float32",
      storage: f32Bytes(values),
      shape: [2, 2],
      view: ["v", 2, 4],
    },
  ];
  const r = readPth(buildLegacyPth(t)).tensors;
  assert.deepEqual([...r.get("whole")!.data], values);
  assert.deepEqual([...r.get("view")!.data], [12, 13, 14, 15]);
  const outside = [t[0], {
    ...t[1],
    view: ["v", 4, 4] as [string, number, number],
  }];
  assertError(
    () => readPth(buildLegacyPth(outside)),
    PickleError,
    /storage view lies outside its root storage/,
  );

  const good = buildLegacyPth([t[0]]);
  // Element count in the file disagrees with the persistent id: patch the int64 count (last 8 + 24 bytes).
  const wrongCount = good.slice();
  new DataView(wrongCount.buffer).setBigInt64(good.length - 32, 5n, true);
  assertError(
    () => readPth(wrongCount.subarray(0, good.length - 4)),
    PthError,
    /size mismatch: storage "r" declares 6 elements, the file holds 5/,
  );
  const hugeCount = good.slice();
  new DataView(hugeCount.buffer).setBigInt64(good.length - 32, 1n << 60n, true);
  assertError(
    () => readPth(hugeCount),
    PthError,
    /^truncated: storage "r" at byte \d+ declares 1152921504606846976 float32 elements, 24 bytes left$/,
  );
  assertError(
    () => readPth(good.subarray(0, good.length - 30)),
    PthError,
    /^truncated: storage "r" has no size/,
  );
  assertError(
    () => readPth(good.subarray(0, good.length - 1)),
    PthError,
    /^truncated: storage "r" .* 23 bytes left$/,
  );
  // A different first pickle is not the magic number.
  const notMagic = good.slice();
  notMagic[5] ^= 1; // inside the LONG1 value
  assertError(
    () => readPth(notMagic),
    PthError,
    /first pickle is not the legacy magic number/,
  );
});
