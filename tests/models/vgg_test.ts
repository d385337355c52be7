import assert from "node:assert/strict";
import { VGG, vggTaps } from "../../models/vgg.ts";
import { readWeights } from "../../models/weights.ts";
import { toModelInput } from "../../models/preprocess.ts";
import { CAFFE_BGR } from "../../models/preprocess.ts";
import { decodeImage } from "../../runtime/io/image.ts";
import { getBackend, initBackend, noGrad, tidy } from "../../runtime/mod.ts";
import { GOLDEN } from "./_golden.ts";

const SHARED = new URL("../../../shared/data/", import.meta.url);
const WEIGHTS = new URL(
  "weights/vgg19-normalised-conv3_1/vgg19_normalised_conv1_1-conv3_1.safetensors",
  SHARED,
);

async function readShared(url: URL): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(url);
  } catch {
    return null;
  }
}

Deno.test("vggTaps names VGG19's layers with torchvision's indices", () => {
  const taps = vggTaps(19);
  assert.equal(taps.length, 37);
  assert.deepEqual(taps.find((t) => t.name === "conv3_1"), {
    name: "conv3_1",
    index: 10,
    kind: "conv",
    channels: 256,
    stride: 4,
  });
  assert.equal(taps.find((t) => t.name === "relu5_1")?.index, 29);
  assert.equal(vggTaps(16).find((t) => t.name === "pool5")?.index, 30);
});

const weights = await readShared(WEIGHTS);
const image = await readShared(
  new URL("images/content/chelsea_256.png", SHARED),
);

Deno.test({
  name:
    "real VGG-19 weights reproduce the golden activation statistics (1e-4 relative)",
  ignore: !weights || !image,
  fn: async () => {
    await initBackend({ threads: 2 });
    try {
      const set = await readWeights(weights!, "vgg19 safetensors");
      assert.equal(set.format, "safetensors");
      assert.deepEqual(set.preprocessing, CAFFE_BGR);
      for (const padMode of ["reflect", "zero"] as const) {
        const vgg = new VGG({ depth: 19, upTo: "relu3_1", padMode });
        vgg.loadStateDict(
          new Map([...set.tensors].map(([k, t]) => [k, t.data])),
        );
        const stats = noGrad(() =>
          tidy(() => {
            const x = toModelInput(decodeImage(image!), set.preprocessing!);
            const taps = vgg.forwardTaps(x, Object.keys(GOLDEN[padMode]));
            const out: Record<string, number[]> = {};
            for (const [name, t] of taps) {
              const v = t.data();
              let s = 0, s2 = 0;
              for (const a of v) {
                s += a;
                s2 += a * a;
              }
              const mean = s / v.length;
              out[name] = [mean, Math.sqrt(s2 / v.length - mean * mean), s2];
            }
            return out;
          })
        );
        for (const [name, golden] of Object.entries(GOLDEN[padMode])) {
          golden.forEach((g: number, i: number) => {
            const rel = Math.abs(stats[name][i] - g) / Math.abs(g);
            assert.ok(
              rel < 1e-4,
              `${padMode} ${name} stat ${i}: ${
                stats[name][i]
              } vs ${g} (rel ${rel})`,
            );
          });
        }
        vgg.dispose();
      }
      assert.equal(getBackend().memory().liveCount, 0);
    } finally {
      getBackend().dispose();
    }
  },
});
