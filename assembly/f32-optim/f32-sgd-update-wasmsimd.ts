// Fused SGD update, f32x4 (see f32-sgd-update-scalar.ts for the maths).
// Layout: flat f32 arrays param, grad, buf of n elements; any n (a scalar
// tail handles n % 4). The operation order matches the scalar twin, so the
// two agree bit for bit except where madd() fuses (relaxed-SIMD builds).
import { madd } from "../common/simd";
import { vecShareStart, vecShareEnd } from "./optim-helpers";

export function f32_sgd_update__wasmsimd(
  param: usize, grad: usize, buf: usize, n: i32,
  lr: f32, weightDecay: f32, momentum: f32, dampening: f32, nesterov: i32, firstStep: i32,
  tid: i32, nthreads: i32,
): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const negLr: f32 = -lr;
  const keep: f32 = <f32>1 - dampening;
  const vNegLr = f32x4.splat(negLr), vWd = f32x4.splat(weightDecay);
  const vMom = f32x4.splat(momentum), vKeep = f32x4.splat(keep);
  let i = s;
  if (momentum == 0) {
    // Plain SGD: no buffer traffic.
    for (; i + 4 <= e; i += 4) {
      const o = <usize>i << 2;
      const p = v128.load(param + o);
      let g = v128.load(grad + o);
      if (weightDecay != 0) g = madd(vWd, p, g);
      v128.store(param + o, madd(vNegLr, g, p));
    }
  } else {
    for (; i + 4 <= e; i += 4) {
      const o = <usize>i << 2;
      const p = v128.load(param + o);
      let g = v128.load(grad + o);
      if (weightDecay != 0) g = madd(vWd, p, g);
      let b = g;
      if (!firstStep) b = madd(vMom, v128.load(buf + o), f32x4.mul(vKeep, g));
      v128.store(buf + o, b);
      g = nesterov ? madd(vMom, b, g) : b;
      v128.store(param + o, madd(vNegLr, g, p));
    }
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    const p = load<f32>(param + o);
    let g = load<f32>(grad + o);
    if (weightDecay != 0) g = weightDecay * p + g;
    if (momentum != 0) {
      let b: f32 = g;
      if (!firstStep) b = momentum * load<f32>(buf + o) + keep * g;
      store<f32>(buf + o, b);
      g = nesterov ? momentum * b + g : b;
    }
    store<f32>(param + o, negLr * g + p);
  }
}
