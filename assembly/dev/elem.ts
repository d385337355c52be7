// Development entry for the elementwise, reduction, loss and Gram families.
export { heap_base } from "../common/heap";
export * from "../f32-vbinary/index";
export * from "../f32-vunary/index";
export * from "../f32-reduce/index";
export * from "../f32-loss/index";
export * from "../f32-gram/index";
