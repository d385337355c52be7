// The local cache of published weights: where it is, what is in it, and
// fetching into it. `deno task weights <name>` (scripts/weights.ts) calls
// fetchWeights(); scripts that take `--weights NAME|FILE` call
// resolveWeights() and get a path or a one-line error saying how to get the
// file.
//
// Layout of the cache directory (default ~/.cache/impasto/weights, or
// $XDG_CACHE_HOME/impasto/weights; IMPASTO_CACHE or --cache-dir replace it):
//   <name>.safetensors            converted weights, tensors under the
//                                 source's names, preprocessing and source
//                                 recorded in __metadata__
//   <name>-to-<layer>.safetensors the same truncated by --only-taps
//   downloads/<file>              the published file as downloaded
//   downloads/<file>.part         an interrupted download (resumed next time)
//   index.json                    full SHA-256 of every verified download
//                                 (trust on first use where only a prefix is
//                                 published), and what was converted from it
// Needs a host with a file system (Deno).
import {
  downloadFile,
  type DownloadProgress,
  openHttpRange,
  RangeNotSupportedError,
  sha256Hex,
} from "../runtime/io/download.ts";
import {
  LazySafetensors,
  readSafetensors,
  type TensorToWrite,
  writeSafetensors,
} from "../runtime/io/safetensors.ts";
import { currentPlatform } from "../runtime/platform/mod.ts";
import { type Preprocessing, preprocessingToMetadata } from "./preprocess.ts";
import {
  findWeightEntry,
  layersForTaps,
  type RegistryModel,
  type WeightEntry,
  weightNames,
} from "./weight_registry.ts";
import { mapWeightNames } from "./weight_names.ts";
import { readWeights, type WeightTensor } from "./weights.ts";

/** One-line errors about missing or unobtainable weights. */
export class WeightCacheError extends Error {
  override name = "WeightCacheError";
}

function env(name: string): string | undefined {
  try {
    return (globalThis as { Deno?: typeof Deno }).Deno?.env.get(name) ??
      undefined;
  } catch {
    return undefined; // no --allow-env
  }
}

/** The cache directory: `override`, else IMPASTO_CACHE, else the default. */
export function cacheDir(override?: string): string {
  const dir = override ?? env("IMPASTO_CACHE");
  if (dir) return dir.replace(/\/+$/, "");
  const xdg = env("XDG_CACHE_HOME");
  const home = env("HOME") ?? env("USERPROFILE");
  const base = xdg ?? (home ? `${home}/.cache` : ".cache");
  return `${base}/impasto/weights`;
}

/** Where converted weights called `name` live in the cache. */
export function cachePath(name: string, dir = cacheDir()): string {
  return `${dir}/${name}.safetensors`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * A weights argument as a file path: an existing file as it is, a name of
 * converted weights in the cache (`vgg19`, `vgg19-to-conv3_1`) as its cache
 * path. Otherwise a WeightCacheError whose one line says what is missing and
 * how to get it.
 */
export async function resolveWeights(
  nameOrPath: string,
  options: { cacheDir?: string } = {},
): Promise<string> {
  if (await isFile(nameOrPath)) return nameOrPath;
  const looksLikePath = /[\/\\]/.test(nameOrPath) ||
    /\.(safetensors|pth|pt|onnx|bin)$/i.test(nameOrPath);
  if (looksLikePath) {
    throw new WeightCacheError(
      `weights file ${nameOrPath} not found: check the path, or download published weights with \`deno task weights <name>\` (${
        weightNames().join(", ")
      })`,
    );
  }
  const dir = cacheDir(options.cacheDir);
  const path = cachePath(nameOrPath, dir);
  if (await isFile(path)) return path;
  const base = nameOrPath.replace(/-to-[\w]+$/, "");
  if (findWeightEntry(base)) {
    throw new WeightCacheError(
      `weights "${nameOrPath}" are not in the cache (${path}): run \`deno task weights ${base}\`, or point at a local file with --weights FILE`,
    );
  }
  throw new WeightCacheError(
    `unknown weights "${nameOrPath}": known names are ${
      weightNames().join(", ")
    }; or point at a local file with --weights FILE`,
  );
}

// ---------------------------------------------------------------------------
// index.json

export interface IndexedFile {
  url: string;
  sha256: string;
  bytes: number;
  downloadedAt: string;
}

export interface IndexedConversion {
  source: string;
  tensors: number;
  taps?: string[];
  sha256: string;
  partial: boolean;
}

export interface CacheIndex {
  version: 1;
  /** Verified downloads by file name (downloads/<name>). */
  files: Record<string, IndexedFile>;
  /** Converted files by file name. */
  converted: Record<string, IndexedConversion>;
}

export async function readCacheIndex(dir = cacheDir()): Promise<CacheIndex> {
  try {
    const json = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
    if (json?.version === 1) {
      return {
        version: 1,
        files: json.files ?? {},
        converted: json.converted ?? {},
      };
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) && !(e instanceof SyntaxError)) {
      throw e;
    }
  }
  return { version: 1, files: {}, converted: {} };
}

