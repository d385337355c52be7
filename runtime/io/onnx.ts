// Decoder for the parts of ONNX (onnx/onnx.proto, IR version 3-9) that an
// inference engine needs: ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto and ValueInfoProto. Built on the bounds-checked reader in
// protobuf.ts, so malformed or hostile files throw a one-line ProtobufError
// with the byte offset instead of crashing or allocating wildly.
//
// Tensor data is decoded in one linear pass: raw_data becomes a typed-array
// view of the input when it is aligned and the host is little-endian (no
// copy; the view keeps the input buffer alive), otherwise one copy. A
// 550 MB model therefore costs at most one extra copy of its weights; pass
// `{ copyData: true }` to always copy (e.g. to let the file buffer go).
// This module is browser compatible.
import { ProtobufError, ProtoReader, WIRE_LEN } from "./protobuf.ts";

/** TensorProto.DataType codes. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

/** AttributeProto.AttributeType codes. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

/** Element arrays of the data types this decoder supports. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array;

/** A decoded TensorProto. */
export interface OnnxTensor {
  name: string;
  /** Shape; [] is a scalar. */
  dims: number[];
  /** A DataType code. */
  dataType: number;
  /**
   * Elements in row-major order (length = product of dims), or null when
   * the data type is not supported here (see `raw`) or the data is stored
   * outside the file (see `externalData`). BOOL decodes to Uint8Array.
   */
  data: TensorData | null;
  /** raw_data bytes (a view) when `data` is null because of the type. */
  raw?: Uint8Array;
  /** string_data of STRING tensors (byte strings, views). */
  strings?: Uint8Array[];
  /** external_data key/value pairs (data_location = EXTERNAL). */
  externalData?: Record<string, string>;
}

/** A decoded AttributeProto; only the field matching `type` is set. */
export interface OnnxAttribute {
  name: string;
  /** An AttributeType code (inferred from the fields when the file omits it). */
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: OnnxTensor[];
  graphs?: OnnxGraph[];
}

/** A decoded NodeProto. */
export interface OnnxNode {
  name: string;
  opType: string;
  /** Operator set domain; "" is the default ONNX domain. */
  domain: string;
  /** Input value names; "" marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

/** A dimension of a declared shape: a size, a symbolic name, or unknown. */
export type OnnxDim = number | string | null;

/** A decoded ValueInfoProto (tensor types only; others have elemType 0). */
export interface OnnxValueInfo {
  name: string;
  /** A DataType code, 0 when not a tensor or not given. */
  elemType: number;
  /** Declared shape, or null when the shape is not given. */
  shape: OnnxDim[] | null;
}

/** A decoded GraphProto. */
export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
}

/** An OperatorSetIdProto. */
export interface OnnxOpset {
  domain: string;
  version: number;
}

/** A decoded ModelProto. */
export interface OnnxModel {
  irVersion: number;
  opsetImport: OnnxOpset[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  graph: OnnxGraph;
}

export interface DecodeOptions {
  /** Always copy tensor data out of the input (default: view when aligned). */
  copyData?: boolean;
  /** Message nesting limit (default 100). */
  maxDepth?: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const textDecoder = new TextDecoder("utf-8");

/** Bytes of UTF-8 text (attribute `s`, strings) as a JS string. */
export function text(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

function rootReader(
  bytes: Uint8Array,
  type: string,
  options: DecodeOptions,
): ProtoReader {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("ONNX decoder input must be a Uint8Array");
  }
  return new ProtoReader(bytes, { type, maxDepth: options.maxDepth });
}

/** Decodes a serialized ModelProto (the contents of a .onnx file). */
export function decodeModel(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): OnnxModel {
  return readModel(rootReader(bytes, "ModelProto", options), options);
}

/** Decodes a serialized TensorProto (e.g. a test_data_set_*\/input_0.pb). */
export function decodeTensor(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): OnnxTensor {
  return readTensor(rootReader(bytes, "TensorProto", options), options);
}

/** Decodes a serialized GraphProto. */
export function decodeGraph(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): OnnxGraph {
  return readGraph(rootReader(bytes, "GraphProto", options), options);
}

/** Decodes a serialized NodeProto. */
export function decodeNode(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): OnnxNode {
  return readNode(rootReader(bytes, "NodeProto", options), options);
}

function readModel(r: ProtoReader, options: DecodeOptions): OnnxModel {
  const model: OnnxModel = {
    irVersion: 0,
    opsetImport: [],
    producerName: "",
    producerVersion: "",
    domain: "",
    modelVersion: 0,
    graph: undefined as unknown as OnnxGraph,
  };
  let hasGraph = false;
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.expect(0, "ir_version");
        model.irVersion = r.int64();
        break;
      case 2:
        r.expect(WIRE_LEN, "producer_name");
        model.producerName = r.string();
        break;
      case 3:
        r.expect(WIRE_LEN, "producer_version");
        model.producerVersion = r.string();
        break;
      case 4:
        r.expect(WIRE_LEN, "domain");
        model.domain = r.string();
        break;
      case 5:
        r.expect(0, "model_version");
        model.modelVersion = r.int64();
        break;
      case 7:
        r.expect(WIRE_LEN, "graph");
        model.graph = readGraph(r.message("GraphProto"), options);
        hasGraph = true;
        break;
      case 8: {
        r.expect(WIRE_LEN, "opset_import");
        const m = r.message("OperatorSetIdProto");
        const opset: OnnxOpset = { domain: "", version: 0 };
        while (m.next()) {
          if (m.field === 1) {
            m.expect(WIRE_LEN, "domain");
            opset.domain = m.string();
          } else if (m.field === 2) {
            m.expect(0, "version");
            opset.version = m.int64();
          } else m.skip();
        }
        model.opsetImport.push(opset);
        break;
      }
      default:
        r.skip();
    }
  }
  if (!hasGraph) r.fail("no graph (field 7)", 0);
  return model;
}

