// The optimiser base: parameter groups with their hyper-parameters,
// per-parameter state living in engine memory, gradient clipping, zeroGrad,
// and state save/restore exact enough to continue a run bit-identically.
// Vector maths goes through kernels (runKernel); only scalars come back.
// This module is browser compatible.
import { runKernel } from "../kernel_registry.ts";
import { empty, keep, type Tensor, tensor } from "../tensor.ts";
import { clipGradNorm, clipGradValue } from "./clip.ts";

// Type-only: brings the optimiser kernels' KernelSignatures declarations
// (SgdUpdate, AdamUpdate, AbsSum) into every module that imports this one.
export type {
  AdamUpdateAttrs,
  SgdUpdateAttrs,
} from "../backends/wasm/register_optim.ts";

/** A JSON-like hyper-parameter value. */
export type HyperValue =
  | number
  | boolean
  | string
  | null
  | undefined
  | { readonly [key: string]: HyperValue };

/** A group of parameters sharing hyper-parameters (PyTorch param_groups). */
export type ParamGroup<H> = H & { params: Tensor[] };

/** Parameters, or groups of them each overriding some hyper-parameters. */
export type ParamsArg<H> = Tensor[] | (Partial<H> & { params: Tensor[] })[];

/** Per-parameter state: counters and buffers (tensors in engine memory). */
export type ParamState = Record<string, number | Tensor>;

/** Gradient clipping applied by step() before the update. */
export interface ClipOptions {
  /** Rescale all gradients together so their global L2 norm is at most this. */
  clipNorm?: number;
  /** Clamp every gradient element to [-clipValue, clipValue]. */
  clipValue?: number;
}

export interface OptimizerStateDict {
  type: string;
  /** Optimiser-wide counters (SGD: steps taken, for the momentum schedule). */
  counters: Record<string, number>;
  clip: ClipOptions;
  /** Each group's hyper-parameters and its parameters' indices. */
  groups: { hyper: Record<string, HyperValue>; params: number[] }[];
  /**
   * State by parameter index (the order of the groups' params, flattened):
   * counters as numbers, buffers as Float32Array copies.
   */
  state: Record<number, Record<string, number | Float32Array>>;
}

// ---- Scalar results of reduction kernels (one value read back each). ----

function scalar(t: Tensor): number {
  try {
    return t.item();
  } finally {
    t.dispose();
  }
}

/** Σ a_i b_i (kernel Dot). */
export function dotValue(a: Tensor, b: Tensor): number {
  return scalar(runKernel("Dot", a, b));
}

/** Σ x_i² (kernel SquaredNorm). */
export function squaredNormValue(x: Tensor): number {
  return scalar(runKernel("SquaredNorm", x));
}

/** max |x_i| (kernel MaxAbs). */
export function maxAbsValue(x: Tensor): number {
  return scalar(runKernel("MaxAbs", x));
}

/** Σ |x_i| (kernel AbsSum). */
export function absSumValue(x: Tensor): number {
  return scalar(runKernel("AbsSum", x));
}

function hyperOf(group: Record<string, unknown>): Record<string, HyperValue> {
  const out: Record<string, HyperValue> = {};
  for (const [k, v] of Object.entries(group)) {
    if (k !== "params") out[k] = structuredClone(v) as HyperValue;
  }
  return out;
}

export abstract class Optimizer<H extends object> {
  readonly paramGroups: ParamGroup<H>[];
  readonly defaults: Readonly<H>;
  clip: ClipOptions;
  protected readonly state = new Map<Tensor, ParamState>();
  /** Optimiser-wide counters saved with the state. */
  protected counters: Record<string, number> = {};
  protected abstract readonly type: string;

