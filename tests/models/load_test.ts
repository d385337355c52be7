// loadModel (models/load.ts): the three real weight files reproduce the
// golden activation statistics of their README (1e-4 relative), every name
// layout loads into the right parameters (values compared), partial weights
// work up to where they stop and name the missing layer beyond, and bad
// files give one-line errors.
import assert from "node:assert/strict";
import {
  type LoadedModel,
  loadModel,
  ModelLoadError,
} from "../../models/load.ts";
import { CAFFE_BGR, toModelInput } from "../../models/preprocess.ts";
import type { VGG } from "../../models/vgg.ts";
import type { AlexNet } from "../../models/alexnet.ts";
import { decodeImage } from "../../runtime/io/image.ts";
import { ProtoWriter } from "../../runtime/io/protobuf.ts";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";
import {
  getBackend,
  initBackend,
  noGrad,
  tensor,
  tidy,
} from "../../runtime/mod.ts";
import { randomArray } from "../_check.ts";
import { GOLDEN } from "./_golden.ts";
import { testWasmDir } from "../_engine.ts";

const SHARED = new URL("../../../shared/data/", import.meta.url);
const WEIGHTS = new URL("weights/vgg19-normalised-conv3_1/", SHARED);
const ST =
  new URL("vgg19_normalised_conv1_1-conv3_1.safetensors", WEIGHTS).pathname;
const PTH = new URL("vgg19_normalised_conv1_1-conv3_1.pth", WEIGHTS).pathname;
const LEGACY = new URL("wct_encoder_conv3_1.legacy.pth", WEIGHTS).pathname;

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

const image = await Deno.readFile(
  new URL("images/content/chelsea_256.png", SHARED),
).catch(
  () => null,
);
const haveReal = image !== null && await exists(ST) && await exists(PTH) &&
  await exists(LEGACY);
if (!haveReal) {
  console.warn("shared VGG weights or image absent: golden tests skipped");
}

function assertGolden(
  loaded: LoadedModel,
  padMode: "reflect" | "zero",
  label: string,
) {
  const vgg = loaded.model as VGG;
  const golden = GOLDEN[padMode];
  const stats = noGrad(() =>
    tidy(() => {
      const x = toModelInput(decodeImage(image!), loaded.preprocessing);
      const out: Record<string, number[]> = {};
      for (const [name, t] of vgg.forwardTaps(x, Object.keys(golden))) {
        let s = 0, s2 = 0;
        for (const a of t.data()) {
          s += a;
          s2 += a * a;
        }
        const mean = s / t.size;
        out[name] = [mean, Math.sqrt(s2 / t.size - mean * mean), s2];
      }
      return out;
    })
  );
  for (const [name, g] of Object.entries(golden)) {
    g.forEach((want, i) => {
      const rel = Math.abs(stats[name][i] - want) / Math.abs(want);
      assert.ok(
        rel < 1e-4,
        `${label} ${name} stat ${i}: ${stats[name][i]} vs ${want} (rel ${rel})`,
      );
    });
  }
}

Deno.test("setup backend", async () => {
  await initBackend({ threads: 2, wasmBaseUrl: testWasmDir() });
});

