// A ZIP archive reader that is safe on hostile input.
//
// Format: PKWARE APPNOTE.TXT 6.3.10 (https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT).
// An archive ends with the End Of Central Directory record (EOCD, §4.3.16),
// possibly followed by a comment of up to 65535 bytes, so the EOCD is found by
// scanning backwards. The EOCD points to the central directory (§4.3.12): one
// record per entry with its name, sizes, CRC-32 and the offset of its local
// header (§4.3.7), which is followed by the entry's data. Archives larger than
// 4 GiB or with more than 65535 entries use ZIP64 (§4.3.14, §4.3.15, §4.5.3):
// 0xFFFFFFFF / 0xFFFF placeholders in the 32/16-bit fields, the real values in
// a ZIP64 EOCD record and in each entry's ZIP64 extra field (id 0x0001).
// This is the container of `torch.save` checkpoints (PyTorch ≥ 1.6), which
// writes stored (uncompressed) entries; deflate (method 8) is also read here,
// through the platform's `DecompressionStream("deflate-raw")`.
//
// Safety: every offset and size is checked against the archive before it is
// used; entries whose bytes overlap each other or the central directory are
// rejected (overlapping entries are how quine-style zip bombs multiply their
// output); the entry count is bounded both by `maxEntries` and by the size of
// the central directory; inflated output is bounded by the declared size and
// the CRC-32 of every entry read is checked. Nothing is allocated from a
// claimed size before that size is checked against bytes that exist (stored
// data is a view; inflated data stops at the declared size). Every violation
// throws a one-line ZipError naming the problem and the absolute byte offset.
// This module is browser compatible.

import { crc32 } from "./crc32.ts";

export { crc32 };

/** Compression methods (APPNOTE §4.4.5). */
export const ZIP_STORED = 0;
export const ZIP_DEFLATE = 8;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;

const EOCD_SIZE = 22;
const EOCD64_LOCATOR_SIZE = 20;
const EOCD64_MIN_SIZE = 56;
const CENTRAL_MIN_SIZE = 46;
const LOCAL_MIN_SIZE = 30;
const MAX_COMMENT = 0xffff;

/** Default bound on the number of entries (torch checkpoints hold one per storage). */
export const DEFAULT_MAX_ENTRIES = 1 << 20;

/** A malformed or unsupported archive: `offset` is the absolute byte position. */
export class ZipError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = "ZipError";
    this.offset = offset;
  }
}

/** One entry of the central directory, with its checked local-header data offset. */
export interface ZipEntry {
  readonly name: string;
  /** ZIP_STORED or ZIP_DEFLATE (others are rejected when the directory is read). */
  readonly method: number;
  /** General purpose bit flags (APPNOTE §4.4.4). */
  readonly flags: number;
  /** Expected CRC-32 of the uncompressed data, as an unsigned 32-bit number. */
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  /** Absolute offset of the local file header. */
  readonly localHeaderOffset: number;
  /** Absolute offset of the (compressed) data: after the local header, name and extra field. */
  readonly dataOffset: number;
  /** Absolute offset of this entry's central directory record (for error messages). */
  readonly centralOffset: number;
}

export interface ZipReaderOptions {
  /** Most entries accepted (default DEFAULT_MAX_ENTRIES). */
  maxEntries?: number;
}

export interface ZipReadOptions {
  /** Check the CRC-32 of the uncompressed data (default true). */
  verifyCrc?: boolean;
}

const utf8 = new TextDecoder("utf-8");

/**
 * Reads the central directory of a ZIP archive held in memory. The directory
 * is parsed and checked eagerly in the constructor; entry data is read on
 * demand with `readStored` (synchronous, stored entries) or `read` (async,
 * stored or deflate).
 */
export class ZipReader {
  readonly bytes: Uint8Array;
  readonly entries: readonly ZipEntry[];
  readonly comment: string;
  readonly #view: DataView;
  readonly #byName = new Map<string, ZipEntry>();

  constructor(bytes: Uint8Array, options: ZipReaderOptions = {}) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;

