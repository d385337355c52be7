// One style-transfer optimisation at one size (Gatys, Ecker & Bethge, CVPR
// 2016): the image x is the only variable, the network is fixed; the
// targets (content features P, style Grams A) are computed once without a
// graph; each evaluation runs the VGG forward to the deepest layer, the
// losses of losses.ts, and autograd back to x. The optimiser is L-BFGS
// (runtime/optim/lbfgs.ts; Nocedal & Wright Alg. 7.4/7.5, strong-Wolfe line
// search) by default, Adam or momentum SGD as options. x lives in the
// model's input space (after preprocessing); image() converts it back with
// fromModelValues.
//
// The run is resumable: saveState() captures everything needed (image,
// optimiser state with the L-BFGS history, iteration counter, RNG state,
// a hash of the options and inputs) so that N iterations, a save, a restore
// in a fresh run and M more give bit for bit what N + M in one go give.
// This module is browser compatible.
import { getBackend } from "../../runtime/backend.ts";
import { noGrad } from "../../runtime/autograd.ts";
import { grad } from "../../runtime/grad.ts";
import {
  resizeImage,
  resizeLongestSide,
  type RgbImage,
} from "../../runtime/io/image.ts";
import { runKernel } from "../../runtime/kernel_registry.ts";
import { add, mul, scale, sub } from "../../runtime/ops/elementwise.ts";
import { dot } from "../../runtime/ops/reduce.ts";
import { gram } from "../../runtime/ops/style.ts";
import { Adam } from "../../runtime/optim/adam.ts";
import { LBFGS, type LbfgsStateDict } from "../../runtime/optim/lbfgs.ts";
import type { OptimizerStateDict } from "../../runtime/optim/optimizer.ts";
import { SGD } from "../../runtime/optim/sgd.ts";
import { Random } from "../../runtime/random.ts";
import { keep, type Tensor, tensor, tidy } from "../../runtime/tensor.ts";
import {
  fromModelValues,
  type Preprocessing,
  toModelValues,
} from "../preprocess.ts";
import {
  matchColourHistogram,
  type OriginalColors,
  transferLuminance,
} from "./color.ts";
import {
  contentLoss,
  gramLoss,
  normalisedGram,
  styleLoss,
  type TvKernels,
  tvKernels,
  tvLoss,
} from "./losses.ts";
import {
  ENGINE_MEMORY_LIMIT,
  estimateStyleMemory,
  formatBytes,
  type MemoryEstimate,
} from "./memory.ts";
import {
  loadStyleNetwork,
  resolveLayers,
  type StyleNetwork,
  StyleTransferError,
} from "./network.ts";
import {
  decodeState,
  encodeState,
  hashFloats,
  hashString,
  StateError,
} from "./state.ts";
import {
  addPlanes,
  cropPlanes,
  type Tile,
  tileLayout,
  tileMasks,
} from "./tiling.ts";
import type { WeightSet } from "../weights.ts";

/** Options of one optimisation (all have defaults; see STYLE_DEFAULTS). */
export interface StyleTransferOptions {
  /** α: weight of the content loss. */
  contentWeight?: number;
  /** β: weight of the style loss. */
  styleWeight?: number;
  /** Weight of the total-variation term (pixel units). */
  tvWeight?: number;
  /** Default: relu4_2, or the deepest reluN_2 the weights reach. */
  contentLayers?: string[];
  /** Default: relu1_1…relu5_1, or those the weights reach. */
  styleLayers?: string[];
  /** w_l per style layer (default 1/L each; normalised to sum 1). */
  styleLayerWeights?: number[];
  optimizer?: "lbfgs" | "adam" | "sgd";
  /** Step size: L-BFGS initial step (default 1), Adam (default 10, in 0..255 units), SGD. */
  lr?: number;
  /** SGD momentum (default 0.9). */
  momentum?: number;
  /** L-BFGS history m (default 100). */
  history?: number;
  lineSearch?: "strong-wolfe" | "none";
  /** Start from the content image, white noise, or a given image. */
  init?: "content" | "random" | RgbImage;
  seed?: number;
  /** Relative weights of several style images (normalised to sum 1). */
  styleBlend?: number[];
  /** Style images are resized to styleScale × the output's longest side. */
  styleScale?: number;
  /** Keep the content's colours (luminance: after; histogram: before). */
  originalColors?: OriginalColors;
  /** Evaluate in tiles of at most this many pixels per side. */
  tile?: number;
  /** Overlap of neighbouring tiles in pixels (default tile/8, at least 32). */
  tileOverlap?: number;
  /** Refuse runs estimated to need more engine memory than this. */
  memoryLimit?: number;
}

