// deno task bench:stylize: the --quick smoke run writes rows of the
// documented JSON shape (speed is never asserted: the machine is shared);
// ours and tfjs-wasm compute the same loss and gradient, so the comparison
// times the same work; the FLOP count matches a hand count.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { initBackend } from "../../runtime/mod.ts";
import {
  DEFAULT_LOSS_WEIGHTS,
  evaluationFlops,
  GatysProblem,
  registerTfjsGradients,
  STYLE_WORKLOADS,
  tapShape,
  TfjsGatysProblem,
} from "../../models/style_bench.ts";
import { median, parseSizes } from "../../scripts/bench_stylize.ts";
import { testWasmDir } from "../_engine.ts";

const DENO = Deno.execPath();
const SCRIPT = new URL("../../scripts/bench_stylize.ts", import.meta.url);

Deno.test("bench:stylize --quick writes rows of the documented shape", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const json = `${dir}/rows.json`;
    const out = await new Deno.Command(DENO, {
      args: ["run", "-A", SCRIPT.pathname, "--quick", "--json", json],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(text, /workload size/);
    const rows = JSON.parse(await Deno.readTextFile(json));
    assert.ok(Array.isArray(rows));
    const cores = navigator.hardwareConcurrency;
    // relu5_1 and conv3_1 at 1 and all threads, plus two memory rows.
    assert.equal(rows.length, cores > 1 ? 6 : 4);
    for (const r of rows) {
      assert.ok(r.workload === "relu5_1" || r.workload === "conv3_1");
      assert.match(r.size, /^\d+x\d+$/);
      assert.ok(Number.isInteger(r.threads) && r.threads >= 1);
      assert.equal(r.error, undefined, r.error);
      assert.ok(r.ms_per_iteration > 0);
      assert.ok(r.peak_mb > 0);
      assert.ok(r.gflop_per_iteration > 0);
      assert.equal(typeof r.busy, "boolean");
      if (r.kind === "time") {
        assert.ok(r.tfjs_wasm_ms_per_iteration > 0);
        // ratio = tfjs ms / ours, both rounded.
        const ratio = r.tfjs_wasm_ms_per_iteration / r.ms_per_iteration;
        assert.ok(
          Math.abs(r.ratio_vs_tfjs_wasm - ratio) <= 0.01 * ratio + 0.01,
        );
      } else {
        assert.equal(r.kind, "memory");
        assert.equal(r.tfjs_wasm_ms_per_iteration, null);
        assert.equal(r.ratio_vs_tfjs_wasm, null);
      }
    }
    assert.deepEqual(
      [...new Set(rows.map((r: { threads: number }) => r.threads))],
      cores > 1 ? [1, cores] : [1],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench:stylize: a bad flag is one line and exit status 2", async () => {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", SCRIPT.pathname, "--sizes", "12x"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const err = new TextDecoder().decode(out.stderr).trim();
  assert.equal(err.split("\n").length, 1);
  assert.match(err, /--sizes: "12x"/);
});

Deno.test("style_bench: ours and tfjs-wasm compute the same loss and gradient", async () => {
  setWasmPaths(
    new URL(
      "../../node_modules/@tensorflow/tfjs-backend-wasm/dist/",
      import.meta.url,
    )
      .href,
  );
  await tf.setBackend("wasm");
  await tf.ready();
  registerTfjsGradients(tf);
  const backend = await initBackend({ threads: 2, wasmBaseUrl: testWasmDir() });
  try {
    // Each term on its own (TV alone would dominate the default total on
    // random images), then the default weights.
    const cases = [
      ["conv3_1", 24, 40, { content: 1, style: 0, tv: 0 }],
      ["conv3_1", 24, 40, { content: 0, style: 1e5, tv: 0 }],
      ["relu5_1", 32, 48, { content: 0, style: 1e5, tv: 0 }],
      ["conv3_1", 24, 40, { content: 0, style: 0, tv: 10 }],
      ["relu5_1", 32, 48, DEFAULT_LOSS_WEIGHTS],
    ] as const;
    for (const [name, h, w, weights] of cases) {
      const label = `${name} ${JSON.stringify(weights)}`;
      const ours = new GatysProblem(STYLE_WORKLOADS[name], h, w, 7, weights);
      const theirs = new TfjsGatysProblem(tf, ours);
      const a = ours.evaluate(true), b = theirs.evaluate(true);
      ours.dispose();
      theirs.dispose();
      // f32 with different summation orders (and Winograd on our side):
      // measured up to 5.3e-5 relative on the loss (the style terms square
      // G − A, which cancels) and up to 6e-6 relative L2 on the gradient;
      // allow 5e-4 and 1e-4.
      assert.ok(a.loss > 0 && Number.isFinite(a.loss), label);
      assert.ok(
        Math.abs(a.loss - b.loss) <= 5e-4 * Math.abs(b.loss),
        `${label}: loss ${a.loss} vs tfjs ${b.loss}`,
      );
      let diff = 0, norm = 0;
      for (let i = 0; i < b.gradient!.length; i++) {
        diff += (a.gradient![i] - b.gradient![i]) ** 2;
        norm += b.gradient![i] ** 2;
      }
      assert.ok(norm > 0, label);
      assert.ok(
        Math.sqrt(diff / norm) <= 1e-4,
        `${label}: gradient relative L2 error ${Math.sqrt(diff / norm)}`,
      );
    }
    assert.equal(tf.memory().numTensors, 0, "tfjs tensors leaked");
    assert.equal(backend.memory().liveCount, 0, "engine storages leaked");
  } finally {
    backend.dispose();
  }
});

Deno.test("style_bench: FLOP count and tap shapes match a hand count", () => {
  // VGG19 to relu5_1 at 256²: 23.669 G conv MACs (forward; backward-data
  // the same), Grams 4·268.4M + 67.1M MACs (forward + backward twice that),
  // 2 FLOP per MAC.
  const convMacs = 256 * 256 * 64 * 27 + 256 * 256 * 64 * 576 +
    128 * 128 * 128 * (576 + 1152) + 64 * 64 * 256 * (1152 + 3 * 2304) +
    32 * 32 * 512 * (2304 + 3 * 4608) + 16 * 16 * 512 * 4608;
  const gramMacs = 4 * 64 * 64 * 256 * 256 + 512 * 512 * 16 * 16;
  assert.equal(
    evaluationFlops(STYLE_WORKLOADS.relu5_1, 256, 256),
    4 * convMacs + 4 * gramMacs,
  );
  assert.deepEqual(tapShape("relu3_1", 172, 256), [256, 43, 64]);
  assert.deepEqual(tapShape("relu5_1", 512, 512), [512, 32, 32]);
  assert.deepEqual(parseSizes("256,256x172", "sizes"), [[256, 256], [
    256,
    172,
  ]]);
  assert.throws(() => parseSizes("8", "sizes"), /--sizes: "8"/);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
});
