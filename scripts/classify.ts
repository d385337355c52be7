// deno task classify IMAGE… --model vgg19|vgg16|alexnet|alexnet-caffe
//   --weights FILE [--top 5] [--json] [--threads N]
//
// Top-k ImageNet classes of each image with published VGG or AlexNet
// weights in any supported format and name layout (models/load.ts). Images
// are resized (shorter side 256) and centre-cropped to the model's input
// size (224; 227 for Caffe's AlexNet), then preprocessed as the weights
// expect (models/preprocess.ts). All the work is in models/classify.ts.
import { getBackend } from "../runtime/backend.ts";
import { decodeImage } from "../runtime/io/image.ts";
import { initBackend } from "../runtime/mod.ts";
import { currentPlatform } from "../runtime/platform/mod.ts";
import { classifyImage, type Prediction } from "../models/classify.ts";
import { type LoadedModel, loadModel } from "../models/load.ts";
import { resolveWeights } from "../models/weight_cache.ts";
import { findWeightEntry } from "../models/weight_registry.ts";
import { MODEL_NAMES, type ModelName } from "../models/weight_names.ts";
import {
  BACKEND_FLAG,
  CliError,
  type CliSpec,
  logBackend,
  parseCommandLine,
} from "./_cli.ts";

export const CLI: CliSpec = {
  name: "deno task classify IMAGE…",
  summary:
    "Top-k ImageNet classes of images with VGG16/19 or AlexNet and published weights (safetensors, .pth or ONNX; torchvision, timm, Caffe, ONNX-zoo or WCT tensor names).",
  flags: {
    model: {
      type: "string",
      choices: MODEL_NAMES,
      description:
        "Network the weights belong to (default: the cached weights' model, else vgg19)",
    },
    weights: {
      type: "string",
      valueName: "NAME|FILE",
      description:
        "Weight file, or the name of weights fetched with `deno task weights <name>`",
    },
    top: {
      type: "integer",
      default: 5,
      min: 1,
      max: 1000,
      description: "Classes to show per image",
    },
    json: { type: "boolean", description: "Print JSON instead of text" },
    backend: BACKEND_FLAG,
    threads: {
      type: "integer",
      min: 1,
      description: "Compute threads (default: all cores)",
    },
  },
  epilog: [
    "Example: deno task weights alexnet && deno task classify assets/images/chelsea.png --weights alexnet",
    "Weights: see docs/models.md for the published files each model takes.",
  ].join("\n"),
};

export interface ClassifyResult {
  image: string;
  top: Prediction[];
}

export interface ClassifyReport {
  model: ModelName;
  weights: string;
  format: string;
  layout: string;
  preprocessing: LoadedModel["preprocessing"];
  inputSize: number;
  results: ClassifyResult[];
}

/** Loads the model once and classifies every image. */
export async function runClassify(options: {
  images: readonly string[];
  model: ModelName;
  weights: string | Uint8Array;
  top?: number;
}): Promise<ClassifyReport> {
  const loaded = await loadModel({
    model: options.model,
    weights: options.weights,
    classifier: true,
  });
  try {
    const results: ClassifyResult[] = [];
    for (const path of options.images) {
      let bytes: Uint8Array;
      try {
        bytes = await (await currentPlatform()).readFile(path);
      } catch {
        throw new Error(`cannot read image ${path}`);
      }
      const image = decodeImage(bytes, { name: path });
      results.push({
        image: path,
        top: classifyImage(loaded, image, options.top ?? 5),
      });
    }
    return {
      model: options.model,
      weights: loaded.source,
      format: loaded.format,
      layout: loaded.layout,
      preprocessing: loaded.preprocessing,
      inputSize: loaded.inputSize,
      results,
    };
  } finally {
    loaded.model.dispose();
  }
}

/** The text report: one block per image, probabilities in percent. */
export function formatReport(report: ClassifyReport): string {
  const lines: string[] = [];
  for (const r of report.results) {
    lines.push(`${r.image} (${report.model}, ${report.weights}):`);
    r.top.forEach((p, i) => {
      const percent = (100 * p.probability).toFixed(2).padStart(6);
      lines.push(`  ${i + 1}. ${percent}%  ${p.label} (${p.index})`);
    });
  }
  return lines.join("\n");
}

/**
 * Separates image paths from flags: a word that is not a flag and not the
 * value of the flag before it is an image.
 */
export function splitImages(
  spec: CliSpec,
  args: readonly string[],
): { images: string[]; flags: string[] } {
  const images: string[] = [], flags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      images.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      images.push(a);
      continue;
    }
    flags.push(a);
    const name = /^--([^=]+)$/.exec(a)?.[1];
    const f = name ? spec.flags[name] : undefined;
    if (f && f.type !== "boolean" && i + 1 < args.length) flags.push(args[++i]);
  }
  return { images, flags };
}

if (import.meta.main) {
  const { images, flags: flagArgs } = splitImages(CLI, Deno.args);
  const flags = parseCommandLine(CLI, flagArgs);
  const usage = (message: string): never => {
    console.error(`${CLI.name}: ${new CliError(message).message} (see --help)`);
    Deno.exit(2);
  };
  if (images.length === 0) usage("give at least one image");
  if (!flags.weights) {
    usage(
      `--weights is required: a weight file, or a name fetched with \`deno task weights <name>\` (docs/models.md)`,
    );
  }
  const weightsArg = flags.weights as string;
  let weightsPath: string;
  try {
    weightsPath = await resolveWeights(weightsArg);
  } catch (e) {
    console.error(
      `classify: ${String((e as Error)?.message ?? e).split("\n")[0]}`,
    );
    Deno.exit(1);
  }
  // Cached weights know their model: `--weights alexnet` needs no --model.
  const model = (flags.model as ModelName | undefined) ??
    findWeightEntry(weightsArg.replace(/-to-[\w]+$/, ""))?.model ?? "vgg19";
  await initBackend({
    backend: flags.backend as "auto" | "webgpu" | "wasm",
    // --json keeps stdout pure JSON.
    log: flags.json ? undefined : logBackend,
    threads: flags.threads as number | undefined,
  });
  try {
    const report = await runClassify({
      images,
      model,
      weights: weightsPath,
      top: flags.top as number,
    });
    console.log(
      flags.json ? JSON.stringify(report, null, 2) : formatReport(report),
    );
  } catch (e) {
    console.error(
      `classify: ${String((e as Error)?.message ?? e).split("\n")[0]}`,
    );
    Deno.exitCode = 1;
  } finally {
    getBackend().dispose();
  }
}
