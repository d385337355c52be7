// Training checkpoints as safetensors files: a model's parameters and
// buffers under their own names (so the file also loads as a plain weights
// file), and an optimiser's stateDict() with its buffers as tensors named
// "optimizer/<path>" and everything else (hyper-parameters, counters, the
// structure) as JSON in `__metadata__`. Saving refuses tensors holding
// NaN/Inf (a diverged run must never overwrite a good checkpoint) and writes
// atomically (temporary file + rename) through the platform.
// This module is browser compatible (encode/decode work on bytes; paths need
// a host with a file system).
import { type NamedTensors, namedTensors } from "../health.ts";
import { hasKernel, runKernel } from "../kernel_registry.ts";
import { currentPlatform } from "../platform/mod.ts";
import { Tensor } from "../tensor.ts";
import {
  readSafetensors,
  type Safetensors,
  type TensorToWrite,
  writeSafetensors,
} from "./safetensors.ts";

export const CHECKPOINT_FORMAT = "impasto-checkpoint";
export const CHECKPOINT_VERSION = "1";
const OPTIM_PREFIX = "optimizer/";

/** What an optimiser exposes (runtime/optim/ Optimizer does). */
export interface StatefulOptimizer {
  stateDict(): unknown;
  // Method syntax: parameters are bivariant, so an optimiser whose
  // loadStateDict takes its own state type fits.
  loadStateDict(state: unknown): void;
}

/** What a model exposes (runtime/nn Module does). */
export interface NamedModel {
  namedParameters(): [string, Tensor][];
  namedBuffers(): [string, Tensor][];
}

export interface CheckpointContents {
  /** A model: its named parameters and buffers (or give them below). */
  model?: NamedModel;
  /** Trainable parameters by name. */
  parameters?: NamedTensors;
  /** Non-trainable state (batch-norm running statistics). */
  buffers?: NamedTensors;
  /** The optimiser whose stateDict() is saved (or restored on load). */
  optimizer?: StatefulOptimizer;
  /** JSON-serialisable extras: step, epoch, flags, seed. */
  extra?: Record<string, unknown>;
}

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

// Float32Array leaves of the optimiser state become tensors; the JSON keeps
// {"$tensor": name} in their place. Numbers JSON cannot hold (NaN, ±Inf,
// e.g. L-BFGS's initial values) are kept as {"$number": "Infinity"}.
function stateToJson(
  state: unknown,
  tensors: Map<string, TensorToWrite>,
): string {
  const walk = (v: unknown, path: string[]): unknown => {
    if (v instanceof Float32Array) {
      const name = OPTIM_PREFIX + path.join("/");
      tensors.set(name, { shape: [v.length], data: v });
      return { $tensor: name };
    }
    if (ArrayBuffer.isView(v)) {
      throw new CheckpointError(
        `optimizer state ${
          path.join("/")
        }: only Float32Array buffers can be saved`,
      );
    }
    if (typeof v === "number" && !Number.isFinite(v)) {
      return { $number: String(v) };
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, String(i)]));
    if (v !== null && typeof v === "object") {
      if (v instanceof Tensor) return walk(v.data(), path); // its values
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        out[k] = walk(x, [...path, k.replaceAll("/", "%2F")]);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(walk(state, []));
}

function stateFromJson(
  json: string,
  file: Safetensors,
  source: string,
): unknown {
  return JSON.parse(json, (_key, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      if (typeof v.$tensor === "string" && Object.keys(v).length === 1) {
        const t = file.tensors.get(v.$tensor);
        if (!t) {
          throw new CheckpointError(
            `${source}: optimizer state refers to missing tensor "${v.$tensor}"`,
          );
        }
        return t.data;
      }
      if (typeof v.$number === "string" && Object.keys(v).length === 1) {
        return Number(v.$number);
      }
    }
    return v;
  });
}

function finiteOrThrow(name: string, t: Tensor): void {
  // A kernel where there is one; the values are read back anyway below.
  if (hasKernel("CountNonFinite")) {
    const c = runKernel("CountNonFinite", t);
    let bad: number;
    try {
      bad = c.item();
    } finally {
      c.dispose();
    }
    if (bad > 0) {
      throw new CheckpointError(
        `Refusing to save a checkpoint: tensor ${name} holds ${bad} NaN/Inf values`,
      );
    }
  }
}

function finiteArrayOrThrow(name: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) {
      throw new CheckpointError(
        `Refusing to save a checkpoint: ${name} holds NaN/Inf values`,
      );
    }
  }
}

