// The weight reader (models/weights.ts) on every format — the three real
// files of shared/data (safetensors, .pth ZIP, legacy .pth) and ONNX files
// built here with the protobuf writer in the ONNX model zoo's names — and
// the name layouts (models/weight_names.ts): detection and the mapping of
// each tensor to a layer. Corrupt files give one-line errors.
import assert from "node:assert/strict";
import { ProtoWriter } from "../../runtime/io/protobuf.ts";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";
import { CAFFE_BGR } from "../../models/preprocess.ts";
import {
  detectLayout,
  mapWeightNames,
  modelLayers,
  type WeightLayout,
} from "../../models/weight_names.ts";
import {
  readWeights,
  sniffWeightFormat,
  WeightsError,
  type WeightTensor,
} from "../../models/weights.ts";
import { randomArray } from "../_check.ts";

const DIR = new URL(
  "../../../shared/data/weights/vgg19-normalised-conv3_1/",
  import.meta.url,
);

async function readShared(name: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(new URL(name, DIR));
  } catch {
    return null;
  }
}

const safetensors = await readShared(
  "vgg19_normalised_conv1_1-conv3_1.safetensors",
);
const pthZip = await readShared("vgg19_normalised_conv1_1-conv3_1.pth");
const legacy = await readShared("wct_encoder_conv3_1.legacy.pth");
const noData = !safetensors || !pthZip || !legacy;
if (noData) console.warn("shared VGG weights absent: real-file tests skipped");

/** Torchvision feature index → key in the legacy WCT file (its README). */
const LEGACY_KEYS: Record<string, string> = {
  "features.0": "2",
  "features.2": "5",
  "features.5": "9",
  "features.7": "12",
  "features.10": "16",
};

function assertBitIdentical(a: WeightTensor, b: WeightTensor, label: string) {
  assert.deepEqual([...a.shape], [...b.shape], `${label} shape`);
  assert.equal(a.data.length, b.data.length, label);
  for (let i = 0; i < a.data.length; i++) {
    if (!Object.is(a.data[i], b.data[i])) {
      assert.fail(`${label}[${i}]: ${a.data[i]} vs ${b.data[i]}`);
    }
  }
}

Deno.test({
  name:
    "real files: safetensors, .pth ZIP and legacy .pth hold the same values",
  ignore: noData,
  fn: async () => {
    const st = await readWeights(safetensors!, "st");
    const zip = await readWeights(pthZip!, "zip");
    const old = await readWeights(legacy!, "legacy");
    assert.equal(st.format, "safetensors");
    assert.equal(zip.format, "pth-zip");
    assert.equal(old.format, "pth-legacy");
    assert.deepEqual(st.preprocessing, CAFFE_BGR);
    assert.equal(zip.preprocessing, null);
    assert.equal(st.tensors.size, 10);
    assert.equal(zip.tensors.size, 10);
    assert.equal(old.tensors.size, 12); // plus the 1x1 input conv
    for (const [key, t] of st.tensors) {
      assertBitIdentical(zip.tensors.get(key)!, t, `zip ${key}`);
      const [prefix, part] = [
        key.slice(0, key.lastIndexOf(".")),
        key.split(".").pop(),
      ];
      assertBitIdentical(
        old.tensors.get(`${LEGACY_KEYS[prefix]}.${part}`)!,
        t,
        `legacy ${key}`,
      );
    }
    // The input conv is 255 x the RGB→BGR swap.
    assert.deepEqual([...old.tensors.get("0.weight")!.data], [
      0,
      0,
      255,
      0,
      255,
      0,
      255,
      0,
      0,
    ]);
    assert.equal(detectLayout(st.tensors), "torchvision");
    assert.equal(detectLayout(old.tensors), "wct");
    const m = mapWeightNames(old.tensors, "vgg19")!;
    assert.deepEqual([...m.layers.keys()].sort(), [
      "conv1_1",
      "conv1_2",
      "conv2_1",
      "conv2_2",
      "conv3_1",
    ]);
    assert.equal(m.layers.get("conv3_1")!.weight!.key, "16.weight");
    assert.ok(m.inputConv);
    assert.deepEqual(m.extra, []);
  },
});