Deno.test({
  name:
    "real weights: safetensors, .pth and legacy .pth reproduce the golden statistics",
  ignore: !haveReal,
  fn: async () => {
    const runs: [
      string,
      Parameters<typeof loadModel>[0],
      "reflect" | "zero",
    ][] = [
      [
        "safetensors",
        { model: "vgg19", weights: ST, padMode: "reflect" },
        "reflect",
      ],
      // The .pth has torchvision names and no metadata: its layout default is
      // torch-rgb, so the Caffe preprocessing is given.
      ["pth zip", {
        model: "vgg19",
        weights: PTH,
        padMode: "zero",
        preprocessing: CAFFE_BGR,
      }, "zero"],
      // The legacy file's 1x1 conv becomes caffe-bgr preprocessing: exact for
      // both paddings because the conv sits before the first pad.
      [
        "legacy",
        { model: "vgg19", weights: LEGACY, padMode: "reflect" },
        "reflect",
      ],
      ["legacy", { model: "vgg19", weights: LEGACY, padMode: "zero" }, "zero"],
      // Folded into conv1_1 instead: exact with reflect padding.
      ["legacy folded", {
        model: "vgg19",
        weights: LEGACY,
        padMode: "reflect",
        foldInputConv: true,
      }, "reflect"],
    ];
    for (const [label, options, padMode] of runs) {
      const loaded = await loadModel(options);
      try {
        assert.equal(loaded.coveredTaps.at(-1), "relu3_1");
        if (label === "legacy") {
          assert.equal(loaded.layout, "wct");
          assert.equal(loaded.preprocessing.kind, "caffe-bgr");
        }
        if (label === "legacy folded") {
          assert.deepEqual(loaded.preprocessing, {
            kind: "torch-rgb",
            mean: [0, 0, 0],
            std: [1, 1, 1],
          });
        }
        assertGolden(loaded, padMode, `${label} ${padMode}`);
      } finally {
        loaded.model.dispose();
      }
    }
    assert.equal(getBackend().memory().liveCount, 0);
  },
});

Deno.test({
  name:
    "partial weights: built as far as they go; a deeper request names the missing layer",
  ignore: !haveReal,
  fn: async () => {
    const loaded = await loadModel({ model: "vgg19", weights: ST });
    assert.equal((loaded.model as VGG).taps.at(-1)!.name, "relu3_1");
    assert.equal(loaded.numClasses, null);
    assert.deepEqual(loaded.coveredTaps.slice(-3), [
      "pool2",
      "conv3_1",
      "relu3_1",
    ]);
    loaded.model.dispose();
    const file = "vgg19_normalised_conv1_1-conv3_1.safetensors";
    for (
      const [options, what] of [
        [{ upTo: "relu4_1" }, "relu4_1 needs it"],
        [{ taps: ["relu1_1", "relu3_2"] }, "relu3_2 needs it"],
        [{ classifier: true }, "the classifier needs it"],
      ] as const
    ) {
      await assert.rejects(
        () => loadModel({ model: "vgg19", weights: ST, ...options }),
        (e: Error) => {
          assert.ok(e instanceof ModelLoadError);
          assert.ok(
            e.message.startsWith(
              `conv3_2 is not in ${file} (it stops at conv3_1); ${what}`,
            ),
            e.message,
          );
          assert.ok(e.message.includes("relu3_1"), e.message);
          return true;
        },
      );
    }
    await assert.rejects(
      () => loadModel({ model: "vgg19", weights: ST, upTo: "relu9_9" }),
      /vgg19 has no layer "relu9_9"/,
    );
    // Up to a covered tap is fine.
    const small = await loadModel({
      model: "vgg19",
      weights: ST,
      taps: ["relu1_1", "relu2_1"],
    });
    assert.equal((small.model as VGG).taps.at(-1)!.name, "relu2_1");
    small.model.dispose();
    assert.equal(getBackend().memory().liveCount, 0);
  },
});

// ---- every name layout into the right parameters ----------------------------

type Spec = [key: string, shape: number[]];

function randomTensors(specs: Spec[], seed: number) {
  return new Map(
    specs.map(([k, shape], i) => [k, {
      shape,
      data: randomArray(shape.reduce((a, d) => a * d, 1), seed + i, -0.1, 0.1),
    }]),
  );
}

function onnxWithInitializers(
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
) {
  const w = new ProtoWriter();
  w.int(1, 7).message(8, (o) => o.string(1, "").int(2, 12));
  w.message(7, (g) => {
    for (const [name, t] of tensors) {
      g.message(5, (tp) => {
        const raw = new Uint8Array(
          t.data.buffer,
          t.data.byteOffset,
          t.data.byteLength,
        );
        tp.packedVarints(1, t.shape).int(2, 1).string(8, name).bytes(9, raw);
      });
    }
  });
  return w.finish();
}

/** Our parameter name → the file key it must come from. */
type Expect = Record<string, string>;