  constructor(params: ParamsArg<H>, defaults: H, clip: ClipOptions = {}) {
    this.defaults = Object.freeze({ ...defaults });
    this.clip = { ...clip };
    const groups = (params.length > 0 && !("params" in params[0]))
      ? [{ params: params as Tensor[] }]
      : params as (Partial<H> & { params: Tensor[] })[];
    if (groups.length === 0) throw new Error("Optimizer: no parameters");
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g) => {
      for (const p of g.params) {
        if (seen.has(p)) {
          throw new Error(
            `Optimizer: parameter ${p} appears in more than one group`,
          );
        }
        seen.add(p);
      }
      const group = { ...defaults } as ParamGroup<H>;
      for (const [k, v] of Object.entries(g)) {
        if (v !== undefined) (group as Record<string, unknown>)[k] = v;
      }
      group.params = [...g.params];
      this.validate(group);
      return group;
    });
  }

  /** Throws on hyper-parameters out of range. */
  protected abstract validate(group: ParamGroup<H>): void;

  /** Every parameter, in group order. */
  get params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /**
   * Clears the gradients: frees them (default, like PyTorch's
   * set_to_none=True; the update skips parameters without a gradient) or
   * fills them with zeros.
   */
  zeroGrad(setToNone = true): void {
    for (const p of this.params) {
      if (!p.grad) continue;
      if (setToNone) {
        p.grad.dispose();
        p.grad = null;
      } else {
        runKernel("FillInPlace", p.grad, 0);
      }
    }
  }

  /**
   * Applies clipValue then clipNorm to the gradients. Returns the global L2
   * norm before norm clipping when clipNorm is set, otherwise undefined.
   */
  protected clipGradients(): number | undefined {
    const { clipNorm, clipValue } = this.clip;
    if (clipValue === undefined && clipNorm === undefined) return undefined;
    const params = this.params;
    if (clipValue !== undefined) clipGradValue(params, clipValue);
    return clipNorm !== undefined ? clipGradNorm(params, clipNorm) : undefined;
  }

  /** A new zero-filled tensor shaped like p that outlives any tidy(). */
  protected zerosLike(p: Tensor): Tensor {
    const t = keep(empty(p.shape));
    runKernel("FillInPlace", t, 0);
    return t;
  }

  /** Copies everything needed to continue the run: see OptimizerStateDict. */
  stateDict(): OptimizerStateDict {
    const index = new Map(this.params.map((p, i) => [p, i]));
    const state: OptimizerStateDict["state"] = {};
    for (const [p, st] of this.state) {
      const entry: Record<string, number | Float32Array> = {};
      for (const [k, v] of Object.entries(st)) {
        entry[k] = typeof v === "number" ? v : v.data();
      }
      state[index.get(p)!] = entry;
    }
    let next = 0;
    return {
      type: this.type,
      counters: { ...this.counters },
      clip: { ...this.clip },
      groups: this.paramGroups.map((g) => ({
        hyper: hyperOf(g as Record<string, unknown>),
        params: g.params.map(() => next++),
      })),
      state,
    };
  }

  /**
   * Restores a stateDict() into this optimiser, built over parameters of the
   * same shapes in the same group order. Buffers are copied into engine
   * memory; the dict is not retained.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    if (sd.type !== this.type) {
      throw new Error(`loadStateDict: a ${sd.type} state for a ${this.type}`);
    }
    if (sd.groups.length !== this.paramGroups.length) {
      throw new Error(
        `loadStateDict: ${sd.groups.length} groups, expected ${this.paramGroups.length}`,
      );
    }
    sd.groups.forEach((g, i) => {
      if (g.params.length !== this.paramGroups[i].params.length) {
        throw new Error(
          `loadStateDict: group ${i} has another parameter count`,
        );
      }
    });
    const params = this.params;
    const restored = new Map<Tensor, ParamState>();
    for (const [key, entry] of Object.entries(sd.state)) {
      const p = params[Number(key)];
      if (!p) throw new Error(`loadStateDict: no parameter ${key}`);
      const st: ParamState = {};
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v === "number") {
          st[k] = v;
          continue;
        }
        if (v.length !== p.size) {
          throw new Error(
            `loadStateDict: ${k} of parameter ${key} has ${v.length} values, expected ${p.size}`,
          );
        }
        st[k] = keep(tensor(v, p.shape));
      }
      restored.set(p, st);
    }
    this.disposeState();
    for (const [p, st] of restored) this.state.set(p, st);
    sd.groups.forEach((g, i) => {
      Object.assign(this.paramGroups[i], structuredClone(g.hyper));
    });
    this.counters = { ...sd.counters };
    this.clip = { ...sd.clip };
  }

  /** Frees the state buffers (the parameters are the caller's). */
  dispose(): void {
    this.disposeState();
  }

  protected disposeState(): void {
    for (const st of this.state.values()) {
      for (const v of Object.values(st)) {
        if (typeof v !== "number") v.dispose();
      }
    }
    this.state.clear();
  }
}
