// AlexNet, both variants (models/alexnet.ts): taps and parameter names of
// each source, output sizes for 224/227 inputs, and — with small random
// weights on a 67x67 input and a small head — the forward pass against an
// f64 reference written here from the layer definitions (tests/reference's
// conv, LRN and pooling), and the autograd gradients of a few parameters and
// input pixels against central finite differences of that f64 forward.
import assert from "node:assert/strict";
import {
  AdaptiveAvgPool2d,
  AlexNet,
  alexnetTaps,
  type AlexNetVariant,
  caffePool5Size,
} from "../../models/alexnet.ts";
import { modelLayers } from "../../models/weight_names.ts";
import { grad } from "../../runtime/grad.ts";
import {
  getBackend,
  initBackend,
  noGrad,
  Random,
  tensor,
  tidy,
} from "../../runtime/mod.ts";
import { assertClose, randomArray } from "../_check.ts";
import { conv2dForwardRef } from "../reference/conv.ts";
import { lrnRef } from "../reference/lrn.ts";
import { maxPoolRef } from "../reference/pool.ts";
import { testWasmDir } from "../_engine.ts";

Deno.test("setup backend", async () => {
  await initBackend({ threads: 2, wasmBaseUrl: testWasmDir() });
});

Deno.test("taps and parameter names follow Caffe and torchvision", () => {
  assert.deepEqual(alexnetTaps("caffe").map((t) => t.name).slice(0, 8), [
    "conv1",
    "relu1",
    "norm1",
    "pool1",
    "conv2",
    "relu2",
    "norm2",
    "pool2",
  ]);
  assert.ok(!alexnetTaps("torchvision").some((t) => t.kind === "norm"));
  for (
    const [variant, model] of [["caffe", "alexnet-caffe"], [
      "torchvision",
      "alexnet",
    ]] as const
  ) {
    const net = new AlexNet({ variant, hiddenUnits: 8, numClasses: 10 });
    const ours = net.namedParameters().map(([n, t]) => [n, [...t.shape]]);
    const specs = modelLayers(model, { hiddenUnits: 8, numClasses: 10 })
      .flatMap((l) => [[l.weight, l.weightShape], [l.bias, l.biasShape]]);
    assert.deepEqual(ours, specs, variant);
    net.dispose();
  }
  const truncated = new AlexNet({ variant: "caffe", upTo: "norm2" });
  assert.deepEqual(truncated.namedParameters().map(([n]) => n), [
    "conv1.weight",
    "conv1.bias",
    "conv2.weight",
    "conv2.bias",
  ]);
  assert.throws(
    () => truncated.tap("conv3"),
    /past the last built layer norm2/,
  );
  assert.throws(() => new AlexNet({ upTo: "norm1" }), /has no layer "norm1"/);
  truncated.dispose();
  assert.equal(getBackend().memory().liveCount, 0);
});

Deno.test("pool5 is 6x6 for 227 (Caffe), 224 (Caffe ceil-mode pools) and 224 (torchvision)", () => {
  assert.equal(caffePool5Size(227), 6);
  assert.equal(caffePool5Size(224), 6);
  assert.equal(caffePool5Size(67), 1);
  for (
    const [variant, size] of [["caffe", 227], ["caffe", 224], [
      "torchvision",
      224,
    ]] as const
  ) {
    const net = new AlexNet({ variant, classifier: false });
    const shapes = noGrad(() =>
      tidy(() => {
        const x = tensor(randomArray(3 * size * size, 5), [1, 3, size, size]);
        const taps = net.forwardTaps(x, ["relu1", "pool5"]);
        return {
          relu1: [...taps.get("relu1")!.shape],
          pool5: [...taps.get("pool5")!.shape],
        };
      })
    );
    net.dispose();
    assert.deepEqual(shapes.pool5, [1, 256, 6, 6], `${variant} ${size}`);
    // Caffe's conv1 has no padding: 54 for 224 inputs.
    const conv1 = variant === "caffe" && size === 224 ? 54 : 55;
    assert.deepEqual(shapes.relu1, [
      1,
      variant === "caffe" ? 96 : 64,
      conv1,
      conv1,
    ]);
  }
  assert.equal(getBackend().memory().liveCount, 0);
});