// ---- ONNX files built here -------------------------------------------------

interface Init {
  name: string;
  dims: number[];
  values: ArrayLike<number>;
  type?: "float" | "int64" | "float16-raw";
}

/** A ModelProto with only initializers (ONNX field numbers, onnx.proto3). */
export function onnxWithInitializers(inits: Init[]): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 7); // ir_version
  w.string(2, "impasto-test");
  w.message(8, (o) => o.string(1, "").int(2, 12)); // opset_import
  w.message(7, (g) => {
    g.string(2, "graph");
    for (const t of inits) {
      g.message(5, (tp) => {
        tp.packedVarints(1, t.dims);
        if (t.type === "int64") {
          tp.int(2, 7).packedVarints(7, Array.from(t.values));
        } else if (t.type === "float16-raw") {
          const raw = new Uint8Array(2 * t.values.length);
          const dv = new DataView(raw.buffer);
          for (let i = 0; i < t.values.length; i++) {
            dv.setUint16(2 * i, t.values[i], true);
          }
          tp.int(2, 10).bytes(9, raw);
        } else tp.int(2, 1).packedFloats(4, t.values);
        tp.string(8, t.name);
      });
    }
  });
  return w.finish();
}

function numel(dims: number[]): number {
  return dims.reduce((a, d) => a * d, 1);
}

Deno.test("ONNX: zoo initializer names (bvlcalexnet, Gluon VGG) read and map to layers", async () => {
  // bvlcalexnet-*.onnx: conv1_w_0, conv1_b_0, …; its int64 Reshape
  // constant is not a weight.
  const w1 = randomArray(96 * 3 * 11 * 11, 1), b1 = randomArray(96, 2);
  const bytes = onnxWithInitializers([
    { name: "conv1_w_0", dims: [96, 3, 11, 11], values: w1 },
    { name: "conv1_b_0", dims: [96], values: b1 },
    { name: "OC2_DUMMY_1", dims: [2], values: [1, 9216], type: "int64" },
  ]);
  assert.equal(sniffWeightFormat(bytes), "onnx");
  const set = await readWeights(bytes, "bvlcalexnet.onnx");
  assert.equal(set.format, "onnx");
  assert.deepEqual([...set.tensors.keys()], ["conv1_w_0", "conv1_b_0"]);
  assert.deepEqual(set.tensors.get("conv1_w_0")!.data, w1);
  assert.equal(detectLayout(set.tensors), "caffe");
  const m = mapWeightNames(set.tensors, "alexnet-caffe")!;
  assert.equal(m.layers.get("conv1")!.weight!.key, "conv1_w_0");
  assert.equal(m.layers.get("conv1")!.bias!.key, "conv1_b_0");

  // vgg19-7.onnx (Gluon): vgg0_conv0_weight … vgg0_dense2_bias.
  const gluon = await readWeights(
    onnxWithInitializers([
      {
        name: "vgg0_conv0_weight",
        dims: [64, 3, 3, 3],
        values: randomArray(1728, 3),
      },
      { name: "vgg0_conv0_bias", dims: [64], values: randomArray(64, 4) },
      { name: "vgg0_conv2_weight", dims: [2], values: [1, 2] },
      { name: "vgg0_dense2_bias", dims: [3], values: [1, 2, 3] },
    ]),
    "vgg19-7.onnx",
  );
  assert.equal(detectLayout(gluon.tensors), "onnx-gluon");
  const g = mapWeightNames(gluon.tensors, "vgg19")!;
  assert.equal(g.layers.get("conv1_1")!.weight!.key, "vgg0_conv0_weight");
  assert.equal(g.layers.get("conv2_1")!.weight!.key, "vgg0_conv2_weight");
  assert.equal(g.layers.get("fc8")!.bias!.key, "vgg0_dense2_bias");
});

