// Gradient health: per-layer gradient and parameter L2 norms, update /
// parameter norm ratios, warnings when a layer's gradient vanishes or
// explodes, a hard stop (NonFiniteError) when a loss or gradient becomes
// NaN/Inf, and rolling z-scores of loss and gradient norm that tell the
// caller to skip an outlier update (llm.c `llmc/outlier_detector.h`, used by
// `train_gpt2.cu` with -sl/-sg).
//
// A "layer" is a parameter name without its last component: "fc3.weight" and
// "fc3.bias" are layer "fc3", "features.0.weight" is "features.0". Norms are
// computed by the SquaredNorm kernel (per-tensor sums of squares; layers and
// the global norm combine them in f64); only scalars come back to the host.
// This module is browser compatible.
import { runKernel } from "./kernel_registry.ts";
import { keep, Tensor } from "./tensor.ts";

/**
 * Tensors with names: tensors carrying `.name` (Module.parameters()),
 * [name, tensor] pairs (Module.namedParameters()), a Map or a record.
 */
export type NamedTensors =
  | readonly Tensor[]
  | readonly (readonly [string, Tensor])[]
  | ReadonlyMap<string, Tensor>
  | Readonly<Record<string, Tensor>>;

/** [name, tensor] pairs; unnamed array entries are called "param<i>". */
export function namedTensors(tensors: NamedTensors): [string, Tensor][] {
  if (Array.isArray(tensors)) {
    return (tensors as readonly (Tensor | readonly [string, Tensor])[]).map(
      (t, i) => t instanceof Tensor ? [t.name ?? `param${i}`, t] : [t[0], t[1]],
    );
  }
  if (tensors instanceof Map) return [...tensors.entries()];
  return Object.entries(tensors as Record<string, Tensor>);
}

/** The layer a parameter belongs to: its name without the last component. */
export function layerOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

/** A loss, gradient or parameter became NaN or Inf: training must stop. */
export class NonFiniteError extends Error {
  override name = "NonFiniteError";
  constructor(
    message: string,
    /** What held the value: "loss", "gradient" or "parameter". */
    readonly what: "loss" | "gradient" | "parameter",
    /** The tensor's name (gradients and parameters). */
    readonly tensor?: string,
    readonly layer?: string,
    readonly step?: number,
  ) {
    super(message);
  }
}

function takeScalar(t: Tensor): number {
  try {
    return t.item();
  } finally {
    t.dispose();
  }
}

/** Σ x² of a tensor (kernel SquaredNorm). */
export function squaredNorm(t: Tensor): number {
  return takeScalar(runKernel("SquaredNorm", t));
}

/** How many elements of `t` are NaN or ±Inf (kernel CountNonFinite). */
export function countNonFinite(t: Tensor): number {
  return takeScalar(runKernel("CountNonFinite", t));
}

/**
 * Throws NonFiniteError naming the first tensor holding NaN/Inf.
 * `what` says what the tensors are ("gradient" checks their .grad).
 */
export function assertFinite(
  tensors: NamedTensors,
  what: "gradient" | "parameter" = "parameter",
  step?: number,
): void {
  for (const [name, p] of namedTensors(tensors)) {
    const t = what === "gradient" ? p.grad : p;
    if (!t) continue;
    const bad = countNonFinite(t);
    if (bad > 0) throw nonFinite(what, name, bad, t.size, step);
  }
}

function nonFinite(
  what: "gradient" | "parameter",
  name: string,
  bad: number,
  size: number,
  step?: number,
): NonFiniteError {
  const layer = layerOf(name);
  const at = step === undefined ? "" : ` at step ${step}`;
  return new NonFiniteError(
    `${
      what === "gradient" ? "Gradient of" : "Parameter"
    } ${name} (layer ${layer}) holds ${bad} NaN/Inf of ${size} values${at}`,
    what,
    name,
    layer,
    step,
  );
}

/**
 * Per-layer L2 norms of the gradients of `params` (parameters without a
 * gradient are left out). Throws NonFiniteError when a gradient holds
 * NaN/Inf; a norm that overflows f32 from finite values is Infinity.
 */
export function layerGradNorms(
  params: NamedTensors,
  step?: number,
): Map<string, number> {
  const sums = new Map<string, number>();
  for (const [name, p] of namedTensors(params)) {
    if (!p.grad) continue;
    const sq = squaredNorm(p.grad);
    // NaN/Inf elements make the sum non-finite, so the count kernel only
    // runs when the sum says something is wrong.
    if (!Number.isFinite(sq)) {
      const bad = countNonFinite(p.grad);
      if (bad > 0) throw nonFinite("gradient", name, bad, p.grad.size, step);
    }
    const layer = layerOf(name);
    sums.set(layer, (sums.get(layer) ?? 0) + sq);
  }
  return new Map([...sums].map(([k, v]) => [k, Math.sqrt(v)]));
}