async function writeCacheIndex(dir: string, index: CacheIndex): Promise<void> {
  await (await currentPlatform()).writeFileAtomic(
    `${dir}/index.json`,
    new TextEncoder().encode(JSON.stringify(index, null, 1) + "\n"),
  );
}

// ---------------------------------------------------------------------------
// Fetching

export interface FetchWeightsOptions {
  /** A registry name, or any name for a custom --url. */
  name: string;
  /** Download from here instead of the registry's URL. */
  url?: string;
  /** Expected SHA-256 (full or prefix) of the downloaded file. */
  sha256?: string;
  cacheDir?: string;
  /** Where to write the converted safetensors (default: the cache). */
  out?: string;
  /** Keep only the tensors these taps need (relu3_1, conv4_2, …). */
  onlyTaps?: readonly string[];
  /** For a custom --url: which model the weights are (for --only-taps). */
  model?: RegistryModel;
  /** For a custom --url: the preprocessing to record. */
  preprocessing?: Preprocessing;
  /** Download again even when cached. */
  force?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  log?: (line: string) => void;
  fetch?: typeof fetch;
}

export interface FetchWeightsResult {
  /** The converted safetensors file. */
  path: string;
  /** Tensors written. */
  tensors: number;
  /** Bytes received over the network by this call. */
  transferred: number;
  /** Only the needed byte ranges were fetched (safetensors + range support). */
  partial: boolean;
  /** SHA-256 of the downloaded source file (full downloads). */
  sourceSha256?: string;
  /** The downloaded source file (full downloads). */
  download?: string;
  /** Nothing was fetched: the converted file was already there. */
  cached: boolean;
}

function fileNameOf(url: string): string {
  const last = new URL(url).pathname.split("/").filter(Boolean).pop();
  return decodeURIComponent(last ?? "download");
}

function entryFor(o: FetchWeightsOptions): WeightEntry {
  const known = findWeightEntry(o.name);
  if (known) {
    return {
      ...known,
      ...(o.url
        ? { url: o.url, fileName: fileNameOf(o.url), sha256Prefix: undefined }
        : {}),
      ...(o.model ? { model: o.model } : {}),
      ...(o.preprocessing ? { preprocessing: o.preprocessing } : {}),
    };
  }
  if (!o.url) {
    throw new WeightCacheError(
      `unknown weights "${o.name}": known names are ${
        weightNames().join(", ")
      }; or give --url URL to download another file`,
    );
  }
  const fileName = fileNameOf(o.url);
  const ext = /\.(\w+)$/.exec(fileName)?.[1]?.toLowerCase();
  return {
    name: o.name,
    description: `custom download from ${o.url}`,
    url: o.url,
    fileName,
    format: ext === "onnx"
      ? "onnx"
      : ext === "safetensors"
      ? "safetensors"
      : "pth",
    approxMB: 0,
    model: o.model ?? "vgg19",
    preprocessing: o.preprocessing as Preprocessing,
  };
}

