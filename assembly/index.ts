// The engine's single entry point: every kernel family re-exported.
// Built with --runtime stub; kernels allocate nothing and work on raw pointers
// laid out by the TypeScript memory manager above __heap_base.
export { heap_base } from "./common/heap";
export * from "./f32-vbinary/index";
export * from "./f32-vunary/index";
export * from "./f32-reduce/index";
export * from "./f32-loss/index";
export * from "./f32-gemm/index";
export * from "./f32-conv2d/index";
export * from "./f32-gram/index";
export * from "./f32-pool/index";
export * from "./f32-lrn/index";
export * from "./f32-batchnorm/index";
export * from "./f32-optim/index";
