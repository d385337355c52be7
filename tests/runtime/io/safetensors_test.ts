// safetensors: round trips, dtype conversion, and hostile headers (each must
// fail with a one-line SafetensorsError before any large allocation).
import assert from "node:assert/strict";
import {
  bytesSource,
  halfToFloat,
  LazySafetensors,
  MAX_HEADER_BYTES,
  readHeader,
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
} from "../../../runtime/io/safetensors.ts";
import { randomArray } from "../../_check.ts";

/** A file from a header object and a data section. */
function build(
  header: unknown,
  data: Uint8Array,
  rawHeader?: string,
): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => readSafetensors(bytes, "evil.safetensors"),
    (e: Error) => {
      assert.ok(e instanceof SafetensorsError, `${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("\n"), "one-line message");
      assert.match(e.message, /^evil\.safetensors: /);
      return true;
    },
  );
}

Deno.test("safetensors: round trip of f32 tensors and metadata", () => {
  const a = randomArray(3 * 5, 1);
  const b = randomArray(7, 2);
  const bytes = writeSafetensors(
    {
      "fc1.weight": { shape: [3, 5], data: a },
      "fc1.bias": { shape: [7], data: b },
      empty: { shape: [0, 4], data: new Float32Array(0) },
    },
    { note: "hello", step: "12" },
  );
  // Header length is 8-byte aligned so the data section is too.
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const file = readSafetensors(bytes);
  assert.deepEqual(file.metadata, { note: "hello", step: "12" });
  assert.deepEqual([...file.tensors.keys()], [
    "fc1.weight",
    "fc1.bias",
    "empty",
  ]);
  assert.deepEqual(file.tensors.get("fc1.weight")!.shape, [3, 5]);
  assert.deepEqual(file.tensors.get("fc1.weight")!.data, a);
  assert.deepEqual(file.tensors.get("fc1.bias")!.data, b);
  assert.equal(file.tensors.get("empty")!.data.length, 0);
});

Deno.test("safetensors: reads F16, BF16, F64 and integer dtypes as f32", () => {
  const data = new Uint8Array(2 * 3 + 2 * 2 + 8 * 2 + 4 + 1);
  const v = new DataView(data.buffer);
  // F16: 1.0 (0x3c00), -2.5 (0xc100), 65504 (0x7bff)
  v.setUint16(0, 0x3c00, true);
  v.setUint16(2, 0xc100, true);
  v.setUint16(4, 0x7bff, true);
  // BF16: 1.5 (0x3fc0), -0.375 (0xbec0)
  v.setUint16(6, 0x3fc0, true);
  v.setUint16(8, 0xbec0, true);
  v.setFloat64(10, Math.PI, true);
  v.setFloat64(18, -1e-3, true);
  v.setInt32(26, -123456, true);
  v.setUint8(30, 200);
  const header = {
    h: { dtype: "F16", shape: [3], data_offsets: [0, 6] },
    b: { dtype: "BF16", shape: [2], data_offsets: [6, 10] },
    d: { dtype: "F64", shape: [2, 1], data_offsets: [10, 26] },
    i: { dtype: "I32", shape: [], data_offsets: [26, 30] },
    u: { dtype: "U8", shape: [1], data_offsets: [30, 31] },
  };
  const file = readSafetensors(build(header, data));
  assert.deepEqual([...file.tensors.get("h")!.data], [1, -2.5, 65504]);
  assert.deepEqual([...file.tensors.get("b")!.data], [1.5, -0.375]);
  assert.deepEqual([...file.tensors.get("d")!.data], [
    Math.fround(Math.PI),
    Math.fround(-1e-3),
  ]);
  assert.deepEqual(file.tensors.get("d")!.shape, [2, 1]);
  assert.deepEqual([...file.tensors.get("i")!.data], [-123456]);
  assert.deepEqual(file.tensors.get("i")!.shape, []);
  assert.deepEqual([...file.tensors.get("u")!.data], [200]);
  assert.equal(file.tensors.get("h")!.dtype, "F16");
  // Half-precision special values.
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.equal(halfToFloat(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.ok(Object.is(halfToFloat(0x8000), -0));
});

Deno.test("safetensors: unaligned F32 data and padded headers read correctly", () => {
  const values = new Float32Array([1.25, -7, 3e-8]);
  const data = new Uint8Array(1 + 12);
  new Uint8Array(values.buffer).forEach((b, i) => (data[1 + i] = b));
  const header = JSON.stringify({
    x: { dtype: "F32", shape: [3], data_offsets: [1, 13] },
    pad: { dtype: "U8", shape: [1], data_offsets: [0, 1] },
  });
  const file = readSafetensors(build(null, data, header + "   "));
  assert.deepEqual(file.tensors.get("x")!.data, values);
});

Deno.test("safetensors: hostile files fail with clear one-line errors", () => {
  const ok = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
  const eight = new Uint8Array(8);
  // Too short for the length prefix.
  rejects(new Uint8Array(5), /too short/);
  // Header length past the end of the file.
  const past = new Uint8Array(16);
  new DataView(past.buffer).setBigUint64(0, 1000n, true);
  rejects(past, /header length 1000 runs past the end of the 16-byte file/);
  // Absurd header length (would allocate 2^63 bytes).
  const absurd = new Uint8Array(16);
  new DataView(absurd.buffer).setBigUint64(0, 1n << 63n, true);
  rejects(absurd, /exceeds the 100 MB limit/);
  const justOver = new Uint8Array(16);
  new DataView(justOver.buffer).setBigUint64(
    0,
    BigInt(MAX_HEADER_BYTES + 1),
    true,
  );
  rejects(justOver, /exceeds the 100 MB limit/);
  // Not JSON, not an object, not UTF-8.
  rejects(build(null, eight, "{not json"), /header is not JSON/);
  rejects(build(null, eight, "[1, 2]"), /not a JSON object/);
  rejects(build(null, eight, '"str"'), /not a JSON object/);
  const badUtf8 = build(null, eight, "{}  ");
  badUtf8[9] = 0xff;
  rejects(badUtf8, /not valid UTF-8/);
  // Offsets past the end of the data.
  rejects(
    build({ x: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, eight),
    /run past the end of the 8-byte data section/,
  );
  // Overlapping tensors.
  rejects(
    build(
      { x: ok, y: { dtype: "F32", shape: [1], data_offsets: [4, 8] } },
      eight,
    ),
    /overlaps/,
  );
  // Overlap hidden behind an empty tensor.
  rejects(
    build({
      x: ok,
      e: { dtype: "F32", shape: [0], data_offsets: [4, 4] },
      y: { dtype: "U8", shape: [2], data_offsets: [5, 7] },
    }, eight),
    /overlaps tensor "x"/,
  );
  // Size not matching shape x dtype.
  rejects(
    build({ x: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, eight),
    /holds 8 bytes but shape \[3\] x F32 needs 12/,
  );
  rejects(
    build({ x: { dtype: "F64", shape: [2], data_offsets: [0, 8] } }, eight),
    /needs 16/,
  );
  // Ill-formed entries.
  rejects(
    build({ x: { dtype: "F33", shape: [2], data_offsets: [0, 8] } }, eight),
    /unknown dtype "F33"/,
  );
  rejects(
    build({ x: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, eight),
    /invalid shape/,
  );
  rejects(
    build({ x: { dtype: "F32", shape: [2.5], data_offsets: [0, 8] } }, eight),
    /invalid shape/,
  );
  rejects(
    build({ x: { dtype: "F32", shape: [1e300], data_offsets: [0, 8] } }, eight),
    /invalid shape/,
  );
  rejects(
    build({ x: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, eight),
    /ending before they begin/,
  );
  rejects(
    build({ x: { dtype: "F32", shape: [2], data_offsets: [0] } }, eight),
    /invalid data_offsets/,
  );
  rejects(
    build({ x: { dtype: "F32", shape: [2], data_offsets: [0, "8"] } }, eight),
    /invalid data_offsets/,
  );
  rejects(build({ x: 5 }, eight), /entry for tensor "x" is not an object/);
  rejects(
    build({ __metadata__: { a: 1 } }, eight),
    /__metadata__ value for "a" is not a string/,
  );
  rejects(build({ __metadata__: [] }, eight), /__metadata__ is not an object/);
  // Huge declared shape with matching offsets still bounded by the file.
  rejects(
    build({
      x: { dtype: "F32", shape: [1 << 30], data_offsets: [0, 4 * (1 << 30)] },
    }, eight),
    /run past the end/,
  );
  // Dtypes that parse but cannot be read as f32.
  rejects(
    build({ x: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, eight),
    /dtype I64, which cannot be read as f32/,
  );
  // Without a name the prefix is "safetensors:".
  assert.throws(
    () => readSafetensors(new Uint8Array(3)),
    /^SafetensorsError: safetensors: /,
  );
});

Deno.test("safetensors: writer rejects bad input", () => {
  assert.throws(
    () => writeSafetensors({ x: { shape: [3], data: new Float32Array(2) } }),
    /2 values for shape \[3\]/,
  );
  assert.throws(
    () =>
      writeSafetensors({
        __metadata__: { shape: [1], data: new Float32Array(1) },
      }),
    /cannot name a tensor/,
  );
  assert.throws(
    () => writeSafetensors({}, { a: 5 as unknown as string }),
    /not a string/,
  );
});

Deno.test("safetensors: lazy reader fetches only the header and requested ranges", async () => {
  const a = randomArray(1000, 3);
  const b = randomArray(10, 4);
  const bytes = writeSafetensors(
    new Map([["a", { shape: [10, 100], data: a }], ["b", {
      shape: [10],
      data: b,
    }]]),
    { k: "v" },
  );
  const reads: [number, number][] = [];
  const inner = bytesSource(bytes);
  const source = {
    size: bytes.length,
    read: (s: number, e: number) => {
      reads.push([s, e]);
      return inner.read(s, e);
    },
  };
  const lazy = await LazySafetensors.open(source, "remote.safetensors");
  assert.deepEqual(lazy.names(), ["a", "b"]);
  assert.deepEqual(lazy.metadata, { k: "v" });
  assert.equal(reads.length, 2); // length prefix + header
  const t = await lazy.read("b");
  assert.deepEqual(t.data, b);
  assert.deepEqual(reads[2], [lazy.info("b").begin, lazy.info("b").end]);
  assert.equal(reads[2][1] - reads[2][0], 40);
  await assert.rejects(
    () => lazy.read("zzz"),
    /remote\.safetensors: no tensor named "zzz"/,
  );
  // A source that lies about its size (truncated download).
  const truncated = {
    read: (s: number, e: number) =>
      Promise.resolve(bytes.subarray(s, Math.min(e, bytes.length - 8))),
  };
  const lazy2 = await LazySafetensors.open(truncated);
  await assert.rejects(() => lazy2.read("b"), /run past the end of the file/);
  // Header checks apply to lazy opens too.
  const absurd = new Uint8Array(16);
  new DataView(absurd.buffer).setBigUint64(0, 1n << 40n, true);
  await assert.rejects(
    () => LazySafetensors.open(bytesSource(absurd)),
    /exceeds the 100 MB limit/,
  );
  assert.equal(readHeader(bytes).dataEnd, bytes.length);
});
