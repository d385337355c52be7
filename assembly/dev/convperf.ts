// Development entry for the gemm and conv2d families (built in isolation).
export { heap_base } from "../common/heap";
export * from "../f32-gemm/index";
export * from "../f32-conv2d/index";
import { ukernel6x8 } from "../f32-gemm/f32-gemm-6x8-ukernel-wasmsimd";

/** Micro-benchmark: `iters` calls of the 6x8 micro-kernel on L1-resident panels. */
export function dev_bench_ukernel(iters: i32, kc: i32, ap: usize, bp: usize, c: usize, tmp: usize): void {
  for (let i = 0; i < iters; i++) ukernel6x8(kc, ap, bp, c, 8, 6, 8, tmp);
}

import { madd } from "../common/simd";
/** Micro-benchmark: 12 independent FMA chains, no memory traffic (the core's ceiling). */
export function dev_bench_fma(iters: i32, out: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let c4 = f32x4.splat(0), c5 = f32x4.splat(0), c6 = f32x4.splat(0), c7 = f32x4.splat(0);
  let c8 = f32x4.splat(0), c9 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  const a = v128.load(out), b = v128.load(out, 16);
  for (let i = 0; i < iters; i++) {
    c0 = madd(a, b, c0); c1 = madd(a, b, c1); c2 = madd(a, b, c2); c3 = madd(a, b, c3);
    c4 = madd(a, b, c4); c5 = madd(a, b, c5); c6 = madd(a, b, c6); c7 = madd(a, b, c7);
    c8 = madd(a, b, c8); c9 = madd(a, b, c9); c10 = madd(a, b, c10); c11 = madd(a, b, c11);
  }
  v128.store(out, f32x4.add(f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)), f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7))));
  v128.store(out, f32x4.add(f32x4.add(c8, c9), f32x4.add(c10, c11)), 16);
}
