// f32-conv2d family: re-exports its kernels (scalar twins and SIMD versions).
// The implicit-GEMM driver (f32-conv2d-igemm-6x8-wasmsimd.ts) and the
// Winograd input transforms (f32-conv2d-winograd-transforms-wasmsimd.ts,
// f32-conv2d-winograd-f43-transforms-wasmsimd.ts) are internal.
export * from "./f32-conv2d-scalar";
export * from "./f32-conv2d-fwd-6x8-wasmsimd";
export * from "./f32-conv2d-bwd-data-6x8-wasmsimd";
export * from "./f32-conv2d-bwd-filter-3x3-wasmsimd";
export * from "./f32-pad2d-reflect-scalar";
export * from "./f32-pad2d-reflect-wasmsimd";
export * from "./f32-conv2d-winograd-6x8-wasmsimd";
export * from "./f32-conv2d-winograd-f43-wasmsimd";
export * from "./f32-conv2d-bwd-filter-winograd-3x3-wasmsimd";
export * from "./f32-conv2d-fwd-rows-wasmsimd";
export * from "./f32-conv2d-fwd-rows4-wasmsimd";
