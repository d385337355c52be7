// deno task classify (scripts/classify.ts, models/classify.ts). No real
// full ImageNet weights exist here, so the pipeline runs on random weights
// written in the test as safetensors in each name layout (small fc6/fc7, 1000
// classes): probabilities sum to 1, top-k is ordered, labels are ImageNet's,
// timm's conv-shaped fc6/fc7 give the same result as torchvision's names,
// --json has the documented shape, and user errors are one line.
import assert from "node:assert/strict";
import {
  centerCrop,
  classProbabilities,
  resizeShorterSide,
  softmaxF64,
  topK,
} from "../../models/classify.ts";
import { IMAGENET_LABELS } from "../../models/imagenet_labels.ts";
import { loadModel } from "../../models/load.ts";
import { modelLayers, type ModelName } from "../../models/weight_names.ts";
import { decodeImage } from "../../runtime/io/image.ts";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";
import { getBackend, initBackend } from "../../runtime/mod.ts";
import {
  CLI,
  formatReport,
  runClassify,
  splitImages,
} from "../../scripts/classify.ts";
import { randomArray } from "../_check.ts";
import { testWasmDir } from "../_engine.ts";

const IMAGE =
  new URL("../../assets/images/chelsea.png", import.meta.url).pathname;

Deno.test("ImageNet labels: 1000 unique names in the standard order", () => {
  assert.equal(IMAGENET_LABELS.length, 1000);
  assert.equal(new Set(IMAGENET_LABELS).size, 1000);
  const known: [number, string][] = [
    [0, "tench"],
    [1, "goldfish"],
    [281, "tabby"],
    [282, "tiger cat"],
    [285, "Egyptian cat"],
    [340, "zebra"],
    [817, "sports car"],
    [954, "banana"],
    [999, "toilet tissue"],
  ];
  for (const [i, name] of known) {
    assert.equal(IMAGENET_LABELS[i], name, `label ${i}`);
  }
});

Deno.test("softmax, top-k, resize and crop helpers", () => {
  const p = softmaxF64([1, 3, 2, 3]);
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-15);
  assert.deepEqual(topK(p, 3).map((t) => t.index), [1, 3, 2]); // ties: lower index first
  assert.equal(topK(p, 10).length, 4);
  assert.equal(topK(p, 1)[0].label, "class 1");
  const img = {
    width: 400,
    height: 300,
    data: new Float32Array(3 * 400 * 300),
  };
  const r = resizeShorterSide(img, 256);
  assert.deepEqual([r.width, r.height], [341, 256]);
  const data = Float32Array.from({ length: 3 * 16 }, (_, i) => i);
  const c = centerCrop({ width: 4, height: 4, data }, 2);
  assert.deepEqual([...c.data.subarray(0, 4)], [5, 6, 9, 10]);
  assert.throws(() => centerCrop(img, 500), /larger than/);
});

/**
 * Random weights for `model` (fc6/fc7 of 8 units, 1000 classes), uniform
 * with He-like scale so activations neither die nor explode, named by
 * `rename` (our parameter name → the layout's key).
 */
function randomWeights(
  model: ModelName,
  rename: (ours: string, layer: string) => string,
  reshapeFc?: (layer: string, shape: number[]) => number[],
) {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  modelLayers(model, { hiddenUnits: 8, numClasses: 1000 }).forEach((l, i) => {
    const fanIn = l.weightShape.slice(1).reduce((a, d) => a * d, 1);
    const bound = Math.sqrt(6 / fanIn);
    const shape = reshapeFc?.(l.layer, l.weightShape) ?? l.weightShape;
    tensors.set(rename(l.weight, l.layer), {
      shape,
      data: randomArray(
        l.weightShape.reduce((a, d) => a * d, 1),
        1000 + i,
        -bound,
        bound,
      ),
    });
    tensors.set(rename(l.bias, l.layer), {
      shape: l.biasShape,
      data: randomArray(l.biasShape[0], 2000 + i, -0.1, 0.1),
    });
  });
  return tensors;
}

