// f32-lrn family: re-exports its kernels (scalar twins and SIMD versions).
export * from "./f32-lrn-scalar";
export * from "./f32-lrn-wasmsimd";
