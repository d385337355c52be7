// deno task stylize — neural style transfer (Gatys, Ecker & Bethge, CVPR
// 2016) on the wasm engine. Thin: parses flags, reads the images and the
// weights, calls models/style (stylize), shows progress, writes the files.
// With no arguments it stylises assets/images/chelsea.png with
// assets/images/starry_night.jpg into out.png. See docs/stylize.md.
import {
  decodeImage,
  encodeImage,
  formatForPath,
  ImageError,
  type RgbImage,
} from "../runtime/io/image.ts";
import { initBackend } from "../runtime/mod.ts";
import { currentPlatform } from "../runtime/platform/mod.ts";
import { ModelLoadError } from "../models/load.ts";
import { resolveWeights, WeightCacheError } from "../models/weight_cache.ts";
import { WeightsError } from "../models/weights.ts";
import {
  STYLE_DEFAULTS,
  StyleTransferError,
  type StyleTransferOptions,
  stylize,
  STYLIZE_DEFAULTS,
  type StylizeProgress,
} from "../models/style/mod.ts";
import {
  BACKEND_FLAG,
  type CliSpec,
  formatDuration,
  logBackend,
  parseCommandLine,
  Progress,
  stdoutIsTerminal,
} from "./_cli.ts";

const ASSETS = new URL("../assets/images/", import.meta.url);
/** Test weights shipped beside the repository (VGG-19 to conv3_1). */
const SHARED_WEIGHTS = new URL(
  "../../shared/data/weights/vgg19-normalised-conv3_1/vgg19_normalised_conv1_1-conv3_1.safetensors",
  import.meta.url,
);

export const SPEC: CliSpec = {
  name: "deno task stylize",
  summary:
    "Neural style transfer (Gatys, Ecker & Bethge 2016): optimises an image so that its VGG features match the content image and its Gram matrices match the style image(s). With no arguments it stylises assets/images/chelsea.png with starry_night.jpg into out.png.",
  flags: {
    content: {
      type: "string",
      short: "c",
      description: "Content image",
      default: "assets/images/chelsea.png",
      valueName: "FILE",
    },
    style: {
      type: "string",
      short: "s",
      description: "Style image(s), comma-separated",
      default: "assets/images/starry_night.jpg",
      valueName: "FILE[,FILE…]",
    },
    out: {
      type: "string",
      short: "o",
      description: "Output image (.png or .jpg), written atomically",
      default: "out.png",
      valueName: "FILE",
    },
    size: {
      type: "integer",
      description: "Longest side of the output in pixels",
      default: STYLIZE_DEFAULTS.size,
      min: 16,
      max: 16384,
    },
    iterations: {
      type: "integer",
      short: "i",
      description: "Iterations (per stage with --scales)",
      default: STYLIZE_DEFAULTS.iterations,
      min: 0,
    },
    "content-weight": {
      type: "number",
      description: "α, weight of the content loss ½Σ(F−P)²",
      default: STYLE_DEFAULTS.contentWeight,
      min: 0,
    },
    "style-weight": {
      type: "number",
      description: "β, weight of the style loss Σ w_l E_l",
      default: STYLE_DEFAULTS.styleWeight,
      min: 0,
    },
    "tv-weight": {
      type: "number",
      description: "Total-variation weight (pixel units; 0 = off)",
      default: STYLE_DEFAULTS.tvWeight,
      min: 0,
    },
    "content-layers": {
      type: "string",
      description:
        "Content layers (default relu4_2, or the deepest reluN_2 the weights have)",
      valueName: "L[,L…]",
    },
    "style-layers": {
      type: "string",
      description:
        "Style layers (default relu1_1,…,relu5_1, or those the weights have)",
      valueName: "L[,L…]",
    },
    "style-layer-weights": {
      type: "string",
      description: "w_l per style layer (default equal; normalised)",
      valueName: "W[,W…]",
    },
    optimizer: {
      type: "string",
      description: "Optimiser",
      default: STYLE_DEFAULTS.optimizer,
      choices: ["lbfgs", "adam", "sgd"],
    },
    lr: {
      type: "number",
      description: "Step size (default: lbfgs 1, adam 10, sgd 0.01)",
      min: 0,
    },
    history: {
      type: "integer",
      description: "L-BFGS history m",
      default: STYLE_DEFAULTS.history,
      min: 1,
    },
    "line-search": {
      type: "string",
      description: "L-BFGS line search",
      default: STYLE_DEFAULTS.lineSearch,
      choices: ["strong-wolfe", "none"],
    },
    init: {
      type: "string",
      description: "Start image: content, random or a FILE",
      default: STYLE_DEFAULTS.init,
      valueName: "content|random|FILE",
    },
    seed: {
      type: "integer",
      description: "Seed of the random init",
      default: STYLE_DEFAULTS.seed,
    },
    pooling: {
      type: "string",
      description: "Pooling in the VGG (Gatys: avg)",
      default: "avg",
      choices: ["max", "avg"],
    },
    "style-blend": {
      type: "string",
      description: "Weights of several style images (default equal)",
      valueName: "W[,W…]",
    },
    "style-scale": {
      type: "number",
      description: "Style images resized to this × the output's longest side",
      default: STYLE_DEFAULTS.styleScale,
      min: 0.01,
      max: 16,
    },
    "original-colors": {
      type: "string",
      description: "Keep the content's colours",
      default: STYLE_DEFAULTS.originalColors,
      choices: ["none", "luminance", "histogram"],
    },
    scales: {
      type: "string",
      description:
        "Coarse-to-fine stage sizes, e.g. 256,512,1024 (overrides --size)",
      valueName: "S[,S…]",
    },
    tile: {
      type: "integer",
      description:
        "Evaluate in tiles of at most N px (large outputs; seamless)",
      min: 32,
      valueName: "N",
    },
    model: {
      type: "string",
      description: "Network",
      default: "vgg19",
      choices: ["vgg19", "vgg16"],
    },
    weights: {
      type: "string",
      description:
        "Weights file or cache name (default: cache, then ../shared test weights)",
      valueName: "FILE",
    },
    backend: BACKEND_FLAG,
    threads: {
      type: "integer",
      description: "Engine threads (default: all cores)",
      min: 1,
      max: 256,
    },
    "print-every": {
      type: "integer",
      description: "Print the losses every N iterations (0 = never)",
      default: 10,
      min: 0,
    },
    "save-every": {
      type: "integer",
      description: "Write OUT_<iteration>.png every N iterations (0 = never)",
      default: 0,
      min: 0,
    },
    json: {
      type: "string",
      description: "Write per-iteration losses and timings as JSON",
      valueName: "FILE",
    },
  },
  epilog: [
    "Examples:",
    "  deno task stylize",
    "  deno task stylize -c photo.jpg -s style.jpg -o result.png --size 384 -i 200",
    "  deno task stylize --scales 256,512 --original-colors luminance",
    "  deno task stylize -s a.jpg,b.jpg --style-blend 3,1 --tile 256",
    "Ctrl-C stops after the current iteration and writes the image so far.",
  ].join("\n"),
};

