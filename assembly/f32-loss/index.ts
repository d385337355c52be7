// f32-loss family: MSE, BCE with logits, softmax and softmax cross-entropy.
export * from "./f32-loss-scalar";
export * from "./f32-loss-wasmsimd";
