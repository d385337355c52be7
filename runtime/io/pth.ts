// PyTorch checkpoint (`.pth` / `.pt`) reader for state dicts, without Python.
//
// Two container formats exist (torch/serialization.py):
//
// * ZIP (torch.save since PyTorch 1.6, `_use_new_zipfile_serialization`):
//   `<archive>/data.pkl` is the pickled object; each tensor storage is a
//   separate entry `<archive>/data/<key>` holding its raw bytes; optional
//   `<archive>/byteorder` says "little" or "big" (absent: little).
//   Storages are referenced from the pickle by persistent ids
//   `('storage', torch.FloatStorage, '<key>', 'cpu', numel)`.
// * Legacy (before 1.6): five pickles back to back — the magic number
//   0x1950a86a20f9469cfc6c, the protocol version 1001, sys_info
//   ({'little_endian': …, …}), the object itself, then the list of storage
//   keys — followed by each storage in that list's order as an int64
//   little-endian element count and the raw elements. Persistent ids are
//   `('storage', type, key, location, numel, view_metadata)`; view_metadata
//   is None or (view_key, offset, size) for a view into the root storage.
//
// Each tensor is `_rebuild_tensor_v2(storage, storage_offset, size, stride,
// …)`: element i of the result (C order over `size`) is storage element
// storage_offset + Σ index_d · stride_d. Non-contiguous strides are gathered.
// Values are converted to float32 (float16/bfloat16 exactly, float64 rounded
// to nearest, integer and bool storages by value).
//
// Pickles are read with the safe unpickler of ./pickle.ts (an allow-list of
// globals, nothing executed). Every size is checked against the bytes that
// exist; a tensor may view at most as many elements as its storage holds, and
// all tensors together at most `maxTotalBytes`, so a small hostile file cannot
// make this allocate much more than its own size. This module is browser
// compatible.

import {
  PickleError,
  TorchDtypeName,
  TorchStorageType,
  TorchTensorRef,
  unpickle,
} from "./pickle.ts";
import { ZipReader } from "./zip.ts";
import { halfToFloat } from "./float16.ts";

export { halfToFloat };

export { PickleError } from "./pickle.ts";
export type { TorchDtypeName } from "./pickle.ts";
export { ZipError } from "./zip.ts";

/** A checkpoint that is not a readable state dict (format errors of the layers below are ZipError / PickleError). */
export class PthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PthError";
  }
}

export interface PthTensor {
  shape: number[];
  /** C-order values, converted to float32. */
  data: Float32Array;
  /** The element type stored in the file. */
  dtype: TorchDtypeName;
}

export interface PthFile {
  tensors: Map<string, PthTensor>;
  format: "zip" | "legacy";
}

export interface ReadPthOptions {
  /** Check the CRC-32 of the ZIP entries read (default true). */
  verifyCrc?: boolean;
  /** Most bytes of float32 output for all tensors together (default max(4 × file size, 64 MiB)). */
  maxTotalBytes?: number;
}

const ELEMENT_SIZE: Record<TorchDtypeName, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** The legacy format's first pickle (torch/serialization.py MAGIC_NUMBER). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A storage named by a persistent id (resolved to bytes once the container is read). */
class StorageRef {
  /** Legacy views: element offset into the root storage `key`. */
  viewOffset = 0;
  constructor(
    readonly key: string,
    readonly dtype: TorchDtypeName,
    /** Elements of the root storage, as declared by the persistent id. */
    readonly rootNumel: number,
    /** Elements this reference sees (the root's, or a legacy view's). */
    public numel: number,
  ) {}
}

/** Where the raw bytes of each storage key are. */
type StorageBytes = (key: string) => Uint8Array;

function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * Reads the tensors of a PyTorch state dict (ZIP or legacy format). A
 * checkpoint whose top level is a dict holding the state dict under
 * `state_dict` or `model` is also accepted. ZIP entries must be stored
 * (as torch.save writes them); use `readPthAsync` for deflated archives.
 */