function fail(message: string, code = 1): never {
  console.error(`${SPEC.name}: ${message}`);
  Deno.exit(code);
}

function list(v: unknown): string[] | undefined {
  if (typeof v !== "string") return undefined;
  return v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

function numbers(name: string, v: unknown): number[] | undefined {
  const l = list(v);
  if (!l) return undefined;
  return l.map((s) => {
    const n = Number(s);
    if (!Number.isFinite(n)) {
      fail(`--${name} needs comma-separated numbers, got "${s}"`, 2);
    }
    return n;
  });
}

async function readImage(path: string, what: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "not found"
      : String((e as Error).message).split("\n")[0];
    fail(`cannot read ${what} ${path}: ${why}`);
  }
  return decodeImage(bytes, { name: `${what} ${path}` });
}

async function defaultWeights(model: string): Promise<string> {
  try {
    return await resolveWeights(model);
  } catch (e) {
    if (!(e instanceof WeightCacheError)) throw e;
    try {
      if (model === "vgg19" && (await Deno.stat(SHARED_WEIGHTS)).isFile) {
        return SHARED_WEIGHTS.pathname;
      }
    } catch { /* not there either */ }
    throw e;
  }
}

function withSuffix(path: string, suffix: string): string {
  const m = /^(.*?)(\.[^./\\]+)?$/.exec(path)!;
  return `${m[1]}_${suffix}${m[2] ?? ".png"}`;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toExponential(3) : String(v);
}