async function assertLoadsInto(
  loaded: LoadedModel,
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  expect: Expect,
  label: string,
) {
  const state = loaded.model.stateDict();
  assert.deepEqual(
    [...state.keys()].sort(),
    Object.keys(expect).sort(),
    `${label} parameters`,
  );
  for (const [ours, key] of Object.entries(expect)) {
    assert.deepEqual(
      state.get(ours),
      tensors.get(key)!.data,
      `${label}: ${ours} ← ${key}`,
    );
  }
  await Promise.resolve();
}

const VGG_CONV12: [string, string, number[]][] = [
  ["features.0.weight", "conv1_1", [64, 3, 3, 3]],
  ["features.0.bias", "conv1_1", [64]],
  ["features.2.weight", "conv1_2", [64, 64, 3, 3]],
  ["features.2.bias", "conv1_2", [64]],
];

Deno.test("VGG name layouts (torchvision, caffe .weight/_W, ONNX zoo Gluon) load into the right parameters", async () => {
  const layouts: [
    string,
    "vgg16" | "vgg19",
    (ours: string, layer: string, i: number) => string,
    "st" | "onnx",
  ][] = [
    ["torchvision", "vgg19", (ours) => ours, "st"],
    [
      "caffe",
      "vgg19",
      (ours, layer) => `${layer}.${ours.split(".").pop()}`,
      "st",
    ],
    [
      "caffe",
      "vgg16",
      (ours, layer) => `${layer}_${ours.endsWith("weight") ? "W" : "b"}`,
      "st",
    ],
    [
      "onnx-gluon",
      "vgg19",
      (ours, _l, i) => `vgg0_conv${i >> 1}_${ours.split(".").pop()}`,
      "onnx",
    ],
  ];
  for (const [layout, model, keyOf, container] of layouts) {
    const specs: Spec[] = VGG_CONV12.map((
      [ours, layer, shape],
      i,
    ) => [keyOf(ours, layer, i), shape]);
    const tensors = randomTensors(specs, 100);
    const bytes = container === "st"
      ? writeSafetensors(tensors)
      : onnxWithInitializers(tensors);
    const loaded = await loadModel({
      model,
      weights: bytes,
      source: `${layout}.bin`,
    });
    try {
      assert.equal(loaded.layout, layout);
      assert.equal(loaded.format, container === "st" ? "safetensors" : "onnx");
      assert.deepEqual(
        loaded.preprocessing.kind,
        layout === "caffe" ? "caffe-bgr" : "torch-rgb",
      );
      assert.deepEqual(loaded.coveredTaps, [
        "conv1_1",
        "relu1_1",
        "conv1_2",
        "relu1_2",
        "pool1",
      ]);
      const expect: Expect = {};
      VGG_CONV12.forEach(([ours], i) => expect[ours] = specs[i][0]);
      await assertLoadsInto(loaded, tensors, expect, `${layout} ${model}`);
    } finally {
      loaded.model.dispose();
    }
  }
  assert.equal(getBackend().memory().liveCount, 0);
});

