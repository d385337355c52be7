// safetensors (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON
// `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
//   "__metadata__": {string: string}}`, then the raw little-endian tensor data
// (offsets relative to the first byte after the header).
//
// Files come from strangers, so every number in the header is checked before
// anything is allocated: the header length against the file and a 100 MB cap
// (the reference implementation's MAX_HEADER_SIZE), each tensor's byte range
// against the data section, its length against shape x dtype, and ranges
// against each other (no overlaps). Errors are one line, prefixed with the
// file's name when known.
// This module is browser compatible.

import { halfToFloat } from "./float16.ts";

export { halfToFloat };

/** Largest header accepted (the Rust reference uses the same bound). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** Dtypes read into f32 (integers convert exactly up to 2^24). */
const READABLE = new Set([
  "F32",
  "F16",
  "BF16",
  "F64",
  "BOOL",
  "U8",
  "I8",
  "I16",
  "U16",
  "I32",
  "U32",
]);

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** One tensor's entry in the header. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte range in the whole file, [begin, end). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** Tensors in header order. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The `__metadata__` string map ({} when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** File offset of the data section (8 + header length). */
  readonly dataStart: number;
  /** Total file size the header implies (end of the last tensor). */
  readonly dataEnd: number;
}

/** A tensor read as f32. */
export interface DecodedTensor {
  readonly shape: readonly number[];
  /** The dtype stored in the file. */
  readonly dtype: string;
  readonly data: Float32Array;
}

/** A tensor to write: f32 values and a shape. */
export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

function fail(source: string | undefined, message: string): never {
  throw new SafetensorsError(
    `${source ? `${source}: ` : "safetensors: "}${message}`,
  );
}

/**
 * Reads the header length from the first 8 bytes, checking it against the
 * cap and (when known) the file size. Returns the length in bytes.
 */
export function readHeaderLength(
  first8: Uint8Array,
  fileSize?: number,
  source?: string,
): number {
  if (first8.length < 8) {
    fail(source, `file of ${first8.length} bytes is too short for a header`);
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    fail(
      source,
      `header length ${length} exceeds the ${
        MAX_HEADER_BYTES / 1e6
      } MB limit (not a safetensors file?)`,
    );
  }
  const n = Number(length);
  if (fileSize !== undefined && 8 + n > fileSize) {
    fail(
      source,
      `header length ${n} runs past the end of the ${fileSize}-byte file`,
    );
  }
  if (n < 2) fail(source, `header length ${n} is too small for JSON`);
  return n;
}

/**
 * Parses and validates the JSON header (`headerBytes` = the N bytes after the
 * length). `fileSize`, when known, bounds the tensors' byte ranges.
 */
export function parseHeader(
  headerBytes: Uint8Array,
  fileSize?: number,
  source?: string,
): SafetensorsHeader {
  const dataStart = 8 + headerBytes.length;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    fail(source, "header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(source, `header is not JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    fail(source, "header is not a JSON object");
  }
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  const dataSize = fileSize === undefined ? undefined : fileSize - dataStart;
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
        fail(source, "__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") {
          fail(source, `__metadata__ value for "${k}" is not a string`);
        }
        metadata[k] = v;
      }
      continue;
    }
    tensors.set(name, validateEntry(name, entry, dataStart, dataSize, source));
  }
  // Ranges must not overlap (a hostile file could alias one tensor's bytes
  // under several names). Sorting makes this one pass.
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin);
  let dataEnd = dataStart;
  let last: TensorInfo | undefined; // the range reaching furthest so far
  for (const t of sorted) {
    if (t.end === t.begin) continue; // empty tensors occupy no bytes
    if (last && t.begin < last.end) {
      fail(
        source,
        `tensor "${t.name}" overlaps tensor "${last.name}" in the data section`,
      );
    }
    last = t;
    dataEnd = Math.max(dataEnd, t.end);
  }
  return { tensors, metadata, dataStart, dataEnd };
}

