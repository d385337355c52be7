// Writers for the test fixtures of zip_test.ts, pickle_test.ts and
// pth_test.ts: pickles, ZIP archives and torch checkpoints built byte by byte
// (independently of the readers under test: own CRC-32, own layouts).

/** Bitwise CRC-32 (ISO-HDLC), deliberately not the table-driven reader's. */
export function crc32Bitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

const utf8 = new TextEncoder();

/** Appends pickle opcodes (names as in CPython's pickletools). */
export class PickleBuilder {
  #bytes: number[] = [];

  raw(...bytes: number[]): this {
    this.#bytes.push(...bytes);
    return this;
  }
  #u32(x: number): this {
    return this.raw(
      x & 0xff,
      (x >>> 8) & 0xff,
      (x >>> 16) & 0xff,
      (x >>> 24) & 0xff,
    );
  }
  proto(p: number): this {
    return this.raw(0x80, p);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  mark(): this {
    return this.raw(0x28);
  }
  none(): this {
    return this.raw(0x4e);
  }
  bool(b: boolean): this {
    return this.raw(b ? 0x88 : 0x89);
  }
  /** The smallest of BININT1 / BININT2 / BININT / LONG1, as pickle chooses. */
  int(x: number | bigint): this {
    if (typeof x === "number" && Number.isInteger(x) && x >= 0 && x < 256) {
      return this.raw(0x4b, x);
    }
    if (typeof x === "number" && x >= 0 && x < 65536) {
      return this.raw(0x4d, x & 0xff, x >> 8);
    }
    if (typeof x === "number" && x >= -(2 ** 31) && x < 2 ** 31) {
      return this.raw(0x4a).#u32(x);
    }
    let v = BigInt(x);
    const out: number[] = [];
    while (true) {
      out.push(Number(v & 0xffn));
      const rest = v >> 8n;
      if (
        (rest === 0n && !(out[out.length - 1] & 0x80)) ||
        (rest === -1n && out[out.length - 1] & 0x80)
      ) break;
      v = rest;
    }
    return this.raw(0x8a, out.length, ...out);
  }
  float(x: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    return this.raw(0x47, ...b);
  }
  str(s: string): this {
    const b = utf8.encode(s);
    return this.raw(0x58).#u32(b.length).raw(...b);
  }
  shortStr(s: string): this {
    const b = utf8.encode(s);
    return this.raw(0x8c, b.length, ...b);
  }
  binbytes(b: Uint8Array): this {
    return this.raw(0x42).#u32(b.length).raw(...b);
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...utf8.encode(`${module}\n${name}\n`));
  }
  stackGlobal(): this {
    return this.raw(0x93);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  tupleN(n: 1 | 2 | 3): this {
    return this.raw(0x84 + n);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  append(): this {
    return this.raw(0x61);
  }
  appends(): this {
    return this.raw(0x65);
  }
  setitem(): this {
    return this.raw(0x73);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  put(i: number): this {
    return i < 256 ? this.raw(0x71, i) : this.raw(0x72).#u32(i);
  }
  get(i: number): this {
    return i < 256 ? this.raw(0x68, i) : this.raw(0x6a).#u32(i);
  }
  memoize(): this {
    return this.raw(0x94);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  build(): this {
    return this.raw(0x62);
  }
  binpersid(): this {
    return this.raw(0x51);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

export interface ZipFixtureEntry {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Extra-field padding in the local header only (as torch's writer aligns data to 64 bytes). */
  localPad?: number;
}

export interface ZipFixtureOptions {
  comment?: string;
  /** Write ZIP64 records and put every size/offset in ZIP64 extra fields. */
  zip64?: boolean;
}

async function deflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(
      new CompressionStream("deflate-raw"),
    );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A ZIP archive laid out as APPNOTE.TXT describes: local headers + data, central directory, EOCD. */
export async function buildZip(
  entries: ZipFixtureEntry[],
  options: ZipFixtureOptions = {},
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const z64 = options.zip64 ?? false;
  for (const e of entries) {
    const name = utf8.encode(e.name);
    const payload = e.deflate ? await deflateRaw(e.data) : e.data;
    const crc = crc32Bitwise(e.data);
    const pad = e.localPad ?? 0;
    const local = new Uint8Array(30 + name.length + (pad ? 4 + pad : 0));
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, z64 ? 45 : 20, true);
    lv.setUint16(8, e.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, payload.length, true);
    lv.setUint32(22, e.data.length, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, pad ? 4 + pad : 0, true);
    local.set(name, 30);
    if (pad) {
      (lv.setUint16(30 + name.length, 0x4246, true),
        lv.setUint16(32 + name.length, pad, true));
    }
    const extra = z64 ? new Uint8Array(4 + 24) : new Uint8Array(0);
    if (z64) {
      const ev = new DataView(extra.buffer);
      ev.setUint16(0, 0x0001, true);
      ev.setUint16(2, 24, true);
      ev.setBigUint64(4, BigInt(e.data.length), true);
      ev.setBigUint64(12, BigInt(payload.length), true);
      ev.setBigUint64(20, BigInt(offset), true);
    }
    const c = new Uint8Array(46 + name.length + extra.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, z64 ? 45 : 20, true);
    cv.setUint16(6, z64 ? 45 : 20, true);
    cv.setUint16(10, e.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, z64 ? 0xffffffff : payload.length, true);
    cv.setUint32(24, z64 ? 0xffffffff : e.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra.length, true);
    cv.setUint32(42, z64 ? 0xffffffff : offset, true);
    c.set(name, 46);
    c.set(extra, 46 + name.length);
    central.push(c);
    parts.push(local, payload);
    offset += local.length + payload.length;
  }
  const cd = concat(central);
  const cdOffset = offset;
  parts.push(cd);
  offset += cd.length;
  if (z64) {
    const rec = new Uint8Array(56);
    const rv = new DataView(rec.buffer);
    rv.setUint32(0, 0x06064b50, true);
    rv.setBigUint64(4, 44n, true);
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(entries.length), true);
    rv.setBigUint64(32, BigInt(entries.length), true);
    rv.setBigUint64(40, BigInt(cd.length), true);
    rv.setBigUint64(48, BigInt(cdOffset), true);
    const loc = new Uint8Array(20);
    const locv = new DataView(loc.buffer);
    locv.setUint32(0, 0x07064b50, true);
    locv.setBigUint64(8, BigInt(offset), true);
    locv.setUint32(16, 1, true);
    parts.push(rec, loc);
  }
  const comment = utf8.encode(options.comment ?? "");
  const eocd = new Uint8Array(22 + comment.length);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, z64 ? 0xffff : entries.length, true);
  ev.setUint16(10, z64 ? 0xffff : entries.length, true);
  ev.setUint32(12, z64 ? 0xffffffff : cd.length, true);
  ev.setUint32(16, z64 ? 0xffffffff : cdOffset, true);
  ev.setUint16(20, comment.length, true);
  eocd.set(comment, 22);
  parts.push(eocd);
  return concat(parts);
}

export type FixtureDtype =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64";

const STORAGE_CLASS: Record<FixtureDtype, string> = {
  float32: "FloatStorage",
  float64: "DoubleStorage",
  float16: "HalfStorage",
  bfloat16: "BFloat16Storage",
  int64: "LongStorage",
};

export interface FixtureTensor {
  name: string;
  /** Storage key; tensors with the same key share one storage. */
  key: string;
  dtype: FixtureDtype;
  /** Raw little-endian storage bytes. */
  storage: Uint8Array;
  shape: number[];
  stride?: number[];
  offset?: number;
  /** Wrap in torch._utils._rebuild_parameter (an nn.Parameter). */
  parameter?: boolean;
  /** Legacy only: view metadata (view_key, element offset, element count) into the root storage. */
  view?: [string, number, number];
}

export const ELEMENT_BYTES: Record<FixtureDtype, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
};

function contiguousStride(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, e = 1; d >= 0; d--) {
    (s[d] = e), (e *= shape[d]);
  }
  return s;
}

/**
 * The pickle torch.save writes for an OrderedDict of tensors (protocol 2),
 * optionally nested as `{wrapKey: state_dict, "epoch": 3}`.
 */
export function stateDictPickle(
  tensors: FixtureTensor[],
  legacy: boolean,
  wrapKey?: string,
): Uint8Array {
  const p = new PickleBuilder().proto(2);
  if (wrapKey) p.emptyDict().mark().str(wrapKey);
  p.global("collections", "OrderedDict").emptyTuple().reduce().mark();
  for (const t of tensors) {
    p.str(t.name);
    if (t.parameter) p.global("torch._utils", "_rebuild_parameter");
    p.global("torch._utils", "_rebuild_tensor_v2").mark();
    p.mark().str("storage").global("torch", STORAGE_CLASS[t.dtype]).str(t.key)
      .str("cpu");
    p.int(t.storage.length / ELEMENT_BYTES[t.dtype]);
    if (legacy && t.view) {
      p.str(t.view[0]).int(t.view[1]).int(t.view[2]).tupleN(3);
    } else if (legacy) p.none();
    p.tuple().binpersid();
    p.int(t.offset ?? 0);
    p.mark();
    for (const s of t.shape) p.int(s);
    p.tuple().mark();
    for (const s of t.stride ?? contiguousStride(t.shape)) p.int(s);
    p.tuple().bool(false);
    if (legacy) p.none();
    else p.global("collections", "OrderedDict").emptyTuple().reduce();
    p.tuple().reduce();
    if (t.parameter) {
      p.bool(true).global("collections", "OrderedDict").emptyTuple().reduce()
        .tupleN(3).reduce();
    }
  }
  p.setitems();
  if (wrapKey) p.str("epoch").int(3).setitems();
  return p.stop().bytes();
}

/** Distinct storages of `tensors` in first-use order. */
function storages(tensors: FixtureTensor[]): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const t of tensors) if (!m.has(t.key)) m.set(t.key, t.storage);
  return m;
}