Deno.test("wct layout: a non-Caffe 1x1 input conv is folded into conv1_1", async () => {
  const tensors = randomTensors([
    ["0.weight", [3, 3, 1, 1]],
    ["0.bias", [3]],
    ["2.weight", [64, 3, 3, 3]],
    ["2.bias", [64]],
  ], 7);
  const loaded = await loadModel({
    model: "vgg19",
    weights: writeSafetensors(tensors),
    padMode: "reflect",
  });
  try {
    assert.equal(loaded.layout, "wct");
    assert.ok(loaded.notes.some((n) => n.includes("folded")));
    // Folded network on x equals conv1_1(A·x + a) for a constant image
    // (reflect padding keeps the border affine too): check one pixel in f64.
    const a = tensors.get("0.weight")!.data, a0 = tensors.get("0.bias")!.data;
    const w = tensors.get("2.weight")!.data, b = tensors.get("2.bias")!.data;
    const rgb = [0.2, 0.5, 0.9];
    const pre = [0, 1, 2].map((j) =>
      a0[j] + a[j * 3] * rgb[0] + a[j * 3 + 1] * rgb[1] + a[j * 3 + 2] * rgb[2]
    );
    const got = noGrad(() =>
      tidy(() => {
        const x = tensor(
          new Float32Array(3 * 25).map((_, i) => rgb[Math.floor(i / 25)]),
          [1, 3, 5, 5],
        );
        return {
          y: (loaded.model as VGG).forwardTaps(x, ["conv1_1"]).get("conv1_1")!
            .data(),
        };
      })
    ).y;
    for (const o of [0, 17, 63]) {
      let want = b[o];
      for (let j = 0; j < 3; j++) {
        for (let p = 0; p < 9; p++) want += w[(o * 3 + j) * 9 + p] * pre[j];
      }
      assert.ok(
        Math.abs(got[o * 25 + 12] - want) < 1e-5 * (1 + Math.abs(want)),
        `channel ${o}`,
      );
    }
  } finally {
    loaded.model.dispose();
  }
});

const TV_ALEXNET: [string, string, number[]][] = [
  ["features.0", "conv1", [64, 3, 11, 11]],
  ["features.3", "conv2", [192, 64, 5, 5]],
  ["features.6", "conv3", [384, 192, 3, 3]],
  ["features.8", "conv4", [256, 384, 3, 3]],
  ["features.10", "conv5", [256, 256, 3, 3]],
  ["classifier.1", "fc6", [8, 9216]],
  ["classifier.4", "fc7", [8, 8]],
  ["classifier.6", "fc8", [10, 8]],
];

const CAFFE_ALEXNET: [string, number[]][] = [
  ["conv1", [96, 3, 11, 11]],
  ["conv2", [256, 48, 5, 5]],
];

Deno.test("AlexNet layouts: torchvision (full, small head), ONNX zoo bvlcalexnet names, Gluon names", async () => {
  // torchvision names, fc sizes read from the weights (8 hidden, 10 classes).
  const specs: Spec[] = TV_ALEXNET.flatMap(([p, , shape]) =>
    [
      [`${p}.weight`, shape],
      [`${p}.bias`, [shape[0]]],
    ] as Spec[]
  );
  const tensors = randomTensors(specs, 300);
  const tv = await loadModel({
    model: "alexnet",
    weights: writeSafetensors(tensors),
  });
  try {
    assert.equal(tv.layout, "torchvision");
    assert.equal(tv.numClasses, 10);
    assert.equal(tv.inputSize, 224);
    assert.equal(tv.model.training, false);
    await assertLoadsInto(
      tv,
      tensors,
      Object.fromEntries(specs.map(([k]) => [k, k])),
      "tv alexnet",
    );
    const shape = noGrad(() =>
      tidy(() => ({
        s: tv.model.forward(
          tensor(new Float32Array(3 * 224 * 224), [1, 3, 224, 224]),
        ).shape,
      }))
    );
    assert.deepEqual([...shape.s], [1, 10]);
  } finally {
    tv.model.dispose();
  }

  // The ONNX model zoo's bvlcalexnet names into Caffe AlexNet (upTo relu2).
  const caffeSpecs: Spec[] = CAFFE_ALEXNET.flatMap(([l, shape]) =>
    [
      [`${l}_w_0`, shape],
      [`${l}_b_0`, [shape[0]]],
    ] as Spec[]
  );
  const ct = randomTensors(caffeSpecs, 400);
  const caffe = await loadModel({
    model: "alexnet-caffe",
    weights: onnxWithInitializers(ct),
    source: "bvlcalexnet.onnx",
  });
  try {
    assert.equal(caffe.layout, "caffe");
    assert.equal(caffe.inputSize, 227);
    assert.deepEqual(caffe.preprocessing.kind, "caffe-bgr");
    assert.equal((caffe.model as AlexNet).taps.at(-1)!.name, "pool2");
    await assertLoadsInto(caffe, ct, {
      "conv1.weight": "conv1_w_0",
      "conv1.bias": "conv1_b_0",
      "conv2.weight": "conv2_w_0",
      "conv2.bias": "conv2_b_0",
    }, "bvlcalexnet");
  } finally {
    caffe.model.dispose();
  }

  // Gluon names (alexnet0_conv0_weight …) into torchvision AlexNet, upTo.
  const gSpecs: Spec[] = TV_ALEXNET.slice(0, 2).flatMap(([, , shape], i) =>
    [
      [`alexnet0_conv${i}_weight`, shape],
      [`alexnet0_conv${i}_bias`, [shape[0]]],
    ] as Spec[]
  );
  const gt = randomTensors(gSpecs, 500);
  const gluon = await loadModel({
    model: "alexnet",
    weights: writeSafetensors(gt),
    upTo: "relu2",
  });
  try {
    assert.equal(gluon.layout, "onnx-gluon");
    await assertLoadsInto(gluon, gt, {
      "features.0.weight": "alexnet0_conv0_weight",
      "features.0.bias": "alexnet0_conv0_bias",
      "features.3.weight": "alexnet0_conv1_weight",
      "features.3.bias": "alexnet0_conv1_bias",
    }, "gluon alexnet");
  } finally {
    gluon.model.dispose();
  }
  assert.equal(getBackend().memory().liveCount, 0);
});

