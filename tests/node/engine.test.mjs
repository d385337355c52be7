// The engine under Node: the same .wasm and loader as in Deno, with
// worker_threads. Run by `deno task test:node` (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Engine } from "../../build/js/mod.js";

test("engine runs threaded under Node and matches single-threaded", async () => {
  const engine = await Engine.create({ threads: 2 });
  try {
    assert.equal(engine.platform.name, "node");
    assert.equal(engine.threads, 2);
    const n = 4099;
    const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const pa = engine.upload(a),
      pb = engine.upload(b),
      out = engine.allocF32(n);
    engine.run("f32_vadd__wasmsimd", [pa, pb, out, n]);
    const threaded = engine.download(out, n);
    engine.run("f32_vadd__wasmsimd", [pa, pb, out, n], 1);
    assert.deepEqual(engine.download(out, n), threaded);
    for (let i = 0; i < n; i++) {
      assert.equal(threaded[i], Math.fround(a[i] + b[i]));
    }
  } finally {
    engine.dispose();
  }
});

test("single-thread SIMD variant loads without workers", async () => {
  const engine = await Engine.create({ threads: 1, variant: "single-simd" });
  try {
    assert.equal(engine.threads, 1);
    const p = engine.upload([1, 2, 3]);
    engine.run("f32_vaxpy__wasmsimd", [2, p, p, 3]);
    assert.deepEqual([...engine.download(p, 3)], [3, 6, 9]);
  } finally {
    engine.dispose();
  }
});