    const eocd = this.#findEocd();
    const v = this.#view;
    const commentLength = v.getUint16(eocd + 20, true);
    this.comment = utf8.decode(
      bytes.subarray(eocd + EOCD_SIZE, eocd + EOCD_SIZE + commentLength),
    );
    const disk = v.getUint16(eocd + 4, true);
    const cdDisk = v.getUint16(eocd + 6, true);
    let count = v.getUint16(eocd + 10, true);
    let cdSize = v.getUint32(eocd + 12, true);
    let cdOffset = v.getUint32(eocd + 16, true);
    let directoryEnd = eocd; // the central directory must end before this

    const zip64 = count === 0xffff || cdSize === 0xffffffff ||
      cdOffset === 0xffffffff ||
      (eocd >= EOCD64_LOCATOR_SIZE &&
        v.getUint32(eocd - EOCD64_LOCATOR_SIZE, true) === SIG_EOCD64_LOCATOR);
    if (zip64) {
      const loc = eocd - EOCD64_LOCATOR_SIZE;
      if (loc < 0 || v.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) {
        throw new ZipError(
          "ZIP64 placeholders in the end of central directory but no ZIP64 locator",
          eocd,
        );
      }
      if (v.getUint32(loc + 16, true) > 1) {
        throw new ZipError("multi-disk archives are not supported", loc);
      }
      const rec = this.#u64(loc + 8, "ZIP64 end of central directory offset");
      if (rec + EOCD64_MIN_SIZE > loc) {
        throw new ZipError(
          `ZIP64 end of central directory offset ${rec} is past the locator`,
          loc + 8,
        );
      }
      if (v.getUint32(rec, true) !== SIG_EOCD64) {
        throw new ZipError("bad ZIP64 end of central directory signature", rec);
      }
      if (
        v.getUint32(rec + 16, true) !== 0 || v.getUint32(rec + 20, true) !== 0
      ) {
        throw new ZipError("multi-disk archives are not supported", rec + 16);
      }
      const count64 = this.#u64(rec + 32, "ZIP64 entry count");
      cdSize = this.#u64(rec + 40, "ZIP64 central directory size");
      cdOffset = this.#u64(rec + 48, "ZIP64 central directory offset");
      count = count64;
      directoryEnd = rec;
    } else if (disk !== 0 || cdDisk !== 0) {
      throw new ZipError("multi-disk archives are not supported", eocd + 4);
    }

    if (count > maxEntries) {
      throw new ZipError(
        `${count} entries exceed the limit of ${maxEntries}`,
        eocd,
      );
    }
    if (cdOffset > directoryEnd || cdSize > directoryEnd - cdOffset) {
      throw new ZipError(
        `central directory (offset ${cdOffset}, ${cdSize} bytes) runs past its end record at ${directoryEnd}`,
        eocd,
      );
    }
    if (count * CENTRAL_MIN_SIZE > cdSize) {
      throw new ZipError(
        `${count} entries cannot fit in a central directory of ${cdSize} bytes`,
        cdOffset,
      );
    }

