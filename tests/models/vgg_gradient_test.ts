// VGG forward and backward on a small input against an f64 plain-loop
// reference: the engine's activations at relu2_1 match the reference, and
// the tape's gradients of L = Σ w·relu2_1 with respect to the input and to
// conv weights match central finite differences of the f64 forward.
import assert from "node:assert/strict";
import { VGG } from "../../models/vgg.ts";
import { grad } from "../../runtime/grad.ts";
import {
  getBackend,
  initBackend,
  Random,
  tensor,
  tidy,
} from "../../runtime/mod.ts";
import { assertClose, randomArray } from "../_check.ts";
import { conv2dForwardRef } from "../reference/conv.ts";
import { avgPoolRef, maxPoolRef } from "../reference/pool.ts";

type Params = Map<string, Float64Array>;
const SIZE = 10;

/** conv1_1 → relu → conv1_2 → relu → pool → conv2_1 → relu, in f64. */
function referenceRelu2_1(
  p: Params,
  x: Float64Array,
  pooling: "max" | "avg",
  padMode: "zero" | "reflect",
): Float64Array {
  let h = x, c = 3, size = SIZE;
  const conv = (name: string, k: number) => {
    const y = conv2dForwardRef(
      {
        batch: 1,
        inChannels: c,
        inHeight: size,
        inWidth: size,
        outChannels: k,
        kernelH: 3,
        kernelW: 3,
        strideH: 1,
        strideW: 1,
        padTop: 1,
        padBottom: 1,
        padLeft: 1,
        padRight: 1,
        dilationH: 1,
        dilationW: 1,
        groups: 1,
        padMode,
      },
      h,
      p.get(`${name}.weight`)!,
      p.get(`${name}.bias`)!,
    );
    c = k;
    h = y.map((v) => Math.max(v, 0));
  };
  conv("features.0", 64);
  conv("features.2", 64);
  const s = {
    batch: 1,
    channels: c,
    inHeight: size,
    inWidth: size,
    kernelH: 2,
    kernelW: 2,
    strideH: 2,
    strideW: 2,
    padTop: 0,
    padBottom: 0,
    padLeft: 0,
    padRight: 0,
    ceilMode: false,
  };
  h = pooling === "max" ? maxPoolRef(h, s).y : avgPoolRef(h, s, true);
  size /= 2;
  conv("features.5", 128);
  return h;
}

for (
  const [pooling, padMode] of [["avg", "reflect"], ["max", "zero"]] as const
) {
  Deno.test(`VGG19 to relu2_1 (${pooling} pooling, ${padMode} padding): forward and gradients match an f64 reference`, async () => {
    await initBackend({ threads: 2, backend: "wasm" });
    try {
      const vgg = new VGG({
        upTo: "relu2_1",
        pooling,
        padMode,
        rng: new Random(5),
      });
      const named = vgg.namedParameters();
      const params: Params = new Map(
        named.map(([n, t]) => [n, Float64Array.from(t.data())]),
      );
      const input = randomArray(3 * SIZE * SIZE, 11, -2, 2);
      const ref = referenceRelu2_1(
        params,
        Float64Array.from(input),
        pooling,
        padMode,
      );
      const weights = randomArray(ref.length, 12);
      const loss = (p: Params, x: Float64Array) =>
        referenceRelu2_1(p, x, pooling, padMode).reduce(
          (s, v, i) => s + v * weights[i],
          0,
        );
      const picked = [
        "features.0.weight",
        "features.2.weight",
        "features.5.weight",
        "features.5.bias",
      ];
      const { out, grads } = tidy(() => {
        const x = tensor(input, [1, 3, SIZE, SIZE]);
        x.requiresGrad = true;
        const y = vgg.forwardTaps(x, ["relu2_1"]).get("relu2_1")!;
        const tensors = picked.map((n) => named.find(([m]) => m === n)![1]);
        const gs = grad(y, [x, ...tensors], tensor(weights, y.shape));
        return { out: y.data(), grads: gs.map((g) => g.data()) };
      });
      const scale = Math.max(...ref.map(Math.abs));
      assertClose(out, ref, {
        atol: 1e-5 * scale,
        rtol: 1e-4,
        label: "relu2_1",
      });

      // Probes away from ReLU kinks and pooling ties are checked against
      // central differences of the f64 forward (h small: f64 has room).
      const probes: [string, number][] = [
        ["input", 17],
        ["input", 160],
        ["input", 255],
        ["features.0.weight", 40],
        ["features.2.weight", 2000],
        ["features.5.weight", 31000],
        ["features.5.bias", 7],
      ];
      let nonZero = 0;
      for (const [name, i] of probes) {
        const h = 1e-6;
        const bump = (d: number) => {
          if (name === "input") {
            const x = Float64Array.from(input);
            x[i] += d;
            return loss(params, x);
          }
          const arr = params.get(name)!, old = arr[i];
          arr[i] = old + d;
          const l = loss(params, Float64Array.from(input));
          arr[i] = old;
          return l;
        };
        const numeric = (bump(h) - bump(-h)) / (2 * h);
        const g = grads[name === "input" ? 0 : 1 + picked.indexOf(name)];
        const gScale = Math.max(...g.map(Math.abs));
        if (Math.abs(numeric) > 1e-6 * gScale) nonZero++;
        assert.ok(
          Math.abs(g[i] - numeric) <= 2e-3 * Math.abs(numeric) + 1e-4 * gScale,
          `d L / d ${name}[${i}]: autograd ${
            g[i]
          } vs finite differences ${numeric}`,
        );
      }
      assert.ok(
        nonZero >= 5,
        `only ${nonZero} of ${probes.length} probes have a gradient`,
      );
      vgg.dispose();
      assert.equal(getBackend().memory().liveCount, 0);
    } finally {
      getBackend().dispose();
    }
  });
}
