// Downloading large files over HTTP: streamed to disk with an incremental
// SHA-256 (WebCrypto's digest needs the whole file in memory), resumable
// with HTTP range requests (RFC 9110 §14), and random access to remote files
// through range requests (a ByteRangeSource, so LazySafetensors can fetch a
// safetensors header and then only the tensors it needs).
//
// Files: `dest + ".part"` grows while downloading; once every byte is in and
// the hash matches, it is renamed to `dest` (atomic on one file system), so
// `dest` is either absent or complete and verified. An interrupted transfer
// keeps the .part file and the next call continues it (Range: bytes=N-); a
// server that ignores Range (200 instead of 206) restarts from zero. A file
// whose hash does not match is deleted: its bytes are wrong somewhere and
// resuming could never fix them.
// The hashing and range-source parts are browser compatible; downloadFile
// needs Deno (file handles).
import type { ByteRangeSource } from "./safetensors.ts";

// ---------------------------------------------------------------------------
// SHA-256 (FIPS 180-4 §6.2), incremental.

// First 32 bits of the fractional parts of the cube roots of the first 64
// primes (FIPS 180-4 §4.2.2).
const K = new Uint32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

// First 32 bits of the fractional parts of the square roots of the first 8
// primes (§5.3.3).
const H0 = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];

/** An incremental SHA-256: update() with chunks, then digest() once. */
export class Sha256 {
  readonly #h = new Uint32Array(H0);
  readonly #w = new Uint32Array(64);
  readonly #block = new Uint8Array(64);
  #blockLength = 0;
  /** Bytes hashed so far (exact up to 2^53). */
  #length = 0;
  #finished = false;

