// f32-gemm family: re-exports its kernels (scalar twins and SIMD versions).
// The micro-kernel and packers (f32-gemm-6x8-ukernel-wasmsimd.ts) are shared
// with f32-conv2d and not exported.
export * from "./f32-gemm-scalar";
export * from "./f32-gemm-6x8-wasmsimd";