/** Source tensor names that the taps need (all names without taps). */
function neededKeys(
  entry: WeightEntry,
  tensors: ReadonlyMap<string, WeightTensor>,
  taps: readonly string[] | undefined,
): string[] {
  if (!taps?.length) return [...tensors.keys()];
  let layers: string[];
  try {
    layers = layersForTaps(entry.model, taps);
  } catch (e) {
    throw new WeightCacheError((e as Error).message);
  }
  const mapping = mapWeightNames(tensors, entry.model);
  if (!mapping) {
    throw new WeightCacheError(
      `cannot tell which tensors of ${entry.fileName} belong to which ${entry.model} layer; download it without --only-taps`,
    );
  }
  const keys: string[] = [];
  if (mapping.inputConv) {
    keys.push(
      ...[...tensors.keys()].filter((k) => /(^|\.)0\.(weight|bias)$/.test(k)),
    );
  }
  for (const layer of layers) {
    const found = mapping.layers.get(layer);
    if (!found?.weight) {
      throw new WeightCacheError(
        `${entry.fileName} has no weights for layer ${layer} (needed by --only-taps ${
          taps.join(",")
        })`,
      );
    }
    keys.push(found.weight.key);
    if (found.bias) keys.push(found.bias.key);
  }
  return keys;
}

function metadataFor(
  entry: WeightEntry,
  url: string,
  extra: Record<string, string>,
): Record<string, string> {
  return {
    ...(entry.preprocessing
      ? preprocessingToMetadata(entry.preprocessing)
      : {}),
    model: entry.model,
    source_url: url,
    source_file: entry.fileName,
    ...extra,
  };
}

function outputPath(
  o: FetchWeightsOptions,
  entry: WeightEntry,
  dir: string,
): string {
  if (o.out) return o.out;
  if (!o.onlyTaps?.length) return cachePath(entry.name, dir);
  const layers = layersForTaps(entry.model, o.onlyTaps);
  return cachePath(`${entry.name}-to-${layers[layers.length - 1]}`, dir);
}

/**
 * Downloads published weights (or `url`) into the cache, verifies their
 * SHA-256 and converts them to safetensors with the preprocessing in the
 * metadata. With `onlyTaps` on a safetensors source whose server supports
 * range requests, only the header and the needed tensors are transferred.
 */
export async function fetchWeights(
  o: FetchWeightsOptions,
): Promise<FetchWeightsResult> {
  const log = o.log ?? (() => {});
  const entry = entryFor(o);
  const url = entry.url;
  const dir = cacheDir(o.cacheDir);
  let out: string;
  try {
    out = outputPath(o, entry, dir);
  } catch (e) {
    throw new WeightCacheError((e as Error).message);
  }
  await Deno.mkdir(`${dir}/downloads`, { recursive: true });
  const index = await readCacheIndex(dir);
  if (!o.force && !o.out && await isFile(out)) {
    log(`${out} is already in the cache (--force to fetch again)`);
    return {
      path: out,
      tensors: index.converted[baseName(out)]?.tensors ?? 0,
      transferred: 0,
      partial: false,
      cached: true,
    };
  }

  if (entry.format === "safetensors" && o.onlyTaps?.length) {
    try {
      return await fetchPartial(o, entry, url, out, dir, index, log);
    } catch (e) {
      if (!(e instanceof RangeNotSupportedError)) throw e;
      log(`${url} does not support range requests: downloading all of it`);
    }
  }

  // Full download (resumed if a .part is there), verified.
  const download = `${dir}/downloads/${entry.fileName}`;
  const known = index.files[entry.fileName];
  const expected = o.sha256 ?? entry.sha256 ??
    (known && known.url === url ? known.sha256 : undefined) ??
    entry.sha256Prefix;
  let sourceSha256: string;
  let transferred = 0;
  if (!o.force && known && await isFile(download)) {
    log(`${download} was downloaded and verified before; converting it`);
    sourceSha256 = known.sha256;
  } else {
    log(
      `Downloading ${url}${
        entry.approxMB ? ` (about ${entry.approxMB} MB)` : ""
      } to ${download}`,
    );
    const r = await downloadFile({
      url,
      dest: download,
      sha256: expected,
      onProgress: o.onProgress,
      fetch: o.fetch,
    });
    sourceSha256 = r.sha256;
    transferred = r.received;
    index.files[entry.fileName] = {
      url,
      sha256: r.sha256,
      bytes: r.bytes,
      downloadedAt: new Date().toISOString(),
    };
    await writeCacheIndex(dir, index);
    log(
      `Verified SHA-256 ${r.sha256}${
        expected ? ` (expected ${expected})` : " (recorded in index.json)"
      }`,
    );
  }
  const bytes = await Deno.readFile(download);
  let weights: { tensors: Map<string, WeightTensor> };
  try {
    weights = looksLikeSafetensors(bytes)
      ? readSafetensors(bytes, entry.fileName)
      : await readWeights(bytes, entry.fileName);
  } catch (e) {
    throw new WeightCacheError((e as Error).message.split("\n")[0]);
  }
  const keys = neededKeys(entry, weights.tensors, o.onlyTaps);
  const tensors = new Map<string, TensorToWrite>();
  for (const k of keys) tensors.set(k, weights.tensors.get(k)!);
  const file = writeSafetensors(
    tensors,
    metadataFor(entry, url, {
      source_sha256: sourceSha256,
      ...(o.onlyTaps?.length ? { taps: o.onlyTaps.join(",") } : {}),
    }),
  );
  await (await currentPlatform()).writeFileAtomic(out, file);
  index.converted[baseName(out)] = {
    source: entry.fileName,
    tensors: tensors.size,
    ...(o.onlyTaps?.length ? { taps: [...o.onlyTaps] } : {}),
    sha256: sha256Hex(file),
    partial: false,
  };
  await writeCacheIndex(dir, index);
  log(`Wrote ${out} (${tensors.size} tensors)`);
  return {
    path: out,
    tensors: tensors.size,
    transferred,
    partial: false,
    sourceSha256,
    download,
    cached: false,
  };
}