function readGraph(r: ProtoReader, options: DecodeOptions): OnnxGraph {
  const graph: OnnxGraph = {
    name: "",
    nodes: [],
    initializers: [],
    inputs: [],
    outputs: [],
    valueInfo: [],
  };
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN, "node");
        graph.nodes.push(readNode(r.message("NodeProto"), options));
        break;
      case 2:
        r.expect(WIRE_LEN, "name");
        graph.name = r.string();
        break;
      case 5:
        r.expect(WIRE_LEN, "initializer");
        graph.initializers.push(readTensor(r.message("TensorProto"), options));
        break;
      case 11:
        r.expect(WIRE_LEN, "input");
        graph.inputs.push(readValueInfo(r.message("ValueInfoProto")));
        break;
      case 12:
        r.expect(WIRE_LEN, "output");
        graph.outputs.push(readValueInfo(r.message("ValueInfoProto")));
        break;
      case 13:
        r.expect(WIRE_LEN, "value_info");
        graph.valueInfo.push(readValueInfo(r.message("ValueInfoProto")));
        break;
      default:
        r.skip();
    }
  }
  return graph;
}

function readNode(r: ProtoReader, options: DecodeOptions): OnnxNode {
  const node: OnnxNode = {
    name: "",
    opType: "",
    domain: "",
    inputs: [],
    outputs: [],
    attributes: [],
  };
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN, "input");
        node.inputs.push(r.string());
        break;
      case 2:
        r.expect(WIRE_LEN, "output");
        node.outputs.push(r.string());
        break;
      case 3:
        r.expect(WIRE_LEN, "name");
        node.name = r.string();
        break;
      case 4:
        r.expect(WIRE_LEN, "op_type");
        node.opType = r.string();
        break;
      case 5:
        r.expect(WIRE_LEN, "attribute");
        node.attributes.push(
          readAttribute(r.message("AttributeProto"), options),
        );
        break;
      case 7:
        r.expect(WIRE_LEN, "domain");
        node.domain = r.string();
        break;
      default:
        r.skip();
    }
  }
  return node;
}

function readAttribute(r: ProtoReader, options: DecodeOptions): OnnxAttribute {
  const a: OnnxAttribute = { name: "", type: AttributeType.UNDEFINED };
  const start = r.pos;
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN, "name");
        a.name = r.string();
        break;
      case 2:
        r.expect(5, "f");
        a.f = r.float();
        break;
      case 3:
        r.expect(0, "i");
        a.i = r.int64();
        break;
      case 4:
        r.expect(WIRE_LEN, "s");
        a.s = r.bytesView();
        break;
      case 5:
        r.expect(WIRE_LEN, "t");
        a.t = readTensor(r.message("TensorProto"), options);
        break;
      case 6:
        r.expect(WIRE_LEN, "g");
        a.g = readGraph(r.message("GraphProto"), options);
        break;
      case 7:
        r.floats(a.floats ??= [], "floats");
        break;
      case 8:
        r.int64s(a.ints ??= [], "ints");
        break;
      case 9:
        r.expect(WIRE_LEN, "strings");
        (a.strings ??= []).push(r.bytesView());
        break;
      case 10:
        r.expect(WIRE_LEN, "tensors");
        (a.tensors ??= []).push(readTensor(r.message("TensorProto"), options));
        break;
      case 11:
        r.expect(WIRE_LEN, "graphs");
        (a.graphs ??= []).push(readGraph(r.message("GraphProto"), options));
        break;
      case 20:
        r.expect(0, "type");
        a.type = r.int32();
        break;
      default:
        r.skip();
    }
  }
  if (a.type === AttributeType.UNDEFINED) a.type = inferAttributeType(a);
  // Keep only the field the type names, as onnx.proto requires; a field of
  // the wrong kind would otherwise be read by a careless consumer.
  const expected = ATTRIBUTE_FIELD[a.type];
  if (expected && a[expected] === undefined) {
    // Empty lists are legal (e.g. ints: []) and are not serialized at all.
    if (LIST_TYPES.has(a.type)) {
      (a as unknown as Record<string, unknown[]>)[expected] = [];
    } else {
      r.fail(
        `attribute '${a.name}' of type ${a.type} has no ${expected} value`,
        start,
      );
    }
  }
  return a;
}

