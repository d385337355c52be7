// Development entry for the pool, LRN and batch-norm families (build/dev-pool).
export { heap_base } from "../common/heap";
export * from "../f32-pool/index";
export * from "../f32-lrn/index";
export * from "../f32-batchnorm/index";