  /** Adds bytes; returns this for chaining. */
  update(bytes: Uint8Array): this {
    if (this.#finished) throw new Error("Sha256: update() after digest()");
    this.#length += bytes.length;
    let at = 0;
    // Top up a partly filled block first.
    if (this.#blockLength > 0) {
      const take = Math.min(64 - this.#blockLength, bytes.length);
      this.#block.set(bytes.subarray(0, take), this.#blockLength);
      this.#blockLength += take;
      at = take;
      if (this.#blockLength < 64) return this;
      this.#compress(this.#block, 0);
      this.#blockLength = 0;
    }
    // Whole blocks straight from the input.
    for (; at + 64 <= bytes.length; at += 64) this.#compress(bytes, at);
    if (at < bytes.length) {
      this.#block.set(bytes.subarray(at));
      this.#blockLength = bytes.length - at;
    }
    return this;
  }

  /** The 32-byte digest (pads and finishes; no update() afterwards). */
  digest(): Uint8Array {
    if (this.#finished) throw new Error("Sha256: digest() called twice");
    // Padding (§5.1.1): a 1 bit, zeros, then the length in bits as a
    // 64-bit big-endian number, filling the last block(s).
    const bits = this.#length * 8;
    const tail = new Uint8Array(this.#blockLength + 9 > 64 ? 128 : 64);
    tail.set(this.#block.subarray(0, this.#blockLength));
    tail[this.#blockLength] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(tail.length - 4, bits >>> 0);
    for (let at = 0; at < tail.length; at += 64) this.#compress(tail, at);
    this.#finished = true;
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setUint32(i * 4, this.#h[i]);
    return out;
  }

  /** The digest as 64 lower-case hex digits. */
  hex(): string {
    return toHex(this.digest());
  }

  // One 64-byte block (§6.2.2).
  #compress(bytes: Uint8Array, at: number): void {
    const w = this.#w, h = this.#h;
    for (let t = 0; t < 16; t++) {
      const i = at + 4 * t;
      w[t] = (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) |
        bytes[i + 3];
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15], y = w[t - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^
        (y >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3];
    let e = h[4], f = h[5], g = h[6], k = h[7];
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
        ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (k + S1 + ch + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
        ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
  }
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** SHA-256 of bytes in memory, as hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return new Sha256().update(bytes).hex();
}

// ---------------------------------------------------------------------------
// Errors.

/** Download failures; the message is one line saying what to do. */
export class DownloadError extends Error {
  override name = "DownloadError";
  /** HTTP status when the server answered with an error. */
  readonly status?: number;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

/** The server ignored a Range header (it answered 200, not 206). */
export class RangeNotSupportedError extends DownloadError {
  override name = "RangeNotSupportedError";
}

/** Checks a hex digest against an expected full hash or prefix. */
export function hashMatches(actual: string, expected: string): boolean {
  const e = expected.toLowerCase();
  return e.length > 0 && actual.toLowerCase().startsWith(e);
}

// ---------------------------------------------------------------------------
// Range requests.

type Fetch = typeof fetch;

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0];
}

/** Parses `Content-Range: bytes a-b/total` (total may be "*"). */
export function parseContentRange(
  header: string | null,
): { start: number; end: number; total?: number } | null {
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(header?.trim() ?? "");
  if (!m) return null;
  return {
    start: Number(m[1]),
    end: Number(m[2]) + 1,
    total: m[3] === "*" ? undefined : Number(m[3]),
  };
}

export interface RangeSourceOptions {
  /** fetch to use (tests pass their own; default globalThis.fetch). */
  fetch?: Fetch;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/** A ByteRangeSource over HTTP that counts the bytes it transferred. */
export interface HttpRangeSource extends ByteRangeSource {
  readonly url: string;
  /** Body bytes received so far. */
  readonly bytesTransferred: number;
  /** Requests made so far. */
  readonly requests: number;
}

/**
 * Opens a remote file for random access with range requests. The first
 * request (bytes 0-7, which a safetensors reader needs anyway) learns the
 * size from Content-Range; a server that answers 200 instead of 206 gets a
 * RangeNotSupportedError (and its body is cancelled, not downloaded).
 */
export async function openHttpRange(
  url: string,
  options: RangeSourceOptions = {},
): Promise<HttpRangeSource> {
  const doFetch = options.fetch ?? fetch;
  let transferred = 0, requests = 0;
  const cache = new Map<string, Uint8Array>();
  const get = async (start: number, end: number): Promise<Uint8Array> => {
    if (end <= start) return new Uint8Array(0);
    requests++;
    let response: Response;
    try {
      response = await doFetch(url, {
        headers: { ...options.headers, Range: `bytes=${start}-${end - 1}` },
      });
    } catch (e) {
      throw new DownloadError(`Cannot reach ${url}: ${firstLine(e)}`);
    }
    if (response.status === 200) {
      await response.body?.cancel();
      throw new RangeNotSupportedError(
        `${url} does not support range requests (HTTP 200 to a Range request)`,
      );
    }
    if (response.status === 416) {
      await response.body?.cancel();
      return new Uint8Array(0);
    }
    if (response.status !== 206) {
      await response.body?.cancel();
      throw new DownloadError(
        `${url}: HTTP ${response.status} ${response.statusText}`.trim(),
        response.status,
      );
    }
    const range = parseContentRange(response.headers.get("content-range"));
    if (range && range.start !== start) {
      await response.body?.cancel();
      throw new DownloadError(
        `${url}: asked for bytes from ${start}, got a range from ${range.start}`,
      );
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    transferred += bytes.length;
    if (range?.total !== undefined) size = range.total;
    return bytes.subarray(0, end - start);
  };
  let size: number | undefined;
  const first = await get(0, 8);
  cache.set("0-8", first);
  const source: HttpRangeSource = {
    url,
    get size() {
      return size;
    },
    get bytesTransferred() {
      return transferred;
    },
    get requests() {
      return requests;
    },
    read: (start, end) => {
      const hit = cache.get(`${start}-${end}`);
      if (hit) {
        cache.delete(`${start}-${end}`);
        return Promise.resolve(hit);
      }
      const stop = size === undefined ? end : Math.min(end, size);
      return get(start, stop);
    },
  };
  return source;
}

// ---------------------------------------------------------------------------
// Resumable downloads to a file.

export interface DownloadProgress {
  /** Bytes of the file present so far (resumed bytes included). */
  done: number;
  /** File size when the server said. */
  total?: number;
  /** Bytes received by this call. */
  received: number;
}

export interface DownloadOptions {
  url: string;
  /** Final path; the transfer goes to `dest + ".part"` first. */
  dest: string;
  /**
   * Expected SHA-256 as hex: the full 64 digits, or a prefix (torchvision
   * publishes the first 8 in its file names). Unset: no check (the hash is
   * still computed and returned).
   */
  sha256?: string;
  /** Continue an existing .part file (default true). */
  resume?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  fetch?: Fetch;
  headers?: Record<string, string>;
}

export interface DownloadResult {
  path: string;
  /** Full SHA-256 of the file, hex. */
  sha256: string;
  /** File size. */
  bytes: number;
  /** Bytes received by this call (less than `bytes` when resumed). */
  received: number;
  /** Whether an earlier partial transfer was continued. */
  resumed: boolean;
}

type DenoFs = typeof Deno;

function denoFs(): DenoFs {
  const d = (globalThis as { Deno?: DenoFs }).Deno;
  if (!d) throw new DownloadError("downloadFile needs Deno (file handles)");
  return d;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await denoFs().stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

/** Hashes the first `length` bytes of a file in 1 MiB reads. */
async function hashFile(path: string, hash: Sha256, length: number) {
  const file = await denoFs().open(path, { read: true });
  try {
    const buffer = new Uint8Array(1 << 20);
    let left = length;
    while (left > 0) {
      const n = await file.read(
        buffer.subarray(0, Math.min(left, buffer.length)),
      );
      if (n === null) break;
      hash.update(buffer.subarray(0, n));
      left -= n;
    }
  } finally {
    file.close();
  }
}

/**
 * Downloads `url` to `dest`, verifying its SHA-256, resuming a previous
 * partial transfer where the server supports range requests. Throws
 * DownloadError with a one-line message on HTTP errors, interrupted
 * transfers (the .part file is kept: call again to resume) and hash
 * mismatches (the .part file is deleted).
 */
export async function downloadFile(
  options: DownloadOptions,
): Promise<DownloadResult> {
  const fs = denoFs();
  const { url, dest } = options;
  const part = `${dest}.part`;
  const doFetch = options.fetch ?? fetch;
  let have = options.resume === false ? 0 : await fileSize(part);
  const hash = new Sha256();
  const headers: Record<string, string> = { ...options.headers };
  if (have > 0) headers.Range = `bytes=${have}-`;
  let response: Response;
  try {
    response = await doFetch(url, { headers });
  } catch (e) {
    throw new DownloadError(`Cannot reach ${url}: ${firstLine(e)}`);
  }
  let resumed = false;
  let total: number | undefined;
  if (have > 0 && response.status === 416) {
    // Nothing after `have`: the .part file may already be complete.
    await response.body?.cancel();
    // RFC 9110 §15.5.17: a 416 carries `Content-Range: bytes */<size>`.
    const m = /^bytes\s+\*\/(\d+)$/i.exec(
      response.headers.get("content-range")?.trim() ?? "",
    );
    total = m ? Number(m[1]) : undefined;
    if (total !== have) {
      await fs.remove(part).catch(() => {});
      throw new DownloadError(
        `${url}: the partial download ${part} does not fit the file on the server (deleted); run again`,
      );
    }
    resumed = true;
    await hashFile(part, hash, have);
    return await finish(fs, options, part, hash, have, 0, resumed);
  }
  if (!response.ok) {
    await response.body?.cancel();
    const hint = response.status === 404
      ? " (not found: check the URL, or pass --url)"
      : "";
    throw new DownloadError(
      `Cannot download ${url}: HTTP ${response.status}${hint}`,
      response.status,
    );
  }
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get("content-range"));
    if (!range || range.start !== have) {
      await response.body?.cancel();
      throw new DownloadError(
        `${url}: asked to resume at byte ${have}, the server sent ${
          response.headers.get("content-range") ?? "no Content-Range"
        }`,
      );
    }
    total = range.total;
    resumed = true;
    await hashFile(part, hash, have);
  } else {
    // 200: the whole file (a server without range support restarts us).
    have = 0;
    const length = response.headers.get("content-length");
    total = length !== null && /^\d+$/.test(length)
      ? Number(length)
      : undefined;
  }
  const file = await fs.open(part, {
    write: true,
    create: true,
    append: resumed,
    truncate: !resumed,
  });
  let received = 0;
  try {
    options.onProgress?.({ done: have, total, received });
    const reader = response.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let written = 0;
      while (written < value.length) {
        written += await file.write(value.subarray(written));
      }
      hash.update(value);
      received += value.length;
      options.onProgress?.({ done: have + received, total, received });
    }
  } catch (e) {
    throw new DownloadError(
      `Download of ${url} interrupted after ${have + received}${
        total ? ` of ${total}` : ""
      } bytes (${firstLine(e)}); run the same command again to resume`,
    );
  } finally {
    file.close();
  }
  if (total !== undefined && have + received !== total) {
    throw new DownloadError(
      `Download of ${url} interrupted after ${
        have + received
      } of ${total} bytes; run the same command again to resume`,
    );
  }
  return await finish(
    fs,
    options,
    part,
    hash,
    have + received,
    received,
    resumed,
  );
}

async function finish(
  fs: DenoFs,
  options: DownloadOptions,
  part: string,
  hash: Sha256,
  bytes: number,
  received: number,
  resumed: boolean,
): Promise<DownloadResult> {
  const sha256 = hash.hex();
  if (options.sha256 && !hashMatches(sha256, options.sha256)) {
    await fs.remove(part).catch(() => {});
    throw new DownloadError(
      `${options.url}: SHA-256 ${sha256} does not match the expected ${options.sha256.toLowerCase()}; ` +
        `the download was deleted (a changed or corrupted file: check --url/--sha256)`,
    );
  }
  await fs.rename(part, options.dest);
  return { path: options.dest, sha256, bytes, received, resumed };
}