Deno.test("AdaptiveAvgPool2d averages PyTorch's bins (5x7 → 3x2) and is the identity at size", () => {
  const x = randomArray(2 * 5 * 7, 9);
  const got = noGrad(() =>
    tidy(() => ({
      y: new AdaptiveAvgPool2d(3, 2).forward(tensor(x, [1, 2, 5, 7])).data(),
    }))
  ).y;
  const want: number[] = [];
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) {
        const [h0, h1] = [Math.floor(i * 5 / 3), Math.ceil((i + 1) * 5 / 3)];
        const [w0, w1] = [Math.floor(j * 7 / 2), Math.ceil((j + 1) * 7 / 2)];
        let s = 0;
        for (let y = h0; y < h1; y++) {
          for (let xx = w0; xx < w1; xx++) s += x[c * 35 + y * 7 + xx];
        }
        want.push(s / ((h1 - h0) * (w1 - w0)));
      }
    }
  }
  assertClose(got, want, { atol: 1e-6, rtol: 1e-6, label: "adaptive pool" });
  const t = tensor(x, [1, 2, 5, 7]);
  assert.equal(new AdaptiveAvgPool2d(5, 7).forward(t), t);
  t.dispose();
});

// ---- f64 reference forward ---------------------------------------------------

type Layer =
  | {
    kind: "conv";
    p: string;
    k: number;
    stride: number;
    pad: number;
    groups: number;
  }
  | { kind: "relu" | "lrn" | "dropout" | "flatten" }
  | { kind: "pool"; ceil: boolean }
  | { kind: "adaptive"; size: number }
  | { kind: "fc"; p: string };

/** Written from the papers/prototxt and torchvision's alexnet.py. */
function referenceLayers(variant: AlexNetVariant): Layer[] {
  const conv = (
    p: string,
    k: number,
    stride: number,
    pad: number,
    groups = 1,
  ): Layer => ({
    kind: "conv",
    p,
    k,
    stride,
    pad,
    groups,
  });
  const relu: Layer = { kind: "relu" }, drop: Layer = { kind: "dropout" };
  if (variant === "caffe") {
    const pool: Layer = { kind: "pool", ceil: true },
      lrn: Layer = { kind: "lrn" };
    return [
      conv("conv1", 11, 4, 0),
      relu,
      lrn,
      pool,
      conv("conv2", 5, 1, 2, 2),
      relu,
      lrn,
      pool,
      conv("conv3", 3, 1, 1),
      relu,
      conv("conv4", 3, 1, 1, 2),
      relu,
      conv("conv5", 3, 1, 1, 2),
      relu,
      pool,
      { kind: "flatten" },
      { kind: "fc", p: "fc6" },
      relu,
      drop,
      { kind: "fc", p: "fc7" },
      relu,
      drop,
      { kind: "fc", p: "fc8" },
    ];
  }
  const pool: Layer = { kind: "pool", ceil: false };
  return [
    conv("features.0", 11, 4, 2),
    relu,
    pool,
    conv("features.3", 5, 1, 2),
    relu,
    pool,
    conv("features.6", 3, 1, 1),
    relu,
    conv("features.8", 3, 1, 1),
    relu,
    conv("features.10", 3, 1, 1),
    relu,
    pool,
    { kind: "adaptive", size: 6 },
    { kind: "flatten" },
    drop,
    { kind: "fc", p: "classifier.1" },
    relu,
    drop,
    { kind: "fc", p: "classifier.4" },
    relu,
    { kind: "fc", p: "classifier.6" },
  ];
}

type Params = Map<string, { shape: number[]; data: Float64Array }>;

