// Runs the README's runtime example, so the documentation matches the code.
import assert from "node:assert/strict";

Deno.test("the README's runtime example trains, saves and reloads a small net", async () => {
  const readme = await Deno.readTextFile(
    new URL("../../README.md", import.meta.url),
  );
  const match = readme.match(/<!-- runtime-example -->\s*```ts\n([\s\S]*?)```/);
  assert.ok(
    match,
    "README.md has a ```ts block after <!-- runtime-example -->",
  );
  const dir = await Deno.makeTempDir();
  const root = new URL("../../", import.meta.url).href;
  const code = match[1]
    .replaceAll('"impasto/runtime/mod.ts"', `"${root}runtime/mod.ts"`)
    .replaceAll('"xor.safetensors"', JSON.stringify(`${dir}/xor.safetensors`));
  const file = `${dir}/example.ts`;
  await Deno.writeTextFile(file, code);
  const { code: exit, stdout, stderr } = await new Deno.Command(
    Deno.execPath(),
    {
      args: [
        "run",
        "-A",
        "--no-lock",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        file,
      ],
      stdout: "piped",
      stderr: "piped",
    },
  ).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(exit, 0, new TextDecoder().decode(stderr));
  const accuracy = Number(out.match(/accuracy (\d+(?:\.\d+)?)/)?.[1]);
  assert.equal(accuracy, 1, out);
  await Deno.remove(dir, { recursive: true });
});
