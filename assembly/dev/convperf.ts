// Development entry for the gemm and conv2d families (built in isolation).
export { heap_base } from "../common/heap";
export * from "../f32-gemm/index";
export * from "../f32-conv2d/index";
