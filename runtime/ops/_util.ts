// Helpers shared by the ops: shape checks and broadcasting a one-element
// gradient through kernels (no host read-back, so a GPU backend never has to
// synchronise inside a backward pass).
// This module is browser compatible.
import { runKernel } from "../kernel_registry.ts";
import { empty, type Shape, type Tensor } from "../tensor.ts";

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function checkSameShape(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new RangeError(
      `${op}: shapes [${a.shape}] and [${b.shape}] differ`,
    );
  }
}

export function checkScalar(op: string, s: Tensor): void {
  if (s.size !== 1) {
    throw new RangeError(
      `${op}: expected a one-element tensor, got [${s.shape}]`,
    );
  }
}

/** x · s for a one-element tensor s, as a [n,1]x[1,1] product; x's shape. */
export function scaleByScalarTensor(x: Tensor, s: Tensor): Tensor {
  const y = runKernel(
    "MatMul",
    x.view([x.size, 1]),
    s.view([1, 1]),
    false,
    false,
  );
  const shaped = y.view(x.shape);
  y.dispose();
  return shaped;
}

/** A tensor of `shape` filled with the value of one-element tensor s. */
export function broadcastScalar(s: Tensor, shape: Shape): Tensor {
  const z = empty([1, 1, shape.reduce((a, d) => a * d, 1)]);
  runKernel("FillInPlace", z, 0);
  const y = runKernel("AddChannelBias", z, s.view([1]));
  z.dispose();
  const shaped = y.view(shape);
  y.dispose();
  return shaped;
}
