// f32-vbinary family: elementwise binary ops and axpy.
export * from "./f32-vbinary-scalar";
export * from "./f32-vbinary-wasmsimd";
