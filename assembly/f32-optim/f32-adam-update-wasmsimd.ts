// Fused Adam update, f32x4 (see f32-adam-update-scalar.ts for the maths).
// Layout: flat f32 arrays param, grad, expAvg, expAvgSq of n elements; any
// n. Same operation order as the scalar twin (sqrt and div are correctly
// rounded in both), so the two agree bit for bit except where madd() fuses.
import { madd } from "../common/simd";
import { vecShareStart, vecShareEnd } from "./optim-helpers";

export function f32_adam_update__wasmsimd(
  param: usize, grad: usize, expAvg: usize, expAvgSq: usize, n: i32,
  stepSize: f32, bias2Sqrt: f32, beta1: f32, beta2: f32, eps: f32, l2Decay: f32, paramScale: f32,
  tid: i32, nthreads: i32,
): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const negStep: f32 = -stepSize;
  const oneMinusB1: f32 = <f32>1 - beta1, oneMinusB2: f32 = <f32>1 - beta2;
  const vNegStep = f32x4.splat(negStep), vBias2 = f32x4.splat(bias2Sqrt), vEps = f32x4.splat(eps);
  const vB1 = f32x4.splat(beta1), vB2 = f32x4.splat(beta2);
  const v1mB1 = f32x4.splat(oneMinusB1), v1mB2 = f32x4.splat(oneMinusB2);
  const vL2 = f32x4.splat(l2Decay), vScale = f32x4.splat(paramScale);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    let p = v128.load(param + o);
    if (paramScale != 1) p = f32x4.mul(p, vScale);
    let g = v128.load(grad + o);
    if (l2Decay != 0) g = madd(vL2, p, g);
    const m = madd(vB1, v128.load(expAvg + o), f32x4.mul(v1mB1, g));
    const v = madd(vB2, v128.load(expAvgSq + o), f32x4.mul(v1mB2, f32x4.mul(g, g)));
    v128.store(expAvg + o, m);
    v128.store(expAvgSq + o, v);
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(v), vBias2), vEps);
    v128.store(param + o, madd(vNegStep, f32x4.div(m, denom), p));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    let p = load<f32>(param + o);
    if (paramScale != 1) p = p * paramScale;
    let g = load<f32>(grad + o);
    if (l2Decay != 0) g = l2Decay * p + g;
    const m = beta1 * load<f32>(expAvg + o) + oneMinusB1 * g;
    const v = beta2 * load<f32>(expAvgSq + o) + oneMinusB2 * (g * g);
    store<f32>(expAvg + o, m);
    store<f32>(expAvgSq + o, v);
    const denom = sqrt<f32>(v) / bias2Sqrt + eps;
    store<f32>(param + o, negStep * (m / denom) + p);
  }
}
