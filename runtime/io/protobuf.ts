// A minimal protobuf wire-format reader that is safe on hostile input.
//
// Wire format (https://protobuf.dev/programming-guides/encoding/): a message
// is a sequence of (tag, value) records; tag = field_number << 3 | wire_type.
// Wire types: 0 VARINT, 1 I64 (8 bytes little-endian), 2 LEN (varint length
// then bytes: strings, bytes, nested messages, packed repeated scalars),
// 3/4 SGROUP/EGROUP (deprecated groups), 5 I32 (4 bytes little-endian).
//
// Safety: every length and offset is checked against the end of the
// enclosing message before it is used; varints longer than 10 bytes, field
// number 0, wire types 6/7, unbalanced groups and nesting deeper than
// `maxDepth` are rejected. Every violation throws a one-line ProtobufError
// naming the problem, the message being read and the absolute byte offset.
// Nothing is allocated from a claimed length: bytes/strings are views or are
// decoded from bytes that exist, and element counts of packed fields are
// bounded by their (checked) byte lengths.
// This module is browser compatible.

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_SGROUP = 3;
export const WIRE_EGROUP = 4;
export const WIRE_I32 = 5;

const WIRE_NAMES = ["VARINT", "I64", "LEN", "SGROUP", "EGROUP", "I32"];

/** Default limit on message nesting (protobuf's own default is 100). */
export const DEFAULT_MAX_DEPTH = 100;

/** A malformed protobuf input: `offset` is the absolute byte position. */
export class ProtobufError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = "ProtobufError";
    this.offset = offset;
  }
}

const utf8 = new TextDecoder("utf-8");

/**
 * Reads the records of one message between `pos` and `end` of a shared byte
 * buffer. Nested messages get their own reader (see `message`) bounded by
 * their declared length and one level deeper.
 *
 * Typical loop:
 * ```ts
 * while (r.next()) {
 *   switch (r.field) {
 *     case 1: name = r.string(); break;
 *     default: r.skip();
 *   }
 * }
 * ```
 */
