// f32-gemm family: re-exports its kernels (scalar twins and SIMD versions).
export {};