export function readPth(
  bytes: Uint8Array,
  options: ReadPthOptions = {},
): PthFile {
  if (!isZip(bytes)) return readLegacy(bytes, options);
  const zip = new ZipReader(bytes);
  const layout = zipLayout(zip);
  const crc = { verifyCrc: options.verifyCrc ?? true };
  const pkl = zip.readStored(layout.pkl, crc);
  const order = layout.byteorder
    ? zipByteorder(zip.readStored(layout.byteorder, crc))
    : true;
  // Tensors may share a storage: read (and CRC-check) each entry once.
  const read = new Map<string, Uint8Array>();
  return fromZipPickle(pkl, bytes.length, order, options, (key) => {
    let data = read.get(key);
    if (!data) {
      data = zip.readStored(zipStorageEntry(zip, layout.prefix, key), crc);
      read.set(key, data);
    }
    return data;
  });
}

/** As `readPth`, also reading deflate-compressed ZIP entries. */
export async function readPthAsync(
  bytes: Uint8Array,
  options: ReadPthOptions = {},
): Promise<PthFile> {
  if (!isZip(bytes)) return readLegacy(bytes, options);
  const zip = new ZipReader(bytes);
  const layout = zipLayout(zip);
  const crc = { verifyCrc: options.verifyCrc ?? true };
  const pkl = await zip.read(layout.pkl, crc);
  const order = layout.byteorder
    ? zipByteorder(await zip.read(layout.byteorder, crc))
    : true;
  // Unpickle once to learn which storages are needed, inflate those, then
  // resolve synchronously from the inflated bytes.
  const inflated = new Map<string, Uint8Array>();
  for (const key of neededKeys(pkl)) {
    inflated.set(
      key,
      await zip.read(zipStorageEntry(zip, layout.prefix, key), crc),
    );
  }
  return fromZipPickle(
    pkl,
    bytes.length,
    order,
    options,
    (key) => inflated.get(key)!,
  );
}

interface ZipLayout {
  prefix: string;
  pkl: string;
  byteorder?: string;
}

function zipLayout(zip: ZipReader): ZipLayout {
  const pkls = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pkls.length !== 1) {
    throw new PthError(
      pkls.length === 0
        ? "ZIP archive has no <archive>/data.pkl entry: not a torch.save checkpoint"
        : `ZIP archive has ${pkls.length} <archive>/data.pkl entries`,
    );
  }
  const prefix = pkls[0].name.slice(0, -"/data.pkl".length);
  const byteorder = zip.get(`${prefix}/byteorder`)
    ? `${prefix}/byteorder`
    : undefined;
  return { prefix, pkl: pkls[0].name, byteorder };
}

function zipByteorder(bytes: Uint8Array): boolean {
  const s = new TextDecoder().decode(bytes).trim();
  if (s !== "little" && s !== "big") {
    throw new PthError(`unknown byteorder ${JSON.stringify(s.slice(0, 20))}`);
  }
  return s === "little";
}

function zipStorageEntry(zip: ZipReader, prefix: string, key: string): string {
  const name = `${prefix}/data/${key}`;
  if (!zip.get(name)) {
    throw new PthError(`missing storage: no ZIP entry ${JSON.stringify(name)}`);
  }
  return name;
}

/** Storage keys referenced by a ZIP checkpoint's pickle. */
function neededKeys(pkl: Uint8Array): Set<string> {
  const keys = new Set<string>();
  unpickle(pkl, {
    persistentLoad: (pid, offset) => {
      const ref = storageRef(pid, offset, false);
      keys.add(ref.key);
      return ref;
    },
  });
  return keys;
}

function fromZipPickle(
  pkl: Uint8Array,
  fileSize: number,
  littleEndian: boolean,
  options: ReadPthOptions,
  storageBytes: StorageBytes,
): PthFile {
  const { value } = unpickle(pkl, {
    persistentLoad: (pid, offset) => storageRef(pid, offset, false),
  });
  const tensors = materialize(
    selectStateDict(value),
    (ref) => {
      const data = storageBytes(ref.key);
      const expected = ref.numel * ELEMENT_SIZE[ref.dtype];
      if (data.length !== expected) {
        throw new PthError(
          `size mismatch: storage ${
            JSON.stringify(ref.key)
          } declares ${ref.numel} ${ref.dtype} elements ` +
            `(${expected} bytes) but its entry holds ${data.length} bytes`,
        );
      }
      return data;
    },
    littleEndian,
    maxTotal(options, fileSize),
  );
  return { tensors, format: "zip" };
}

