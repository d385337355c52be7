// f32-gram family: re-exports its kernels (scalar twins and SIMD versions).
export {};
