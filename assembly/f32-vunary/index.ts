// f32-vunary family: re-exports its kernels (scalar twins and SIMD versions).
export {};