/**
 * Whether bytes start like safetensors: a header length that fits the file
 * followed by "{". Checked before readWeights' sniffing, which takes a
 * header length whose low bytes are 0x80 0x02 for a legacy pickle.
 */
function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(
    0,
    true,
  );
  return n >= 2n && n + 8n <= BigInt(bytes.length) && bytes[8] === 0x7b;
}

function baseName(path: string): string {
  return path.split(/[\/\\]/).pop() ?? path;
}

/**
 * Fetches the header of a remote safetensors file, then only the byte
 * ranges of the tensors the taps need. The whole-file hash cannot be
 * checked (the file is never whole here); each tensor's length is checked
 * against its header entry, and the written file's hash is recorded.
 */
async function fetchPartial(
  o: FetchWeightsOptions,
  entry: WeightEntry,
  url: string,
  out: string,
  dir: string,
  index: CacheIndex,
  log: (line: string) => void,
): Promise<FetchWeightsResult> {
  const source = await openHttpRange(url, { fetch: o.fetch });
  const lazy = await LazySafetensors.open(source, entry.fileName);
  // Name mapping only needs names and shapes.
  const shapes = new Map<string, WeightTensor>();
  for (const info of lazy.header.tensors.values()) {
    shapes.set(info.name, { shape: info.shape, data: new Float32Array(0) });
  }
  const keys = neededKeys(entry, shapes, o.onlyTaps);
  const needed = keys.reduce((n, k) => {
    const i = lazy.info(k);
    return n + i.end - i.begin;
  }, 0);
  log(
    `Fetching ${keys.length} of ${shapes.size} tensors (${
      (needed / 1e6).toFixed(1)
    } of ${((source.size ?? 0) / 1e6).toFixed(1)} MB) from ${url}`,
  );
  const tensors = new Map<string, TensorToWrite>();
  let done = 0;
  o.onProgress?.({ done, total: needed, received: 0 });
  for (const k of keys) {
    const t = await lazy.read(k);
    tensors.set(k, { shape: t.shape, data: t.data });
    const i = lazy.info(k);
    done += i.end - i.begin;
    o.onProgress?.({ done, total: needed, received: done });
  }
  const file = writeSafetensors(
    tensors,
    metadataFor(entry, url, {
      taps: o.onlyTaps!.join(","),
      partial: "true",
    }),
  );
  await (await currentPlatform()).writeFileAtomic(out, file);
  index.converted[baseName(out)] = {
    source: entry.fileName,
    tensors: tensors.size,
    taps: [...o.onlyTaps!],
    sha256: sha256Hex(file),
    partial: true,
  };
  await writeCacheIndex(dir, index);
  log(
    `Wrote ${out} (${tensors.size} tensors; ${source.bytesTransferred} bytes in ${source.requests} requests)`,
  );
  return {
    path: out,
    tensors: tensors.size,
    transferred: source.bytesTransferred,
    partial: true,
    cached: false,
  };
}