function referenceForward(
  variant: AlexNetVariant,
  params: Params,
  input: Float64Array,
  size: number,
): Float64Array {
  let x = input, c = 3, h = size, w = size;
  for (const l of referenceLayers(variant)) {
    if (l.kind === "conv") {
      const wt = params.get(`${l.p}.weight`)!;
      const s = {
        batch: 1,
        inChannels: c,
        inHeight: h,
        inWidth: w,
        outChannels: wt.shape[0],
        kernelH: l.k,
        kernelW: l.k,
        strideH: l.stride,
        strideW: l.stride,
        padTop: l.pad,
        padBottom: l.pad,
        padLeft: l.pad,
        padRight: l.pad,
        dilationH: 1,
        dilationW: 1,
        groups: l.groups,
        padMode: "zero" as const,
      };
      x = conv2dForwardRef(s, x, wt.data, params.get(`${l.p}.bias`)!.data);
      c = wt.shape[0];
      h = Math.floor((h + 2 * l.pad - l.k) / l.stride) + 1;
      w = Math.floor((w + 2 * l.pad - l.k) / l.stride) + 1;
    } else if (l.kind === "relu") x = x.map((v) => Math.max(0, v));
    else if (l.kind === "lrn") {
      x =
        lrnRef(x, 1, c, h * w, { size: 5, alpha: 1e-4, beta: 0.75, bias: 1 }).y;
    } else if (l.kind === "pool") {
      const s = {
        batch: 1,
        channels: c,
        inHeight: h,
        inWidth: w,
        kernelH: 3,
        kernelW: 3,
        strideH: 2,
        strideW: 2,
        padTop: 0,
        padBottom: 0,
        padLeft: 0,
        padRight: 0,
        ceilMode: l.ceil,
      };
      x = maxPoolRef(x, s).y;
      const out = (n: number) => {
        let o = (l.ceil ? Math.ceil((n - 3) / 2) : Math.floor((n - 3) / 2)) + 1;
        if (l.ceil && (o - 1) * 2 >= n) o--;
        return o;
      };
      h = out(h);
      w = out(w);
    } else if (l.kind === "adaptive") {
      const o = l.size, y = new Float64Array(c * o * o);
      for (let ch = 0; ch < c; ch++) {
        for (let i = 0; i < o; i++) {
          for (let j = 0; j < o; j++) {
            const h0 = Math.floor(i * h / o), h1 = Math.ceil((i + 1) * h / o);
            const w0 = Math.floor(j * w / o), w1 = Math.ceil((j + 1) * w / o);
            let s = 0;
            for (let yy = h0; yy < h1; yy++) {
              for (let xx = w0; xx < w1; xx++) s += x[(ch * h + yy) * w + xx];
            }
            y[(ch * o + i) * o + j] = s / ((h1 - h0) * (w1 - w0));
          }
        }
      }
      x = y;
      h = w = o;
    } else if (l.kind === "fc") {
      const wt = params.get(`${l.p}.weight`)!,
        b = params.get(`${l.p}.bias`)!.data;
      const [out, inp] = wt.shape;
      assert.equal(inp, x.length, `${l.p} input size`);
      const y = new Float64Array(out);
      for (let o = 0; o < out; o++) {
        let s = b[o];
        for (let i = 0; i < inp; i++) s += wt.data[o * inp + i] * x[i];
        y[o] = s;
      }
      x = y;
    }
  }
  return x;
}

