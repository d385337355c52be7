import assert from "node:assert/strict";
import { Engine } from "../../runtime/engine/engine.ts";

Deno.test("engine loads, runs a kernel threaded and single-threaded alike", async () => {
  const engine = await Engine.create({ threads: 2 });
  try {
    const n = 1003;
    const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const pa = engine.upload(a), pb = engine.upload(b);
    const out = engine.allocF32(n);
    engine.run("f32_vadd__wasmsimd", [pa, pb, out, n]);
    const threaded = engine.download(out, n);
    engine.run("f32_vadd__wasmsimd", [pa, pb, out, n], 1);
    assert.deepEqual(engine.download(out, n), threaded);
    for (let i = 0; i < n; i++) {
      assert.equal(threaded[i], Math.fround(a[i] + b[i]));
    }
    console.log(engine.variant, engine.threads);
  } finally {
    engine.dispose();
  }
});
