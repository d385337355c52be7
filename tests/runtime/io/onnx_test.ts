// The ONNX decoder: hand-built TensorProto/AttributeProto/NodeProto/
// GraphProto/ModelProto bytes decode to the right values; malformed ones
// throw one-line ProtobufErrors; real conformance files decode when the
// Debian test data is installed.
import assert from "node:assert/strict";
import {
  attrFloat,
  attrFloats,
  AttributeType,
  attrInt,
  attrInts,
  attrString,
  DataType,
  decodeModel,
  decodeNode,
  decodeTensor,
  opsetVersion,
  tensorToFloat32,
  text,
} from "../../../runtime/io/onnx.ts";
import { ProtobufError, ProtoWriter } from "../../../runtime/io/protobuf.ts";

function assertProtoError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtobufError, `expected ProtobufError, got ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

// TensorProto field numbers (onnx.proto).
const T = {
  dims: 1,
  dataType: 2,
  floatData: 4,
  int32Data: 5,
  int64Data: 7,
  name: 8,
  raw: 9,
  doubleData: 10,
};

function tensorWriter(
  w: ProtoWriter,
  dims: number[],
  type: number,
  name: string,
) {
  return w.packedVarints(T.dims, dims).int(T.dataType, type).string(
    T.name,
    name,
  );
}

Deno.test("TensorProto: raw_data and typed fields of every supported type", () => {
  const raw = decodeTensor(
    tensorWriter(new ProtoWriter(), [2, 3], DataType.FLOAT, "w")
      .bytes(T.raw, f32Bytes([1, 2, 3, 4, 5, -6.5]))
      .finish(),
  );
  assert.equal(raw.name, "w");
  assert.deepEqual(raw.dims, [2, 3]);
  assert.equal(raw.dataType, DataType.FLOAT);
  assert.ok(raw.data instanceof Float32Array);
  assert.deepEqual(Array.from(raw.data), [1, 2, 3, 4, 5, -6.5]);

  const packed = decodeTensor(
    tensorWriter(new ProtoWriter(), [3], DataType.FLOAT, "p")
      .packedFloats(T.floatData, [0.25, 2])
      .float(T.floatData, -1) // an unpacked element appended
      .finish(),
  );
  assert.deepEqual(Array.from(packed.data as Float32Array), [0.25, 2, -1]);

  const i64 = decodeTensor(
    tensorWriter(new ProtoWriter(), [4], DataType.INT64, "shape")
      .packedVarints(T.int64Data, [1, -1, 2n ** 40n, -(2n ** 63n)])
      .finish(),
  );
  assert.ok(i64.data instanceof BigInt64Array);
  assert.deepEqual(Array.from(i64.data), [1n, -1n, 2n ** 40n, -(2n ** 63n)]);

  const i64raw = decodeTensor(
    tensorWriter(new ProtoWriter(), [2], DataType.INT64, "r")
      .bytes(T.raw, new Uint8Array(BigInt64Array.from([-5n, 7n]).buffer))
      .finish(),
  );
  assert.deepEqual(Array.from(i64raw.data as BigInt64Array), [-5n, 7n]);

  const i32 = decodeTensor(
    tensorWriter(new ProtoWriter(), [3], DataType.INT32, "i")
      .packedVarints(T.int32Data, [-3, 0, 2 ** 31 - 1])
      .finish(),
  );
  assert.ok(i32.data instanceof Int32Array);
  assert.deepEqual(Array.from(i32.data), [-3, 0, 2 ** 31 - 1]);

  const u8 = decodeTensor(
    tensorWriter(new ProtoWriter(), [2, 2], DataType.UINT8, "u")
      .packedVarints(T.int32Data, [0, 1, 200, 255])
      .finish(),
  );
  assert.ok(u8.data instanceof Uint8Array);
  assert.deepEqual(Array.from(u8.data), [0, 1, 200, 255]);
  const u8raw = decodeTensor(
    tensorWriter(new ProtoWriter(), [3], DataType.UINT8, "u").bytes(T.raw, [
      9,
      8,
      7,
    ]).finish(),
  );
  assert.deepEqual(Array.from(u8raw.data as Uint8Array), [9, 8, 7]);

  const f64 = decodeTensor(
    tensorWriter(new ProtoWriter(), [2], DataType.DOUBLE, "d")
      .packedDoubles(T.doubleData, [Math.PI, -1e300])
      .finish(),
  );
  assert.ok(f64.data instanceof Float64Array);
  assert.deepEqual(Array.from(f64.data), [Math.PI, -1e300]);

  // A scalar has no dims and one element.
  const scalar = decodeTensor(
    new ProtoWriter().int(T.dataType, DataType.FLOAT).float(T.floatData, 3)
      .finish(),
  );
  assert.deepEqual(scalar.dims, []);
  assert.deepEqual(Array.from(scalar.data as Float32Array), [3]);
  // An empty tensor.
  const empty = decodeTensor(
    tensorWriter(new ProtoWriter(), [0, 5], DataType.FLOAT, "e").finish(),
  );
  assert.equal((empty.data as Float32Array).length, 0);

  assert.deepEqual(Array.from(tensorToFloat32(i64)).slice(0, 2), [1, -1]);
  assert.deepEqual(Array.from(tensorToFloat32(u8)), [0, 1, 200, 255]);
});

Deno.test("TensorProto: raw_data is a view when aligned, a copy when not or when asked", () => {
  // Field 1 tag+len (2 bytes) + 1 dim, field 2 (2 bytes), field 9 tag + 1-byte len:
  // place raw_data at an offset that is a multiple of 4 and one that is not.
  for (const nameLength of [0, 1, 2, 3]) {
    const bytes = tensorWriter(
      new ProtoWriter(),
      [2],
      DataType.FLOAT,
      "x".repeat(nameLength),
    )
      .bytes(T.raw, f32Bytes([1.5, -2]))
      .finish();
    const t = decodeTensor(bytes);
    const data = t.data as Float32Array;
    assert.deepEqual(Array.from(data), [1.5, -2]);
    const rawAt = bytes.length - 8;
    assert.equal(
      data.buffer === bytes.buffer,
      rawAt % 4 === 0,
      `name length ${nameLength}`,
    );
    const copied = decodeTensor(bytes, { copyData: true }).data as Float32Array;
    assert.notEqual(copied.buffer, bytes.buffer);
    assert.deepEqual(Array.from(copied), [1.5, -2]);
  }
});

Deno.test("TensorProto: inconsistent or hostile shapes throw before allocating", () => {
  assertProtoError(
    () =>
      decodeTensor(
        tensorWriter(new ProtoWriter(), [2, 2], DataType.FLOAT, "w").bytes(
          T.raw,
          f32Bytes([1, 2, 3]),
        ).finish(),
      ),
    /tensor 'w' has 3 elements in raw_data \(12 bytes\) but dims \[2,2\] need 4/,
  );
  assertProtoError(
    () =>
      decodeTensor(
        tensorWriter(new ProtoWriter(), [2], DataType.FLOAT, "w").packedFloats(
          T.floatData,
          [1],
        ).finish(),
      ),
    /1 elements in float_data but dims \[2\] need 2/,
  );
  assertProtoError(
    () =>
      decodeTensor(
        tensorWriter(new ProtoWriter(), [3], DataType.INT64, "s").packedVarints(
          T.int64Data,
          [1, 2],
        ).finish(),
      ),
    /2 elements in int64_data but dims \[3\] need 3/,
  );
  // 2^40 x 2^40 elements claimed with 4 bytes present.
  assertProtoError(
    () =>
      decodeTensor(
        tensorWriter(new ProtoWriter(), [2 ** 40, 2 ** 40], DataType.FLOAT, "h")
          .bytes(T.raw, [0, 0, 0, 0]).finish(),
      ),
    /tensor 'h' has too many elements/,
  );
  assertProtoError(
    () =>
      decodeTensor(
        tensorWriter(new ProtoWriter(), [2 ** 30, 2 ** 20], DataType.FLOAT, "h")
          .bytes(T.raw, [0, 0, 0, 0]).finish(),
      ),
    /has 1 elements in raw_data \(4 bytes\) but dims \[1073741824,1048576\] need 1125899906842624/,
  );
  assertProtoError(
    () =>
      decodeTensor(
        tensorWriter(new ProtoWriter(), [-1], DataType.FLOAT, "n").finish(),
      ),
    /tensor 'n' has invalid dimension -1/,
  );
  assertProtoError(
    () =>
      decodeTensor(
        tensorWriter(new ProtoWriter(), [1], DataType.FLOAT, "two").bytes(
          T.raw,
          f32Bytes([1]),
        ).float(T.floatData, 1).finish(),
      ),
    /data in more than one field/,
  );
  // Wrong wire types on known fields.
  assertProtoError(
    () => decodeTensor(new ProtoWriter().bytes(T.dataType, [1]).finish()),
    /field 2 \(data_type\) has wire type LEN, expected VARINT in TensorProto at byte 0$/,
  );
  assertProtoError(
    () => decodeTensor(new ProtoWriter().int(T.raw, 5).finish()),
    /field 9 \(raw_data\) has wire type VARINT, expected LEN/,
  );
  assertProtoError(
    () => decodeTensor(new ProtoWriter().double(T.floatData, 1).finish()),
    /field 4 \(float_data\) has wire type I64, expected LEN/,
  );
});

Deno.test("TensorProto: unsupported types keep raw bytes; external data is recorded", () => {
  const f16 = decodeTensor(
    tensorWriter(new ProtoWriter(), [2], DataType.FLOAT16, "h").bytes(T.raw, [
      0,
      60,
      0,
      64,
    ]).finish(),
  );
  assert.equal(f16.data, null);
  assert.deepEqual(Array.from(f16.raw!), [0, 60, 0, 64]);
  const ext = decodeTensor(
    tensorWriter(new ProtoWriter(), [1000], DataType.FLOAT, "big")
      .message(13, (m) => m.string(1, "location").string(2, "weights.bin"))
      .message(13, (m) => m.string(1, "offset").string(2, "4096"))
      .int(14, 1)
      .finish(),
  );
  assert.equal(ext.data, null);
  assert.deepEqual(ext.externalData, {
    location: "weights.bin",
    offset: "4096",
  });
});

/** A Conv NodeProto with every attribute kind. */
function convNode(w: ProtoWriter): ProtoWriter {
  return w
    .string(1, "X")
    .string(1, "W")
    .string(1, "")
    .string(2, "Y")
    .string(3, "conv0")
    .string(4, "Conv")
    .message(
      5,
      (a) =>
        a.string(1, "kernel_shape").packedVarints(8, [3, 3]).int(
          20,
          AttributeType.INTS,
        ),
    )
    .message(
      5,
      (a) =>
        a.string(1, "pads").int(8, 1).int(8, 0).int(8, 1).int(8, 2).int(
          20,
          AttributeType.INTS,
        ),
    )
    .message(
      5,
      (a) => a.string(1, "group").int(3, 2).int(20, AttributeType.INT),
    )
    .message(
      5,
      (a) =>
        a.string(1, "auto_pad").bytes(4, new TextEncoder().encode("SAME_UPPER"))
          .int(20, AttributeType.STRING),
    )
    .message(
      5,
      (a) => a.string(1, "alpha").float(2, 0.5).int(20, AttributeType.FLOAT),
    )
    .message(
      5,
      (a) =>
        a.string(1, "scales").packedFloats(7, [1, 2.5]).int(
          20,
          AttributeType.FLOATS,
        ),
    )
    .message(
      5,
      (a) =>
        a.string(1, "modes").string(9, "a").string(9, "bc").int(
          20,
          AttributeType.STRINGS,
        ),
    )
    .message(5, (a) =>
      a.string(1, "value")
        .message(5, (t) =>
          tensorWriter(t, [2], DataType.FLOAT, "v").packedFloats(T.floatData, [
            7,
            8,
          ]))
        .int(20, AttributeType.TENSOR))
    .message(5, (a) => a.string(1, "untyped_int").int(3, -4)) // no type: inferred
    .message(5, (a) => a.string(1, "empty").int(20, AttributeType.INTS))
    .string(7, "");
}

Deno.test("NodeProto and AttributeProto decode every attribute kind", () => {
  const node = decodeNode(convNode(new ProtoWriter()).finish());
  assert.equal(node.opType, "Conv");
  assert.equal(node.name, "conv0");
  assert.equal(node.domain, "");
  assert.deepEqual(node.inputs, ["X", "W", ""]);
  assert.deepEqual(node.outputs, ["Y"]);
  assert.deepEqual(attrInts(node, "kernel_shape", null), [3, 3]);
  assert.deepEqual(attrInts(node, "pads", null), [1, 0, 1, 2]);
  assert.equal(attrInt(node, "group", 1), 2);
  assert.equal(attrInt(node, "missing", 9), 9);
  assert.equal(attrString(node, "auto_pad", "NOTSET"), "SAME_UPPER");
  assert.equal(attrFloat(node, "alpha", 1), 0.5);
  assert.deepEqual(attrFloats(node, "scales", null), [1, 2.5]);
  const modes = node.attributes.find((a) => a.name === "modes")!;
  assert.equal(modes.type, AttributeType.STRINGS);
  assert.deepEqual(modes.strings!.map(text), ["a", "bc"]);
  const value = node.attributes.find((a) => a.name === "value")!;
  assert.deepEqual(Array.from(value.t!.data as Float32Array), [7, 8]);
  assert.equal(attrInt(node, "untyped_int", 0), -4);
  assert.deepEqual(attrInts(node, "empty", null), []);
  assert.throws(
    () => attrFloat(node, "group", 0),
    /attribute group has type 2, expected 1/,
  );
  assertProtoError(
    () =>
      decodeNode(
        new ProtoWriter().message(5, (a) =>
          a.string(1, "k").int(20, AttributeType.INT)).finish(),
      ),
    /attribute 'k' of type 2 has no i value/,
  );
  assertProtoError(
    () => decodeNode(new ProtoWriter().int(4, 3).finish()),
    /field 4 \(op_type\) has wire type VARINT, expected LEN in NodeProto at byte 0$/,
  );
  assertProtoError(
    () =>
      decodeNode(
        new ProtoWriter().message(5, (a) => a.string(1, "f").double(2, 1))
          .finish(),
      ),
    /field 2 \(f\) has wire type I64, expected I32 in AttributeProto at byte 5$/,
  );
});

function valueInfo(
  w: ProtoWriter,
  name: string,
  dims: (number | string)[],
): ProtoWriter {
  return w.string(1, name).message(
    2,
    (type) =>
      type.message(
        1,
        (tensor) =>
          tensor.int(1, DataType.FLOAT).message(2, (shape) => {
            for (const d of dims) {
              shape.message(
                1,
                (dim) =>
                  typeof d === "number" ? dim.int(1, d) : dim.string(2, d),
              );
            }
          }),
      ),
  );
}

function modelBytes(): Uint8Array {
  return new ProtoWriter()
    .int(1, 8)
    .string(2, "handmade")
    .string(3, "1.0")
    .message(8, (o) => o.string(1, "").int(2, 13))
    .message(8, (o) => o.string(1, "com.microsoft").int(2, 1))
    .message(7, (g) =>
      g.message(1, convNode)
        .message(1, (n) => n.string(1, "Y").string(2, "Z").string(4, "Relu"))
        .string(2, "graph")
        .message(5, (t) =>
          tensorWriter(t, [4, 1, 3, 3], DataType.FLOAT, "W").bytes(
            T.raw,
            f32Bytes(new Array(36).fill(0.5)),
          ))
        .message(11, (v) =>
          valueInfo(v, "X", ["N", 1, 5, 5]))
        .message(11, (v) =>
          valueInfo(v, "W", [4, 1, 3, 3]))
        .message(12, (v) => valueInfo(v, "Z", ["N", 4, 5, 5]))
        .message(13, (v) => v.string(1, "Y")))
    .int(1000, 1) // unknown top-level field
    .finish();
}

Deno.test("ModelProto and GraphProto decode nodes, initializers, inputs and outputs", () => {
  const model = decodeModel(modelBytes());
  assert.equal(model.irVersion, 8);
  assert.equal(model.producerName, "handmade");
  assert.equal(opsetVersion(model), 13);
  assert.equal(opsetVersion(model, "ai.onnx"), 13);
  assert.equal(opsetVersion(model, "com.microsoft"), 1);
  assert.equal(opsetVersion(model, "other"), 0);
  const g = model.graph;
  assert.equal(g.name, "graph");
  assert.deepEqual(g.nodes.map((n) => n.opType), ["Conv", "Relu"]);
  assert.equal(g.initializers.length, 1);
  assert.deepEqual(g.initializers[0].dims, [4, 1, 3, 3]);
  assert.equal((g.initializers[0].data as Float32Array)[35], 0.5);
  assert.deepEqual(g.inputs.map((i) => [i.name, i.elemType, i.shape]), [
    ["X", 1, ["N", 1, 5, 5]],
    ["W", 1, [4, 1, 3, 3]],
  ]);
  assert.deepEqual(g.outputs[0].shape, ["N", 4, 5, 5]);
  assert.deepEqual(g.valueInfo[0], { name: "Y", elemType: 0, shape: null });
});

Deno.test("ModelProto: corrupt files throw ProtobufError, never anything else", () => {
  assertProtoError(
    () => decodeModel(new Uint8Array(0)),
    /no graph \(field 7\) in ModelProto at byte 0$/,
  );
  assertProtoError(
    () => decodeModel(new ProtoWriter().int(7, 1).finish()),
    /field 7 \(graph\) has wire type VARINT/,
  );
  // Subgraphs nest (graph > node > attribute > graph ...): 70 subgraphs are
  // 210 message levels, past the default limit of 100.
  const levels = 70;
  let inner = new ProtoWriter().string(2, "leaf").finish();
  for (let i = 0; i < levels; i++) {
    const attr = new ProtoWriter().string(1, "body").bytes(6, inner).int(
      20,
      AttributeType.GRAPH,
    ).finish();
    const node = new ProtoWriter().string(4, "Loop").bytes(5, attr).finish();
    inner = new ProtoWriter().bytes(1, node).finish();
  }
  assertProtoError(
    () => decodeModel(new ProtoWriter().bytes(7, inner).finish()),
    /nested deeper than 100 levels/,
  );
  const shallow = decodeModel(new ProtoWriter().bytes(7, inner).finish(), {
    maxDepth: 300,
  });
  assert.equal(shallow.graph.nodes[0].attributes[0].g!.nodes[0].opType, "Loop");

  // Every truncation and many random byte changes of a valid model.
  const valid = modelBytes();
  let seed = 99;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  let rejected = 0;
  const t0 = performance.now();
  for (let trial = 0; trial < 5000; trial++) {
    const bytes = trial < valid.length ? valid.slice(0, trial) : valid.slice();
    if (trial >= valid.length) {
      for (let f = 0; f < 1 + rand() * 3; f++) {
        bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      }
    }
    try {
      decodeModel(bytes);
    } catch (e) {
      if (!(e instanceof ProtobufError)) {
        throw new Error(`trial ${trial}: ${e}`);
      }
      rejected++;
    }
  }
  console.log(
    `${rejected}/5000 corrupt models rejected in ${
      (performance.now() - t0).toFixed(0)
    } ms`,
  );
  assert.ok(rejected >= valid.length - 1);
});

Deno.test("large initializers decode in one linear pass", () => {
  const n = 1 << 22; // 16 MB of floats
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = i;
  const payload = new Uint8Array(values.buffer);
  // graph { initializer { dims, data_type, name, raw_data } }, with the
  // payload copied in once rather than through ProtoWriter's number[].
  const tensorHead = tensorWriter(new ProtoWriter(), [n], DataType.FLOAT, "raw")
    .tag(T.raw, 2).varint(payload.length).finish();
  const tensorLength = tensorHead.length + payload.length;
  const graphHead = new ProtoWriter().tag(5, 2).varint(tensorLength).finish();
  const head = new ProtoWriter().tag(7, 2).varint(
    graphHead.length + tensorLength,
  )
    .raw(graphHead).raw(tensorHead).finish();
  const file = new Uint8Array(head.length + payload.length);
  file.set(head);
  file.set(payload, head.length);
  const t0 = performance.now();
  const model = decodeModel(file);
  console.log(
    `16 MB initializer decoded in ${(performance.now() - t0).toFixed(1)} ms`,
  );
  const data = model.graph.initializers[0].data as Float32Array;
  assert.equal(data.length, n);
  assert.equal(data[n - 1], n - 1);
});

const NODE_DIR = "/usr/share/libonnx-testdata/data/node";
const hasTestData = (() => {
  try {
    return Deno.statSync(NODE_DIR).isDirectory;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "real ONNX conformance files decode (libonnx-testdata)",
  ignore: !hasTestData,
  fn() {
    const dir = `${NODE_DIR}/test_conv_with_strides_and_asymmetric_padding`;
    const model = decodeModel(Deno.readFileSync(`${dir}/model.onnx`));
    assert.ok(model.irVersion >= 3);
    assert.ok(opsetVersion(model) >= 1);
    const [node] = model.graph.nodes;
    assert.equal(node.opType, "Conv");
    assert.deepEqual(attrInts(node, "pads", null), [1, 0, 1, 0]);
    assert.deepEqual(attrInts(node, "strides", null), [2, 2]);
    assert.deepEqual(model.graph.inputs[0].shape, [1, 1, 7, 5]);
    const x = decodeTensor(
      Deno.readFileSync(`${dir}/test_data_set_0/input_0.pb`),
    );
    assert.deepEqual(x.dims, [1, 1, 7, 5]);
    assert.deepEqual(Array.from((x.data as Float32Array).slice(0, 3)), [
      0,
      1,
      2,
    ]);
  },
});
if (!hasTestData) {
  console.log(`skipping real-file decoding: ${NODE_DIR} not found`);
}