/** Serialises a checkpoint to safetensors bytes. */
export function encodeCheckpoint(contents: CheckpointContents): Uint8Array {
  const tensors = new Map<string, TensorToWrite>();
  const groups: Record<string, string[]> = { parameters: [], buffers: [] };
  const add = (kind: "parameters" | "buffers", set?: NamedTensors) => {
    for (const [name, t] of set ? namedTensors(set) : []) {
      if (tensors.has(name) || name.startsWith(OPTIM_PREFIX)) {
        throw new CheckpointError(
          `Checkpoint: tensor name "${name}" is used twice or reserved`,
        );
      }
      finiteOrThrow(name, t);
      const data = t.data();
      if (!hasKernel("CountNonFinite")) finiteArrayOrThrow(name, data);
      tensors.set(name, { shape: t.shape, data });
      groups[kind].push(name);
    }
  };
  add("parameters", contents.parameters);
  add("buffers", contents.buffers);
  add("parameters", contents.model?.namedParameters());
  add("buffers", contents.model?.namedBuffers());
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    parameters: JSON.stringify(groups.parameters),
    buffers: JSON.stringify(groups.buffers),
  };
  if (contents.optimizer) {
    const optimTensors = new Map<string, TensorToWrite>();
    metadata.optimizer = stateToJson(
      contents.optimizer.stateDict(),
      optimTensors,
    );
    for (const [name, t] of optimTensors) {
      finiteArrayOrThrow(name, t.data);
      tensors.set(name, t);
    }
  }
  if (contents.extra) metadata.extra = JSON.stringify(contents.extra);
  return writeSafetensors(tensors, metadata);
}

export interface LoadCheckpointOptions {
  /** Fail on tensors in the file that the model lacks (default true). */
  strict?: boolean;
  /** Name for error messages (a path). */
  source?: string;
}

export interface LoadedCheckpoint {
  /** The optimiser state as saved (already loaded into `optimizer` if given). */
  optimizerState?: unknown;
  extra: Record<string, unknown>;
  metadata: Record<string, string>;
}

/**
 * Restores a checkpoint's values into existing tensors (shapes must match)
 * and, when given, the optimiser's state.
 */
export function decodeCheckpoint(
  bytes: Uint8Array,
  into: CheckpointContents,
  options: LoadCheckpointOptions = {},
): LoadedCheckpoint {
  const source = options.source ?? "checkpoint";
  const file = readSafetensors(bytes, source);
  const meta = file.metadata;
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `${source}: not an impasto checkpoint (metadata format ${
        JSON.stringify(meta.format)
      })`,
    );
  }
  if (meta.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `${source}: checkpoint version ${meta.version} is not supported (expected ${CHECKPOINT_VERSION})`,
    );
  }
  const wanted = [
    ...(into.parameters ? namedTensors(into.parameters) : []),
    ...(into.buffers ? namedTensors(into.buffers) : []),
    ...(into.model?.namedParameters() ?? []),
    ...(into.model?.namedBuffers() ?? []),
  ];
  // Check everything before writing anything, so a mismatch leaves the
  // model untouched.
  for (const [name, t] of wanted) {
    const saved = file.tensors.get(name);
    if (!saved) throw new CheckpointError(`${source}: no tensor "${name}"`);
    if (saved.shape.join() !== t.shape.join()) {
      throw new CheckpointError(
        `${source}: tensor "${name}" has shape [${saved.shape}], the model has [${t.shape}]`,
      );
    }
  }
  if (options.strict ?? true) {
    const known = new Set(wanted.map(([n]) => n));
    for (const name of file.tensors.keys()) {
      if (!known.has(name) && !name.startsWith(OPTIM_PREFIX)) {
        throw new CheckpointError(
          `${source}: tensor "${name}" has no counterpart in the model (strict)`,
        );
      }
    }
  }
  let optimizerState: unknown;
  if (meta.optimizer !== undefined) {
    optimizerState = stateFromJson(meta.optimizer, file, source);
  }
  if (into.optimizer && optimizerState === undefined) {
    throw new CheckpointError(`${source}: holds no optimizer state`);
  }
  for (const [name, t] of wanted) t.write(file.tensors.get(name)!.data);
  if (into.optimizer) into.optimizer.loadStateDict(optimizerState);
  return {
    optimizerState,
    extra: meta.extra ? JSON.parse(meta.extra) : {},
    metadata: meta,
  };
}

/** Saves a checkpoint to `path` atomically; refuses NaN/Inf values. */
export async function saveCheckpoint(
  path: string,
  contents: CheckpointContents,
): Promise<void> {
  const bytes = encodeCheckpoint(contents);
  await (await currentPlatform()).writeFileAtomic(path, bytes);
}

/** Loads a checkpoint from `path` into the given tensors and optimiser. */
export async function loadCheckpoint(
  path: string,
  into: CheckpointContents,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  const bytes = await (await currentPlatform()).readFile(path);
  return decodeCheckpoint(bytes, into, { source: path, ...options });
}
