// Entry points to reverse-mode autodiff: backward() accumulates into the
// leaves' .grad (training), grad() returns gradients and leaves every .grad
// as it was (tests, gradient penalties).
// This module is browser compatible.
import { backward as tapeBackward, releaseGraph } from "./autograd.ts";
import { runKernel } from "./kernel_registry.ts";
import { empty, keep, type Tensor } from "./tensor.ts";

function addGrads(a: Tensor, b: Tensor): Tensor {
  return runKernel("Add", a, b);
}

/** The seed gradient; on a bad request the graph is freed, then it throws. */
function seedFor(loss: Tensor, gradOutput?: Tensor): Tensor {
  try {
    return makeSeed(loss, gradOutput);
  } catch (e) {
    releaseGraph(loss);
    throw e;
  }
}

function makeSeed(loss: Tensor, gradOutput?: Tensor): Tensor {
  if (gradOutput) {
    if (gradOutput.size !== loss.size) {
      throw new RangeError(
        `backward(): gradOutput [${gradOutput.shape}] does not match [${loss.shape}]`,
      );
    }
    // A copy: the tape disposes its seed.
    const c = runKernel("Copy", gradOutput);
    const shaped = keep(c.view(loss.shape));
    c.dispose();
    return shaped;
  }
  if (loss.size !== 1) {
    throw new RangeError(
      `backward(): a loss of shape [${loss.shape}] needs a gradOutput`,
    );
  }
  const seed = keep(empty(loss.shape));
  runKernel("FillInPlace", seed, 1);
  return seed;
}

/**
 * Back-propagates from `loss` (seed 1 for a one-element loss, else
 * `gradOutput`), adds into every leaf's .grad and frees the graph (also
 * when it throws).
 */
export function backward(loss: Tensor, gradOutput?: Tensor): void {
  if (!loss.requiresGrad) {
    throw new Error(
      "backward(): the tensor does not depend on any tensor that requires grad",
    );
  }
  tapeBackward(loss, seedFor(loss, gradOutput), addGrads);
}

/** Frees the graph above `loss` (nothing else will) and throws. */
function fail(loss: Tensor, message: string): never {
  releaseGraph(loss);
  throw new Error(message);
}

/** Leaves (tensors that require grad and have no node) above `root`. */
function leavesOf(root: Tensor): Set<Tensor> {
  const leaves = new Set<Tensor>();
  const seen = new Set<Tensor>([root]);
  const stack = [root];
  while (stack.length) {
    const t = stack.pop()!;
    if (!t.node) {
      if (t.requiresGrad) leaves.add(t);
      continue;
    }
    for (const i of t.node.inputs) {
      if (!seen.has(i)) {
        seen.add(i);
        stack.push(i);
      }
    }
  }
  return leaves;
}

/**
 * d loss / d input for each of `inputs` (leaf tensors), without changing
 * any tensor's .grad. Frees the graph like backward(). An input the loss
 * does not depend on gets zeros.
 */
export function grad(
  loss: Tensor,
  inputs: readonly Tensor[],
  gradOutput?: Tensor,
): Tensor[] {
  for (const t of inputs) {
    if (t.node) {
      fail(
        loss,
        `grad(): inputs must be leaf tensors; [${t.shape}] was produced by ${t.node.op}`,
      );
    }
    if (!t.requiresGrad) {
      fail(loss, `grad(): input [${t.shape}] does not require grad`);
    }
  }
  if (!loss.requiresGrad) {
    throw new Error(
      "grad(): the loss does not depend on any tensor that requires grad",
    );
  }
  // Park every leaf's accumulated gradient, run the tape, take the fresh
  // gradients, and put the old ones back.
  const leaves = leavesOf(loss);
  const parked = new Map<Tensor, Tensor | null>();
  for (const t of leaves) {
    parked.set(t, t.grad);
    t.grad = null;
  }
  for (const t of inputs) {
    if (!parked.has(t)) {
      parked.set(t, t.grad);
      t.grad = null;
    }
  }
  const taken = new Set<Tensor>();
  try {
    tapeBackward(loss, seedFor(loss, gradOutput), addGrads);
    // Views join the caller's tidy() scope (the tape's tensors are kept out
    // of every scope); an input listed twice gets a copy the second time.
    return inputs.map((t) => {
      const g = t.grad;
      if (!g) {
        const z = empty(t.shape);
        runKernel("FillInPlace", z, 0);
        return z;
      }
      if (taken.has(g)) return runKernel("Copy", g);
      taken.add(g);
      return g.view(g.shape);
    });
  } finally {
    for (const [t, old] of parked) {
      t.grad?.dispose();
      t.grad = old;
    }
  }
}