/** Per-layer L2 norms of the parameters themselves. */
export function layerParamNorms(params: NamedTensors): Map<string, number> {
  const sums = new Map<string, number>();
  for (const [name, p] of namedTensors(params)) {
    const layer = layerOf(name);
    sums.set(layer, (sums.get(layer) ?? 0) + squaredNorm(p));
  }
  return new Map([...sums].map(([k, v]) => [k, Math.sqrt(v)]));
}

/**
 * z-score of each new value against the previous `window` values (llm.c's
 * OutlierDetector): NaN until the window is full. Non-finite values get
 * a score but do not enter the window, so one overflow cannot poison it.
 */
export class RollingZScore {
  readonly window: number;
  #buffer: number[] = [];
  #next = 0;
  #sum = 0;
  #sumSq = 0;

  constructor(window = 128) {
    if (!(Number.isInteger(window) && window >= 2)) {
      throw new RangeError(
        `RollingZScore: window ${window} must be an integer >= 2`,
      );
    }
    this.window = window;
  }

  /** The z-score of x against the window so far, then adds x. */
  push(x: number): number {
    const n = this.#buffer.length;
    let z = NaN;
    if (n === this.window) {
      const mean = this.#sum / n;
      const variance = Math.max(0, this.#sumSq / n - mean * mean);
      const std = Math.sqrt(variance);
      z = std > 0 ? (x - mean) / std : x === mean ? 0 : (x - mean) * Infinity;
    }
    if (!Number.isFinite(x)) {
      return Number.isNaN(x) ? NaN : x > 0 ? Infinity : -Infinity;
    }
    if (n < this.window) {
      this.#buffer.push(x);
    } else {
      const old = this.#buffer[this.#next];
      this.#sum -= old;
      this.#sumSq -= old * old;
      this.#buffer[this.#next] = x;
      this.#next = (this.#next + 1) % this.window;
    }
    this.#sum += x;
    this.#sumSq += x * x;
    return z;
  }
}

export interface LayerHealth {
  /** L2 norm of the layer's gradients. */
  gradNorm: number;
  /** L2 norm of the layer's parameters (before the update). */
  paramNorm: number;
  /** ||update|| / ||parameters||, set by measureUpdate(). */
  updateRatio?: number;
}

export interface HealthRecord {
  step: number;
  loss: number;
  /** Global L2 norm of all gradients. */
  gradNorm: number;
  layers: Record<string, LayerHealth>;
  /** Rolling z-scores (NaN until the window is full). */
  lossZ: number;
  gradZ: number;
  /** Whether the z-scores say to skip this update. */
  skip: boolean;
}

export interface GradientWarning {
  step: number;
  layer: string;
  kind: "vanishing" | "exploding";
  norm: number;
  bound: number;
  message: string;
}

export interface GradientMonitorOptions {
  /** A layer's gradient norm below this warns "vanishing" (default 1e-7). */
  lowerBound?: number;
  /** A layer's gradient norm above this warns "exploding" (default 1e3). */
  upperBound?: number;
  /** Receives warnings (default: console.warn). */
  onWarning?: (warning: GradientWarning) => void;
  /** Report each (layer, condition) once only (default true). */
  warnOnce?: boolean;
  /** Steps in the z-score windows (default 128, as llm.c). */
  window?: number;
  /** Skip the update when the loss z-score exceeds this (default: never). */
  skipLossZ?: number;
  /** Skip the update when the gradient-norm z-score exceeds this (default: never). */
  skipGradZ?: number;
  /** Compute parameter norms each step (default true). */
  paramNorms?: boolean;
  /** Keep at most this many records (default: all). */
  maxHistory?: number;
}

/**
 * Watches training step by step. Typical loop:
 *
 *   backward(loss);
 *   const rec = monitor.observe(params, loss.item(), step); // throws on NaN
 *   if (!rec.skip) monitor.measureUpdate(params, () => optimizer.step());
 *   optimizer.zeroGrad();
 */
export class GradientMonitor {
  readonly history: HealthRecord[] = [];
  readonly lowerBound: number;
  readonly upperBound: number;
  readonly #options: GradientMonitorOptions;
  readonly #warned = new Set<string>();
  readonly #lossZ: RollingZScore;
  readonly #gradZ: RollingZScore;

  constructor(options: GradientMonitorOptions = {}) {
    this.#options = options;
    this.lowerBound = options.lowerBound ?? 1e-7;
    this.upperBound = options.upperBound ?? 1e3;
    if (!(this.lowerBound >= 0 && this.upperBound > this.lowerBound)) {
      throw new RangeError(
        `GradientMonitor: bounds [${this.lowerBound}, ${this.upperBound}] are not increasing`,
      );
    }
    this.#lossZ = new RollingZScore(options.window ?? 128);
    this.#gradZ = new RollingZScore(options.window ?? 128);
  }

  /** The latest record. */
  get last(): HealthRecord | undefined {
    return this.history[this.history.length - 1];
  }

