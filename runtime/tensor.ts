// Tensors: an f32 array of a shape, living in a backend's storage.
// Lifetimes are explicit: `dispose()`, or `tidy(fn)` which frees every tensor
// created inside fn except the ones it returns. Reshapes are views sharing
// storage (reference counted), so they cost no copy.
// This module is browser compatible.
import { getBackend, type Storage } from "./backend.ts";
import type { GradNode } from "./autograd.ts";

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`Invalid tensor shape [${shape.join(", ")}]`);
    }
    n *= d;
  }
  return n;
}

// Scopes: each tidy() pushes a set that collects the tensors created inside.
const scopes: Set<Tensor>[] = [];

export class Tensor {
  readonly shape: Shape;
  readonly size: number;
  readonly storage: Storage;
  /** Element offset of this tensor in its storage (views). */
  readonly offset: number;
  /** Whether gradients flow to this tensor. */
  requiresGrad = false;
  /** Accumulated gradient (leaf tensors that require grad). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, while its graph is alive. */
  node: GradNode | null = null;
  /** Optional name (parameters: "conv1_1.weight"). */
  name?: string;
  #disposed = false;

  constructor(storage: Storage, shape: Shape, offset = 0) {
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    if (offset + this.size > storage.length) {
      throw new RangeError("Tensor view exceeds its storage");
    }
    this.storage = storage;
    this.offset = offset;
    storage.refs++;
    scopes[scopes.length - 1]?.add(this);
  }

  /** Byte address of the first element (wasm backend). */
  get ptr(): number {
    return this.storage.handle + this.offset * 4;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Copies the values out to a new Float32Array. */
  data(): Float32Array {
    this.#check();
    return this.storage.backend.read(this.storage, this.offset, this.size);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new RangeError(
        `item() needs a one-element tensor, got shape [${this.shape}]`,
      );
    }
    return this.data()[0];
  }

  /** Overwrites the values from an array of the same size. */
  write(values: ArrayLike<number>): this {
    this.#check();
    if (values.length !== this.size) {
      throw new RangeError(
        `write(): ${values.length} values for a tensor of ${this.size}`,
      );
    }
    this.storage.backend.write(this.storage, values, this.offset);
    return this;
  }

  /**
   * A view of the same values with another shape (no copy, no gradient
   * tracking: use ops.reshape for that). One dimension may be -1.
   */
  view(shape: Shape): Tensor {
    this.#check();
    const resolved = resolveShape(shape, this.size);
    return new Tensor(this.storage, resolved, this.offset);
  }

  /** Frees this tensor's hold on its storage. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const s of scopes) s.delete(this);
    const st = this.storage;
    if (--st.refs === 0) st.backend.release(st);
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  #check(): void {
    if (this.#disposed) {
      throw new Error(
        `Tensor${
          this.name ? ` ${this.name}` : ""
        } [${this.shape}] was disposed`,
      );
    }
  }

  toString(): string {
    return `Tensor(${this.name ? this.name + ", " : ""}[${this.shape}])`;
  }
}

/** Resolves one -1 in `shape` so that it holds `size` elements. */
export function resolveShape(shape: Shape, size: number): number[] {
  const out = [...shape];
  const unknown = out.indexOf(-1);
  if (unknown >= 0) {
    const known = out.reduce((a, d, i) => (i === unknown ? a : a * d), 1);
    if (known === 0 || size % known !== 0) {
      throw new RangeError(
        `Cannot reshape ${size} elements to [${shape.join(", ")}]`,
      );
    }
    out[unknown] = size / known;
  }
  if (sizeOf(out) !== size) {
    throw new RangeError(
      `Cannot reshape ${size} elements to [${shape.join(", ")}]`,
    );
  }
  return out;
}

/** A new tensor with undefined contents on the current backend. */
export function empty(shape: Shape): Tensor {
  const backend = getBackend();
  const st = backend.allocate(sizeOf(shape));
  const t = new Tensor(st, shape);
  return t;
}

/** A new tensor holding `values` (copied). */
export function tensor(values: ArrayLike<number>, shape?: Shape): Tensor {
  const s = shape ?? [values.length];
  if (sizeOf(s) !== values.length) {
    throw new RangeError(
      `${values.length} values do not fill shape [${s.join(", ")}]`,
    );
  }
  return empty(s).write(values);
}

/** A new tensor filled with `value`. */
export function full(shape: Shape, value: number): Tensor {
  return empty(shape).write(new Float32Array(sizeOf(shape)).fill(value));
}

export function zeros(shape: Shape): Tensor {
  return full(shape, 0);
}

export function ones(shape: Shape): Tensor {
  return full(shape, 1);
}

type Tensors =
  | Tensor
  | (Tensor | null)[]
  | Record<string, unknown>
  | void
  | number;

function collect(result: unknown, into: Set<Tensor>): void {
  if (result instanceof Tensor) into.add(result);
  else if (Array.isArray(result)) { for (const r of result) collect(r, into); }
  else if (result && typeof result === "object") {
    for (const v of Object.values(result)) collect(v, into);
  }
}

/**
 * Runs fn and disposes every tensor created inside it, except those in its
 * result (a tensor, an array or an object of tensors), which move to the
 * enclosing scope.
 */
export function tidy<T extends Tensors>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of scope) {
    if (keep.has(t)) scopes[scopes.length - 1]?.add(t);
    else t.dispose();
  }
  return result;
}

/** Removes `t` from every enclosing tidy() so that it outlives them. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}