export type ResolvedOptions =
  & Required<
    Omit<
      StyleTransferOptions,
      | "styleBlend"
      | "tile"
      | "tileOverlap"
      | "init"
      | "styleLayerWeights"
      | "contentLayers"
      | "styleLayers"
      | "lr"
    >
  >
  & {
    init: "content" | "random" | RgbImage;
    lr: number;
    contentLayers: string[];
    styleLayers: string[];
    styleLayerWeights: number[];
    styleBlend: number[];
    tile?: number;
    tileOverlap: number;
  };

/**
 * Defaults tuned on the bundled example at 256 px (docs/stylize.md). The
 * content loss is a sum over positions (eq. 1), so α scales like 1/(H·W):
 * at twice the size, a quarter of the content weight keeps the balance.
 */
export const STYLE_DEFAULTS = {
  contentWeight: 0.01,
  styleWeight: 1e6,
  tvWeight: 1,
  optimizer: "lbfgs" as const,
  momentum: 0.9,
  history: 100,
  lineSearch: "strong-wolfe" as const,
  init: "content" as const,
  seed: 0,
  styleScale: 1,
  originalColors: "none" as const,
};

/** One iteration's report. */
export interface ProgressRecord {
  /** Iterations completed in this run (1-based). */
  iteration: number;
  /** Total loss at the iterate this iteration produced (where evaluated). */
  loss: number;
  /** α L_content, β L_style and the TV term of that evaluation. */
  content: number;
  style: number;
  tv: number;
  /** Milliseconds this iteration took. */
  ms: number;
}

/** Loss terms of one evaluation (each already weighted). */
export interface LossTerms {
  loss: number;
  content: number;
  style: number;
  tv: number;
}

export interface CreateStyleTransferArgs {
  /** The content image at the output size. */
  content: RgbImage;
  styles: RgbImage[];
  /** A loaded network (shared across runs), or weights to load. */
  network?: StyleNetwork;
  weights?: string | Uint8Array | WeightSet;
  model?: "vgg16" | "vgg19";
  pooling?: "max" | "avg";
  options?: StyleTransferOptions;
}

export interface StepHooks {
  /** Called after every iteration. */
  onRecord?: (r: ProgressRecord) => void;
  /** Polled after every iteration; true ends step() early. */
  shouldStop?: () => boolean;
}

/** Thrown inside the optimiser to end a step() between iterations. */
class StopSignal {}

function imageDigest(img: RgbImage): string {
  return `${img.width}x${img.height}:${hashFloats(img.data)}`;
}

/** Unit of each model-input channel in pixel units (0..1). */
function pixelUnits(p: Preprocessing): number[] {
  // x_model = pixel * scale + shift, so one model unit = 1/scale pixels.
  const probe = toModelValues({
    width: 1,
    height: 1,
    data: new Float32Array([0, 0, 0]),
  }, p);
  const one = toModelValues({
    width: 1,
    height: 1,
    data: new Float32Array([1, 1, 1]),
  }, p);
  return [0, 1, 2].map((c) => 1 / (one[c] - probe[c]));
}

/**
 * Creates a run: loads the network unless one is given, checks options,
 * layers and memory, computes the targets and the initial image.
 */
export async function createStyleTransfer(
  args: CreateStyleTransferArgs,
): Promise<StyleTransfer> {
  let network = args.network;
  let owned = false;
  if (!network) {
    if (!args.weights) {
      throw new StyleTransferError(
        "createStyleTransfer needs a network or weights",
      );
    }
    network = await loadStyleNetwork({
      weights: args.weights,
      model: args.model,
      pooling: args.pooling,
    });
    owned = true;
  }
  try {
    return new StyleTransfer(
      network,
      args.content,
      args.styles,
      args.options ?? {},
      owned,
    );
  } catch (e) {
    if (owned) network.dispose();
    throw e;
  }
}

