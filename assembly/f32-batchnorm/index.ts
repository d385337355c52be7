// f32-batchnorm family: re-exports its kernels (scalar twins and SIMD versions).
export * from "./f32-batchnorm-scalar";
export * from "./f32-batchnorm-wasmsimd";