// ---- errors ---------------------------------------------------------------------

async function rejectsOneLine(
  options: Parameters<typeof loadModel>[0],
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(() => loadModel(options), (e: Error) => {
    assert.ok(!e.message.includes("\n"), `multi-line: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("errors: missing file, unknown names, extra, shapes, missing bias, corrupt bytes", async () => {
  await rejectsOneLine(
    { model: "vgg19", weights: "/nonexistent/vgg19.safetensors" },
    /^weights file \/nonexistent\/vgg19\.safetensors not found: .*deno task weights/,
  );
  const st = (specs: Spec[]) => writeSafetensors(randomTensors(specs, 1));
  await rejectsOneLine(
    {
      model: "vgg19",
      weights: st([["encoder.layer.0", [2]]]),
      source: "bert.safetensors",
    },
    /^bert\.safetensors: tensor names encoder\.layer\.0 match no known layout/,
  );
  // Caffe AlexNet's 96 filters into torchvision AlexNet: shape error with a hint.
  await rejectsOneLine(
    {
      model: "alexnet",
      weights: st([["conv1.weight", [96, 3, 11, 11]], ["conv1.bias", [96]]]),
      source: "a.st",
    },
    /^a\.st: shapes do not fit alexnet: conv1\.weight is \[96,3,11,11\], conv1 needs \[64,3,11,11\].*alexnet-caffe/,
  );
  await rejectsOneLine(
    {
      model: "vgg16",
      weights: st([["features.0.weight", [64, 3, 3, 3]], ["features.0.bias", [
        64,
      ]], ["features.99.weight", [3]]]),
      source: "x.st",
    },
    /^x\.st: 1 tensor\(s\) are not layers of vgg16 in the torchvision layout: features\.99\.weight$/,
  );
  await rejectsOneLine(
    {
      model: "vgg19",
      weights: st([["features.0.weight", [64, 3, 3, 3]]]),
      source: "y.st",
    },
    /^y\.st: conv1_1 has a weight but no bias \(features\.0\.weight\)$/,
  );
  await rejectsOneLine(
    { model: "vgg19", weights: new Uint8Array([1, 2, 3]), source: "junk.bin" },
    /^junk\.bin/,
  );
  await rejectsOneLine(
    {
      model: "vgg19",
      weights: st([["features.0.weight", [64, 3, 3, 3]], ["features.0.bias", [
        64,
      ]]]),
      pooling: "avg",
      upTo: "conv2_1",
    },
    /^conv1_2 is not in weights \(it stops at conv1_1\); conv2_1 needs it/,
  );
  assert.equal(getBackend().memory().liveCount, 0);
});

Deno.test("dispose backend", () => getBackend().dispose());