  /**
   * Records one step after backward(): the loss and every layer's gradient
   * (and parameter) norm. Throws NonFiniteError when the loss or a gradient
   * is NaN/Inf; warns about vanishing or exploding layers; says whether to
   * skip the update.
   */
  observe(
    params: NamedTensors,
    loss: number | Tensor,
    step = (this.last?.step ?? -1) + 1,
  ): HealthRecord {
    const lossValue = typeof loss === "number" ? loss : loss.item();
    if (!Number.isFinite(lossValue)) {
      throw new NonFiniteError(
        `Loss is ${lossValue} at step ${step}`,
        "loss",
        undefined,
        undefined,
        step,
      );
    }
    const grads = layerGradNorms(params, step);
    const paramNorms = this.#options.paramNorms === false
      ? new Map<string, number>()
      : layerParamNorms(params);
    let total = 0;
    const layers: Record<string, LayerHealth> = {};
    for (const [layer, norm] of grads) {
      total += norm * norm;
      layers[layer] = {
        gradNorm: norm,
        paramNorm: paramNorms.get(layer) ?? NaN,
      };
      if (norm < this.lowerBound) {
        this.#warn(step, layer, "vanishing", norm, this.lowerBound);
      } else if (norm > this.upperBound) {
        this.#warn(step, layer, "exploding", norm, this.upperBound);
      }
    }
    const gradNorm = Math.sqrt(total);
    const lossZ = this.#lossZ.push(lossValue);
    const gradZ = this.#gradZ.push(gradNorm);
    const skip = lossZ > (this.#options.skipLossZ ?? Infinity) ||
      gradZ > (this.#options.skipGradZ ?? Infinity);
    const record: HealthRecord = {
      step,
      loss: lossValue,
      gradNorm,
      layers,
      lossZ,
      gradZ,
      skip,
    };
    this.history.push(record);
    const max = this.#options.maxHistory ?? Infinity;
    if (this.history.length > max) {
      this.history.splice(0, this.history.length - max);
    }
    return record;
  }

  /**
   * Runs `update` (an optimiser step) and stores each layer's
   * ||p_after - p_before|| / ||p_before|| in the latest record. Throws
   * NonFiniteError if the update left a parameter NaN/Inf.
   */
  measureUpdate<T>(params: NamedTensors, update: () => T): T {
    const entries = namedTensors(params);
    const before = entries.map(([, p]) => keep(runKernel("Copy", p)));
    let result: T;
    const deltas = new Map<string, number>();
    const norms = new Map<string, number>();
    try {
      result = update();
      entries.forEach(([name, p], i) => {
        const layer = layerOf(name);
        const diff = runKernel("Sub", p, before[i]);
        let dsq: number;
        try {
          dsq = squaredNorm(diff);
        } finally {
          diff.dispose();
        }
        if (!Number.isFinite(dsq)) {
          const bad = countNonFinite(p);
          if (bad > 0) {
            throw nonFinite("parameter", name, bad, p.size, this.last?.step);
          }
        }
        deltas.set(layer, (deltas.get(layer) ?? 0) + dsq);
        norms.set(layer, (norms.get(layer) ?? 0) + squaredNorm(before[i]));
      });
    } finally {
      for (const b of before) b.dispose();
    }
    const record = this.last;
    if (record) {
      for (const [layer, d] of deltas) {
        const entry = record.layers[layer] ??
          (record.layers[layer] = { gradNorm: NaN, paramNorm: NaN });
        const pn = Math.sqrt(norms.get(layer)!);
        entry.updateRatio = pn > 0 ? Math.sqrt(d) / pn : Infinity;
      }
    }
    return result!;
  }

  /** Layer names in the order they were first seen. */
  layers(): string[] {
    const seen = new Set<string>();
    for (const r of this.history) {
      for (const l of Object.keys(r.layers)) seen.add(l);
    }
    return [...seen];
  }

  /** One layer quantity over the history, per layer (NaN where absent). */
  series(key: keyof LayerHealth = "gradNorm"): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const layer of this.layers()) {
      out.set(layer, this.history.map((r) => r.layers[layer]?.[key] ?? NaN));
    }
    return out;
  }

  #warn(
    step: number,
    layer: string,
    kind: "vanishing" | "exploding",
    norm: number,
    bound: number,
  ): void {
    const key = `${layer}\u0000${kind}`;
    if ((this.#options.warnOnce ?? true) && this.#warned.has(key)) return;
    this.#warned.add(key);
    const message = kind === "vanishing"
      ? `Vanishing gradient: layer ${layer} has gradient norm ${
        norm.toExponential(2)
      } < ${bound} at step ${step}`
      : `Exploding gradient: layer ${layer} has gradient norm ${
        norm.toExponential(2)
      } > ${bound} at step ${step}`;
    const warning = { step, layer, kind, norm, bound, message };
    if (this.#options.onWarning) this.#options.onWarning(warning);
    else console.warn(message);
  }
}
