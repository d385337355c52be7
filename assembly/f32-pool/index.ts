// f32-pool family: re-exports its kernels (scalar twins and SIMD versions).
export * from "./f32-maxpool2d-scalar";
export * from "./f32-maxpool2d-wasmsimd";
export * from "./f32-avgpool2d-scalar";
export * from "./f32-avgpool2d-wasmsimd";
export * from "./f32-global-avgpool-scalar";
export * from "./f32-global-avgpool-wasmsimd";
export * from "./f32-upsample-nearest-scalar";
export * from "./f32-upsample-nearest-wasmsimd";
