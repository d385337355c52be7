import assert from "node:assert/strict";
import {
  decodeImage,
  encodeImage,
  ImageError,
  resizeImage,
} from "../../../runtime/io/image.ts";

const SHARED = new URL("../../../../shared/data/images/", import.meta.url);

Deno.test("decodeImage reproduces the documented channel sums of chelsea_256.png", async () => {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(new URL("content/chelsea_256.png", SHARED));
  } catch {
    console.log("skipped: ../shared/data/images is absent");
    return;
  }
  const img = decodeImage(bytes);
  assert.equal(img.width, 256);
  assert.equal(img.height, 256);
  const n = 256 * 256;
  const sums = [0, 1, 2].map((c) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.round(img.data[c * n + i] * 255);
    return s;
  });
  // Sums from the weights README (decoded 8-bit RGB).
  assert.deepEqual(sums, [9715605, 7136074, 5223249]);
});

Deno.test("encodeImage then decodeImage round-trips 8-bit values exactly", () => {
  const w = 7, h = 5, n = w * h;
  const data = new Float32Array(3 * n);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 37) % 256) / 255;
  const back = decodeImage(encodeImage({ width: w, height: h, data }));
  assert.equal(back.width, w);
  assert.equal(back.height, h);
  for (let i = 0; i < data.length; i++) {
    assert.equal(Math.round(back.data[i] * 255), Math.round(data[i] * 255));
  }
});

Deno.test("decodeImage gives one-line errors for non-images and corrupt files", () => {
  assert.throws(
    () => decodeImage(new TextEncoder().encode("hello"), { name: "x.png" }),
    (e) =>
      e instanceof ImageError && /x\.png is not a PNG/.test(e.message) &&
      !e.message.includes("\n"),
  );
  const png = encodeImage({
    width: 4,
    height: 4,
    data: new Float32Array(48).fill(0.5),
  });
  assert.throws(
    () => decodeImage(png.subarray(0, 30), { name: "cut.png" }),
    (e) => e instanceof ImageError && /cut\.png is a corrupt/.test(e.message),
  );
  assert.throws(
    () => decodeImage(png, { maxPixels: 10 }),
    (e) => e instanceof ImageError && /pixel limit/.test(e.message),
  );
});

Deno.test("encodeImage refuses NaN pixels", () => {
  const data = new Float32Array(3).fill(NaN);
  assert.throws(() => encodeImage({ width: 1, height: 1, data }), /NaN/);
});

Deno.test("resizeImage keeps a constant image constant and matches bilinear on a ramp", () => {
  const w = 8, h = 4, n = w * h;
  const data = new Float32Array(3 * n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) data[c * n + y * w + x] = x / 7;
    }
  }
  const up = resizeImage({ width: w, height: h, data }, 16, 8);
  // Half-pixel centres: output x maps to (x + 0.5) / 2 - 0.5 in the input.
  for (let x = 1; x < 15; x++) {
    const fx = Math.min(7, Math.max(0, (x + 0.5) / 2 - 0.5));
    assert.ok(Math.abs(up.data[3 * 16 + x] - fx / 7) < 1e-6);
  }
  const flat = resizeImage(
    { width: w, height: h, data: new Float32Array(3 * n).fill(0.25) },
    3,
    2,
  );
  for (const v of flat.data) assert.ok(Math.abs(v - 0.25) < 1e-7);
});