/** Checks and fills in options; throws StyleTransferError (one line). */
export function resolveOptions(
  network: StyleNetwork,
  o: StyleTransferOptions,
  styleCount: number,
): ResolvedOptions & { layerNote?: string } {
  const d = STYLE_DEFAULTS;
  const layers = resolveLayers(network, o.contentLayers, o.styleLayers);
  const optimizer = o.optimizer ?? d.optimizer;
  if (!["lbfgs", "adam", "sgd"].includes(optimizer)) {
    throw new StyleTransferError(
      `unknown optimizer "${optimizer}": use lbfgs, adam or sgd`,
    );
  }
  const num = (name: string, v: number, min: number, strict = false) => {
    if (!Number.isFinite(v) || (strict ? v <= min : v < min)) {
      throw new StyleTransferError(
        `${name} must be a number ${strict ? ">" : ">="} ${min}, got ${v}`,
      );
    }
    return v;
  };
  const lr = o.lr ??
    (optimizer === "lbfgs" ? 1 : optimizer === "adam" ? 10 : 1e-2);
  num("lr", lr, 0, true);
  const lw = o.styleLayerWeights ?? layers.style.map(() => 1);
  if (lw.length !== layers.style.length) {
    throw new StyleTransferError(
      `${lw.length} style layer weights for ${layers.style.length} style layers (${
        layers.style.join(",")
      })`,
    );
  }
  lw.forEach((w) => num("style layer weight", w, 0));
  const lwSum = lw.reduce((a, b) => a + b, 0);
  if (!(lwSum > 0)) {
    throw new StyleTransferError("style layer weights sum to 0");
  }
  const blend = o.styleBlend ?? Array.from({ length: styleCount }, () => 1);
  if (blend.length !== styleCount) {
    throw new StyleTransferError(
      `${blend.length} style blend weights for ${styleCount} style images`,
    );
  }
  blend.forEach((w) => num("style blend weight", w, 0));
  const bSum = blend.reduce((a, b) => a + b, 0);
  if (!(bSum > 0)) throw new StyleTransferError("style blend weights sum to 0");
  const tile = o.tile;
  if (tile !== undefined && !(Number.isInteger(tile) && tile >= 32)) {
    throw new StyleTransferError(
      `tile must be an integer of at least 32 pixels, got ${tile}`,
    );
  }
  const history = o.history ?? d.history;
  if (!(Number.isInteger(history) && history >= 1)) {
    throw new StyleTransferError(
      `history must be a positive integer, got ${history}`,
    );
  }
  const originalColors = o.originalColors ?? d.originalColors;
  if (!["none", "luminance", "histogram"].includes(originalColors)) {
    throw new StyleTransferError(
      `unknown original-colors mode "${originalColors}": use none, luminance or histogram`,
    );
  }
  const lineSearch = o.lineSearch ?? d.lineSearch;
  if (!["strong-wolfe", "none"].includes(lineSearch)) {
    throw new StyleTransferError(
      `unknown line search "${lineSearch}": use strong-wolfe or none`,
    );
  }
  return {
    contentWeight: num("content weight", o.contentWeight ?? d.contentWeight, 0),
    styleWeight: num("style weight", o.styleWeight ?? d.styleWeight, 0),
    tvWeight: num("tv weight", o.tvWeight ?? d.tvWeight, 0),
    contentLayers: layers.content,
    styleLayers: layers.style,
    styleLayerWeights: lw.map((w) => w / lwSum),
    optimizer,
    lr,
    momentum: num("momentum", o.momentum ?? d.momentum, 0),
    history,
    lineSearch,
    init: o.init ?? d.init,
    seed: num("seed", o.seed ?? d.seed, -Infinity),
    styleBlend: blend.map((w) => w / bSum),
    styleScale: num("style scale", o.styleScale ?? d.styleScale, 0, true),
    originalColors,
    tile,
    tileOverlap: o.tileOverlap ?? Math.max(32, Math.round((tile ?? 0) / 8)),
    memoryLimit: o.memoryLimit ?? ENGINE_MEMORY_LIMIT,
    layerNote: layers.note,
  };
}

interface TileTargets {
  tile: Tile;
  /** Per content layer: √m ⊙ P and the √m mask, [1, C, h, w]. */
  content: { target: Tensor; mask: Tensor }[];
  /** Per style layer: √m at feature resolution ([h·w], host memory). */
  style: Float32Array[];
}

/** A [1, C, h, w] tensor holding the plane `root` in every channel. */
function expandMask(root: Float32Array, shape: readonly number[]): Tensor {
  const [, c, h, w] = shape;
  const out = new Float32Array(c * h * w);
  for (let k = 0; k < c; k++) out.set(root, k * h * w);
  return tensor(out, shape);
}

/** A style-transfer optimisation at one size (see the module comment). */
export class StyleTransfer {
  readonly network: StyleNetwork;
  readonly options: ResolvedOptions;
  readonly width: number;
  readonly height: number;
  /** One-line remarks (layer substitution, loading notes). */
  readonly notes: string[] = [];
  /** The content image (output size) and the styles as fed to the network. */
  readonly content: RgbImage;
  readonly styles: RgbImage[];
  readonly optionsHash: string;
  #owned: boolean;
  #x: Tensor;
  #tvKernels: TvKernels;
  #contentTargets: Tensor[] = [];
  #styleTargets: Tensor[] = [];
  #tiles: TileTargets[] | null = null;
  #optimizer: LBFGS | Adam | SGD;
  #rng: Random;
  #iteration = 0;
  /** Host copy of the image step() returns (best for Adam/SGD, last good for L-BFGS). */
  #kept: Float32Array | null = null;
  #keptLoss = Infinity;
  #recent: LossTerms[] = [];
  /** The last closure evaluation: x's values, its gradient and terms. */
  #cache: { x: Float32Array; grad: Tensor; terms: LossTerms } | null = null;
  #disposed = false;

