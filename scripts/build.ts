// deno task build: compiles the engine's four wasm variants from assembly/
// (threads x relaxed-SIMD) and checks that the threaded builds contain no
// AssemblyScript runtime code (~lib/rt/), which is not safe on shared memory.
// Skips the compile when every output is newer than every source.
import asc from "assemblyscript/asc";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

export const TARGETS = [
  "threads-simd",
  "threads-relaxed",
  "single-simd",
  "single-relaxed",
] as const;

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const t = entry.isDirectory()
      ? await newestSource(path)
      : (await stat(path)).mtimeMs;
    newest = Math.max(newest, t);
  }
  return newest;
}

// Flags: --force rebuilds; --entry FILE and --out-dir DIR build another
// entry (assembly/dev/*.ts while developing one family) to another folder.
function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const ENTRY = flag("--entry", "assembly/index.ts");
const OUT_DIR = flag("--out-dir", "build");

async function oldestOutput(): Promise<number> {
  let oldest = Infinity;
  for (const target of TARGETS) {
    try {
      oldest = Math.min(
        oldest,
        (await stat(`${OUT_DIR}/impasto-${target}.wasm`)).mtimeMs,
      );
    } catch {
      return 0;
    }
  }
  return oldest;
}

async function main(): Promise<number> {
  const force = process.argv.includes("--force");
  const sources = Math.max(
    await newestSource("assembly"),
    (await stat("asconfig.json")).mtimeMs,
  );
  if (!force && (await oldestOutput()) > sources) {
    console.log(`build: engine is up to date (${OUT_DIR}/impasto-*.wasm)`);
    return 0;
  }
  for (const target of TARGETS) {
    const t0 = performance.now();
    const { error, stderr } = await asc.main([
      ENTRY,
      "--config",
      "asconfig.json",
      "--target",
      target,
      "--outFile",
      `${OUT_DIR}/impasto-${target}.wasm`,
      "--textFile",
      `${OUT_DIR}/impasto-${target}.wat`,
    ]);
    if (error) {
      console.error(stderr.toString());
      console.error(`build: ${target} failed: ${error.message}`);
      return 1;
    }
    const bytes = (await stat(`${OUT_DIR}/impasto-${target}.wasm`)).size;
    console.log(
      `build: ${target} ${(bytes / 1024).toFixed(1)} KiB in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
  }
  for (const target of TARGETS.filter((t) => t.startsWith("threads"))) {
    const wat = await readFile(`${OUT_DIR}/impasto-${target}.wat`, "utf8");
    if (wat.includes("~lib/rt/")) {
      console.error(
        `build: ${target} contains AssemblyScript runtime code (~lib/rt/), which is unsafe on shared memory; remove managed allocations from assembly/`,
      );
      return 1;
    }
    if (!wat.includes("f32x4")) {
      console.error(`build: ${target} contains no f32x4 instructions`);
      return 1;
    }
  }
  return 0;
}

process.exitCode = await main();
