// The resumable-state container of a style-transfer run: a versioned,
// integrity-checked byte blob holding a JSON header and the run's float
// vectors (image, optimiser history) so that a long run can continue across
// many short calls (edge requests, browser tabs) with bit-identical results.
//
// Layout (little-endian):
//   0   8 bytes  magic "IMPSTYLE"
//   8   u32      format version (STATE_VERSION)
//   12  u32      header length H (bytes of UTF-8 JSON)
//   16  H bytes  header: the state with every Float32Array replaced by
//                {"$f32": index} and non-finite numbers by {"$num": "NaN"}
//   ... padding to a multiple of 4, then u32 count, then for each array
//       u32 length followed by its values (f32)
//   end u32      CRC-32 (IEEE) of every byte before it
// JSON numbers round-trip exactly (shortest round-trip formatting), so
// scalars such as step lengths and ρ = 1/yᵀs come back bit for bit.
// This module is browser compatible.

import { crc32 } from "../../runtime/io/crc32.ts";

export const STATE_MAGIC = "IMPSTYLE";
export const STATE_VERSION = 1;

/** A blob that is not a state of this run; the message is one line. */
export class StateError extends Error {
  override name = "StateError";
}

/**
 * A 53-bit hash of a string (cyrb53, public domain), as 14 hex digits; used
 * to tie a state to the options and inputs that produced it.
 */
export function hashString(text: string, seed = 0): string {
  let h1 = 0xdeadbeef ^ seed, h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^
    Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^
    Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const n = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return n.toString(16).padStart(14, "0");
}

/** A hash of float values (every bit counts), as hex. */
export function hashFloats(values: Float32Array, seed = 0): string {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let h1 = 0x9e3779b9 ^ seed, h2 = 0x85ebca6b ^ seed;
  for (let i = 0; i < u.length; i++) {
    h1 = Math.imul(h1 ^ u[i], 2654435761);
    h2 = Math.imul(h2 ^ (u[i] + i), 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^
    Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^
    Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return ((h1 >>> 0).toString(16).padStart(8, "0") +
    (h2 >>> 0).toString(16).padStart(8, "0"));
}

/** Serialises a JSON-like value holding Float32Arrays (see the layout). */
export function encodeState(value: unknown): Uint8Array {
  const arrays: Float32Array[] = [];
  const header = JSON.stringify(value, function (_key, v) {
    if (v instanceof Float32Array) {
      arrays.push(v);
      return { $f32: arrays.length - 1 };
    }
    if (typeof v === "number" && !Number.isFinite(v)) {
      return { $num: String(v) };
    }
    return v;
  });
  const headerBytes = new TextEncoder().encode(header);
  const headerEnd = 16 + headerBytes.length;
  const arraysStart = (headerEnd + 3) & ~3;
  let size = arraysStart + 4;
  for (const a of arrays) size += 4 + 4 * a.length;
  size += 4;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(STATE_MAGIC), 0);
  view.setUint32(8, STATE_VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, 16);
  let p = arraysStart;
  view.setUint32(p, arrays.length, true);
  p += 4;
  for (const a of arrays) {
    view.setUint32(p, a.length, true);
    p += 4;
    for (let i = 0; i < a.length; i++, p += 4) view.setFloat32(p, a[i], true);
  }
  view.setUint32(p, crc32(out.subarray(0, p)), true);
  return out;
}

/** Reads a blob written by encodeState, checking magic, version and CRC. */
export function decodeState(bytes: Uint8Array): unknown {
  const bad = (why: string): never => {
    throw new StateError(`not a valid style-transfer state: ${why}`);
  };
  if (!(bytes instanceof Uint8Array) || bytes.length < 24) bad("too short");
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== STATE_MAGIC) bad("wrong magic (not saved by saveState)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = view.getUint32(8, true);
  if (version !== STATE_VERSION) {
    bad(`format version ${version}, this build reads ${STATE_VERSION}`);
  }
  const end = bytes.length - 4;
  if (crc32(bytes.subarray(0, end)) !== view.getUint32(end, true)) {
    bad("checksum mismatch (the blob is damaged or was modified)");
  }
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > end) bad("header runs past the end");
  const arrays: Float32Array[] = [];
  let p = (16 + headerLength + 3) & ~3;
  const count = view.getUint32(p, true);
  p += 4;
  for (let k = 0; k < count; k++) {
    const n = view.getUint32(p, true);
    p += 4;
    if (p + 4 * n > end) bad("array runs past the end");
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++, p += 4) a[i] = view.getFloat32(p, true);
    arrays.push(a);
  }
  const header = new TextDecoder().decode(
    bytes.subarray(16, 16 + headerLength),
  );
  return JSON.parse(header, (_key, v) => {
    if (v && typeof v === "object" && "$f32" in v) return arrays[v.$f32];
    if (v && typeof v === "object" && "$num" in v) return Number(v.$num);
    return v;
  });
}
