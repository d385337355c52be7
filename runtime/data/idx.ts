// IDX files (the MNIST format, http://yann.lecun.com/exdb/mnist/): a magic
// number 0x00 0x00 <type> <rank>, then `rank` big-endian u32 dimensions, then
// the values, big-endian, row-major. Files are usually gzip'd; parseIdx()
// recognises the gzip magic (1f 8b) and inflates through the platform's
// DecompressionStream, stopping at a size limit so a gzip bomb cannot
// exhaust memory.
// This module is browser compatible.

export type IdxDtype = "u8" | "i8" | "i16" | "i32" | "f32" | "f64";

export type IdxData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

export interface IdxArray {
  readonly dtype: IdxDtype;
  readonly shape: readonly number[];
  readonly data: IdxData;
}

export class IdxError extends Error {
  override name = "IdxError";
}

const TYPES: Record<number, { dtype: IdxDtype; bytes: number }> = {
  0x08: { dtype: "u8", bytes: 1 },
  0x09: { dtype: "i8", bytes: 1 },
  0x0b: { dtype: "i16", bytes: 2 },
  0x0c: { dtype: "i32", bytes: 4 },
  0x0d: { dtype: "f32", bytes: 4 },
  0x0e: { dtype: "f64", bytes: 8 },
};

/** Default cap on inflated size: the full MNIST training images are 47 MB. */
export const DEFAULT_MAX_IDX_BYTES = 1 << 30;

function fail(source: string | undefined, message: string): never {
  throw new IdxError(`${source ?? "IDX"}: ${message}`);
}

/** Whether `bytes` start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflates gzip'd bytes with DecompressionStream, failing once the output
 * would exceed `maxBytes`.
 */
export async function gunzip(
  bytes: Uint8Array,
  maxBytes = DEFAULT_MAX_IDX_BYTES,
  source?: string,
): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel();
        fail(source, `inflates to more than ${maxBytes} bytes; refusing`);
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof IdxError) throw e;
    fail(source, `corrupt gzip data (${(e as Error).message})`);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Parses an uncompressed IDX file, validating magic and length. */
export function parseIdxRaw(bytes: Uint8Array, source?: string): IdxArray {
  if (bytes.length < 4) fail(source, "too short for an IDX header");
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(
      source,
      `bad magic ${
        hex(bytes, 4)
      } (an IDX file starts with 00 00 <type> <rank>)`,
    );
  }
  const type = TYPES[bytes[2]];
  if (!type) {
    fail(source, `unknown IDX element type 0x${bytes[2].toString(16)}`);
  }
  const rank = bytes[3];
  if (rank === 0) fail(source, "rank 0 is not a valid IDX array");
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    fail(source, `too short for the ${rank} dimensions its header declares`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    shape.push(d);
    count *= d;
  }
  const expected = headerBytes + count * type.bytes;
  if (bytes.length !== expected) {
    fail(
      source,
      `dimensions [${
        shape.join(", ")
      }] of ${type.dtype} need ${expected} bytes, the file has ${bytes.length}`,
    );
  }
  return {
    dtype: type.dtype,
    shape,
    data: decode(view, headerBytes, count, type.dtype),
  };
}

function decode(
  view: DataView,
  at: number,
  count: number,
  dtype: IdxDtype,
): IdxData {
  switch (dtype) {
    case "u8":
      return new Uint8Array(
        view.buffer.slice(view.byteOffset + at, view.byteOffset + at + count),
      );
    case "i8":
      return new Int8Array(
        view.buffer.slice(view.byteOffset + at, view.byteOffset + at + count),
      );
    case "i16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(at + 2 * i, false);
      return out;
    }
    case "i32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(at + 4 * i, false);
      return out;
    }
    case "f32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        out[i] = view.getFloat32(at + 4 * i, false);
      }
      return out;
    }
    case "f64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        out[i] = view.getFloat64(at + 8 * i, false);
      }
      return out;
    }
  }
}

function hex(bytes: Uint8Array, n: number): string {
  return [...bytes.subarray(0, n)]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join(" ");
}

export interface ParseIdxOptions {
  /** Cap on the inflated size of a gzip'd file. */
  maxBytes?: number;
  /** Name used in error messages (a path or URL). */
  source?: string;
}

/** Parses an IDX file, gzip'd or raw. */
export async function parseIdx(
  bytes: Uint8Array,
  options: ParseIdxOptions = {},
): Promise<IdxArray> {
  const raw = isGzip(bytes)
    ? await gunzip(bytes, options.maxBytes, options.source)
    : bytes;
  return parseIdxRaw(raw, options.source);
}

/** Serialises an array to uncompressed IDX (tests, small exports). */
export function encodeIdx(array: IdxArray): Uint8Array {
  const code = Number(
    Object.entries(TYPES).find(([, t]) => t.dtype === array.dtype)![0],
  );
  const bytesPer = TYPES[code].bytes;
  const header = 4 + 4 * array.shape.length;
  const out = new Uint8Array(header + array.data.length * bytesPer);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = array.shape.length;
  array.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < array.data.length; i++) {
    const at = header + i * bytesPer;
    const v = array.data[i];
    switch (array.dtype) {
      case "u8":
        view.setUint8(at, v);
        break;
      case "i8":
        view.setInt8(at, v);
        break;
      case "i16":
        view.setInt16(at, v, false);
        break;
      case "i32":
        view.setInt32(at, v, false);
        break;
      case "f32":
        view.setFloat32(at, v, false);
        break;
      case "f64":
        view.setFloat64(at, v, false);
        break;
    }
  }
  return out;
}
