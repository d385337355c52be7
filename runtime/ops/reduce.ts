// Reductions to one-element tensors and their backward rules. The incoming
// gradient is a one-element tensor; it is broadcast by kernels.
// This module is browser compatible.
import { needsGrad, record, save } from "../autograd.ts";
import { runKernel } from "../kernel_registry.ts";
import type { Tensor } from "../tensor.ts";
import {
  broadcastScalar,
  checkSameShape,
  scaleByScalarTensor,
} from "./_util.ts";
import { scale } from "./elementwise.ts";

/** Σ x (shape [1]). */
export function sum(x: Tensor): Tensor {
  const y = runKernel("Sum", x);
  if (!needsGrad([x])) return y;
  // dΣ/dx_i = 1.
  return record(y, "sum", [x], (g) => [broadcastScalar(g, x.shape)]);
}

/** Σ x / n (shape [1]). */
export function mean(x: Tensor): Tensor {
  if (x.size === 0) throw new RangeError("mean() of an empty tensor");
  const s = sum(x);
  const m = scale(s, 1 / x.size);
  s.dispose();
  return m;
}

/** Σ a_i b_i (shape [1]). */
export function dot(a: Tensor, b: Tensor): Tensor {
  checkSameShape("dot", a, b);
  const y = runKernel("Dot", a, b);
  if (!needsGrad([a, b])) return y;
  const sa = save(a), sb = save(b);
  return record(y, "dot", [a, b], (g) => [
    a.requiresGrad ? scaleByScalarTensor(sb, g) : null,
    b.requiresGrad ? scaleByScalarTensor(sa, g) : null,
  ], [sa, sb]);
}

/** Σ x_i² (shape [1]). */
export function squaredNorm(x: Tensor): Tensor {
  const y = runKernel("SquaredNorm", x);
  if (!needsGrad([x])) return y;
  const sx = save(x);
  // d(Σx²)/dx = 2x.
  return record(y, "squaredNorm", [x], (g) => {
    const gx = scaleByScalarTensor(sx, g);
    runKernel("ScaleInPlace", gx, 2);
    return [gx];
  }, [sx]);
}
