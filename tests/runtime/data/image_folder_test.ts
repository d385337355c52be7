// --data DIR: a directory of the user's images becomes a dataset (grey or
// RGB detected); unreadable directories, empty ones, corrupt files and
// mixed sizes are one-line errors that say what to do.
import assert from "node:assert/strict";
import { encodeImage } from "../../../runtime/io/image.ts";
import { loadImageFolder } from "../../../runtime/data/image_folder.ts";

function png(width: number, height: number, colour: boolean, seed = 1) {
  const n = width * height;
  const data = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const v = ((i * 37 + seed * 11) % 256) / 255;
    data[i] = v;
    data[n + i] = colour ? 1 - v : v;
    data[2 * n + i] = v;
  }
  return { bytes: encodeImage({ width, height, data }), data };
}

const oneLine = (re: RegExp) => (e: Error) =>
  re.test(e.message) && !e.message.includes("\n");

Deno.test("grey PNGs load as one channel, exactly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = png(6, 5, false, 1), b = png(6, 5, false, 2);
    await Deno.writeFile(`${dir}/a.png`, a.bytes);
    await Deno.writeFile(`${dir}/b.png`, b.bytes);
    await Deno.writeTextFile(`${dir}/notes.txt`, "ignored");
    const d = await loadImageFolder(dir);
    assert.deepEqual([d.count, d.channels, d.height, d.width], [2, 1, 5, 6]);
    // 8-bit values round-trip exactly.
    assert.deepEqual([...d.images.subarray(0, 30)], [
      ...a.data.subarray(0, 30),
    ]);
    assert.deepEqual([...d.images.subarray(30)], [...b.data.subarray(0, 30)]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("colour images load as RGB", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.png`, png(4, 4, true).bytes);
    await Deno.writeFile(`${dir}/b.png`, png(4, 4, false).bytes);
    const d = await loadImageFolder(dir);
    assert.equal(d.channels, 3);
    assert.equal(d.images.length, 2 * 3 * 16);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mixed sizes: one-line error naming both files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.png`, png(4, 4, false).bytes);
    await Deno.writeFile(`${dir}/b.png`, png(5, 4, false).bytes);
    await assert.rejects(
      () => loadImageFolder(dir),
      oneLine(/b\.png is 5x4 but .*a\.png is 4x4.*same size/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unreadable directory, empty directory, corrupt file", async () => {
  await assert.rejects(
    () => loadImageFolder("/nonexistent/images"),
    oneLine(/Cannot read image directory \/nonexistent\/images/),
  );
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => loadImageFolder(dir),
      oneLine(/holds no PNG, JPEG/),
    );
    await Deno.writeFile(`${dir}/bad.png`, new TextEncoder().encode("nope"));
    await assert.rejects(
      () => loadImageFolder(dir),
      oneLine(/bad\.png is not a PNG/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
