// f32-vunary family: activations, their backwards, and elementwise math.
export * from "./f32-vunary-scalar";
export * from "./f32-vunary-wasmsimd";
