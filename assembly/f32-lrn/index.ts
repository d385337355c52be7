// f32-lrn family: re-exports its kernels (scalar twins and SIMD versions).
export {};
