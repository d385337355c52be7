// f32-pool family: re-exports its kernels (scalar twins and SIMD versions).
export {};
