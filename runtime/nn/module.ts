// Module: the base of every layer. Holds named parameters (tensors that
// require grad), buffers (running statistics) and child modules; names are
// dotted paths like PyTorch's ("features.0.weight"), so state dicts map
// one-to-one onto PyTorch checkpoints converted to Float32Arrays.
// This module is browser compatible.
import { keep, type Tensor } from "../tensor.ts";

export interface LoadStateDictOptions {
  /** Throw on missing or unexpected entries (default true). Shape
   * mismatches always throw. */
  strict?: boolean;
}

export abstract class Module {
  /** Training mode (dropout active, batch norm on batch statistics). */
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /** Registers a parameter: it requires grad and outlives tidy() scopes. */
  protected addParameter(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    keep(t);
    t.requiresGrad = true;
    t.name = name;
    this.#params.set(name, t);
    return t;
  }

  /** Registers a buffer (state without gradient, e.g. running stats). */
  protected addBuffer(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    keep(t);
    t.requiresGrad = false;
    t.name = name;
    this.#buffers.set(name, t);
    return t;
  }

  /** Registers a child; its tensors' names gain the prefix `name.`. */
  protected addModule<M extends Module>(name: string, m: M): M {
    this.#checkName(name);
    this.#children.set(name, m);
    for (const [n, t] of m.#namedTensors(name)) t.name = n;
    return m;
  }

  #checkName(name: string): void {
    if (!name || name.includes(".")) {
      throw new Error(`Invalid module member name "${name}"`);
    }
    if (
      this.#params.has(name) || this.#buffers.has(name) ||
      this.#children.has(name)
    ) {
      throw new Error(`"${name}" is already registered`);
    }
  }

  *#namedTensors(prefix: string): Generator<[string, Tensor]> {
    for (const [n, p] of this.#namedWalk(prefix, "params")) yield [n, p];
    for (const [n, b] of this.#namedWalk(prefix, "buffers")) yield [n, b];
  }

  *#namedWalk(
    prefix: string,
    kind: "params" | "buffers",
  ): Generator<[string, Tensor]> {
    const pre = prefix ? prefix + "." : "";
    const own = kind === "params" ? this.#params : this.#buffers;
    for (const [n, t] of own) yield [pre + n, t];
    for (const [n, c] of this.#children) yield* c.#namedWalk(pre + n, kind);
  }

  /** Child modules by name (direct children only). */
  children(): [string, Module][] {
    return [...this.#children];
  }

  /** Every module below this one (itself first) with dotted names. */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.#children) {
      out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    }
    return out;
  }

  /** Parameters with dotted names, in registration order (depth first). */
  namedParameters(): [string, Tensor][] {
    return [...this.#namedWalk("", "params")];
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    return [...this.#namedWalk("", "buffers")];
  }

  /** Sets training mode here and below. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode here and below. */
  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Copies of every parameter and buffer, keyed by dotted name. */
  stateDict(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [n, t] of this.#namedTensors("")) out.set(n, t.data());
    return out;
  }

  /**
   * Loads values by dotted name. Checks every entry first and reports all
   * problems in one error (missing, unexpected, size mismatches) before
   * writing anything.
   */
  loadStateDict(
    state: ReadonlyMap<string, ArrayLike<number>>,
    options: LoadStateDictOptions = {},
  ): void {
    const strict = options.strict ?? true;
    const own = new Map(this.#namedTensors(""));
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [k, t] of own) {
      const v = state.get(k);
      if (v && v.length !== t.size) {
        mismatched.push(
          `${k} (expected [${t.shape}] = ${t.size} values, got ${v.length})`,
        );
      }
    }
    const problems: string[] = [];
    if (strict && missing.length) {
      problems.push(`missing: ${missing.join(", ")}`);
    }
    if (strict && unexpected.length) {
      problems.push(`unexpected: ${unexpected.join(", ")}`);
    }
    if (mismatched.length) {
      problems.push(`size mismatch: ${mismatched.join(", ")}`);
    }
    if (problems.length) {
      throw new Error(`loadStateDict(): ${problems.join("; ")}`);
    }
    for (const [k, t] of own) {
      const v = state.get(k);
      if (v) t.write(v);
    }
  }

  /** Frees every parameter, gradient and buffer here and below. */
  dispose(): void {
    for (const [, t] of this.#namedTensors("")) t.dispose();
  }
}