// Small random weights on a 67x67 input (pool5 is 1x1; the torchvision
// variant's adaptive pool spreads it to 6x6). Input values of ±60 make the
// LRN's denominator (1 + 2e-5·Σx²)^0.75 depart from 1 noticeably.
for (const variant of ["torchvision", "caffe"] as const) {
  Deno.test(`${variant} AlexNet: forward matches the f64 reference; gradients match finite differences`, () => {
    const size = 67;
    const net = new AlexNet({
      variant,
      hiddenUnits: 12,
      numClasses: 7,
      inputSize: size,
      rng: new Random(variant === "caffe" ? 3 : 4),
    });
    net.eval();
    const input = randomArray(3 * size * size, 21, -60, 60);
    const params: Params = new Map(
      net.namedParameters().map((
        [n, t],
      ) => [n, { shape: [...t.shape], data: Float64Array.from(t.data()) }]),
    );
    const weights = randomArray(7, 77); // L = Σ weights · logits
    const lossRef = (p: Params, x: Float64Array) => {
      const y = referenceForward(variant, p, x, size);
      return y.reduce((s, v, i) => s + v * weights[i], 0);
    };
    const ref = referenceForward(
      variant,
      params,
      Float64Array.from(input),
      size,
    );

    // Engine forward and gradients of L w.r.t. the input and every parameter.
    const named = net.namedParameters();
    const { logits, grads } = tidy(() => {
      const x = tensor(input, [1, 3, size, size]);
      x.requiresGrad = true;
      const y = net.forward(x);
      const gs = grad(
        y,
        [x, ...named.map(([, t]) => t)],
        tensor(weights, [1, 7]),
      );
      return { logits: y.data(), grads: gs.map((g) => g.data()) };
    });
    const scale = Math.max(...ref.map(Math.abs));
    assertClose(logits, ref, {
      atol: 1e-4 * scale,
      rtol: 1e-4,
      label: `${variant} logits`,
    });

    // Central differences of the f64 reference (h small: f64 has room).
    const probes: [string, number][] = [
      ["input", 3 * size * 10 + 31],
      ["input", size * size + 7 * size + 40],
      [named[0][0], 5],
      [named[0][0], 300],
      [named[2][0], 1234],
      [named[9][0], 3],
      [named[10][0], 17],
      [named[15][0], 2],
    ];
    let nonZero = 0;
    for (const [name, i] of probes) {
      const h = 1e-5 * (name === "input" ? 60 : 1);
      const bump = (d: number): number => {
        if (name === "input") {
          const x = Float64Array.from(input);
          x[i] += d;
          return lossRef(params, x);
        }
        const p = params.get(name)!, old = p.data[i];
        p.data[i] = old + d;
        const l = lossRef(params, Float64Array.from(input));
        p.data[i] = old;
        return l;
      };
      const numeric = (bump(h) - bump(-h)) / (2 * h);
      const k = name === "input" ? 0 : 1 + named.findIndex(([n]) => n === name);
      const analytic = grads[k][i];
      if (Math.abs(numeric) > 1e-6 * gradScale(grads[k])) nonZero++;
      if (Deno.env.get("ALEXNET_DEBUG")) {
        console.log(variant, name, i, analytic, numeric);
      }
      assert.ok(
        Math.abs(analytic - numeric) <=
          2e-3 * Math.abs(numeric) + 1e-4 * gradScale(grads[k]),
        `${variant} d L / d ${name}[${i}]: autograd ${analytic} vs finite differences ${numeric}`,
      );
    }
    // Dead ReLUs would make zero gradients agree trivially.
    assert.ok(
      nonZero >= 6,
      `only ${nonZero} of ${probes.length} probes have a gradient`,
    );
    net.dispose();
    assert.equal(getBackend().memory().liveCount, 0);
  });
}

function gradScale(g: Float32Array): number {
  let m = 0;
  for (const v of g) m = Math.max(m, Math.abs(v));
  return m;
}

Deno.test("dropout is active in training mode only", () => {
  const net = new AlexNet({
    hiddenUnits: 16,
    numClasses: 4,
    rng: new Random(1),
  });
  const x = randomArray(3 * 67 * 67, 2);
  const run = () =>
    noGrad(() =>
      tidy(() => ({ y: net.forward(tensor(x, [1, 3, 67, 67])).data() }))
    ).y;
  net.train();
  const a = run(), b = run();
  assert.notDeepEqual(a, b);
  net.eval();
  assert.deepEqual(run(), run());
  net.dispose();
  assert.equal(getBackend().memory().liveCount, 0);
});

Deno.test("dispose backend", () => getBackend().dispose());