    const entries: ZipEntry[] = [];
    let p = cdOffset;
    const cdEnd = cdOffset + cdSize;
    for (let i = 0; i < count; i++) {
      const entry = this.#readCentral(p, cdEnd);
      p = entry.next;
      if (this.#byName.has(entry.entry.name)) {
        throw new ZipError(
          `duplicate entry name ${JSON.stringify(entry.entry.name)}`,
          entry.entry.centralOffset,
        );
      }
      this.#byName.set(entry.entry.name, entry.entry);
      entries.push(entry.entry);
    }
    this.#checkOverlaps(entries, cdOffset, cdSize);
    this.entries = entries;
  }

  /** The entry named `name`, or undefined. */
  get(name: string): ZipEntry | undefined {
    return this.#byName.get(name);
  }

  /**
   * The uncompressed bytes of a stored entry, as a view into the archive (no
   * copy). Throws for deflated entries: use `read` for those.
   */
  readStored(
    entryOrName: ZipEntry | string,
    options: ZipReadOptions = {},
  ): Uint8Array {
    const e = this.#entry(entryOrName);
    if (e.method !== ZIP_STORED) {
      throw new ZipError(
        `entry ${
          JSON.stringify(e.name)
        } is compressed (method ${e.method}): read it asynchronously`,
        e.centralOffset,
      );
    }
    const data = this.bytes.subarray(
      e.dataOffset,
      e.dataOffset + e.compressedSize,
    );
    if (options.verifyCrc ?? true) this.#checkCrc(e, data);
    return data;
  }

  /** The uncompressed bytes of a stored (view, no copy) or deflated (new buffer) entry. */
  async read(
    entryOrName: ZipEntry | string,
    options: ZipReadOptions = {},
  ): Promise<Uint8Array> {
    const e = this.#entry(entryOrName);
    if (e.method === ZIP_STORED) return this.readStored(e, options);
    const data = await inflateRaw(
      this.bytes.subarray(e.dataOffset, e.dataOffset + e.compressedSize),
      e.uncompressedSize,
      e.name,
      e.dataOffset,
    );
    if (options.verifyCrc ?? true) this.#checkCrc(e, data);
    return data;
  }

  #entry(entryOrName: ZipEntry | string): ZipEntry {
    if (typeof entryOrName !== "string") return entryOrName;
    const e = this.#byName.get(entryOrName);
    if (!e) {
      throw new ZipError(`no entry named ${JSON.stringify(entryOrName)}`, 0);
    }
    return e;
  }

  #checkCrc(e: ZipEntry, data: Uint8Array): void {
    const actual = crc32(data);
    if (actual !== e.crc32) {
      throw new ZipError(
        `CRC-32 mismatch in entry ${JSON.stringify(e.name)}: expected ${
          hex32(e.crc32)
        }, got ${hex32(actual)}`,
        e.dataOffset,
      );
    }
  }

  #findEocd(): number {
    const n = this.bytes.length;
    if (n < EOCD_SIZE) {
      throw new ZipError(`${n} bytes is too short for a ZIP archive`, 0);
    }
    const v = this.#view;
    const lowest = Math.max(0, n - EOCD_SIZE - MAX_COMMENT);
    // Prefer a record whose comment ends exactly at the end of the archive;
    // fall back to the last record whose comment fits (some writers append).
    let loose = -1;
    for (let p = n - EOCD_SIZE; p >= lowest; p--) {
      if (this.bytes[p] !== 0x50 || v.getUint32(p, true) !== SIG_EOCD) continue;
      const commentLength = v.getUint16(p + 20, true);
      if (p + EOCD_SIZE + commentLength === n) return p;
      if (loose < 0 && p + EOCD_SIZE + commentLength <= n) loose = p;
    }
    if (loose >= 0) return loose;
    throw new ZipError(
      "no end of central directory record (not a ZIP archive, or truncated)",
      n,
    );
  }

  /** A little-endian u64 that must be a safe integer no larger than the archive. */
  #u64(p: number, what: string): number {
    const lo = this.#view.getUint32(p, true);
    const hi = this.#view.getUint32(p + 4, true);
    const value = hi * 0x100000000 + lo;
    if (hi >= 0x200000 || value > this.bytes.length) {
      throw new ZipError(
        `${what} ${hi >= 0x200000 ? "≥ 2^53" : value} exceeds the archive size`,
        p,
      );
    }
    return value;
  }

  #readCentral(p: number, cdEnd: number): { entry: ZipEntry; next: number } {
    const v = this.#view;
    if (p + CENTRAL_MIN_SIZE > cdEnd) {
      throw new ZipError("truncated central directory record", p);
    }
    if (v.getUint32(p, true) !== SIG_CENTRAL) {
      throw new ZipError("bad central directory record signature", p);
    }
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const crc = v.getUint32(p + 16, true);
    let compressedSize = v.getUint32(p + 20, true);
    let uncompressedSize = v.getUint32(p + 24, true);
    const nameLength = v.getUint16(p + 28, true);
    const extraLength = v.getUint16(p + 30, true);
    const commentLength = v.getUint16(p + 32, true);
    const diskStart = v.getUint16(p + 34, true);
    let localHeaderOffset = v.getUint32(p + 42, true);
    const next = p + CENTRAL_MIN_SIZE + nameLength + extraLength +
      commentLength;
    if (next > cdEnd) {
      throw new ZipError("central directory record runs past the directory", p);
    }
    const name = utf8.decode(
      this.bytes.subarray(
        p + CENTRAL_MIN_SIZE,
        p + CENTRAL_MIN_SIZE + nameLength,
      ),
    );
    const label = JSON.stringify(name);

    // ZIP64 extended information (§4.5.3): only the fields whose 32-bit slot
    // holds the 0xFFFFFFFF placeholder are present, in this fixed order.
    const needU = uncompressedSize === 0xffffffff;
    const needC = compressedSize === 0xffffffff;
    const needL = localHeaderOffset === 0xffffffff;
    if (needU || needC || needL || diskStart === 0xffff) {
      const extraStart = p + CENTRAL_MIN_SIZE + nameLength;
      const z = this.#findExtra(extraStart, extraStart + extraLength, 0x0001);
      if (z < 0) {
        throw new ZipError(
          `entry ${label} has ZIP64 placeholders but no ZIP64 extra field`,
          p,
        );
      }
      const zSize = v.getUint16(z + 2, true);
      let q = z + 4;
      const need = (needU ? 8 : 0) + (needC ? 8 : 0) + (needL ? 8 : 0);
      if (need > zSize) {
        throw new ZipError(`entry ${label}: ZIP64 extra field too short`, z);
      }
      if (needU) (uncompressedSize = this.#u64Size(q, label)), (q += 8);
      if (needC) {
        (compressedSize = this.#u64(q, `entry ${label} compressed size`)),
          (q += 8);
      }
      if (needL) {
        localHeaderOffset = this.#u64(q, `entry ${label} local header offset`);
      }
    }
    if (diskStart !== 0 && diskStart !== 0xffff) {
      throw new ZipError("multi-disk archives are not supported", p + 34);
    }
    if (flags & 1) throw new ZipError(`entry ${label} is encrypted`, p + 8);
    if (method !== ZIP_STORED && method !== ZIP_DEFLATE) {
      throw new ZipError(
        `entry ${label} uses unsupported compression method ${method}`,
        p + 10,
      );
    }
    if (method === ZIP_STORED && compressedSize !== uncompressedSize) {
      throw new ZipError(
        `stored entry ${label} has compressed size ${compressedSize} ≠ uncompressed size ${uncompressedSize}`,
        p + 20,
      );
    }

    // Local header (§4.3.7): its name and extra lengths may differ from the
    // central record's (writers pad the local extra field to align data).
    const n = this.bytes.length;
    if (localHeaderOffset + LOCAL_MIN_SIZE > n) {
      throw new ZipError(
        `entry ${label}: local header offset ${localHeaderOffset} is past the end`,
        p + 42,
      );
    }
    if (v.getUint32(localHeaderOffset, true) !== SIG_LOCAL) {
      throw new ZipError(
        `entry ${label}: bad local header signature`,
        localHeaderOffset,
      );
    }
    const localNameLength = v.getUint16(localHeaderOffset + 26, true);
    const localExtraLength = v.getUint16(localHeaderOffset + 28, true);
    const dataOffset = localHeaderOffset + LOCAL_MIN_SIZE + localNameLength +
      localExtraLength;
    if (dataOffset > n || compressedSize > n - dataOffset) {
      throw new ZipError(
        `entry ${label}: data (offset ${dataOffset}, ${compressedSize} bytes) runs past the end of the archive (${n} bytes)`,
        localHeaderOffset,
      );
    }
    const entry: ZipEntry = {
      name,
      method,
      flags,
      crc32: crc,
      compressedSize,
      uncompressedSize,
      localHeaderOffset,
      dataOffset,
      centralOffset: p,
    };
    return { entry, next };
  }

  /** An uncompressed size: a safe integer; not bounded by the archive (deflate expands). */
  #u64Size(p: number, label: string): number {
    const lo = this.#view.getUint32(p, true);
    const hi = this.#view.getUint32(p + 4, true);
    if (hi >= 0x200000) {
      throw new ZipError(`entry ${label}: uncompressed size ≥ 2^53`, p);
    }
    return hi * 0x100000000 + lo;
  }

  /** Offset of the extra-field block with `id` in [start, end), or -1. */
  #findExtra(start: number, end: number, id: number): number {
    const v = this.#view;
    let q = start;
    while (q + 4 <= end) {
      const size = v.getUint16(q + 2, true);
      if (q + 4 + size > end) {
        throw new ZipError("extra field runs past its record", q);
      }
      if (v.getUint16(q, true) === id) return q;
      q += 4 + size;
    }
    return -1;
  }

  /** Rejects entries whose [local header, data end) ranges overlap each other or the directory. */
  #checkOverlaps(entries: ZipEntry[], cdOffset: number, cdSize: number): void {
    const ranges = entries.map((e) => ({
      start: e.localHeaderOffset,
      end: e.dataOffset + e.compressedSize,
      e,
    }));
    ranges.sort((a, b) => a.start - b.start);
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i];
      if (i + 1 < ranges.length && ranges[i + 1].start < r.end) {
        throw new ZipError(
          `entries ${JSON.stringify(r.e.name)} and ${
            JSON.stringify(ranges[i + 1].e.name)
          } overlap`,
          ranges[i + 1].start,
        );
      }
      if (r.start < cdOffset + cdSize && cdOffset < r.end) {
        throw new ZipError(
          `entry ${JSON.stringify(r.e.name)} overlaps the central directory`,
          r.start,
        );
      }
    }
  }
}

