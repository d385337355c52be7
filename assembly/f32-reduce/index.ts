// f32-reduce family: re-exports its kernels (scalar twins and SIMD versions).
export {};
