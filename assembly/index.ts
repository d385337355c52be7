// The engine's single entry point: every kernel family re-exported.
// Built with --runtime stub; kernels allocate nothing and work on raw pointers
// laid out by the TypeScript memory manager above __heap_base.

/** First byte the TypeScript memory manager may use. */
export function heap_base(): usize {
  return __heap_base;
}

export * from "./f32-vbinary/f32-vbinary-scalar";
export * from "./f32-vbinary/f32-vbinary-wasmsimd";
