// Losses (one-element results) and softmax. Loss kernels return the value
// and its gradient together; the backward rule scales that gradient by the
// incoming one-element gradient.
// This module is browser compatible.
import { needsGrad, record, save } from "../autograd.ts";
import { runKernel } from "../kernel_registry.ts";
import { empty, Tensor, tensor } from "../tensor.ts";
import { checkSameShape, scaleByScalarTensor } from "./_util.ts";

export type Reduction = "mean" | "sum";

function reductionScale(op: string, reduction: Reduction, n: number): number {
  if (reduction === "mean") return 1 / n;
  if (reduction === "sum") return 1;
  throw new RangeError(`${op}: unknown reduction ${reduction}`);
}

/** Wraps a LossResult into a recorded one-element loss. */
function lossNode(
  op: string,
  r: { loss: Tensor; grad: Tensor },
  input: Tensor,
  target: Tensor | null,
  targetGradSign = 0,
): Tensor {
  const inputs = target ? [input, target] : [input];
  if (!needsGrad(inputs)) {
    r.grad.dispose();
    return r.loss;
  }
  const sg = save(r.grad);
  r.grad.dispose();
  return record(r.loss, op, inputs, (g) => {
    const dx = input.requiresGrad ? scaleByScalarTensor(sg, g) : null;
    let dt: Tensor | null = null;
    if (target?.requiresGrad) {
      if (targetGradSign === 0) {
        throw new Error(`${op}: no gradient with respect to the target`);
      }
      dt = scaleByScalarTensor(sg, g);
      runKernel("ScaleInPlace", dt, targetGradSign);
    }
    return target ? [dx, dt] : [dx];
  }, [sg]);
}

/** Mean (or sum) of (x - target)² (PyTorch MSELoss). */
export function mseLoss(
  x: Tensor,
  target: Tensor,
  reduction: Reduction = "mean",
): Tensor {
  checkSameShape("mseLoss", x, target);
  const r = runKernel(
    "MseLoss",
    x,
    target,
    reductionScale("mseLoss", reduction, x.size),
  );
  // d/dt (x - t)² = -d/dx (x - t)².
  return lossNode("mseLoss", r, x, target, -1);
}

/**
 * Binary cross-entropy on logits, log-sum-exp stable:
 * ℓ = max(z, 0) - z·t + log(1 + e^-|z|) (PyTorch BCEWithLogitsLoss).
 * No gradient flows to the targets.
 */
export function bceWithLogits(
  logits: Tensor,
  targets: Tensor,
  reduction: Reduction = "mean",
): Tensor {
  checkSameShape("bceWithLogits", logits, targets);
  const r = runKernel(
    "BceWithLogitsLoss",
    logits,
    targets,
    reductionScale("bceWithLogits", reduction, logits.size),
  );
  return lossNode(
    "bceWithLogits",
    r,
    logits,
    targets.requiresGrad ? targets : null,
  );
}

/**
 * Softmax cross-entropy of logits [N, C] against class indices (an array
 * or an f32 tensor [N]); mean over rows by default.
 */
export function softmaxCrossEntropy(
  logits: Tensor,
  labels: Tensor | ArrayLike<number>,
  reduction: Reduction = "mean",
): Tensor {
  if (logits.rank !== 2) {
    throw new RangeError(
      `softmaxCrossEntropy: needs [N, C] logits, got [${logits.shape}]`,
    );
  }
  const [n, c] = logits.shape;
  const owned = !(labels instanceof Tensor);
  const lab = owned ? tensor(labels as ArrayLike<number>) : labels as Tensor;
  try {
    if (lab.size !== n) {
      throw new RangeError(
        `softmaxCrossEntropy: ${lab.size} labels for ${n} rows`,
      );
    }
    if (owned) {
      const arr = labels as ArrayLike<number>;
      for (let i = 0; i < arr.length; i++) {
        const v = arr[i];
        if (!Number.isInteger(v) || v < 0 || v >= c) {
          throw new RangeError(
            `softmaxCrossEntropy: label ${v} is not a class of ${c}`,
          );
        }
      }
    }
    const r = runKernel(
      "SoftmaxCrossEntropy",
      logits,
      lab,
      reductionScale("softmaxCrossEntropy", reduction, n),
    );
    return lossNode("softmaxCrossEntropy", r, logits, null);
  } finally {
    if (owned) lab.dispose();
  }
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  if (x.rank < 1) throw new RangeError("softmax: needs at least one axis");
  const y = runKernel("Softmax", x);
  if (!needsGrad([x])) return y;
  const sy = save(y);
  const c = x.shape[x.rank - 1], rows = x.size / c;
  // dx = y ⊙ (dy - rowsum(dy ⊙ y)): the row sums and their broadcast back
  // are matrix products with a ones vector.
  return record(y, "softmax", [x], (g) => {
    const ones = empty([c, 1]);
    runKernel("FillInPlace", ones, 1);
    const gy = runKernel("Mul", g, sy);
    const rowSums = runKernel("MatMul", gy.view([rows, c]), ones, false, false);
    const spread = runKernel("MatMul", rowSums, ones, false, true);
    const centred = runKernel("Sub", g, spread.view(x.shape));
    return [runKernel("Mul", centred, sy)];
  }, [sy]);
}
