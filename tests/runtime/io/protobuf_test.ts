// The protobuf wire-format reader: hand-built messages round trip, and
// corrupt or hostile inputs throw a one-line ProtobufError quickly.
import assert from "node:assert/strict";
import {
  DEFAULT_MAX_DEPTH,
  ProtobufError,
  ProtoReader,
  ProtoWriter,
  WIRE_I32,
  WIRE_LEN,
  WIRE_SGROUP,
  WIRE_VARINT,
} from "../../../runtime/io/protobuf.ts";

/** Asserts `fn` throws a one-line ProtobufError matching `pattern`. */
function assertProtoError(fn: () => unknown, pattern: RegExp): ProtobufError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ProtobufError, `expected ProtobufError, got ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "error message is one line");
    assert.match(e.message, /at byte \d+$/);
    return e;
  }
  assert.fail(`expected an error matching ${pattern}`);
}

function reader(bytes: ArrayLike<number>, maxDepth?: number): ProtoReader {
  return new ProtoReader(Uint8Array.from(bytes), { maxDepth, type: "Test" });
}

/** Reads every record of a message, recursing into field 1 as a message. */
function walk(r: ProtoReader): number {
  let records = 0;
  while (r.next()) {
    records++;
    if (r.field === 1 && r.wire === WIRE_LEN) {
      records += walk(r.message("Test"));
    } else r.skip();
  }
  return records;
}

Deno.test("varints round trip at their edges", () => {
  const values = [
    0,
    1,
    127,
    128,
    300,
    16383,
    16384,
    2 ** 28 - 1,
    2 ** 28,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 35 + 5,
    2 ** 53 - 1,
  ];
  const w = new ProtoWriter();
  for (const v of values) w.varint(v);
  const r = reader(w.finish());
  for (const v of values) assert.equal(r.uint64(), v);
  assert.equal(r.more, false);

  const signed = [-1, -2, -(2 ** 31), -(2 ** 53) + 1, 5];
  const ws = new ProtoWriter();
  for (const v of signed) ws.varint(v);
  const bytes = ws.finish();
  assert.equal(bytes.length, 10 * 4 + 1, "negative varints take 10 bytes");
  const rs = reader(bytes);
  for (const v of signed) assert.equal(rs.int64(), v);

  const big = [-(2n ** 63n), 2n ** 63n - 1n, -3n, 0n];
  const wb = new ProtoWriter();
  for (const v of big) wb.varint(v);
  const rb = reader(wb.finish());
  for (const v of big) assert.equal(rb.int64Big(), v);

  // int32 keeps the low 32 bits of a sign-extended 10-byte varint.
  assert.equal(reader(new ProtoWriter().varint(-7).finish()).int32(), -7);
});

Deno.test("scalars, strings, nested messages and repeated fields round trip", () => {
  const bytes = new ProtoWriter()
    .int(1, 150)
    .float(2, 1.5)
    .double(3, -2.25)
    .string(4, "héllo")
    .message(5, (m) => m.int(1, -42).string(2, "inner"))
    .packedVarints(6, [1, -1, 300])
    .int(6, 7) // unpacked element of the same repeated field
    .packedFloats(7, [0.5, -4])
    .float(7, 8)
    .int(99, 12345) // unknown fields are skipped
    .bytes(100, [1, 2, 3])
    .float(101, 0)
    .double(102, 0)
    .tag(103, WIRE_SGROUP).int(1, 5).message(2, (m) => m.int(1, 1))
    .tag(103, 4) // end group
    .finish();
  const r = reader(bytes);
  const ints: number[] = [], floats: number[] = [];
  const inner = { a: 0, b: "" };
  const seen: number[] = [];
  while (r.next()) {
    seen.push(r.field);
    switch (r.field) {
      case 1:
        assert.equal(r.wire, WIRE_VARINT);
        assert.equal(r.uint64(), 150);
        break;
      case 2:
        assert.equal(r.float(), 1.5);
        break;
      case 3:
        assert.equal(r.double(), -2.25);
        break;
      case 4:
        assert.equal(r.string(), "héllo");
        break;
      case 5: {
        const m = r.message("Inner");
        while (m.next()) {
          if (m.field === 1) inner.a = m.int64();
          else if (m.field === 2) inner.b = m.string();
          else m.skip();
        }
        break;
      }
      case 6:
        r.int64s(ints, "ints");
        break;
      case 7:
        r.floats(floats, "floats");
        break;
      default:
        r.skip();
    }
  }
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 6, 7, 7, 99, 100, 101, 102, 103]);
  assert.deepEqual(inner, { a: -42, b: "inner" });
  assert.deepEqual(ints, [1, -1, 300, 7]);
  assert.deepEqual(floats, [0.5, -4, 8]);
});

Deno.test("a reader on a subarray reports offsets within that subarray", () => {
  const body = new ProtoWriter().int(1, 1).raw([0x0a, 0x05, 1]).finish();
  const padded = new Uint8Array(body.length + 7);
  padded.set(body, 7);
  const r = new ProtoReader(padded.subarray(7), { type: "Test" });
  const e = assertProtoError(() => walk(r), /length 5 runs past the end/);
  assert.equal(e.offset, 3);
});

Deno.test("truncated varints throw", () => {
  assertProtoError(() => reader([0x80]).uint64(), /truncated varint/);
  assertProtoError(
    () => reader([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).uint64(),
    /truncated varint/,
  );
  // A tag whose value varint is cut off by the end of the message.
  assertProtoError(
    () => walk(reader([0x08, 0x96])),
    /truncated varint in Test at byte 1$/,
  );
  // Truncation inside a nested message stops at the nested message's end,
  // even though the outer buffer has more bytes.
  assertProtoError(
    () => walk(reader([0x0a, 0x02, 0x08, 0x80, 0x01, 0x08, 0x01])),
    /truncated varint in Test at byte 3$/,
  );
});

Deno.test("varints longer than 10 bytes throw", () => {
  const eleven = [
    0x80,
    0x80,
    0x80,
    0x80,
    0x80,
    0x80,
    0x80,
    0x80,
    0x80,
    0x80,
    0x01,
  ];
  assertProtoError(
    () => reader(eleven).uint64(),
    /varint longer than 10 bytes in Test at byte 0$/,
  );
  assertProtoError(
    () => walk(reader([0x08, ...eleven])),
    /varint longer than 10 bytes in Test at byte 1$/,
  );
  // A never-ending varint of 1 MB fails after 10 bytes, not at the end.
  const endless = new Uint8Array(1 << 20).fill(0xff);
  assertProtoError(
    () => new ProtoReader(endless).uint64(),
    /longer than 10 bytes/,
  );
  // In packed data too.
  const packed = new ProtoWriter().bytes(1, eleven).finish();
  const r = reader(packed);
  r.next();
  assertProtoError(() => r.int64s([], "ints"), /varint longer than 10 bytes/);
});

Deno.test("lengths past the end and huge claimed lengths throw", () => {
  // Field 1, LEN, claims 10 bytes, has 2.
  const e = assertProtoError(
    () => walk(reader([0x0a, 0x0a, 1, 2])),
    /length 10 runs past the end of the message \(2 bytes left\) in Test at byte 1$/,
  );
  assert.equal(e.offset, 1);
  // 2^32 - 1 and 2^63 claimed: rejected without allocating.
  assertProtoError(
    () => walk(reader([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0])),
    /length 4294967295 runs past/,
  );
  assertProtoError(
    () =>
      walk(
        reader([
          0x12,
          0x80,
          0x80,
          0x80,
          0x80,
          0x80,
          0x80,
          0x80,
          0x80,
          0x80,
          0x01,
        ]),
      ),
    /length 9223372036854776000 runs past/,
  );
  // A nested length that fits the buffer but not the enclosing message.
  assertProtoError(
    () => walk(reader([0x0a, 0x03, 0x12, 0x05, 0, 1, 2, 3, 4])),
    /length 5 runs past the end of the message \(1 bytes left\) in Test at byte 3$/,
  );
  // Fixed-width values cut short.
  assertProtoError(
    () => walk(reader([0x15, 1, 2])),
    /I32 value of 4 bytes runs past the end/,
  );
  assertProtoError(
    () => walk(reader([0x11, 1, 2, 3])),
    /I64 value of 8 bytes runs past the end/,
  );
  assertProtoError(
    () => reader([1, 2]).float(),
    /float of 4 bytes runs past the end/,
  );
  assertProtoError(
    () => reader([1, 2]).double(),
    /double of 8 bytes runs past the end/,
  );
});

Deno.test("bad tags and wire types throw", () => {
  assertProtoError(
    () => walk(reader([0x00, 0x01])),
    /field number 0 in Test at byte 0$/,
  );
  assertProtoError(
    () => walk(reader([0x0e])),
    /invalid wire type 6 for field 1/,
  );
  assertProtoError(
    () => walk(reader([0x0f])),
    /invalid wire type 7 for field 1/,
  );
  assertProtoError(
    () => walk(reader([0x0c])),
    /end-group tag for field 1 without a start/,
  );
  assertProtoError(
    () => walk(reader([0x0b, 0x08, 0x01])),
    /group for field 1 is not closed/,
  );
  assertProtoError(
    () => walk(reader([0x0b, 0x14])),
    /end-group tag for field 2 does not match/,
  );
  // A tag wider than 32 bits.
  assertProtoError(
    () => walk(reader([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])),
    /tag does not fit in 32 bits/,
  );
  // A field read with the wrong wire type.
  const r = reader([0x08, 0x01]);
  r.next();
  assertProtoError(
    () => r.expect(WIRE_LEN, "name"),
    /field 1 \(name\) has wire type VARINT, expected LEN in Test at byte 0$/,
  );
  const r2 = reader([0x0d, 0, 0, 0, 0]);
  r2.next();
  assert.equal(r2.wire, WIRE_I32);
  assertProtoError(
    () => r2.int64s([], "dims"),
    /has wire type I32, expected LEN/,
  );
});

Deno.test("packed runs must hold whole elements", () => {
  const r = reader(new ProtoWriter().bytes(1, [0, 0, 0, 0, 0, 0]).finish());
  r.next();
  assertProtoError(
    () => r.floats([], "floats"),
    /packed floats length 6 is not a multiple of 4/,
  );
  const r2 = reader(new ProtoWriter().bytes(1, [0x01, 0x80]).finish());
  r2.next();
  assertProtoError(
    () => r2.varintChunks([], "ints"),
    /packed ints ends inside a varint/,
  );
  const r3 = reader(new ProtoWriter().bytes(1, [0x01, 0x80]).finish());
  r3.next();
  assertProtoError(
    () => r3.int64s([], "ints"),
    /truncated varint in Test.ints at byte 3$/,
  );
});

/**
 * `depth` messages nested in field 1, built front to back in linear time
 * (lengths computed inside out first).
 */
function nested(depth: number): Uint8Array {
  const varintSize = (v: number) => {
    let n = 1;
    while (v >= 128) {
      v = Math.floor(v / 128);
      n++;
    }
    return n;
  };
  const inner = new Array<number>(depth + 1);
  inner[depth] = 0;
  for (let i = depth - 1; i >= 0; i--) {
    inner[i] = 1 + varintSize(inner[i + 1]) + inner[i + 1];
  }
  const out = new Uint8Array(inner[0]);
  let at = 0;
  for (let i = 0; i < depth; i++) {
    out[at++] = 0x0a;
    let v = inner[i + 1];
    while (v >= 128) {
      out[at++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    out[at++] = v;
  }
  return out;
}

Deno.test("nesting is limited (default 100 levels) and fails fast", () => {
  assert.equal(DEFAULT_MAX_DEPTH, 100);
  assert.equal(walk(reader(nested(100))), 100);
  assertProtoError(
    () => walk(reader(nested(101))),
    /messages nested deeper than 100 levels/,
  );
  assertProtoError(
    () => walk(reader(nested(6), 5)),
    /nested deeper than 5 levels/,
  );
  // A million levels: stops at level 101 without recursing further.
  const deep = nested(1_000_000);
  const t0 = performance.now();
  assertProtoError(
    () => walk(new ProtoReader(deep, { type: "Test" })),
    /nested deeper than 100/,
  );
  console.log(
    `1e6-level nesting rejected in ${(performance.now() - t0).toFixed(1)} ms`,
  );
  // Groups nest too.
  const groups = new ProtoWriter();
  for (let i = 0; i < 200; i++) groups.tag(1, WIRE_SGROUP);
  for (let i = 0; i < 200; i++) groups.tag(1, 4);
  assertProtoError(
    () => walk(reader(groups.finish())),
    /groups nested deeper than 100/,
  );
});

Deno.test("random corruption of a valid message only ever throws ProtobufError", () => {
  const valid = new ProtoWriter()
    .int(2, 7)
    .message(1, (m) =>
      m.string(3, "node")
        .message(1, (n) => n.packedVarints(4, [1, 2, 3]).float(5, 1))
        .packedFloats(6, [1, 2, 3]))
    .double(3, 4)
    .finish();
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  let threw = 0;
  for (let trial = 0; trial < 20000; trial++) {
    const bytes = valid.slice(0, 1 + Math.floor(rand() * valid.length));
    const flips = Math.floor(rand() * 4);
    for (let f = 0; f < flips; f++) {
      bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    }
    try {
      const r = reader(bytes);
      while (r.next()) {
        if (r.wire === WIRE_LEN && r.field === 1) walk(r.message("Test"));
        else if (r.field === 6) r.floats([], "floats");
        else if (r.field === 4 && r.wire === WIRE_LEN) r.int64s([], "ints");
        else r.skip();
      }
    } catch (e) {
      if (!(e instanceof ProtobufError)) throw e;
      threw++;
    }
  }
  assert.ok(threw > 1000, `corruptions detected: ${threw}`);
});
