// deno task build:js: bundles TypeScript into plain ES modules for hosts that
// cannot run it:
//   build/js/   Node (npm packages stay external: Node resolves them from
//               node_modules): mod.js (the runtime), image.js, style.js, …
//   build/web/  the browser page (npm packages bundled: no node_modules
//               there): app.js, stylize_worker.js
//   build/edge/ the edge function for workerd (handler.js and its chunks)
// Every bundle keeps the engine's thread worker as worker.js in the bundle's
// top folder, beside the chunk holding the engine, which finds it by
// `new URL("./worker.js", import.meta.url)`. Each entry is re-exported by a
// generated one-line stub in build/.entries/ so that entries from runtime/,
// models/, hosts/ and web/ all land flat in the output folder.
import { existsSync } from "node:fs";

const ROOT = new URL("../", import.meta.url);
const STUBS = new URL("build/.entries/", ROOT);

interface Bundle {
  outdir: string;
  /** Output name (without .js) → source path from the repository root. */
  entries: Record<string, string>;
  packages: "external" | "bundle";
  codeSplitting: boolean;
}

// npm dependencies (package.json "dependencies") that Node resolves itself.
const NPM_PACKAGES = Object.keys(
  JSON.parse(await Deno.readTextFile(new URL("package.json", ROOT)))
    .dependencies ?? {},
);

const styleLibrary = existsSync(new URL("models/style/mod.ts", ROOT));

const BUNDLES: Bundle[] = [
  {
    outdir: "build/js",
    entries: {
      mod: "runtime/mod.ts",
      worker: "runtime/engine/worker.ts",
      gpu_worker: "runtime/backends/webgpu/gpu_worker.ts",
      image: "runtime/io/image.ts",
      optim: "runtime/optim/mod.ts",
      weights: "models/weights.ts",
      style_run: "hosts/style_run.ts",
      variant: "hosts/variant.ts",
      ...(styleLibrary ? { style: "models/style/mod.ts" } : {}),
    },
    packages: "external",
    codeSplitting: true,
  },
  {
    outdir: "build/web",
    entries: {
      app: "web/app.ts",
      stylize_worker: "web/stylize_worker.ts",
      worker: "runtime/engine/worker.ts",
      gpu_worker: "runtime/backends/webgpu/gpu_worker.ts",
    },
    packages: "bundle",
    codeSplitting: true,
  },
  {
    outdir: "build/edge",
    entries: { handler: "hosts/edge/handler.ts" },
    packages: "bundle",
    // Splitting keeps the Node adapter (node:fs, node:worker_threads) in a
    // chunk of its own that the edge never imports.
    codeSplitting: true,
  },
];

async function bundle(b: Bundle): Promise<void> {
  const stubDir = new URL(`${b.outdir.replace("build/", "")}/`, STUBS);
  await Deno.mkdir(stubDir, { recursive: true });
  const stubs: string[] = [];
  for (const [name, source] of Object.entries(b.entries)) {
    const target = new URL(source, ROOT).pathname;
    const stub = new URL(`${name}.ts`, stubDir);
    // A side-effect import for the worker (its module body is the program);
    // re-exports for libraries, plus their default export where they have one.
    const text = name === "worker"
      ? `import ${JSON.stringify(target)};\n`
      : `export * from ${JSON.stringify(target)};\n` +
        (/export default/.test(await Deno.readTextFile(target))
          ? `export { default } from ${JSON.stringify(target)};\n`
          : "");
    await Deno.writeTextFile(stub, text);
    stubs.push(stub.pathname);
  }
  const outdir = new URL(b.outdir + "/", ROOT).pathname;
  await Deno.remove(outdir, { recursive: true }).catch(() => {});
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--packages",
      b.packages,
      // `--packages external` alone still inlines npm packages that resolve
      // through package.json: name them.
      ...(b.packages === "external"
        ? NPM_PACKAGES.flatMap((p) => ["--external", p])
        : []),
      ...(b.codeSplitting ? ["--code-splitting"] : []),
      "--outdir",
      outdir,
      ...stubs,
    ],
    cwd: ROOT.pathname,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`build:js: bundling ${b.outdir} failed`);
    Deno.exit(1);
  }
}

const only = Deno.args.length ? new Set(Deno.args) : null;
for (const b of BUNDLES) {
  if (only && !only.has(b.outdir)) continue;
  if (!b.entries) continue;
  const missing = Object.values(b.entries).filter((s) =>
    !existsSync(new URL(s, ROOT))
  );
  if (missing.length) {
    console.error(`build:js: skipping ${b.outdir}: missing ${missing}`);
    continue;
  }
  await bundle(b);
  console.log(
    `build:js: ${
      Object.keys(b.entries).length
    } entries bundled into ${b.outdir}/`,
  );
}