let tmp = "";
const files: Record<string, string> = {};

Deno.test("setup: backend and random weight files in several layouts", async () => {
  await initBackend({ threads: 2, wasmBaseUrl: testWasmDir() });
  tmp = await Deno.makeTempDir();
  const write = async (name: string, t: ReturnType<typeof randomWeights>) => {
    files[name] = `${tmp}/${name}.safetensors`;
    await Deno.writeFile(files[name], writeSafetensors(t));
  };
  await write("alexnet-torchvision", randomWeights("alexnet", (ours) => ours));
  await write(
    "alexnet-gluon",
    randomWeights("alexnet", (ours, layer) => {
      const convs = ["conv1", "conv2", "conv3", "conv4", "conv5"];
      const i = convs.indexOf(layer);
      const part = ours.split(".").pop();
      return i >= 0
        ? `alexnet0_conv${i}_${part}`
        : `alexnet0_dense${Number(layer.slice(2)) - 6}_${part}`;
    }),
  );
  // The ONNX zoo's bvlcalexnet names.
  await write(
    "alexnet-caffe",
    randomWeights(
      "alexnet-caffe",
      (ours, layer) => `${layer}_${ours.endsWith("weight") ? "w" : "b"}_0`,
    ),
  );
  await write("vgg16-torchvision", randomWeights("vgg16", (ours) => ours));
  // timm: the same values with fc6/fc7 as 7x7 and 1x1 convolutions.
  const timmName = (ours: string, layer: string) =>
    ({ fc6: "pre_logits.fc1", fc7: "pre_logits.fc2", fc8: "head.fc" } as Record<
        string,
        string
      >)[
        layer
      ]
      ? `${
        ({
          fc6: "pre_logits.fc1",
          fc7: "pre_logits.fc2",
          fc8: "head.fc",
        } as Record<string, string>)[layer]
      }.${ours.split(".").pop()}`
      : ours;
  await write(
    "vgg16-timm",
    randomWeights(
      "vgg16",
      timmName,
      (layer, shape) =>
        layer === "fc6"
          ? [shape[0], 512, 7, 7]
          : layer === "fc7"
          ? [shape[0], shape[1], 1, 1]
          : shape,
    ),
  );
});

Deno.test("classify: AlexNet (torchvision, Gluon and bvlcalexnet names) gives ordered top-k with probabilities summing to 1", async () => {
  const image = decodeImage(await Deno.readFile(IMAGE));
  for (
    const [file, model, layout, size] of [
      ["alexnet-torchvision", "alexnet", "torchvision", 224],
      ["alexnet-gluon", "alexnet", "onnx-gluon", 224],
      ["alexnet-caffe", "alexnet-caffe", "caffe", 227],
    ] as const
  ) {
    const loaded = await loadModel({
      model,
      weights: files[file],
      classifier: true,
    });
    try {
      assert.equal(loaded.layout, layout);
      assert.equal(loaded.inputSize, size);
      assert.equal(loaded.numClasses, 1000);
      const p = classProbabilities(loaded, image);
      assert.equal(p.length, 1000);
      const total = p.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(total - 1) < 1e-12, `${file}: sum ${total}`);
      assert.ok(p.every((v) => v >= 0 && v <= 1));
      // Random weights must still discriminate (not a uniform output).
      assert.ok(Math.max(...p) > 2 / 1000, `${file}: flat output`);
    } finally {
      loaded.model.dispose();
    }
    const report = await runClassify({
      images: [IMAGE],
      model,
      weights: files[file],
      top: 5,
    });
    const top = report.results[0].top;
    assert.equal(top.length, 5);
    for (let i = 1; i < top.length; i++) {
      assert.ok(top[i - 1].probability >= top[i].probability);
    }
    for (const t of top) assert.equal(t.label, IMAGENET_LABELS[t.index]);
    assert.equal(
      report.preprocessing.kind,
      model === "alexnet-caffe" ? "caffe-bgr" : "torch-rgb",
    );
    assert.match(
      formatReport(report),
      /^.*chelsea\.png \(alexnet.*\):\n {2}1\. +\d+\.\d\d% {2}.+ \(\d+\)/,
    );
  }
  assert.equal(getBackend().memory().liveCount, 0);
});