  constructor(
    network: StyleNetwork,
    content: RgbImage,
    styles: RgbImage[],
    options: StyleTransferOptions,
    owned = false,
  ) {
    this.network = network;
    this.#owned = owned;
    if (styles.length === 0) {
      throw new StyleTransferError("no style image given");
    }
    const { layerNote, ...resolved } = resolveOptions(
      network,
      options,
      styles.length,
    );
    this.options = resolved;
    if (layerNote) this.notes.push(layerNote);
    const o = this.options;
    this.width = content.width;
    this.height = content.height;
    const all = [...new Set([...o.contentLayers, ...o.styleLayers])];
    const deepest = all.reduce((a, b) =>
      network.model.tap(a).index >= network.model.tap(b).index ? a : b
    );
    const stride = network.model.tap(deepest).stride;
    if (Math.min(this.width, this.height) < stride) {
      throw new StyleTransferError(
        `a ${this.width}x${this.height} image is too small for layer ${deepest} (needs at least ${stride} pixels per side); use a larger size`,
      );
    }
    this.content = content;
    // Style images: scaled relative to the output, optionally recoloured.
    const longest = Math.max(this.width, this.height);
    this.styles = styles.map((s, i) => {
      const target = Math.max(stride, Math.round(o.styleScale * longest));
      let img = resizeLongestSide(s, target);
      if (Math.min(img.width, img.height) < stride) {
        throw new StyleTransferError(
          `style image ${
            i + 1
          } becomes ${img.width}x${img.height} at style scale ${o.styleScale}, too small for layer ${deepest}`,
        );
      }
      if (o.originalColors === "histogram") {
        img = matchColourHistogram(img, content);
      }
      return img;
    });
    const estimate = this.estimateMemory();
    if (estimate.bytes > o.memoryLimit) {
      throw new StyleTransferError(
        `a ${this.width}x${this.height} run needs about ${
          formatBytes(estimate.bytes)
        }, more than the ${
          formatBytes(o.memoryLimit)
        } the engine can use: use a smaller --size, --tile 512, or --optimizer adam`,
      );
    }
    this.optionsHash = hashString(JSON.stringify({
      v: 1,
      net: [
        network.name,
        network.weightsId,
        network.pooling,
        network.padMode,
        network.preprocessing,
      ],
      content: imageDigest(content),
      styles: this.styles.map(imageDigest),
      o: {
        ...o,
        init: typeof o.init === "string" ? o.init : imageDigest(o.init),
      },
    }));
    this.#rng = new Random(o.seed);
    this.#tvKernels = tvKernels(pixelUnits(network.preprocessing));
    keep(this.#tvKernels.horizontal);
    keep(this.#tvKernels.vertical);
    try {
      this.#computeTargets(deepest);
      this.#x = keep(
        tensor(this.#initialValues(), [1, 3, this.height, this.width]),
      );
      this.#x.requiresGrad = true;
      this.#optimizer = this.#makeOptimizer();
    } catch (e) {
      this.#freeTargets();
      throw e;
    }
  }

  /** Iterations done so far. */
  get iteration(): number {
    return this.#iteration;
  }

  /** Whether evaluations are split into tiles. */
  get tiled(): boolean {
    return this.#tiles !== null;
  }

  /** The tiles (empty when untiled). */
  get tiles(): Tile[] {
    return this.#tiles?.map((t) => t.tile) ?? [];
  }

  #check(): void {
    if (this.#disposed) {
      throw new StyleTransferError("this style transfer was disposed");
    }
  }

  /** Estimated engine memory of this run (see memory.ts). */
  estimateMemory(): MemoryEstimate {
    const o = this.options;
    const all = [...o.contentLayers, ...o.styleLayers];
    const deepest = all.reduce((a, b) =>
      this.network.model.tap(a).index >= this.network.model.tap(b).index ? a : b
    );
    return estimateStyleMemory({
      width: this.width,
      height: this.height,
      depth: this.network.model.depth,
      deepest,
      contentLayers: o.contentLayers,
      styleLayers: o.styleLayers,
      optimizer: o.optimizer,
      history: o.history,
      tile: o.tile,
      styleSizes: this.styles,
      weights: this.network.model.parameters().reduce((s, p) => s + p.size, 0),
    });
  }

  #initialValues(): Float32Array {
    const o = this.options, p = this.network.preprocessing;
    if (o.init === "content") return toModelValues(this.content, p);
    if (o.init === "random") {
      // White noise around mid grey (Gatys et al. start from white noise).
      const data = new Float32Array(3 * this.width * this.height);
      for (let i = 0; i < data.length; i++) {
        data[i] = this.#rng.uniform(0.25, 0.75);
      }
      return toModelValues({ width: this.width, height: this.height, data }, p);
    }
    const img = o.init.width === this.width && o.init.height === this.height
      ? o.init
      : resizeImage(o.init, this.width, this.height);
    return toModelValues(img, p);
  }