Deno.test("ONNX: float16 initializers decode from raw_data", async () => {
  // 0x3c00 = 1, 0xc000 = -2, 0x3555 ≈ 0.33325
  const set = await readWeights(
    onnxWithInitializers([
      {
        name: "fc8_b_0",
        dims: [3],
        values: [0x3c00, 0xc000, 0x3555],
        type: "float16-raw",
      },
    ]),
  );
  const d = set.tensors.get("fc8_b_0")!.data;
  assert.deepEqual([d[0], d[1]], [1, -2]);
  assert.ok(Math.abs(d[2] - 0.33325) < 1e-4);
});

// ---- name layouts ------------------------------------------------------------

function tensorsOf(entries: [string, number[]][]): Map<string, WeightTensor> {
  return new Map(
    entries.map((
      [k, shape],
      i,
    ) => [k, { shape, data: randomArray(numel(shape), 10 + i) }]),
  );
}

const LAYOUT_CASES: {
  layout: WeightLayout;
  model: "vgg19" | "vgg16" | "alexnet" | "alexnet-caffe";
  keys: [string, number[]][];
  expect: Record<string, string>;
}[] = [
  {
    layout: "torchvision",
    model: "vgg19",
    keys: [["features.0.weight", [64, 3, 3, 3]], ["features.0.bias", [64]], [
      "classifier.6.weight",
      [10, 16],
    ]],
    expect: { "features.0.weight": "conv1_1", "classifier.6.weight": "fc8" },
  },
  {
    layout: "torchvision",
    model: "vgg16",
    keys: [["0.weight", [64, 3, 3, 3]], ["28.bias", [512]]],
    expect: { "0.weight": "conv1_1", "28.bias": "conv5_3" },
  },
  {
    layout: "timm",
    model: "vgg16",
    keys: [["features.2.weight", [64, 64, 3, 3]], ["pre_logits.fc1.weight", [
      16,
      512,
      7,
      7,
    ]], [
      "pre_logits.fc2.bias",
      [16],
    ], ["head.fc.weight", [10, 16]]],
    expect: {
      "features.2.weight": "conv1_2",
      "pre_logits.fc1.weight": "fc6",
      "pre_logits.fc2.bias": "fc7",
      "head.fc.weight": "fc8",
    },
  },
  {
    layout: "caffe",
    model: "vgg19",
    keys: [["conv5_4.weight", [512, 512, 3, 3]], ["fc7.bias", [16]]],
    expect: { "conv5_4.weight": "conv5_4", "fc7.bias": "fc7" },
  },
  {
    layout: "caffe",
    model: "vgg16",
    keys: [["conv1_1_W", [64, 3, 3, 3]], ["conv1_1_b", [64]]],
    expect: { "conv1_1_W": "conv1_1", "conv1_1_b": "conv1_1" },
  },
  {
    layout: "caffe",
    model: "alexnet-caffe",
    keys: [["conv2_w_0", [256, 48, 5, 5]], ["fc6_b_0", [16]], ["conv5_w", [
      256,
      192,
      3,
      3,
    ]]],
    expect: { "conv2_w_0": "conv2", "fc6_b_0": "fc6", "conv5_w": "conv5" },
  },
  {
    layout: "onnx-gluon",
    model: "alexnet",
    keys: [["alexnet0_conv4_weight", [256, 256, 3, 3]], [
      "alexnet0_dense0_weight",
      [16, 9216],
    ]],
    expect: {
      "alexnet0_conv4_weight": "conv5",
      "alexnet0_dense0_weight": "fc6",
    },
  },
  {
    layout: "wct",
    model: "vgg19",
    keys: [["0.weight", [3, 3, 1, 1]], ["0.bias", [3]], ["2.weight", [
      64,
      3,
      3,
      3,
    ]], [
      "29.weight",
      [512, 256, 3, 3],
    ], ["51.bias", [512]]],
    // AdaIN's full encoder: conv4_1 is 29, conv5_4 is 51.
    expect: {
      "2.weight": "conv1_1",
      "29.weight": "conv4_1",
      "51.bias": "conv5_4",
    },
  },
];