/** A torch.save ZIP checkpoint (archive name "archive", 64-byte aligned data like torch's writer). */
export function buildZipPth(
  tensors: FixtureTensor[],
  options: {
    wrapKey?: string;
    deflate?: boolean;
    byteorder?: string;
    archive?: string;
  } = {},
): Promise<Uint8Array> {
  const a = options.archive ?? "archive";
  const entries: ZipFixtureEntry[] = [{
    name: `${a}/data.pkl`,
    data: stateDictPickle(tensors, false, options.wrapKey),
  }];
  if (options.byteorder) {
    entries.push({
      name: `${a}/byteorder`,
      data: utf8.encode(options.byteorder),
    });
  }
  for (const [key, data] of storages(tensors)) {
    entries.push({
      name: `${a}/data/${key}`,
      data,
      deflate: options.deflate,
      localPad: 20,
    });
  }
  entries.push({ name: `${a}/version`, data: utf8.encode("3\n") });
  return buildZip(entries);
}

/** A legacy (pre-1.6) checkpoint: magic, protocol, sys_info, object, sorted keys, then the storages. */
export function buildLegacyPth(
  tensors: FixtureTensor[],
  options: { wrapKey?: string } = {},
): Uint8Array {
  const magic = new PickleBuilder().proto(2).int(0x1950a86a20f9469cfc6cn).stop()
    .bytes();
  const version = new PickleBuilder().proto(2).int(1001).stop().bytes();
  const sysInfo = new PickleBuilder().proto(2).emptyDict().mark()
    .str("protocol_version").int(1001).str("little_endian").bool(true)
    .str("type_sizes").emptyDict().mark().str("short").int(2).str("int").int(4)
    .str("long").int(4).setitems()
    .setitems().stop().bytes();
  const main = stateDictPickle(tensors, true, options.wrapKey);
  const m = storages(tensors);
  const keys = [...m.keys()].sort();
  const list = new PickleBuilder().proto(2).emptyList().mark();
  for (const k of keys) list.str(k);
  const parts = [magic, version, sysInfo, main, list.appends().stop().bytes()];
  for (const k of keys) {
    const t = tensors.find((x) => x.key === k)!;
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigInt64(
      0,
      BigInt(m.get(k)!.length / ELEMENT_BYTES[t.dtype]),
      true,
    );
    parts.push(count, m.get(k)!);
  }
  return concat(parts);
}

export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomFloats(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s ^= s << 13, s ^= s >>> 17, s ^= s << 5;
    out.push(((s >>> 0) / 2 ** 32) * 2 - 1);
  }
  return out;
}
