// One loader for every weight format users bring: it identifies the format
// by its bytes (safetensors, PyTorch .pth ZIP or legacy, ONNX), returns the
// tensors as f32 with their names and the preprocessing the weights expect.
// Name layouts are mapped to a model's own names by models/weight_names.ts.
// This module is browser compatible.
import {
  DataType,
  decodeModel,
  elementCount,
  type OnnxTensor,
  tensorToFloat32,
} from "../runtime/io/onnx.ts";
import { readPthAsync } from "../runtime/io/pth.ts";
import { halfToFloat } from "../runtime/io/float16.ts";
import { readSafetensors } from "../runtime/io/safetensors.ts";
import { type Preprocessing, preprocessingFromMetadata } from "./preprocess.ts";

export type WeightFormat = "safetensors" | "pth-zip" | "pth-legacy" | "onnx";

export interface WeightTensor {
  shape: readonly number[];
  data: Float32Array;
}

export interface WeightSet {
  format: WeightFormat;
  tensors: Map<string, WeightTensor>;
  metadata: Record<string, string>;
  /** From the file's metadata where the format records it. */
  preprocessing: Preprocessing | null;
  /** Where the weights came from (file name), for messages. */
  source: string;
}

/** Thrown for unreadable weight files; the message is one line. */
export class WeightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WeightsError";
  }
}

const FLOAT_TYPES: ReadonlySet<number> = new Set([
  DataType.FLOAT,
  DataType.FLOAT16,
  DataType.DOUBLE,
  DataType.BFLOAT16,
]);

/** An initializer's values as f32; float16/bfloat16 from their raw bytes. */
function onnxToFloat32(t: OnnxTensor): Float32Array {
  const half = t.dataType === DataType.FLOAT16;
  if (t.data || !(half || t.dataType === DataType.BFLOAT16) || !t.raw) {
    return tensorToFloat32(t);
  }
  const n = elementCount(t.dims);
  if (t.raw.length !== 2 * n) {
    throw new Error(
      `tensor '${t.name}' has ${t.raw.length} bytes for ${n} 16-bit values`,
    );
  }
  const dv = new DataView(t.raw.buffer, t.raw.byteOffset, t.raw.length);
  const out = new Float32Array(n);
  const bits = new Uint32Array(1), asFloat = new Float32Array(bits.buffer);
  for (let i = 0; i < n; i++) {
    const h = dv.getUint16(2 * i, true);
    if (half) out[i] = halfToFloat(h);
    else {
      // bfloat16 is the top half of an f32.
      bits[0] = h << 16;
      out[i] = asFloat[0];
    }
  }
  return out;
}

/** Identifies a weight file's format from its first bytes. */
export function sniffWeightFormat(bytes: Uint8Array): WeightFormat | null {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b) {
    return "pth-zip";
  }
  if (bytes.length >= 9) {
    const n = Number(
      new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true),
    );
    if (n > 0 && n + 8 <= bytes.length && bytes[8] === 0x7b) {
      return "safetensors";
    }
  }
  // Checked after safetensors: a header length of 640 also starts 80 02.
  // Legacy torch.save: a pickle (PROTO 2) of the magic number 0x1950a86a20f9469cfc6c.
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] === 0x02) {
    return "pth-legacy";
  }
  // ONNX ModelProto starts with field 1 (ir_version, varint): byte 0x08.
  if (bytes.length >= 2 && bytes[0] === 0x08) return "onnx";
  return null;
}

/** Reads a weight file of any supported format held in memory. */
export async function readWeights(
  bytes: Uint8Array,
  source = "weights",
): Promise<WeightSet> {
  const format = sniffWeightFormat(bytes);
  const fail = (e: unknown): never => {
    const why = String((e as Error)?.message ?? e).split("\n")[0];
    throw new WeightsError(`${source}: ${why}`);
  };
  try {
    if (format === "safetensors") {
      const st = readSafetensors(bytes, source);
      return {
        format,
        tensors: new Map(
          [...st.tensors].map((
            [k, t],
          ) => [k, { shape: t.shape, data: t.data }]),
        ),
        metadata: st.metadata,
        preprocessing: preprocessingFromMetadata(st.metadata),
        source,
      };
    }
    if (format === "pth-zip" || format === "pth-legacy") {
      const pth = await readPthAsync(bytes);
      return {
        format: pth.format === "zip" ? "pth-zip" : "pth-legacy",
        tensors: new Map(
          [...pth.tensors].map((
            [k, t],
          ) => [k, { shape: t.shape, data: t.data }]),
        ),
        metadata: {},
        preprocessing: null,
        source,
      };
    }
    if (format === "onnx") {
      const model = decodeModel(bytes, { copyData: true });
      const tensors = new Map<string, WeightTensor>();
      for (const t of model.graph.initializers) {
        // Integer initializers are graph constants (Reshape targets such
        // as the zoo's OC2_DUMMY_1), not weights.
        if (!FLOAT_TYPES.has(t.dataType)) continue;
        if (t.externalData) {
          throw new WeightsError(
            `${source}: initializer ${t.name} is stored in an external file; re-export the model with its weights inside`,
          );
        }
        tensors.set(t.name, { shape: t.dims, data: onnxToFloat32(t) });
      }
      return { format, tensors, metadata: {}, preprocessing: null, source };
    }
  } catch (e) {
    if (e instanceof WeightsError) throw e;
    fail(e);
  }
  throw new WeightsError(
    `${source} is not a safetensors, PyTorch .pth or ONNX file; convert it with \`deno task weights\``,
  );
}