const ATTRIBUTE_FIELD: Record<number, keyof OnnxAttribute> = {
  [AttributeType.FLOAT]: "f",
  [AttributeType.INT]: "i",
  [AttributeType.STRING]: "s",
  [AttributeType.TENSOR]: "t",
  [AttributeType.GRAPH]: "g",
  [AttributeType.FLOATS]: "floats",
  [AttributeType.INTS]: "ints",
  [AttributeType.STRINGS]: "strings",
  [AttributeType.TENSORS]: "tensors",
  [AttributeType.GRAPHS]: "graphs",
};

const LIST_TYPES = new Set<number>([
  AttributeType.FLOATS,
  AttributeType.INTS,
  AttributeType.STRINGS,
  AttributeType.TENSORS,
  AttributeType.GRAPHS,
]);

// IR version < 0.0.2 files may omit `type`: take the field that is set.
function inferAttributeType(a: OnnxAttribute): number {
  for (const [type, field] of Object.entries(ATTRIBUTE_FIELD)) {
    if (a[field] !== undefined) return Number(type);
  }
  return AttributeType.UNDEFINED;
}

function readValueInfo(r: ProtoReader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: "", elemType: 0, shape: null };
  while (r.next()) {
    if (r.field === 1) {
      r.expect(WIRE_LEN, "name");
      info.name = r.string();
    } else if (r.field === 2) {
      r.expect(WIRE_LEN, "type");
      const type = r.message("TypeProto");
      while (type.next()) {
        if (type.field !== 1) {
          type.skip();
          continue;
        }
        type.expect(WIRE_LEN, "tensor_type");
        readTensorType(type.message("TypeProto.Tensor"), info);
      }
    } else r.skip();
  }
  return info;
}

function readTensorType(r: ProtoReader, info: OnnxValueInfo): void {
  while (r.next()) {
    if (r.field === 1) {
      r.expect(0, "elem_type");
      info.elemType = r.int32();
    } else if (r.field === 2) {
      r.expect(WIRE_LEN, "shape");
      const shape = r.message("TensorShapeProto");
      info.shape = [];
      while (shape.next()) {
        if (shape.field !== 1) {
          shape.skip();
          continue;
        }
        shape.expect(WIRE_LEN, "dim");
        const dim = shape.message("TensorShapeProto.Dimension");
        let value: OnnxDim = null;
        while (dim.next()) {
          if (dim.field === 1) {
            dim.expect(0, "dim_value");
            value = dim.int64();
          } else if (dim.field === 2) {
            dim.expect(WIRE_LEN, "dim_param");
            value = dim.string();
          } else dim.skip();
        }
        info.shape.push(value);
      }
    } else r.skip();
  }
}

// ---- TensorProto ----

const ELEMENT_BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.UINT8]: 1,
  [DataType.INT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.INT16]: 2,
  [DataType.INT32]: 4,
  [DataType.INT64]: 8,
  [DataType.BOOL]: 1,
  [DataType.DOUBLE]: 8,
};