for (const c of LAYOUT_CASES) {
  Deno.test(`layout ${c.layout} (${c.model}): ${Object.keys(c.expect).join(", ")}`, () => {
    const tensors = tensorsOf(c.keys);
    assert.equal(detectLayout(tensors), c.layout);
    const m = mapWeightNames(tensors, c.model)!;
    assert.deepEqual(m.extra, []);
    for (const [key, layer] of Object.entries(c.expect)) {
      const e = m.layers.get(layer);
      const part = /bias|_b(_0)?$/.test(key) ? "bias" : "weight";
      assert.equal(e?.[part]?.key, key, `${key} → ${layer}.${part}`);
      assert.equal(e?.[part]?.tensor, tensors.get(key));
    }
  });
}

Deno.test("DataParallel's module. prefix is ignored; unknown names are extra", () => {
  const m = mapWeightNames(
    tensorsOf([["module.features.0.weight", [64, 3, 3, 3]], [
      "module.features.99.weight",
      [1],
    ]]),
    "vgg19",
  )!;
  assert.equal(m.layout, "torchvision");
  assert.equal(
    m.layers.get("conv1_1")!.weight!.key,
    "module.features.0.weight",
  );
  assert.deepEqual(m.extra, ["module.features.99.weight"]);
  assert.equal(detectLayout(tensorsOf([["embeddings.word", [2]]])), null);
});

Deno.test("modelLayers: parameter names and shapes of each model", () => {
  const vgg = modelLayers("vgg19");
  assert.equal(vgg.length, 19);
  assert.equal(vgg[4].weight, "features.10.weight");
  assert.deepEqual(vgg[4].weightShape, [256, 128, 3, 3]);
  assert.equal(modelLayers("vgg16").length, 16);
  const caffe = modelLayers("alexnet-caffe", {
    hiddenUnits: 8,
    numClasses: 10,
  });
  assert.deepEqual(caffe.map((l) => l.weight), [
    "conv1.weight",
    "conv2.weight",
    "conv3.weight",
    "conv4.weight",
    "conv5.weight",
    "fc6.weight",
    "fc7.weight",
    "fc8.weight",
  ]);
  assert.deepEqual(caffe[7].weightShape, [10, 8]);
});

// ---- corrupt and hostile files ---------------------------------------------

Deno.test("corrupt or hostile weight files give one-line WeightsErrors", async () => {
  const st = writeSafetensors({
    "features.0.weight": { shape: [2, 2], data: new Float32Array(4) },
  });
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["text", new TextEncoder().encode("<html>not weights</html>")],
    ["truncated safetensors", st.subarray(0, st.length - 3)],
    // A header length far beyond the file.
    [
      "huge header",
      Uint8Array.from([0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0x7b, 0x7d]),
    ],
    [
      "ONNX with a field running past the end",
      Uint8Array.from([0x08, 0x07, 0x3a, 0x7f, 0x01]),
    ],
    [
      "ZIP signature only",
      Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]),
    ],
    ["legacy pickle cut short", Uint8Array.from([0x80, 0x02, 0x8a, 0x0a])],
  ];
  if (pthZip) cases.push(["truncated .pth ZIP", pthZip.subarray(0, 5000)]);
  if (legacy) cases.push(["truncated legacy .pth", legacy.subarray(0, 3000)]);
  for (const [label, bytes] of cases) {
    await assert.rejects(
      () => readWeights(bytes, "w.bin"),
      (e: Error) => {
        assert.ok(
          e instanceof WeightsError,
          `${label}: ${e.name}: ${e.message}`,
        );
        assert.ok(!e.message.includes("\n"), `${label}: multi-line message`);
        assert.ok(e.message.startsWith("w.bin"), `${label}: ${e.message}`);
        return true;
      },
      label,
    );
  }
});
