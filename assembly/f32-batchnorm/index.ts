// f32-batchnorm family: re-exports its kernels (scalar twins and SIMD versions).
export {};
