// Fused Adam update, plain loops: the reference twin of
// f32-adam-update-wasmsimd.ts. Layout: flat f32 arrays param, grad, expAvg
// (m), expAvgSq (v) of n elements; param, m and v are updated in place.
//
// Kingma & Ba 2015, Algorithm 1, in PyTorch's arrangement (torch.optim.Adam
// / AdamW), step t >= 1:
//   param = param * paramScale        (decoupled weight decay, Loshchilov &
//                                      Hutter 2019: paramScale = 1 - lr*wd)
//   g = grad + l2Decay * param         (classic L2 decay; l2Decay = wd or 0)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   param = param - stepSize * m / (sqrt(v) / bias2Sqrt + eps)
// where the caller computes, in f64, stepSize = lr / (1 - beta1^t) and
// bias2Sqrt = sqrt(1 - beta2^t).
import { vecShareStart, vecShareEnd } from "./optim-helpers";

export function f32_adam_update__scalar(
  param: usize, grad: usize, expAvg: usize, expAvgSq: usize, n: i32,
  stepSize: f32, bias2Sqrt: f32, beta1: f32, beta2: f32, eps: f32, l2Decay: f32, paramScale: f32,
  tid: i32, nthreads: i32,
): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const negStep: f32 = -stepSize;
  const oneMinusB1: f32 = <f32>1 - beta1, oneMinusB2: f32 = <f32>1 - beta2;
  for (let i = s; i < e; i++) {
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
