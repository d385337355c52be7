export { heap_base } from "../common/heap";
export * from "../f32-conv2d/index";
