// Elementwise arithmetic on tensors of one shape, each op followed by its
// backward rule. Forward values come from kernels; gradients from kernels.
// This module is browser compatible.
import { needsGrad, record, save } from "../autograd.ts";
import { runKernel } from "../kernel_registry.ts";
import type { Tensor } from "../tensor.ts";
import { checkSameShape } from "./_util.ts";

/** a + b. */
export function add(a: Tensor, b: Tensor): Tensor {
  checkSameShape("add", a, b);
  const y = runKernel("Add", a, b);
  if (!needsGrad([a, b])) return y;
  // d(a+b)/da = d(a+b)/db = 1: each input gets the gradient; b gets a copy
  // so that the two never share storage (an in-place update of one .grad
  // must not change the other).
  return record(y, "add", [a, b], (g) => [
    a.requiresGrad ? g.view(g.shape) : null,
    b.requiresGrad ? runKernel("Copy", g) : null,
  ]);
}

/** a - b. */
export function sub(a: Tensor, b: Tensor): Tensor {
  checkSameShape("sub", a, b);
  const y = runKernel("Sub", a, b);
  if (!needsGrad([a, b])) return y;
  return record(y, "sub", [a, b], (g) => [
    a.requiresGrad ? g.view(g.shape) : null,
    b.requiresGrad ? runKernel("Scale", g, -1) : null,
  ]);
}

/** a * b elementwise. */
export function mul(a: Tensor, b: Tensor): Tensor {
  checkSameShape("mul", a, b);
  const y = runKernel("Mul", a, b);
  if (!needsGrad([a, b])) return y;
  // d(ab)/da = b, d(ab)/db = a.
  const sa = save(a), sb = save(b);
  return record(y, "mul", [a, b], (g) => [
    a.requiresGrad ? runKernel("Mul", g, sb) : null,
    b.requiresGrad ? runKernel("Mul", g, sa) : null,
  ], [sa, sb]);
}

/** alpha * x for a number alpha. */
export function scale(x: Tensor, alpha: number): Tensor {
  const y = runKernel("Scale", x, alpha);
  if (!needsGrad([x])) return y;
  return record(y, "scale", [x], (g) => [runKernel("Scale", g, alpha)]);
}

/** x + c for a number c. */
export function addScalar(x: Tensor, c: number): Tensor {
  const y = runKernel("AddScalar", x, c);
  if (!needsGrad([x])) return y;
  return record(y, "addScalar", [x], (g) => [g.view(g.shape)]);
}

/** -x. */
export function neg(x: Tensor): Tensor {
  const y = runKernel("Scale", x, -1);
  if (!needsGrad([x])) return y;
  return record(y, "neg", [x], (g) => [runKernel("Scale", g, -1)]);
}
