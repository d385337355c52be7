// deno task sample-gan — images from a trained generator: a grid of n
// samples, or with --interpolate a latent-space walk (rows of spherical
// interpolations between random noise vectors), from a checkpoint written
// by deno task train-gan.
import { getBackend } from "../runtime/backend.ts";
import { encodeImage, formatForPath } from "../runtime/io/image.ts";
import { initBackend } from "../runtime/mod.ts";
import { currentPlatform } from "../runtime/platform/mod.ts";
import { Random } from "../runtime/random.ts";
import { imageRange } from "../models/gan/networks.ts";
import { imageGrid, latentWalk } from "../models/gan/sampling.ts";
import {
  generateImages,
  generatorFromCheckpoint,
  toUnitRange,
} from "../models/gan/trainer.ts";
import {
  BACKEND_FLAG,
  type CliSpec,
  logBackend,
  parseCommandLine,
} from "./_cli.ts";

export const CLI: CliSpec = {
  name: "deno task sample-gan",
  summary:
    "Writes a grid of samples from a GAN checkpoint, or with --interpolate a latent-space walk.",
  flags: {
    checkpoint: {
      type: "string",
      default: "out/gan/checkpoint.safetensors",
      description: "Checkpoint written by deno task train-gan",
      valueName: "FILE",
    },
    n: {
      type: "integer",
      default: 64,
      min: 1,
      max: 4096,
      description: "Samples in the grid (--interpolate: walks x steps)",
    },
    columns: {
      type: "integer",
      min: 1,
      description: "Grid columns (default 8; --interpolate: the steps)",
    },
    interpolate: {
      type: "boolean",
      description:
        "Latent walks: each row interpolates between two noise vectors",
    },
    steps: {
      type: "integer",
      default: 10,
      min: 2,
      description: "Points per walk with --interpolate",
    },
    scale: {
      type: "integer",
      default: 1,
      min: 1,
      max: 16,
      description: "Draw each pixel as a scale x scale block",
    },
    seed: { type: "integer", default: 0, description: "Seed of the noise" },
    out: {
      type: "string",
      default: "out/gan/sampled.png",
      description: "Output image (PNG, or JPEG by extension)",
      valueName: "FILE",
    },
    backend: BACKEND_FLAG,
    threads: { type: "integer", min: 1, description: "Compute threads" },
  },
  epilog: "Examples:\n" +
    "  deno task sample-gan --checkpoint out/gan/checkpoint.safetensors --n 64\n" +
    "  deno task sample-gan --interpolate --n 80 --steps 10 --out walk.png",
};

/** Writes the grid or walk; returns the number of images drawn. */
export async function sampleGan(o: {
  checkpoint: string;
  n: number;
  out: string;
  seed: number;
  interpolate?: boolean;
  steps?: number;
  columns?: number;
  scale?: number;
}): Promise<number> {
  const platform = await currentPlatform();
  let bytes: Uint8Array;
  try {
    bytes = await platform.readFile(o.checkpoint);
  } catch {
    throw new Error(
      `Cannot read ${o.checkpoint}; train first (deno task train-gan) or pass --checkpoint FILE`,
    );
  }
  const { generator, info } = generatorFromCheckpoint(bytes, o.checkpoint);
  try {
    const rng = new Random(o.seed);
    const latent = info.config.latent;
    const steps = o.steps ?? 10;
    const rows = o.interpolate ? Math.max(1, Math.round(o.n / steps)) : 0;
    const z = o.interpolate
      ? latentWalk(rng, latent, rows, steps)
      : rng.fillNormal(new Float32Array(o.n * latent), 0, 1);
    const images = toUnitRange(
      generateImages(generator, z, latent),
      imageRange(info.config.model),
    );
    const columns = o.interpolate ? steps : (o.columns ?? 8);
    const grid = imageGrid(images, info.shape, columns, 2, o.scale ?? 1);
    await platform.writeFileAtomic(
      o.out,
      encodeImage(grid, formatForPath(o.out)),
    );
    return z.length / latent;
  } finally {
    generator.dispose();
  }
}

if (import.meta.main) {
  const flags = parseCommandLine(CLI);
  await initBackend({
    backend: flags.backend as "auto" | "webgpu" | "wasm",
    log: logBackend,
    threads: flags.threads as number | undefined,
  });
  try {
    const n = await sampleGan({
      checkpoint: flags.checkpoint as string,
      n: flags.n as number,
      out: flags.out as string,
      seed: flags.seed as number,
      interpolate: flags.interpolate as boolean | undefined,
      steps: flags.steps as number,
      columns: flags.columns as number | undefined,
      scale: flags.scale as number,
    });
    console.log(`Wrote ${flags.out} (${n} images)`);
  } catch (e) {
    console.error(`sample-gan: ${(e as Error).message.split("\n")[0]}`);
    Deno.exitCode = 1;
  } finally {
    getBackend().dispose();
  }
}