type TypedCtor = {
  new (n: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
};

const CTOR: Record<number, TypedCtor> = {
  [DataType.FLOAT]: Float32Array as unknown as TypedCtor,
  [DataType.UINT8]: Uint8Array as unknown as TypedCtor,
  [DataType.INT8]: Int8Array as unknown as TypedCtor,
  [DataType.UINT16]: Uint16Array as unknown as TypedCtor,
  [DataType.INT16]: Int16Array as unknown as TypedCtor,
  [DataType.INT32]: Int32Array as unknown as TypedCtor,
  [DataType.INT64]: BigInt64Array as unknown as TypedCtor,
  [DataType.BOOL]: Uint8Array as unknown as TypedCtor,
  [DataType.DOUBLE]: Float64Array as unknown as TypedCtor,
};

function readTensor(r: ProtoReader, options: DecodeOptions): OnnxTensor {
  const start = r.pos;
  const tensor: OnnxTensor = { name: "", dims: [], dataType: 0, data: null };
  let raw: Uint8Array | null = null;
  const floatChunks: Uint8Array[] = [];
  const doubleChunks: Uint8Array[] = [];
  const int32Chunks: Uint8Array[] = [];
  const int64Chunks: Uint8Array[] = [];
  let external = false;
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.int64s(tensor.dims, "dims");
        break;
      case 2:
        r.expect(0, "data_type");
        tensor.dataType = r.int32();
        break;
      case 4:
        r.fixedChunks(floatChunks, 4, "float_data");
        break;
      case 5:
        r.varintChunks(int32Chunks, "int32_data");
        break;
      case 6:
        r.expect(WIRE_LEN, "string_data");
        (tensor.strings ??= []).push(r.bytesView());
        break;
      case 7:
        r.varintChunks(int64Chunks, "int64_data");
        break;
      case 8:
        r.expect(WIRE_LEN, "name");
        tensor.name = r.string();
        break;
      case 9:
        r.expect(WIRE_LEN, "raw_data");
        raw = r.bytesView();
        break;
      case 10:
        r.fixedChunks(doubleChunks, 8, "double_data");
        break;
      case 13: {
        r.expect(WIRE_LEN, "external_data");
        const m = r.message("StringStringEntryProto");
        let key = "", value = "";
        while (m.next()) {
          if (m.field === 1) {
            m.expect(WIRE_LEN, "key");
            key = m.string();
          } else if (m.field === 2) {
            m.expect(WIRE_LEN, "value");
            value = m.string();
          } else m.skip();
        }
        (tensor.externalData ??= {})[key] = value;
        break;
      }
      case 14:
        r.expect(0, "data_location");
        external = r.int32() === 1;
        break;
      default:
        r.skip();
    }
  }
  const what = `tensor '${tensor.name}'`;
  // Element count from dims, checked so a hostile shape cannot overflow.
  let count = 1;
  for (const d of tensor.dims) {
    if (!Number.isSafeInteger(d) || d < 0) {
      r.fail(`${what} has invalid dimension ${d}`, start);
    }
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) {
      r.fail(`${what} has too many elements`, start);
    }
  }
  if (external) return tensor;
  const type = tensor.dataType;
  const ctor = CTOR[type];
  const sources = (raw ? 1 : 0) + (floatChunks.length ? 1 : 0) +
    (doubleChunks.length ? 1 : 0) + (int32Chunks.length ? 1 : 0) +
    (int64Chunks.length ? 1 : 0) + (tensor.strings ? 1 : 0);
  if (sources > 1) r.fail(`${what} has data in more than one field`, start);
  if (!ctor) {
    // Unsupported element type: keep the raw bytes for the caller.
    if (raw) tensor.raw = raw;
    return tensor;
  }
  const mismatch = (field: string, n: number): never =>
    r.fail(
      `${what} has ${n} elements in ${field} but dims [${tensor.dims}] need ${count}`,
      start,
    );
  if (raw) {
    const size = ELEMENT_BYTES[type];
    if (raw.length !== count * size) {
      mismatch(`raw_data (${raw.length} bytes)`, raw.length / size);
    }
    tensor.data = fromLittleEndian(raw, type, count, options.copyData ?? false);
  } else if (type === DataType.FLOAT) {
    tensor.data = fixedData(floatChunks, DataType.FLOAT, 4, count, mismatch);
  } else if (type === DataType.DOUBLE) {
    tensor.data = fixedData(doubleChunks, DataType.DOUBLE, 8, count, mismatch);
  } else if (type === DataType.INT64) {
    const n = r.countVarints(int64Chunks);
    if (n !== count) mismatch("int64_data", n);
    const out = new BigInt64Array(count);
    const words = new Uint32Array(out.buffer);
    const lo = new Uint32Array(count), hi = new Uint32Array(count);
    r.decodeVarints(int64Chunks, lo, hi);
    const l = LITTLE_ENDIAN ? 0 : 1;
    for (let i = 0; i < count; i++) {
      words[2 * i + l] = lo[i];
      words[2 * i + 1 - l] = hi[i];
    }
    tensor.data = out;
  } else {
    // INT32 and the narrow integer types (and BOOL) live in int32_data.
    const n = r.countVarints(int32Chunks);
    if (n !== count) mismatch("int32_data", n);
    const values = new Int32Array(count);
    r.decodeVarints(int32Chunks, values, null);
    tensor.data = type === DataType.INT32 ? values : new ctor(count);
    if (type !== DataType.INT32) {
      (tensor.data as Uint8Array).set(values as unknown as ArrayLike<number>);
    }
  }
  return tensor;
}

