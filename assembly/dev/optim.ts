// Development entry for the optimiser family (build/dev-optim), with the
// elementwise and reduction families its runtime tests call.
export { heap_base } from "../common/heap";
export * from "../f32-optim/index";
export * from "../f32-vbinary/index";
export * from "../f32-reduce/index";
