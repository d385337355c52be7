// f32-loss family: re-exports its kernels (scalar twins and SIMD versions).
export {};
