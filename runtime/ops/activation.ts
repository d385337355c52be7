// Activations and their backward rules. ReLU-type rules read the input;
// sigmoid and tanh read the output (σ' = σ(1-σ), tanh' = 1 - tanh²).
// This module is browser compatible.
import { needsGrad, record, save } from "../autograd.ts";
import { runKernel } from "../kernel_registry.ts";
import type { Tensor } from "../tensor.ts";

/** max(x, 0). */
export function relu(x: Tensor): Tensor {
  const y = runKernel("Relu", x);
  if (!needsGrad([x])) return y;
  const sx = save(x);
  return record(y, "relu", [x], (g) => [runKernel("ReluGrad", sx, g)], [sx]);
}

/** x for x > 0, slope·x otherwise (PyTorch default slope 0.01). */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  const y = runKernel("LeakyRelu", x, slope);
  if (!needsGrad([x])) return y;
  const sx = save(x);
  return record(
    y,
    "leakyRelu",
    [x],
    (g) => [runKernel("LeakyReluGrad", sx, g, slope)],
    [sx],
  );
}

/** 1 / (1 + e^-x). */
export function sigmoid(x: Tensor): Tensor {
  const y = runKernel("Sigmoid", x);
  if (!needsGrad([x])) return y;
  const sy = save(y);
  return record(
    y,
    "sigmoid",
    [x],
    (g) => [runKernel("SigmoidGrad", sy, g)],
    [sy],
  );
}

/** tanh(x). */
export function tanh(x: Tensor): Tensor {
  const y = runKernel("Tanh", x);
  if (!needsGrad([x])) return y;
  const sy = save(y);
  return record(y, "tanh", [x], (g) => [runKernel("TanhGrad", sy, g)], [sy]);
}