function validateEntry(
  name: string,
  entry: unknown,
  dataStart: number,
  dataSize: number | undefined,
  source?: string,
): TensorInfo {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    fail(source, `entry for tensor "${name}" is not an object`);
  }
  const e = entry as Record<string, unknown>;
  const dtype = e.dtype;
  if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) {
    fail(source, `tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
  }
  const shape = e.shape;
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  ) {
    fail(
      source,
      `tensor "${name}" has invalid shape ${JSON.stringify(shape)}`,
    );
  }
  let elements = 1;
  for (const d of shape as number[]) elements *= d;
  const offsets = e.data_offsets;
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(
      source,
      `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as number[];
  if (end < begin) {
    fail(
      source,
      `tensor "${name}" has data_offsets [${begin}, ${end}] ending before they begin`,
    );
  }
  const expected = elements * DTYPE_BYTES[dtype];
  if (end - begin !== expected) {
    fail(
      source,
      `tensor "${name}" holds ${
        end - begin
      } bytes but shape [${shape}] x ${dtype} needs ${expected}`,
    );
  }
  if (dataSize !== undefined && end > dataSize) {
    fail(
      source,
      `tensor "${name}" data_offsets [${begin}, ${end}] run past the end of the ${dataSize}-byte data section`,
    );
  }
  return {
    name,
    dtype,
    shape: Object.freeze([...(shape as number[])]),
    begin: dataStart + begin,
    end: dataStart + end,
  };
}

/** Parses the header of a whole file held in memory. */
export function readHeader(
  bytes: Uint8Array,
  source?: string,
): SafetensorsHeader {
  const n = readHeaderLength(bytes, bytes.length, source);
  return parseHeader(bytes.subarray(8, 8 + n), bytes.length, source);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Converts one tensor's raw bytes (exactly its byte range) to f32. */
export function decodeTensorBytes(
  info: TensorInfo,
  raw: Uint8Array,
  source?: string,
): Float32Array {
  if (!READABLE.has(info.dtype)) {
    fail(
      source,
      `tensor "${info.name}" has dtype ${info.dtype}, which cannot be read as f32`,
    );
  }
  if (raw.length !== info.end - info.begin) {
    fail(
      source,
      `tensor "${info.name}": got ${raw.length} bytes, expected ${
        info.end - info.begin
      }`,
    );
  }
  const size = raw.length / DTYPE_BYTES[info.dtype];
  if (info.dtype === "F32" && LITTLE_ENDIAN) {
    // slice() copies into a fresh, aligned buffer.
    return new Float32Array(
      raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length),
    );
  }
  const out = new Float32Array(size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
  switch (info.dtype) {
    case "F32":
      for (let i = 0; i < size; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case "F64":
      for (let i = 0; i < size; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case "F16":
      for (let i = 0; i < size; i++) {
        out[i] = halfToFloat(view.getUint16(i * 2, true));
      }
      break;
    case "BF16": {
      // bfloat16 is the top half of an f32.
      // Both views of `out` use the host's byte order, so this is portable.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < size; i++) {
        bits[i] = view.getUint16(i * 2, true) << 16;
      }
      break;
    }
    case "BOOL":
    case "U8":
      for (let i = 0; i < size; i++) out[i] = raw[i];
      break;
    case "I8":
      for (let i = 0; i < size; i++) out[i] = view.getInt8(i);
      break;
    case "I16":
      for (let i = 0; i < size; i++) out[i] = view.getInt16(i * 2, true);
      break;
    case "U16":
      for (let i = 0; i < size; i++) out[i] = view.getUint16(i * 2, true);
      break;
    case "I32":
      for (let i = 0; i < size; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case "U32":
      for (let i = 0; i < size; i++) out[i] = view.getUint32(i * 4, true);
      break;
  }
  return out;
}

/** The parsed contents of a safetensors file held in memory. */
export interface Safetensors {
  readonly tensors: Map<string, DecodedTensor>;
  readonly metadata: Record<string, string>;
}

/** Reads every tensor of a file held in memory, converting to f32. */
export function readSafetensors(
  bytes: Uint8Array,
  source?: string,
): Safetensors {
  const header = readHeader(bytes, source);
  const tensors = new Map<string, DecodedTensor>();
  for (const info of header.tensors.values()) {
    tensors.set(info.name, {
      shape: info.shape,
      dtype: info.dtype,
      data: decodeTensorBytes(
        info,
        bytes.subarray(info.begin, info.end),
        source,
      ),
    });
  }
  return { tensors, metadata: { ...header.metadata } };
}

/**
 * Serialises f32 tensors (in the given order) and string metadata. The
 * header is padded with spaces to a multiple of 8 bytes so the data section
 * is aligned, as the reference writer does.
 */
export function writeSafetensors(
  tensors:
    | ReadonlyMap<string, TensorToWrite>
    | Readonly<Record<string, TensorToWrite>>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const entries = tensors instanceof Map
    ? [...tensors.entries()]
    : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new SafetensorsError(
          `safetensors: metadata value for "${k}" is not a string`,
        );
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === "__metadata__") {
      throw new SafetensorsError(
        'safetensors: "__metadata__" cannot name a tensor',
      );
    }
    let elements = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new SafetensorsError(
          `safetensors: tensor "${name}" has invalid shape [${t.shape}]`,
        );
      }
      elements *= d;
    }
    if (elements !== t.data.length) {
      throw new SafetensorsError(
        `safetensors: tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`,
      );
    }
    header[name] = {
      dtype: "F32",
      shape: [...t.shape],
      data_offsets: [offset, offset + t.data.length * 4],
    };
    offset += t.data.length * 4;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const [, t] of entries) {
    if (LITTLE_ENDIAN) {
      out.set(
        new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        at,
      );
    } else {
      const view = new DataView(out.buffer, at, t.data.byteLength);
      for (let i = 0; i < t.data.length; i++) {
        view.setFloat32(i * 4, t.data[i], true);
      }
    }
    at += t.data.byteLength;
  }
  return out;
}