Deno.test("classify: VGG16 with timm's conv-shaped fc6/fc7 equals the same weights in torchvision names", async () => {
  const image = decodeImage(await Deno.readFile(IMAGE));
  const probabilities: Float64Array[] = [];
  for (const file of ["vgg16-torchvision", "vgg16-timm"]) {
    const loaded = await loadModel({ model: "vgg16", weights: files[file] });
    try {
      assert.equal(
        loaded.layout,
        file.endsWith("timm") ? "timm" : "torchvision",
      );
      assert.equal(loaded.numClasses, 1000);
      probabilities.push(classProbabilities(loaded, image));
    } finally {
      loaded.model.dispose();
    }
  }
  assert.deepEqual(probabilities[1], probabilities[0]);
  assert.ok(Math.abs(probabilities[0].reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.equal(getBackend().memory().liveCount, 0);
});

Deno.test("command line: images among flags", () => {
  assert.deepEqual(
    splitImages(CLI, [
      "a.png",
      "--model",
      "alexnet",
      "b.jpg",
      "--json",
      "--top=3",
      "c.png",
    ]),
    {
      images: ["a.png", "b.jpg", "c.png"],
      flags: ["--model", "alexnet", "--json", "--top=3"],
    },
  );
});

async function classifyCli(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../scripts/classify.ts", import.meta.url).pathname,
      ...args,
    ],
    env: testWasmDir()
      ? { IMPASTO_WASM_DIR: Deno.env.get("IMPASTO_WASM_DIR")! }
      : {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("deno task classify: --json output and one-line errors", async () => {
  const ok = await classifyCli([
    IMAGE,
    "--model",
    "alexnet",
    "--weights",
    files["alexnet-torchvision"],
    "--json",
    "--top",
    "3",
    "--threads",
    "1",
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  assert.deepEqual(Object.keys(report).sort(), [
    "format",
    "inputSize",
    "layout",
    "model",
    "preprocessing",
    "results",
    "weights",
  ]);
  assert.equal(report.model, "alexnet");
  assert.equal(report.results[0].image, IMAGE);
  assert.equal(report.results[0].top.length, 3);
  assert.deepEqual(Object.keys(report.results[0].top[0]).sort(), [
    "index",
    "label",
    "probability",
  ]);

  for (
    const [args, code, pattern] of [
      [
        [IMAGE, "--model", "alexnet", "--weights", `${tmp}/missing.pth`],
        1,
        /not found: .*deno task weights/,
      ],
      [
        [IMAGE, "--model", "vgg19", "--weights", files["alexnet-torchvision"]],
        1,
        /not layers of vgg19|do not fit vgg19/,
      ],
      [
        [IMAGE, "--model", "resnet50", "--weights", "x"],
        2,
        /--model must be one of/,
      ],
      [
        ["--model", "alexnet", "--weights", files["alexnet-torchvision"]],
        2,
        /give at least one image/,
      ],
      [[IMAGE, "--model", "alexnet"], 2, /--weights is required/],
      [
        [
          `${tmp}/nope.png`,
          "--model",
          "alexnet",
          "--weights",
          files["alexnet-torchvision"],
        ],
        1,
        /cannot read image/,
      ],
    ] as [string[], number, RegExp][]
  ) {
    const r = await classifyCli(args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(
      r.stderr.trim().split("\n").length,
      1,
      `one line: ${r.stderr}`,
    );
    assert.match(r.stderr, pattern);
  }
});

Deno.test("teardown", async () => {
  getBackend().dispose();
  await Deno.remove(tmp, { recursive: true });
});
