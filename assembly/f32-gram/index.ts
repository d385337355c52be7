// f32-gram family: G = scale F F^T and its backward (style-transfer losses).
export * from "./f32-gram-scalar";
export * from "./f32-gram-wasmsimd";
