// Development entry for the gemm and conv2d families (conv2: Winograd F(4x4, 3x3)).
export { heap_base } from "../common/heap";
export * from "../f32-gemm/index";
export * from "../f32-conv2d/index";