/** Random access to a file's bytes (a file handle, HTTP range requests). */
export interface ByteRangeSource {
  /** Total size in bytes, when known (bounds the header's offsets). */
  readonly size?: number;
  /** Bytes [start, end); fewer only at the end of the file. */
  read(start: number, end: number): Promise<Uint8Array>;
}

/** A ByteRangeSource over bytes already in memory. */
export function bytesSource(bytes: Uint8Array): ByteRangeSource {
  return {
    size: bytes.length,
    read: (start, end) =>
      Promise.resolve(bytes.subarray(start, Math.min(end, bytes.length))),
  };
}

/**
 * A safetensors file read lazily: open() fetches only the 8-byte length and
 * the header; each tensor is read by its byte range on demand (so a large
 * checkpoint can be streamed, or partially downloaded with range requests).
 */
export class LazySafetensors {
  readonly header: SafetensorsHeader;
  readonly #source: ByteRangeSource;
  readonly #name?: string;

  private constructor(
    header: SafetensorsHeader,
    source: ByteRangeSource,
    name?: string,
  ) {
    this.header = header;
    this.#source = source;
    this.#name = name;
  }

  static async open(
    source: ByteRangeSource,
    name?: string,
  ): Promise<LazySafetensors> {
    const first = await source.read(0, 8);
    const n = readHeaderLength(first, source.size, name);
    const headerBytes = await source.read(8, 8 + n);
    if (headerBytes.length !== n) {
      fail(name, `header length ${n} runs past the end of the file`);
    }
    return new LazySafetensors(
      parseHeader(headerBytes, source.size, name),
      source,
      name,
    );
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.header.metadata;
  }

  /** Tensor names in header order. */
  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  info(name: string): TensorInfo {
    const info = this.header.tensors.get(name);
    if (!info) fail(this.#name, `no tensor named "${name}"`);
    return info;
  }

  /** Reads one tensor's bytes and converts them to f32. */
  async read(name: string): Promise<DecodedTensor> {
    const info = this.info(name);
    const raw = await this.#source.read(info.begin, info.end);
    if (raw.length !== info.end - info.begin) {
      fail(
        this.#name,
        `tensor "${name}" data_offsets run past the end of the file`,
      );
    }
    return {
      shape: info.shape,
      dtype: info.dtype,
      data: decodeTensorBytes(info, raw, this.#name),
    };
  }
}