  #computeTargets(deepest: string): void {
    const o = this.options, net = this.network, p = net.preprocessing;
    noGrad(() => {
      // Style: blended normalised Grams Â = Σ_s b_s G_s / M_s.
      const sums: (Tensor | null)[] = o.styleLayers.map(() => null);
      this.styles.forEach((img, s) => {
        tidy(() => {
          const x = tensor(toModelValues(img, p), [
            1,
            3,
            img.height,
            img.width,
          ]);
          const taps = net.model.forwardTaps(x, o.styleLayers);
          o.styleLayers.forEach((l, i) => {
            const g = normalisedGram(taps.get(l)!);
            const w = scale(g, o.styleBlend[s]);
            const prev = sums[i];
            sums[i] = keep(prev ? add(prev, w) : w);
            prev?.dispose();
          });
        });
      });
      this.#styleTargets = sums.map((t) => t!);
      const tiled = o.tile !== undefined &&
        o.tile < Math.max(this.width, this.height);
      const contentValues = toModelValues(this.content, p);
      if (!tiled) {
        tidy(() => {
          const x = tensor(contentValues, [1, 3, this.height, this.width]);
          const taps = net.model.forwardTaps(x, o.contentLayers);
          this.#contentTargets = o.contentLayers.map((l) => keep(taps.get(l)!));
        });
        return;
      }
      const align = net.model.tap(deepest).stride;
      const tiles = tileLayout(
        this.width,
        this.height,
        o.tile!,
        o.tileOverlap,
        align,
      );
      const masks = o.contentLayers.map((l) =>
        tileMasks(tiles, this.width, this.height, net.model.tap(l).stride)
      );
      const styleMasks = o.styleLayers.map((l) =>
        tileMasks(tiles, this.width, this.height, net.model.tap(l).stride).map((
          m,
        ) => m.map(Math.sqrt))
      );
      this.#tiles = tiles.map((tile, t) =>
        tidy(() => {
          const x = tensor(
            cropPlanes(contentValues, this.width, this.height, tile),
            [1, 3, tile.height, tile.width],
          );
          const taps = net.model.forwardTaps(x, o.contentLayers);
          const content = o.contentLayers.map((l, i) => {
            const f = taps.get(l)!;
            const mask = keep(expandMask(masks[i][t].map(Math.sqrt), f.shape));
            return { target: keep(mul(f, mask)), mask };
          });
          return { tile, content, style: styleMasks.map((m) => m[t]) };
        })
      );
    });
  }

  #freeTargets(): void {
    for (const t of this.#contentTargets) t.dispose();
    for (const t of this.#styleTargets) t.dispose();
    for (const t of this.#tiles ?? []) {
      for (const c of t.content) {
        c.target.dispose();
        c.mask.dispose();
      }
    }
    this.#contentTargets = [];
    this.#styleTargets = [];
    this.#tiles = null;
    this.#tvKernels.horizontal.dispose();
    this.#tvKernels.vertical.dispose();
  }

  #makeOptimizer(): LBFGS | Adam | SGD {
    const o = this.options;
    if (o.optimizer === "adam") return new Adam([this.#x], { lr: o.lr });
    if (o.optimizer === "sgd") {
      return new SGD([this.#x], { lr: o.lr, momentum: o.momentum });
    }
    return new LBFGS([this.#x], {
      lr: o.lr,
      historySize: o.history,
      lineSearch: o.lineSearch,
      // Never stop early on small changes (jcjohnson/neural-style's
      // tolX = tolFun = -1): the iteration count decides.
      toleranceChange: 0,
      toleranceGrad: 0,
    });
  }

  // ---- Evaluation ----

  /**
   * Loss terms at the current image (or at `values`, model-input planes) and
   * the gradient d loss / d x in model-input units. Changes no state.
   */
  evaluate(values?: Float32Array): LossTerms & { gradient: Float32Array } {
    this.#check();
    const x = values ? keep(tensor(values, this.#x.shape)) : this.#x;
    const wasGrad = x.requiresGrad;
    x.requiresGrad = true;
    const saved = x.grad;
    x.grad = null;
    try {
      const terms = this.#evaluateInto(x);
      const gradient = x.grad!.data();
      return { ...terms, gradient };
    } finally {
      (x.grad as Tensor | null)?.dispose();
      x.grad = saved;
      x.requiresGrad = wasGrad;
      if (x !== this.#x) x.dispose();
    }
  }

  /** Computes the loss at x and stores the gradient in x.grad. */
  #evaluateInto(x: Tensor): LossTerms {
    const terms = this.#tiles ? this.#evaluateTiled(x) : this.#evaluateWhole(x);
    for (
      const [name, v] of [["total", terms.loss], ["content", terms.content], [
        "style",
        terms.style,
      ], ["tv", terms.tv]] as const
    ) {
      if (!Number.isFinite(v)) {
        const o = this.options;
        const which = name === "total" ? "total" : name;
        throw new StyleTransferError(
          `the ${which} loss became ${v} at iteration ${
            this.#iteration + 1
          }: lower --lr (now ${o.lr})${
            which === "total"
              ? ""
              : ` or --${which === "tv" ? "tv" : which}-weight`
          }`,
        );
      }
    }
    this.#recent.push(terms);
    if (this.#recent.length > 64) this.#recent.shift();
    return terms;
  }

  /**
   * The optimiser's closure. L-BFGS evaluates at the start of every step()
   * call a point it has usually just evaluated (the accepted step); when x
   * is bit for bit the last evaluated point, the stored loss and gradient
   * are reused, so splitting a run into many step() calls costs nothing.
   * (Re-evaluating would give the same bits: this only saves time.)
   */
  #cachedEvaluate(): LossTerms {
    const x = this.#x;
    const values = x.data();
    const c = this.#cache;
    if (
      c && c.x.length === values.length &&
      c.x.every((v, i) => Object.is(v, values[i]))
    ) {
      this.#setGrad(x, runKernel("Copy", c.grad));
      this.#recent.push(c.terms);
      return c.terms;
    }
    const terms = this.#evaluateInto(x);
    this.#cache?.grad.dispose();
    this.#cache = { x: values, grad: keep(runKernel("Copy", x.grad!)), terms };
    return terms;
  }

  #setGrad(x: Tensor, g: Tensor): void {
    x.grad?.dispose();
    x.grad = keep(g);
  }

  #evaluateWhole(x: Tensor): LossTerms {
    const o = this.options;
    const model = this.network.model;
    const out = tidy(() => {
      const taps = model.forwardTaps(x, [
        ...new Set([...o.contentLayers, ...o.styleLayers]),
      ]);
      const c = o.contentLayers.map((l, i) =>
        contentLoss(taps.get(l)!, this.#contentTargets[i], o.contentWeight)
      );
      const s = o.styleLayers.map((l, i) =>
        styleLoss(
          taps.get(l)!,
          this.#styleTargets[i],
          o.styleWeight * o.styleLayerWeights[i],
        )
      );
      const parts = [...c, ...s];
      if (o.tvWeight > 0) parts.push(tvLoss(x, this.#tvKernels, o.tvWeight));
      let total = parts[0];
      for (const t of parts.slice(1)) total = add(total, t);
      const [g] = grad(total, [x]);
      const value = (ts: Tensor[]) => ts.reduce((a, t) => a + t.item(), 0);
      return {
        g,
        terms: {
          loss: total.item(),
          content: value(c),
          style: value(s),
          tv: o.tvWeight > 0 ? parts[parts.length - 1].item() : 0,
        },
      };
    });
    this.#setGrad(x, out.g);
    return out.terms;
  }

  /** See tiling.ts: whole-image Grams from a first pass, then per-tile gradients. */
  #evaluateTiled(x: Tensor): LossTerms {
    const o = this.options;
    const model = this.network.model;
    const tiles = this.#tiles!;
    const values = x.data();
    const gradient = new Float32Array(values.length);
    let content = 0;
    // Pass 1: Σ_t (√m_t ⊙ F_t)(√m_t ⊙ F_t)ᵀ per style layer, without a
    // graph: with Σ_t m_t = 1 this is the whole image's F Fᵀ, and M is the
    // whole image's number of positions.
    const sums: Tensor[] = [];
    const counts = o.styleLayers.map((l) => {
      const stride = model.tap(l).stride;
      return Math.floor(this.width / stride) * Math.floor(this.height / stride);
    });
    noGrad(() => {
      for (const { tile, style: masks } of tiles) {
        tidy(() => {
          const xt = tensor(cropPlanes(values, this.width, this.height, tile), [
            1,
            3,
            tile.height,
            tile.width,
          ]);
          const taps = model.forwardTaps(xt, o.styleLayers);
          o.styleLayers.forEach((l, i) => {
            const f = taps.get(l)!;
            const g = gram(mul(f, expandMask(masks[i], f.shape)), 1);
            if (sums[i]) {
              const s = add(sums[i], g);
              sums[i].dispose();
              sums[i] = keep(s);
            } else sums[i] = keep(g);
          });
        });
      }
    });
    // Whole-image Ĝ, E_l and dE_l/dĜ = β w_l / (2 N²) (Ĝ − Â).
    let style = 0;
    const dG = noGrad(() =>
      o.styleLayers.map((_, i) =>
        tidy(() => {
          const gHat = scale(sums[i], 1 / counts[i]);
          const wl = o.styleWeight * o.styleLayerWeights[i];
          style += gramLoss(gHat, this.#styleTargets[i], wl).item();
          const n = gHat.shape[0];
          return keep(
            scale(sub(gHat, this.#styleTargets[i]), wl / (2 * n * n)),
          );
        })
      )
    );
    sums.forEach((t) => t.dispose());
    try {
      // Pass 2: per tile, masked content loss + <dE/dĜ, Ĝ_t> (whose
      // gradient is the tile's share of the whole-image style gradient).
      const names = [...new Set([...o.contentLayers, ...o.styleLayers])];
      for (const t of tiles) {
        const tile = t.tile;
        const g = tidy(() => {
          const xt = tensor(cropPlanes(values, this.width, this.height, tile), [
            1,
            3,
            tile.height,
            tile.width,
          ]);
          xt.requiresGrad = true;
          const taps = model.forwardTaps(xt, names);
          const c = o.contentLayers.map((l, i) =>
            contentLoss(
              mul(taps.get(l)!, t.content[i].mask),
              t.content[i].target,
              o.contentWeight,
            )
          );
          const s = o.styleLayers.map((l, i) => {
            const f = taps.get(l)!;
            return dot(
              gram(mul(f, expandMask(t.style[i], f.shape)), 1 / counts[i]),
              dG[i],
            );
          });
          let total = [...c, ...s].reduce((a, b) => add(a, b));
          total = total as Tensor;
          const [gt] = grad(total, [xt]);
          for (const ct of c) content += ct.item();
          return { values: gt.data() };
        });
        addPlanes(gradient, this.width, this.height, tile, g.values);
      }
    } finally {
      dG.forEach((t) => t.dispose());
    }
    let tv = 0;
    const full = tidy(() => {
      const gt = tensor(gradient, x.shape);
      if (o.tvWeight <= 0) return gt;
      const l = tvLoss(x, this.#tvKernels, o.tvWeight);
      const [gTv] = grad(l, [x]);
      tv = l.item();
      return add(gt, gTv);
    });
    this.#setGrad(x, full);
    return { loss: content + style + tv, content, style, tv };
  }

  // ---- Optimisation ----

  /**
   * Runs `iterations` more iterations, or as many as fit in `budgetMs`
   * (at least one), ending early when hooks.shouldStop() says so. Returns
   * one record per iteration.
   */
  step(
    what: number | { iterations?: number; budgetMs?: number },
    hooks: StepHooks = {},
  ): ProgressRecord[] {
    this.#check();
    const want = typeof what === "number" ? what : what.iterations ?? Infinity;
    const budget = typeof what === "number"
      ? Infinity
      : what.budgetMs ?? Infinity;
    if (!(want >= 0)) {
      throw new StyleTransferError(`iterations must be >= 0, got ${want}`);
    }
    if (want === Infinity && budget === Infinity) {
      throw new StyleTransferError(
        "step() needs a number of iterations or a time budget",
      );
    }
    const records: ProgressRecord[] = [];
    const start = performance.now();
    let last = start;
    const done = () =>
      records.length >= want || performance.now() - start >= budget ||
      (hooks.shouldStop?.() ?? false);
    const report = (r: Omit<ProgressRecord, "ms">) => {
      const now = performance.now();
      const rec = { ...r, ms: now - last };
      last = now;
      records.push(rec);
      hooks.onRecord?.(rec);
    };
    if (want === 0) return records;
    if (this.#optimizer instanceof LBFGS) {
      const opt = this.#optimizer;
      opt.onIteration = (p) => {
        this.#iteration++;
        const accepted = Number.isFinite(p.newLoss)
          ? this.#recent.findLast((t) => t.loss === p.newLoss)
          : undefined;
        const terms = accepted ?? this.#recent[this.#recent.length - 1];
        report({
          iteration: this.#iteration,
          ...terms,
          loss: accepted ? p.newLoss : terms.loss,
        });
        this.#kept = this.#x.data();
        this.#keptLoss = accepted ? p.newLoss : NaN;
        if (done()) throw new StopSignal();
      };
      const closure = () => this.#cachedEvaluate().loss;
      try {
        while (!done()) {
          const before = this.#iteration;
          const remaining = want === Infinity ? 1 << 30 : want - records.length;
          opt.hyper.maxIter = remaining;
          opt.hyper.maxEval = 1 << 30;
          opt.step(closure);
          if (this.#iteration === before) break; // converged: nothing to do
        }
      } catch (e) {
        if (!(e instanceof StopSignal)) throw e;
      } finally {
        opt.onIteration = undefined;
      }
      return records;
    }
    const opt = this.#optimizer;
    while (!done()) {
      const terms = this.#evaluateInto(this.#x);
      if (terms.loss < this.#keptLoss || this.#kept === null) {
        this.#kept = this.#x.data();
        this.#keptLoss = terms.loss;
      }
      noGrad(() => opt.step());
      this.#iteration++;
      report({ iteration: this.#iteration, ...terms });
    }
    return records;
  }

  /**
   * The image so far, planar RGB 0..1 (unclamped): for L-BFGS the current
   * iterate, for Adam/SGD the evaluated iterate with the lowest loss. With
   * originalColors "luminance" the content's chrominance is put back unless
   * `raw` is set.
   */
  image(options: { raw?: boolean } = {}): RgbImage {
    this.#check();
    const values = this.#optimizer instanceof LBFGS
      ? this.#x.data()
      : this.#kept ?? this.#x.data();
    const img = fromModelValues(
      values,
      this.width,
      this.height,
      this.network.preprocessing,
    );
    if (!options.raw && this.options.originalColors === "luminance") {
      return transferLuminance(clamp(img), this.content);
    }
    return img;
  }

  /** The loss terms of the iterate image() returns, when known. */
  get lossSoFar(): number {
    return this.#keptLoss;
  }

  // ---- Resumable state ----

  /** Everything needed to continue this run bit-identically, as bytes. */
  saveState(): Uint8Array {
    this.#check();
    const opt = this.#optimizer.stateDict();
    return encodeState({
      kind: "impasto-style-transfer",
      optionsHash: this.optionsHash,
      width: this.width,
      height: this.height,
      iteration: this.#iteration,
      x: this.#x.data(),
      kept: this.#kept,
      keptLoss: this.#keptLoss,
      optimizer: opt,
      rng: this.#rng.getState(),
    });
  }

  /** Continues from a saveState() of a run with the same options and inputs. */
  restoreState(bytes: Uint8Array): void {
    this.#check();
    let s: {
      kind: string;
      optionsHash: string;
      width: number;
      height: number;
      iteration: number;
      x: Float32Array;
      kept: Float32Array | null;
      keptLoss: number;
      optimizer: LbfgsStateDict | OptimizerStateDict;
      rng: number[];
    };
    try {
      s = decodeState(bytes) as typeof s;
    } catch (e) {
      if (e instanceof StateError) throw new StyleTransferError(e.message);
      throw new StyleTransferError(
        `not a valid style-transfer state: ${(e as Error).message}`,
      );
    }
    if (s?.kind !== "impasto-style-transfer") {
      throw new StyleTransferError(
        "not a valid style-transfer state: unknown kind",
      );
    }
    if (s.optionsHash !== this.optionsHash) {
      throw new StyleTransferError(
        "this state belongs to another run (options, images, size or weights differ); start from the same settings",
      );
    }
    if (
      s.width !== this.width || s.height !== this.height ||
      s.x.length !== this.#x.size
    ) {
      throw new StyleTransferError(
        `the state is for ${s.width}x${s.height}, this run is ${this.width}x${this.height}`,
      );
    }
    try {
      // deno-lint-ignore no-explicit-any
      (this.#optimizer as any).loadStateDict(s.optimizer);
    } catch (e) {
      throw new StyleTransferError(
        `cannot restore the optimiser: ${(e as Error).message}`,
      );
    }
    this.#x.write(s.x);
    this.#iteration = s.iteration;
    this.#kept = s.kept;
    this.#keptLoss = s.keptLoss;
    this.#rng.setState(s.rng);
    this.#recent = [];
  }

  /** Frees the image, optimiser state, targets and (if owned) the network. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#optimizer.dispose();
    this.#cache?.grad.dispose();
    this.#cache = null;
    this.#x.grad?.dispose();
    this.#x.grad = null;
    this.#x.dispose();
    this.#freeTargets();
    if (this.#owned) this.network.dispose();
  }
}

/** Values clamped to 0..1. */
export function clamp(img: RgbImage): RgbImage {
  const data = new Float32Array(img.data.length);
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.min(1, Math.max(0, img.data[i]));
  }
  return { width: img.width, height: img.height, data };
}

/** The engine's memory now (for tests and reports). */
export function engineMemory(): { liveBytes: number; peakBytes: number } {
  return getBackend().memory();
}
