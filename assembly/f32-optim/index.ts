// f32-optim family: re-exports its kernels (scalar twins and SIMD versions).
export {};
