// Resumable-run state as the edge function hands it to clients: the style
// library's own blob (image, optimiser history, iteration; versioned and
// checksummed) wrapped in an envelope that
//   - names its format and version (so old or foreign blobs are rejected),
//   - binds it to the request it continues (SHA-256 of both images and the
//     run options), so a state cannot be replayed against other inputs,
//   - carries an HMAC-SHA-256 under the server's key (IMPASTO_STATE_KEY), so
//     a client cannot hand the optimiser crafted numbers.
// Layout (little-endian): "IMPE" | u32 version | u32 header length | header
// JSON | library blob | 32-byte HMAC over everything before it.
// This module is browser compatible.

const MAGIC = [0x49, 0x4d, 0x50, 0x45]; // "IMPE"
export const STATE_VERSION = 1;
const MAC_BYTES = 32;

/** Thrown for a state blob the server will not continue; one line. */
export class StateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateError";
  }
}

export interface StateHeader {
  /** Which style implementation wrote the library blob. */
  implementation: string;
  /** Hex SHA-256 binding the state to its request's images and options. */
  request: string;
  iteration: number;
  iterations: number;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const total = parts.reduce((n, p) => n + p.length + 8, 0);
  const joined = new Uint8Array(total);
  const dv = new DataView(joined.buffer);
  let o = 0;
  for (const p of parts) {
    // Length-prefixed so that ("ab","c") and ("a","bc") differ.
    dv.setBigUint64(o, BigInt(p.length), true);
    joined.set(p, o + 8);
    o += p.length + 8;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
}

/** An HMAC key from a secret string, or a fresh random one. */
export function stateKey(secret?: string): Promise<CryptoKey> {
  const raw = secret
    ? new TextEncoder().encode(secret)
    : crypto.getRandomValues(new Uint8Array(32));
  return crypto.subtle.importKey(
    "raw",
    raw,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/** Wraps a library blob; see the layout above. */
export async function sealState(
  key: CryptoKey,
  header: StateHeader,
  blob: Uint8Array,
): Promise<Uint8Array> {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(12 + json.length + blob.length);
  body.set(MAGIC, 0);
  const dv = new DataView(body.buffer);
  dv.setUint32(4, STATE_VERSION, true);
  dv.setUint32(8, json.length, true);
  body.set(json, 12);
  body.set(blob, 12 + json.length);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, body));
  const out = new Uint8Array(body.length + MAC_BYTES);
  out.set(body);
  out.set(mac, body.length);
  return out;
}

/** Checks and unwraps a sealed state; throws StateError when it is not ours. */
export async function openState(
  key: CryptoKey,
  sealed: Uint8Array,
): Promise<{ header: StateHeader; blob: Uint8Array }> {
  if (
    sealed.length < 12 + MAC_BYTES ||
    MAGIC.some((b, i) => sealed[i] !== b)
  ) {
    throw new StateError("state is not an impasto edge state");
  }
  const dv = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const version = dv.getUint32(4, true);
  if (version !== STATE_VERSION) {
    throw new StateError(
      `state has version ${version}; this server reads version ${STATE_VERSION}: start the run again`,
    );
  }
  const body = sealed.subarray(0, sealed.length - MAC_BYTES);
  const ok = await crypto.subtle.verify(
    "HMAC",
    key,
    sealed.slice(sealed.length - MAC_BYTES),
    body.slice(),
  );
  if (!ok) {
    throw new StateError(
      "state failed its integrity check (altered, or issued by another server)",
    );
  }
  const jsonLength = dv.getUint32(8, true);
  if (12 + jsonLength > body.length) throw new StateError("state is truncated");
  const header = JSON.parse(
    new TextDecoder().decode(body.subarray(12, 12 + jsonLength)),
  ) as StateHeader;
  return { header, blob: body.slice(12 + jsonLength) };
}