function maxTotal(options: ReadPthOptions, fileSize: number): number {
  return options.maxTotalBytes ?? Math.max(4 * fileSize, 64 << 20);
}

/** Validates a persistent id `('storage', type, key, location, numel[, view_metadata])`. */
function storageRef(pid: unknown, offset: number, legacy: boolean): StorageRef {
  const bad = (why: string): never => {
    throw new PickleError(`BINPERSID: ${why}`, offset);
  };
  if (!Array.isArray(pid) || pid[0] !== "storage") {
    return bad("persistent id is not a ('storage', …) tuple");
  }
  if (pid.length !== (legacy ? 6 : 5)) {
    return bad(`storage persistent id has ${pid.length} fields`);
  }
  const [, type, key, location, numel] = pid;
  if (!(type instanceof TorchStorageType)) {
    return bad("storage type is not an allow-listed torch.*Storage");
  }
  if (
    typeof key !== "string" || key.length === 0 || key.length > 256 ||
    /[/\\]/.test(key)
  ) {
    return bad("storage key must be a short string without slashes");
  }
  if (typeof location !== "string") {
    return bad("storage location must be a str");
  }
  if (typeof numel !== "number" || !Number.isSafeInteger(numel) || numel < 0) {
    return bad("storage size must be a non-negative int");
  }
  const ref = new StorageRef(key, type.dtype, numel, numel);
  const view = legacy ? pid[5] : null;
  if (view !== null) {
    // (view_key, offset, view_size): a slice of the root storage `key`.
    if (!Array.isArray(view) || view.length !== 3) {
      return bad("view metadata must be (key, offset, size)");
    }
    const [, viewOffset, viewSize] = view;
    if (
      typeof viewOffset !== "number" || typeof viewSize !== "number" ||
      !Number.isSafeInteger(viewOffset) ||
      !Number.isSafeInteger(viewSize) || viewOffset < 0 || viewSize < 0 ||
      viewOffset + viewSize > numel
    ) {
      return bad("storage view lies outside its root storage");
    }
    ref.viewOffset = viewOffset;
    ref.numel = viewSize;
  }
  return ref;
}

function readLegacy(bytes: Uint8Array, options: ReadPthOptions): PthFile {
  if (bytes.length < 2 || bytes[0] !== 0x80) {
    throw new PthError(
      "not a PyTorch checkpoint: neither ZIP (PK\\x03\\x04) nor legacy (pickled magic number)",
    );
  }
  const magic = unpickle(bytes, {}, 0);
  if (magic.value !== LEGACY_MAGIC) {
    throw new PthError(
      "not a PyTorch checkpoint: the first pickle is not the legacy magic number",
    );
  }
  const protocol = unpickle(bytes, {}, magic.end);
  if (protocol.value !== LEGACY_PROTOCOL_VERSION) {
    throw new PthError(
      `unsupported legacy protocol version ${String(protocol.value)}`,
    );
  }
  const sysInfo = unpickle(bytes, {}, protocol.end);
  if (
    !(sysInfo.value instanceof Map) ||
    sysInfo.value.get("little_endian") !== true
  ) {
    throw new PthError(
      "legacy checkpoint is not little-endian (sys_info.little_endian ≠ True)",
    );
  }
  const refs: StorageRef[] = [];
  const main = unpickle(bytes, {
    persistentLoad: (pid, offset) => {
      const ref = storageRef(pid, offset, true);
      refs.push(ref);
      return ref;
    },
  }, sysInfo.end);
  const keyList = unpickle(bytes, {}, main.end);
  if (
    !Array.isArray(keyList.value) ||
    !keyList.value.every((k) => typeof k === "string")
  ) {
    throw new PthError(
      "legacy checkpoint: the storage key list is not a list of str",
    );
  }

  // Element type of each root storage, from the persistent ids.
  const dtypes = new Map<string, TorchDtypeName>();
  for (const ref of refs) {
    const seen = dtypes.get(ref.key);
    if (seen !== undefined && seen !== ref.dtype) {
      throw new PthError(
        `storage ${
          JSON.stringify(ref.key)
        } is referenced as both ${seen} and ${ref.dtype}`,
      );
    }
    dtypes.set(ref.key, ref.dtype);
  }
  // The storages follow the pickles in the key list's order, each as an
  // int64 element count then the elements.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const roots = new Map<string, Uint8Array>();
  let pos = keyList.end;
  for (const key of keyList.value as string[]) {
    const dtype = dtypes.get(key);
    if (dtype === undefined) {
      throw new PthError(
        `storage ${JSON.stringify(key)} is listed but never referenced`,
      );
    }
    if (roots.has(key)) {
      throw new PthError(`storage ${JSON.stringify(key)} is listed twice`);
    }
    if (pos + 8 > bytes.length) {
      throw new PthError(
        `truncated: storage ${JSON.stringify(key)} has no size at byte ${pos}`,
      );
    }
    const declared = view.getBigInt64(pos, true);
    const size = ELEMENT_SIZE[dtype];
    if (
      declared < 0n ||
      declared > BigInt(Math.floor((bytes.length - pos - 8) / size))
    ) {
      throw new PthError(
        `truncated: storage ${
          JSON.stringify(key)
        } at byte ${pos} declares ${declared} ${dtype} elements, ` +
          `${bytes.length - pos - 8} bytes left`,
      );
    }
    const count = Number(declared);
    roots.set(key, bytes.subarray(pos + 8, pos + 8 + count * size));
    pos += 8 + count * size;
  }

  const tensors = materialize(
    selectStateDict(main.value),
    (ref) => {
      const root = roots.get(ref.key);
      if (!root) {
        throw new PthError(
          `missing storage: ${
            JSON.stringify(ref.key)
          } is not in the storage list`,
        );
      }
      const size = ELEMENT_SIZE[ref.dtype];
      const rootNumel = root.length / size;
      if (ref.rootNumel !== rootNumel) {
        throw new PthError(
          `size mismatch: storage ${
            JSON.stringify(ref.key)
          } declares ${ref.rootNumel} elements, the file holds ${rootNumel}`,
        );
      }
      return root.subarray(
        ref.viewOffset * size,
        (ref.viewOffset + ref.numel) * size,
      );
    },
    true,
    maxTotal(options, bytes.length),
  );
  return { tensors, format: "legacy" };
}