function hex32(x: number): string {
  return "0x" + x.toString(16).padStart(8, "0");
}

/**
 * Inflates raw deflate data (RFC 1951) with the platform's
 * DecompressionStream, stopping with an error as soon as the output exceeds
 * `expectedSize` (so a bomb cannot allocate more than it declared) and
 * checking that exactly `expectedSize` bytes come out.
 */
export async function inflateRaw(
  compressed: Uint8Array,
  expectedSize: number,
  name = "",
  offset = 0,
): Promise<Uint8Array> {
  const label = JSON.stringify(name);
  // Allocated only after the output is seen to reach it; grows by doubling.
  let out = new Uint8Array(
    Math.min(expectedSize, Math.max(1024, compressed.length * 4)),
  );
  let length = 0;
  const ds = new DecompressionStream("deflate-raw");
  const writer = ds.writable.getWriter();
  // Writing and closing run concurrently with reading; their rejections
  // surface through the reader, so they are caught here to stay unhandled-free.
  const writing = writer.write(compressed as Uint8Array<ArrayBuffer>).then(() =>
    writer.close()
  ).catch(() => {});
  const reader = ds.readable.getReader();
  try {
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        const reason = e instanceof Error
          ? e.message.split("\n")[0]
          : String(e);
        throw new ZipError(
          `entry ${label}: corrupt deflate data (${reason})`,
          offset,
        );
      }
      if (chunk.done) break;
      const c = chunk.value;
      if (length + c.length > expectedSize) {
        throw new ZipError(
          `entry ${label}: inflates past its declared size of ${expectedSize} bytes`,
          offset,
        );
      }
      if (length + c.length > out.length) {
        const grown = new Uint8Array(
          Math.min(expectedSize, Math.max(out.length * 2, length + c.length)),
        );
        grown.set(out.subarray(0, length));
        out = grown;
      }
      out.set(c, length);
      length += c.length;
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e;
  }
  await writing;
  if (length !== expectedSize) {
    throw new ZipError(
      `entry ${label}: inflated to ${length} bytes, but its declared size is ${expectedSize}`,
      offset,
    );
  }
  return length === out.length ? out : out.subarray(0, length);
}
