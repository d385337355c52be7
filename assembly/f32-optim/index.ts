// f32-optim family: fused optimiser updates (SGD, Adam) and the L1 norm that
// L-BFGS needs; each SIMD kernel with its scalar twin.
export * from "./f32-sgd-update-scalar";
export * from "./f32-sgd-update-wasmsimd";
export * from "./f32-adam-update-scalar";
export * from "./f32-adam-update-wasmsimd";
export * from "./f32-asum-scalar";
export * from "./f32-asum-wasmsimd";
