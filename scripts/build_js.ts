// deno task build:js: bundles the runtime (and later models and hosts) into
// plain ES modules in build/js/ for Node and browsers, which cannot run
// TypeScript. Code splitting keeps worker.js and mod.js sharing chunks, and
// the engine finds worker.js beside itself.
const ENTRIES = [
  "runtime/mod.ts",
  "runtime/engine/worker.ts",
];

const command = new Deno.Command(Deno.execPath(), {
  args: [
    "bundle",
    "--quiet",
    "--platform",
    "browser",
    "--packages",
    "external",
    "--code-splitting",
    "--outdir",
    "build/js",
    ...ENTRIES,
  ],
  stdout: "inherit",
  stderr: "inherit",
});
const { code } = await command.output();
if (code !== 0) {
  console.error("build:js: bundling failed");
  Deno.exit(code);
}
console.log(`build:js: ${ENTRIES.length} entries bundled into build/js/`);