async function main(): Promise<void> {
  const f = parseCommandLine(SPEC);
  const get = (k: string) => f[k];
  // The bundled defaults resolve next to this script from any directory.
  const bundled = (path: string) =>
    path.startsWith("assets/images/")
      ? new URL(path.slice("assets/images/".length), ASSETS).pathname
      : path;
  const contentPath = bundled(get("content") as string);
  const stylePaths = (list(get("style")) ?? []).map(bundled);
  if (stylePaths.length === 0) fail("--style needs at least one file", 2);
  const out = get("out") as string;
  const platform = await currentPlatform();
  await initBackend({
    backend: get("backend") as "auto" | "webgpu" | "wasm",
    log: logBackend,
    threads: get("threads") as number | undefined,
  });

  const content = await readImage(contentPath, "content image");
  const styles = [];
  for (const p of stylePaths) styles.push(await readImage(p, "style image"));
  const initFlag = get("init") as string;
  const init = initFlag === "content" || initFlag === "random"
    ? initFlag
    : await readImage(initFlag, "init image");
  const weights = (get("weights") as string | undefined) !== undefined
    ? await resolveWeights(get("weights") as string)
    : await defaultWeights(get("model") as string);
  const options: StyleTransferOptions = {
    contentWeight: get("content-weight") as number,
    styleWeight: get("style-weight") as number,
    tvWeight: get("tv-weight") as number,
    contentLayers: list(get("content-layers")),
    styleLayers: list(get("style-layers")),
    styleLayerWeights: numbers(
      "style-layer-weights",
      get("style-layer-weights"),
    ),
    optimizer: get("optimizer") as "lbfgs",
    lr: get("lr") as number | undefined,
    history: get("history") as number,
    lineSearch: get("line-search") as "strong-wolfe",
    init,
    seed: get("seed") as number,
    styleBlend: numbers("style-blend", get("style-blend")),
    styleScale: get("style-scale") as number,
    originalColors: get("original-colors") as "none",
    tile: get("tile") as number | undefined,
  };
  const scales = numbers("scales", get("scales"));
  const iterations = get("iterations") as number;
  const printEvery = get("print-every") as number;
  const saveEvery = get("save-every") as number;

  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) Deno.exit(130);
    stopRequested = true;
    console.error(
      `\n${SPEC.name}: stopping after this iteration; the image so far goes to ${out} (Ctrl-C again to quit now)`,
    );
  };
  try {
    Deno.addSignalListener("SIGINT", onSigint);
  } catch { /* no signals on this platform */ }

  const terminal = stdoutIsTerminal();
  let bar: Progress | null = null;
  const say = (line: string) => {
    if (terminal && bar) console.log(`\r\x1b[2K${line}`);
    else console.log(line);
  };
  const started = performance.now();
  const result = await stylize({
    content,
    styles,
    weights,
    model: get("model") as "vgg19",
    pooling: get("pooling") as "avg",
    size: get("size") as number,
    scales,
    iterations,
    options,
    shouldStop: () => stopRequested,
    onStage: (info, run) => {
      if (info.stage === 0) { for (const n of run.notes) say(`note: ${n}`); }
      const mem = run.estimateMemory().bytes;
      say(
        `stage ${
          info.stage + 1
        }/${info.stages}: ${info.width}x${info.height}, ${info.iterations} iterations, ${run.options.optimizer}, ` +
          `content ${run.options.contentLayers.join(",")}, style ${
            run.options.styleLayers.join(",")
          }${run.tiled ? `, ${run.tiles.length} tiles` : ""}, ~${
            Math.round(mem / 2 ** 20)
          } MiB`,
      );
      if (info.stage === 0) {
        bar = new Progress(iterations * info.stages, {
          label: "stylize",
          terminal,
        });
      }
    },
    onProgress: (p: StylizeProgress) => {
      if (
        printEvery > 0 && (p.iteration % printEvery === 0 || p.iteration === 1)
      ) {
        say(
          `stage ${p.stage + 1} iteration ${p.iteration}: loss ${
            fmt(p.loss)
          } (content ${fmt(p.content)}, style ${fmt(p.style)}, tv ${
            fmt(p.tv)
          }) ${p.ms.toFixed(0)} ms`,
        );
      }
      bar?.tick(1, `loss ${fmt(p.loss)}`);
    },
    saveEvery,
    onImage: async (img, p) => {
      const path = withSuffix(out, String(p.done));
      await platform.writeFileAtomic(
        path,
        encodeImage(img, formatForPath(path)),
      );
    },
  });
  if (terminal && bar && (bar as Progress).done < (bar as Progress).total) {
    console.log("");
  }
  await platform.writeFileAtomic(
    out,
    encodeImage(result.image, formatForPath(out)),
  );
  const jsonPath = get("json") as string | undefined;
  if (jsonPath) {
    const report = {
      content: contentPath,
      styles: stylePaths,
      weights,
      out,
      options: { ...options, init: typeof init === "string" ? init : initFlag },
      notes: result.notes,
      stopped: result.stopped,
      totalMs: result.ms,
      stages: result.stages.map((s) => ({
        stage: s.stage,
        width: s.width,
        height: s.height,
        iterations: s.records.length,
        ms: s.ms,
        records: s.records,
      })),
    };
    await platform.writeFileAtomic(
      jsonPath,
      new TextEncoder().encode(JSON.stringify(report, null, 1) + "\n"),
    );
  }
  const its = result.stages.reduce((a, s) => a + s.records.length, 0);
  const lastStage = result.stages[result.stages.length - 1];
  const lastRec = lastStage?.records[lastStage.records.length - 1];
  say(
    `${
      result.stopped ? "stopped: " : ""
    }wrote ${out} (${result.image.width}x${result.image.height}) after ${its} iterations in ${
      formatDuration((performance.now() - started) / 1000)
    }${lastRec ? `, loss ${fmt(lastRec.loss)}` : ""}`,
  );
  try {
    Deno.removeSignalListener("SIGINT", onSigint);
  } catch { /* ignore */ }
  Deno.exit(result.stopped ? 130 : 0);
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    const known = e instanceof StyleTransferError || e instanceof ImageError ||
      e instanceof ModelLoadError ||
      e instanceof WeightCacheError || e instanceof WeightsError;
    if (!known && Deno.env.get("IMPASTO_DEBUG")) throw e;
    let message = String((e as Error)?.message ?? e).split("\n")[0];
    if (/memory|allocat/i.test(message) && !known) {
      message =
        `out of engine memory (${message}): use a smaller --size or --tile 256`;
    }
    fail(message);
  }
}