export class ProtoReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Absolute position of the next unread byte. */
  pos: number;
  /** Absolute end of this message (exclusive). */
  readonly end: number;
  readonly depth: number;
  readonly maxDepth: number;
  /** Message type name used in error messages. */
  readonly type: string;
  /** Field number of the record `next()` just read. */
  field = 0;
  /** Wire type of the record `next()` just read. */
  wire = 0;
  /** Absolute offset of the current record's tag. */
  tagOffset = 0;
  // Scratch for varint decoding: low and high 32 bits.
  #lo = 0;
  #hi = 0;

  constructor(
    bytes: Uint8Array,
    options: {
      start?: number;
      end?: number;
      depth?: number;
      maxDepth?: number;
      type?: string;
      view?: DataView;
    } = {},
  ) {
    this.bytes = bytes;
    this.view = options.view ??
      new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = options.start ?? 0;
    this.end = options.end ?? bytes.length;
    if (
      !(this.pos >= 0 && this.pos <= this.end && this.end <= bytes.length)
    ) {
      throw new ProtobufError(
        `reader range [${this.pos}, ${this.end}) is outside the ${bytes.length}-byte buffer`,
        0,
      );
    }
    this.depth = options.depth ?? 0;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.type = options.type ?? "message";
  }

  /** Throws a ProtobufError about this message at `offset`. */
  fail(what: string, offset = this.pos): never {
    throw new ProtobufError(`protobuf: ${what} in ${this.type}`, offset);
  }

  /** Whether unread bytes remain in this message. */
  get more(): boolean {
    return this.pos < this.end;
  }

  /** Reads the next tag into `field`/`wire`; false at the end. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    this.tagOffset = this.pos;
    this.#varint();
    const lo = this.#lo, hi = this.#hi;
    if (hi !== 0 || lo > 0xffffffff) {
      this.fail("tag does not fit in 32 bits", this.tagOffset);
    }
    this.field = lo >>> 3;
    this.wire = lo & 7;
    if (this.field === 0) this.fail("field number 0", this.tagOffset);
    if (this.wire > 5) {
      this.fail(
        `invalid wire type ${this.wire} for field ${this.field}`,
        this.tagOffset,
      );
    }
    if (this.wire === WIRE_EGROUP) {
      this.fail(
        `end-group tag for field ${this.field} without a start`,
        this.tagOffset,
      );
    }
    return true;
  }

  /** Throws unless the current record has wire type `wire`. */
  expect(wire: number, name: string): void {
    if (this.wire !== wire) {
      this.fail(
        `field ${this.field} (${name}) has wire type ${
          WIRE_NAMES[this.wire]
        }, expected ${WIRE_NAMES[wire]}`,
        this.tagOffset,
      );
    }
  }

  // Decodes a varint at pos into #lo/#hi (unsigned 32-bit halves).
  #varint(): void {
    const bytes = this.bytes, end = this.end, start = this.pos;
    let pos = start, lo = 0, hi = 0, b = 0;
    // Bytes 1-4 fill bits 0-27 of lo.
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) this.fail("truncated varint", start);
      b = bytes[pos++];
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.#lo = lo >>> 0;
        this.#hi = 0;
        this.pos = pos;
        return;
      }
    }
    // Byte 5 gives lo bits 28-31 and hi bits 0-2.
    if (pos >= end) this.fail("truncated varint", start);
    b = bytes[pos++];
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      // Bytes 6-10 fill hi bits 3-31 (the 10th byte's bit 0 is bit 63).
      for (let shift = 3;; shift += 7) {
        if (pos - start >= 10) {
          this.fail("varint longer than 10 bytes", start);
        }
        if (pos >= end) this.fail("truncated varint", start);
        b = bytes[pos++];
        if (shift < 32) hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.#lo = lo >>> 0;
    this.#hi = hi >>> 0;
    this.pos = pos;
  }

  /** A varint as an unsigned number (exact below 2^53). */
  uint64(): number {
    this.#varint();
    return this.#hi * 4294967296 + this.#lo;
  }

  /** A varint as a two's complement int64 number (exact within ±2^53). */
  int64(): number {
    this.#varint();
    return (this.#hi | 0) * 4294967296 + this.#lo;
  }

  /** A varint as an exact signed 64-bit bigint. */
  int64Big(): bigint {
    this.#varint();
    return (BigInt(this.#hi | 0) << 32n) | BigInt(this.#lo);
  }

  /** A varint as int32 (its low 32 bits, as protobuf specifies). */
  int32(): number {
    this.#varint();
    return this.#lo | 0;
  }

  /** A varint as uint32 (low 32 bits). */
  uint32(): number {
    this.#varint();
    return this.#lo;
  }

  bool(): boolean {
    this.#varint();
    return (this.#lo | this.#hi) !== 0;
  }

  /** Checks that `n` bytes remain in this message and returns their start. */
  #take(n: number, what: string): number {
    const at = this.pos;
    if (n > this.end - at) {
      this.fail(
        `${what} of ${n} bytes runs past the end (${this.end - at} bytes left)`,
        at,
      );
    }
    this.pos = at + n;
    return at;
  }

  float(): number {
    return this.view.getFloat32(this.#take(4, "float"), true);
  }

  double(): number {
    return this.view.getFloat64(this.#take(8, "double"), true);
  }

  fixed32(): number {
    return this.view.getUint32(this.#take(4, "fixed32"), true);
  }

  /** Reads a LEN length prefix and checks it against the bytes left. */
  length(): number {
    const at = this.pos;
    this.#varint();
    const left = this.end - this.pos;
    if (this.#hi !== 0 || this.#lo > left) {
      this.fail(
        `length ${
          this.#hi * 4294967296 + this.#lo
        } runs past the end of the message (${left} bytes left)`,
        at,
      );
    }
    return this.#lo;
  }

  /** Length-delimited bytes, as a view into the input (no copy). */
  bytesView(): Uint8Array {
    const n = this.length();
    const at = this.pos;
    this.pos += n;
    return this.bytes.subarray(at, at + n);
  }

  /** Length-delimited UTF-8 text (malformed sequences become U+FFFD). */
  string(): string {
    return utf8.decode(this.bytesView());
  }

  /** A reader for the nested message in the current LEN record. */
  message(type: string): ProtoReader {
    const n = this.length();
    const start = this.pos;
    if (this.depth + 1 > this.maxDepth) {
      this.fail(
        `messages nested deeper than ${this.maxDepth} levels (reading ${type})`,
        start,
      );
    }
    this.pos += n;
    return new ProtoReader(this.bytes, {
      start,
      end: start + n,
      depth: this.depth + 1,
      maxDepth: this.maxDepth,
      type,
      view: this.view,
    });
  }

  /** Skips the value of the current record (groups included). */
  skip(): void {
    switch (this.wire) {
      case WIRE_VARINT:
        this.#varint();
        return;
      case WIRE_I64:
        this.#take(8, "I64 value");
        return;
      case WIRE_LEN: {
        // Not `this.pos += this.length()`: that reads pos before the prefix.
        const n = this.length();
        this.pos += n;
        return;
      }
      case WIRE_I32:
        this.#take(4, "I32 value");
        return;
      case WIRE_SGROUP:
        this.#skipGroup();
        return;
      default:
        this.fail(`cannot skip wire type ${this.wire}`, this.tagOffset);
    }
  }

  // Skips a group up to its matching end tag, without recursion; nested
  // groups count against maxDepth like nested messages.
  #skipGroup(): void {
    const fields: number[] = [this.field];
    while (fields.length > 0) {
      if (this.depth + fields.length > this.maxDepth) {
        this.fail(`groups nested deeper than ${this.maxDepth} levels`);
      }
      if (this.pos >= this.end) {
        this.fail(
          `group for field ${fields[fields.length - 1]} is not closed`,
        );
      }
      const at = this.pos;
      this.#varint();
      if (this.#hi !== 0) this.fail("tag does not fit in 32 bits", at);
      const field = this.#lo >>> 3, wire = this.#lo & 7;
      if (field === 0) this.fail("field number 0", at);
      if (wire === WIRE_EGROUP) {
        if (fields.pop() !== field) {
          this.fail(`end-group tag for field ${field} does not match`, at);
        }
      } else if (wire === WIRE_SGROUP) {
        fields.push(field);
      } else if (wire > 5) {
        this.fail(`invalid wire type ${wire} for field ${field}`, at);
      } else {
        this.field = field;
        this.wire = wire;
        this.skip();
      }
    }
  }

  // ---- repeated scalars: packed (one LEN record) or unpacked (one each) ----

  /**
   * Appends the current record's varint value(s) to `out` as int64 numbers
   * (packed or not).
   */
  int64s(out: number[], name: string): void {
    if (this.wire === WIRE_VARINT) {
      out.push(this.int64());
      return;
    }
    this.expect(WIRE_LEN, name);
    const n = this.length();
    const packed = new ProtoReader(this.bytes, {
      start: this.pos,
      end: this.pos + n,
      depth: this.depth,
      maxDepth: this.maxDepth,
      type: `${this.type}.${name}`,
      view: this.view,
    });
    this.pos += n;
    while (packed.pos < packed.end) out.push(packed.int64());
  }

  /** Appends float values (packed or I32 records) to `out`. */
  floats(out: number[], name: string): void {
    if (this.wire === WIRE_I32) {
      out.push(this.float());
      return;
    }
    this.expect(WIRE_LEN, name);
    const n = this.length();
    if (n % 4 !== 0) {
      this.fail(`packed ${name} length ${n} is not a multiple of 4`);
    }
    for (let i = 0; i < n; i += 4) out.push(this.float());
  }

  /**
   * Collects the raw little-endian bytes of a fixed-width repeated field
   * (4 or 8 bytes per element) as views, for bulk decoding later.
   */
  fixedChunks(out: Uint8Array[], width: 4 | 8, name: string): void {
    const single = width === 4 ? WIRE_I32 : WIRE_I64;
    if (this.wire === single) {
      const at = this.#take(width, name);
      out.push(this.bytes.subarray(at, at + width));
      return;
    }
    this.expect(WIRE_LEN, name);
    const n = this.length();
    if (n % width !== 0) {
      this.fail(`packed ${name} length ${n} is not a multiple of ${width}`);
    }
    const at = this.pos;
    this.pos += n;
    out.push(this.bytes.subarray(at, at + n));
  }

  /**
   * Collects the varint bytes of a repeated varint field as views; decode
   * them with `decodeVarints`.
   */
  varintChunks(out: Uint8Array[], name: string): void {
    if (this.wire === WIRE_VARINT) {
      const at = this.pos;
      this.#varint();
      out.push(this.bytes.subarray(at, this.pos));
      return;
    }
    this.expect(WIRE_LEN, name);
    const n = this.length();
    const at = this.pos;
    this.pos += n;
    if (n > 0 && this.bytes[at + n - 1] >= 0x80) {
      this.fail(`packed ${name} ends inside a varint`, at + n - 1);
    }
    out.push(this.bytes.subarray(at, at + n));
  }

  /**
   * Counts the varints in chunks collected by `varintChunks` (the bytes
   * below 0x80): an upper bound on the elements, known before allocating.
   */
  countVarints(chunks: Uint8Array[]): number {
    let n = 0;
    for (const c of chunks) {
      for (let i = 0; i < c.length; i++) if (c[i] < 0x80) n++;
    }
    return n;
  }

  /**
   * Decodes the varints in `chunks` (collected by `varintChunks`) into
   * 32-bit halves `lo[k]`, `hi[k]` (hi may be null) and returns the count.
   * The arrays need `countVarints(chunks)` elements.
   */
  decodeVarints(
    chunks: Uint8Array[],
    lo: Uint32Array | Int32Array,
    hi: Uint32Array | Int32Array | null,
  ): number {
    let k = 0;
    for (const c of chunks) {
      const base = c.byteOffset - this.bytes.byteOffset;
      let i = 0;
      const n = c.length;
      while (i < n) {
        const start = i;
        let l = 0, h = 0, b = 0, shift = 0;
        do {
          if (i - start >= 10) {
            this.fail("varint longer than 10 bytes", base + start);
          }
          b = c[i++];
          if (shift < 28) l |= (b & 0x7f) << shift;
          else if (shift === 28) {
            l |= (b & 0x0f) << 28;
            h = (b & 0x7f) >> 4;
          } else h |= (b & 0x7f) << (shift - 32);
          shift += 7;
        } while (b >= 0x80 && i < n);
        if (b >= 0x80) this.fail("truncated varint", base + start);
        lo[k] = l;
        if (hi) hi[k] = h;
        k++;
      }
    }
    return k;
  }
}

/** Concatenates byte chunks (views) into one fresh array. */
export function concatBytes(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// ---- writer: for tests and for building small messages by hand ----

/** Builds protobuf bytes; used by tests to hand-craft messages. */
export class ProtoWriter {
  #parts: number[] = [];

  /** Raw bytes appended as-is (for deliberately corrupt inputs). */
  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.#parts.push(bytes[i] & 0xff);
    return this;
  }

  /** A varint of a non-negative or negative (two's complement) integer. */
  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.#parts.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.#parts.push(Number(v));
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** field: varint value. */
  int(field: number, value: number | bigint): this {
    return this.tag(field, WIRE_VARINT).varint(value);
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.tag(field, WIRE_I32).raw(b);
  }

  double(field: number, value: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    return this.tag(field, WIRE_I64).raw(b);
  }

  /** field: length-delimited bytes. */
  bytes(field: number, value: ArrayLike<number>): this {
    return this.tag(field, WIRE_LEN).varint(value.length).raw(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** field: nested message built by `build`. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  packedVarints(field: number, values: ArrayLike<number | bigint>): this {
    const inner = new ProtoWriter();
    for (let i = 0; i < values.length; i++) inner.varint(values[i]);
    return this.bytes(field, inner.finish());
  }

  packedFloats(field: number, values: ArrayLike<number>): this {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) {
      dv.setFloat32(i * 4, values[i], true);
    }
    return this.bytes(field, b);
  }

  packedDoubles(field: number, values: ArrayLike<number>): this {
    const b = new Uint8Array(values.length * 8);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) {
      dv.setFloat64(i * 8, values[i], true);
    }
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}
