// Test helper: one engine per test file, optionally from a development build
// (IMPASTO_WASM_DIR=build/dev-<family> while a family is being written).
import { Engine, type EngineOptions } from "../runtime/engine/engine.ts";

/** The engine build the tests use: IMPASTO_WASM_DIR, else build/. */
export function testWasmDir(): URL | undefined {
  const dir =
    (globalThis as { Deno?: { env: { get(k: string): string | undefined } } })
      .Deno?.env.get("IMPASTO_WASM_DIR");
  if (!dir) return undefined;
  return new URL(dir.endsWith("/") ? dir : dir + "/", `file://${Deno.cwd()}/`);
}

/** Creates an engine for tests; dispose it at the end of the test. */
export function createTestEngine(
  options: EngineOptions = {},
): Promise<Engine> {
  return Engine.create({ wasmBaseUrl: testWasmDir(), threads: 2, ...options });
}