/** The dict of tensors: the top level, or its `state_dict` / `model` entry. */
function selectStateDict(value: unknown): Map<unknown, unknown> {
  const hasTensors = (m: Map<unknown, unknown>) =>
    [...m.values()].some((v) => v instanceof TorchTensorRef);
  if (value instanceof Map) {
    if (hasTensors(value)) return value;
    for (const key of ["state_dict", "model"]) {
      const inner = value.get(key);
      if (inner instanceof Map && hasTensors(inner)) return inner;
    }
    const keys = [...value.keys()].slice(0, 5).map((k) =>
      JSON.stringify(String(k))
    ).join(", ");
    throw new PthError(
      `no tensors in the checkpoint's dict (keys ${
        keys || "none"
      }; looked in state_dict, model)`,
    );
  }
  throw new PthError(`checkpoint's top level is not a dict of tensors`);
}

/** Resolves every tensor of `dict` (non-tensor values are skipped). */
function materialize(
  dict: Map<unknown, unknown>,
  storage: (ref: StorageRef) => Uint8Array,
  littleEndian: boolean,
  maxTotalBytes: number,
): Map<string, PthTensor> {
  const out = new Map<string, PthTensor>();
  let total = 0;
  for (const [key, value] of dict) {
    if (!(value instanceof TorchTensorRef)) continue;
    const name = String(key);
    const ref = value.storage;
    if (!(ref instanceof StorageRef)) {
      throw new PthError(
        `tensor ${
          JSON.stringify(name)
        }: its storage is not a persistent storage reference`,
      );
    }
    const numel = checkView(name, value, ref);
    total += numel * 4;
    if (total > maxTotalBytes) {
      throw new PthError(
        `tensors exceed ${maxTotalBytes} bytes of float32 output (at ${
          JSON.stringify(name)
        })`,
      );
    }
    const bytes = storage(ref);
    out.set(name, {
      shape: [...value.shape],
      data: gather(bytes, ref.dtype, littleEndian, value, numel),
      dtype: ref.dtype,
    });
  }
  return out;
}

