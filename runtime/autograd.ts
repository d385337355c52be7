// Define-by-run reverse-mode autodiff. Every op that produces a tensor from
// inputs that require grad records a GradNode with its backward rule (the
// rule lives beside the op in runtime/ops/). backward() walks the graph in
// reverse topological order, accumulates gradients (a tensor used twice
// receives the sum), adds them into leaf tensors' .grad, and frees the graph.
// This module is browser compatible.
import { keep, type Tensor, tidy } from "./tensor.ts";

/**
 * Gradients of the op's output with respect to each input (null where an
 * input needs none). Runs with recording off; may return fresh tensors.
 */
export type BackwardRule = (gradOutput: Tensor) => (Tensor | null)[];

export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly backward: BackwardRule;
  /** Values held for backward; disposed when the graph is freed. */
  readonly saved: Tensor[];
}

let recording = true;

/** Whether ops currently record the graph. */
export function isRecording(): boolean {
  return recording;
}

/** Runs fn without recording any graph (inference, optimiser updates). */
export function noGrad<T>(fn: () => T): T {
  const was = recording;
  recording = false;
  try {
    return fn();
  } finally {
    recording = was;
  }
}

/** Whether an op on `inputs` must record a node. */
export function needsGrad(inputs: readonly (Tensor | null)[]): boolean {
  return recording && inputs.some((t) => t?.requiresGrad);
}

/**
 * Holds `t`'s values for a backward rule: a view sharing its storage that
 * outlives the caller disposing `t`.
 */
export function save(t: Tensor): Tensor {
  return keep(t.view(t.shape));
}

/**
 * Records `output` as produced by `op` from `inputs`. `saved` are tensors
 * (from save()) the rule reads; they are freed with the graph.
 */
export function record(
  output: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: BackwardRule,
  saved: Tensor[] = [],
): Tensor {
  output.requiresGrad = true;
  output.node = { op, inputs, backward, saved };
  return output;
}

/** Reverse topological order of the graph above `root`. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep nets would overflow a recursive one.
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next.node && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/** Frees the saved values of every node above `root` and unlinks them. */
export function releaseGraph(root: Tensor): void {
  release(topologicalOrder(root));
}

function release(order: readonly Tensor[]): void {
  for (const t of order) {
    if (!t.node) continue;
    for (const s of t.node.saved) s.dispose();
    t.node = null;
  }
}

/**
 * Back-propagates from `root` (a one-element loss unless `gradOutput` is
 * given): adds d root / d leaf into every leaf's .grad, then frees the graph.
 * `add` sums two gradients (supplied by runtime/ops to keep this module
 * free of kernels).
 */
export function backward(
  root: Tensor,
  seed: Tensor,
  add: (a: Tensor, b: Tensor) => Tensor,
): void {
  if (!root.requiresGrad) {
    throw new Error(
      "backward(): the tensor does not depend on any tensor that requires grad",
    );
  }
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>();
  grads.set(root, keep(seed));
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    if (!prev) {
      grads.set(t, keep(g));
      return;
    }
    const sum = keep(noGrad(() => add(prev, g)));
    prev.dispose();
    g.dispose();
    grads.set(t, sum);
  };
  try {
    for (const t of order) {
      const node = t.node;
      const g = grads.get(t);
      if (!node || !g) continue;
      grads.delete(t);
      const inputGrads = noGrad(() => tidy(() => node.backward(g)));
      g.dispose();
      node.inputs.forEach((input, i) => {
        const gi = inputGrads[i];
        if (!gi) return;
        if (!input.requiresGrad) {
          gi.dispose();
          return;
        }
        if (gi.size !== input.size) {
          throw new Error(
            `Gradient of ${node.op} input ${i} has shape [${gi.shape}], expected [${input.shape}]`,
          );
        }
        let shaped = gi;
        if (gi.shape.join() !== input.shape.join()) {
          shaped = gi.view(input.shape);
          gi.dispose();
        }
        accumulate(input, shaped);
      });
    }
    // What is left are the leaves' gradients.
    for (const [t, g] of grads) {
      if (t.node) {
        g.dispose();
        continue;
      }
      let shaped = g;
      if (g.shape.join() !== t.shape.join()) {
        shaped = keep(g.view(t.shape));
        g.dispose();
      }
      if (t.grad) {
        const sum = keep(noGrad(() => add(t.grad!, shaped)));
        t.grad.dispose();
        shaped.dispose();
        t.grad = sum;
      } else {
        t.grad = shaped;
      }
    }
  } finally {
    // The order computed above covers the whole graph: no second walk.
    release(order);
  }
}
