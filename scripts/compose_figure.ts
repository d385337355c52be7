// Puts images side by side at one height, with a white gap: the README's
// content | style | result figure.
//   deno run -A scripts/compose_figure.ts A B C --height 256 --out FIG.png
import { currentPlatform } from "../runtime/platform/mod.ts";
import {
  decodeImage,
  encodeImage,
  resizeImage,
  type RgbImage,
} from "../runtime/io/image.ts";
import { type CliSpec, parseCommandLine } from "./_cli.ts";

const CLI: CliSpec = {
  name: "deno run -A scripts/compose_figure.ts IMAGE…",
  summary: "Writes the images side by side, scaled to one height.",
  flags: {
    height: { type: "integer", min: 16, default: 256, description: "Height" },
    gap: { type: "integer", min: 0, default: 8, description: "Gap in pixels" },
    out: { type: "string", default: "figure.png", description: "Output PNG" },
  },
};

const paths = Deno.args.filter((a, i, all) =>
  !a.startsWith("--") && !all[i - 1]?.startsWith("--")
);
const flags = parseCommandLine(
  CLI,
  Deno.args.filter((a) => !paths.includes(a)),
);
const height = flags.height as number, gap = flags.gap as number;
const images: RgbImage[] = [];
for (const p of paths) {
  const img = decodeImage(await Deno.readFile(p), { name: p });
  images.push(
    resizeImage(
      img,
      Math.max(1, Math.round(img.width * height / img.height)),
      height,
    ),
  );
}
const width = images.reduce((w, im) => w + im.width, 0) +
  gap * (images.length - 1);
const n = width * height;
const data = new Float32Array(3 * n).fill(1);
let x0 = 0;
for (const im of images) {
  const m = im.width * im.height;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < im.width; x++) {
        data[c * n + y * width + x0 + x] = im.data[c * m + y * im.width + x];
      }
    }
  }
  x0 += im.width + gap;
}
await (await currentPlatform()).writeFileAtomic(
  flags.out as string,
  encodeImage({ width, height, data }),
);
console.log(`wrote ${flags.out} (${width}x${height})`);
