// f32-reduce family: chunked deterministic reductions (partials per chunk).
export * from "./f32-reduce-scalar";
export * from "./f32-reduce-wasmsimd";