/** Checks that a tensor's view lies inside its storage; returns its element count. */
function checkView(name: string, t: TorchTensorRef, ref: StorageRef): number {
  const label = JSON.stringify(name);
  let numel = 1;
  let last = t.storageOffset;
  for (let d = 0; d < t.shape.length; d++) {
    if (t.shape[d] < 0 || t.stride[d] < 0) {
      throw new PthError(`tensor ${label}: negative size or stride`);
    }
    numel *= t.shape[d];
    last += (t.shape[d] - 1) * t.stride[d];
  }
  if (t.storageOffset < 0) {
    throw new PthError(`tensor ${label}: negative storage offset`);
  }
  if (numel === 0) return 0;
  if (
    !Number.isSafeInteger(numel) || !Number.isSafeInteger(last) ||
    last >= ref.numel
  ) {
    throw new PthError(
      `tensor ${label}: view (offset ${t.storageOffset}, size [${t.shape}], stride [${t.stride}]) ` +
        `runs past its storage of ${ref.numel} elements`,
    );
  }
  if (numel > ref.numel) {
    throw new PthError(
      `tensor ${label}: ${numel} elements view a storage of only ${ref.numel} (expanded views are not supported)`,
    );
  }
  return numel;
}

/** Converts the viewed elements to a fresh C-order Float32Array. */
function gather(
  bytes: Uint8Array,
  dtype: TorchDtypeName,
  littleEndian: boolean,
  t: TorchTensorRef,
  numel: number,
): Float32Array {
  if (numel === 0) return new Float32Array(0);
  const size = ELEMENT_SIZE[dtype];
  let contiguous = true;
  for (let d = t.shape.length - 1, expect = 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expect) contiguous = false;
    expect *= t.shape[d];
  }
  if (contiguous) {
    const start = t.storageOffset * size;
    return convert(
      bytes.subarray(start, start + numel * size),
      dtype,
      littleEndian,
    );
  }
  // Convert the span the view touches, then walk it with an odometer over the dims.
  let last = t.storageOffset;
  for (let d = 0; d < t.shape.length; d++) {
    last += (t.shape[d] - 1) * t.stride[d];
  }
  const span = convert(
    bytes.subarray(t.storageOffset * size, (last + 1) * size),
    dtype,
    littleEndian,
  );
  const out = new Float32Array(numel);
  const rank = t.shape.length;
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < numel; i++) {
    out[i] = span[src];
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < t.shape[d]) {
        src += t.stride[d];
        break;
      }
      src -= (index[d] - 1) * t.stride[d];
      index[d] = 0;
    }
  }
  return out;
}

/** Raw elements of `dtype` → float32. */
function convert(
  bytes: Uint8Array,
  dtype: TorchDtypeName,
  littleEndian: boolean,
): Float32Array {
  const size = ELEMENT_SIZE[dtype];
  const n = bytes.length / size;
  if (dtype === "float32" && littleEndian === HOST_LITTLE_ENDIAN) {
    return new Float32Array(bytes.slice().buffer); // copy: aligned, and independent of the file
  }
  const out = new Float32Array(n);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = littleEndian;
  switch (dtype) {
    case "float32":
      for (let i = 0; i < n; i++) out[i] = v.getFloat32(4 * i, le);
      break;
    case "float64":
      for (let i = 0; i < n; i++) out[i] = v.getFloat64(8 * i, le); // rounds to nearest f32
      break;
    case "bfloat16": {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = v.getUint16(2 * i, le) << 16;
      break;
    }
    case "float16":
      for (let i = 0; i < n; i++) out[i] = halfToFloat(v.getUint16(2 * i, le));
      break;
    case "int64":
      for (let i = 0; i < n; i++) {
        out[i] = v.getInt32(8 * i + (le ? 4 : 0), le) * 4294967296 +
          v.getUint32(8 * i + (le ? 0 : 4), le);
      }
      break;
    case "int32":
      for (let i = 0; i < n; i++) out[i] = v.getInt32(4 * i, le);
      break;
    case "int16":
      for (let i = 0; i < n; i++) out[i] = v.getInt16(2 * i, le);
      break;
    case "int8":
      for (let i = 0; i < n; i++) out[i] = v.getInt8(i);
      break;
    case "uint8":
    case "bool":
      for (let i = 0; i < n; i++) out[i] = bytes[i];
      break;
  }
  return out;
}
