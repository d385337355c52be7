// Differentiable ops: each calls kernels only through runKernel and records
// its backward rule on the tape (runtime/autograd.ts).
// This module is browser compatible.
export * from "./elementwise.ts";
export * from "./activation.ts";
export * from "./reduce.ts";
export * from "./linalg.ts";
export * from "./conv.ts";
export * from "./pool.ts";
export * from "./norm.ts";
export * from "./style.ts";
export * from "./loss.ts";
export * from "./shape.ts";
export * from "./dropout.ts";
export {
  convOutSize,
  convTransposeOutSize,
  type Padding,
  type Pair,
  poolOutSize,
  resolvePadding,
} from "./shapes.ts";
