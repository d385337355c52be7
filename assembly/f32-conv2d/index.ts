// f32-conv2d family: re-exports its kernels (scalar twins and SIMD versions).
export {};