// Copies fixed-width little-endian chunks (float_data/double_data) into one
// typed array of `count` elements.
function fixedData(
  chunks: Uint8Array[],
  type: number,
  width: number,
  count: number,
  mismatch: (field: string, n: number) => never,
): TensorData {
  let bytes = 0;
  for (const c of chunks) bytes += c.length;
  if (bytes !== count * width) {
    mismatch(
      type === DataType.FLOAT ? "float_data" : "double_data",
      bytes / width,
    );
  }
  const out = new CTOR[type](count);
  const outBytes = new Uint8Array(out.buffer);
  let at = 0;
  for (const c of chunks) {
    outBytes.set(c, at);
    at += c.length;
  }
  if (!LITTLE_ENDIAN) swapBytes(outBytes, width);
  return out;
}

// raw_data (little-endian) as a typed array: a view when aligned on a
// little-endian host, else a copy.
function fromLittleEndian(
  raw: Uint8Array,
  type: number,
  count: number,
  copy: boolean,
): TensorData {
  const ctor = CTOR[type];
  const size = ELEMENT_BYTES[type];
  if (!copy && LITTLE_ENDIAN && raw.byteOffset % size === 0) {
    return new ctor(raw.buffer, raw.byteOffset, count);
  }
  const out = new ctor(count);
  const outBytes = new Uint8Array(out.buffer);
  outBytes.set(raw);
  if (!LITTLE_ENDIAN) swapBytes(outBytes, size);
  return out;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

// ---- helpers for consumers ----

/** Number of elements a shape holds. */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** A tensor's elements as a fresh Float32Array (any supported numeric type). */
export function tensorToFloat32(t: OnnxTensor): Float32Array {
  if (!t.data) {
    throw new Error(
      `tensor '${t.name}' of data type ${t.dataType} has no decodable data`,
    );
  }
  if (t.data instanceof BigInt64Array) {
    const out = new Float32Array(t.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
    return out;
  }
  return Float32Array.from(t.data as ArrayLike<number>);
}

/** The attribute named `name` of a node, or undefined. */
export function getAttribute(
  node: OnnxNode,
  name: string,
): OnnxAttribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

function typed(
  node: OnnxNode,
  name: string,
  type: number,
): OnnxAttribute | undefined {
  const a = getAttribute(node, name);
  if (a && a.type !== type) {
    throw new Error(
      `${node.opType} node '${node.name}': attribute ${name} has type ${a.type}, expected ${type}`,
    );
  }
  return a;
}

/** An INT attribute, or `fallback` when absent. */
export function attrInt(
  node: OnnxNode,
  name: string,
  fallback: number,
): number {
  return typed(node, name, AttributeType.INT)?.i ?? fallback;
}

/** A FLOAT attribute, or `fallback` when absent. */
export function attrFloat(
  node: OnnxNode,
  name: string,
  fallback: number,
): number {
  return typed(node, name, AttributeType.FLOAT)?.f ?? fallback;
}

/** A STRING attribute as text, or `fallback` when absent. */
export function attrString(
  node: OnnxNode,
  name: string,
  fallback: string,
): string {
  const s = typed(node, name, AttributeType.STRING)?.s;
  return s ? text(s) : fallback;
}

/** An INTS attribute, or `fallback` when absent. */
export function attrInts(
  node: OnnxNode,
  name: string,
  fallback: number[] | null,
): number[] | null {
  return typed(node, name, AttributeType.INTS)?.ints ?? fallback;
}

/** A FLOATS attribute, or `fallback` when absent. */
export function attrFloats(
  node: OnnxNode,
  name: string,
  fallback: number[] | null,
): number[] | null {
  return typed(node, name, AttributeType.FLOATS)?.floats ?? fallback;
}

/** The opset version a model imports for `domain` ("" = ai.onnx). */
export function opsetVersion(model: OnnxModel, domain = ""): number {
  const wanted = domain === "ai.onnx" ? "" : domain;
  for (const o of model.opsetImport) {
    if ((o.domain === "ai.onnx" ? "" : o.domain) === wanted) return o.version;
  }
  return 0;
}

export { ProtobufError };
