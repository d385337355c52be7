// Fused SGD update, plain loops: the reference twin of
// f32-sgd-update-wasmsimd.ts. Layout: flat f32 arrays param, grad and
// momentum buffer of n elements, updated in place (grad is read only).
//
// PyTorch's torch.optim.SGD semantics (Sutskever et al. 2013 form):
//   g   = grad + weightDecay * param                  (when weightDecay != 0)
//   buf = g                                           (first step)
//   buf = momentum * buf + (1 - dampening) * g        (later steps)
//   g   = g + momentum * buf  (Nesterov)  or  g = buf (classical)
//   param = param - lr * g
// With momentum == 0 the buffer is neither read nor written (it may be 0).
import { vecShareStart, vecShareEnd } from "./optim-helpers";

export function f32_sgd_update__scalar(
  param: usize, grad: usize, buf: usize, n: i32,
  lr: f32, weightDecay: f32, momentum: f32, dampening: f32, nesterov: i32, firstStep: i32,
  tid: i32, nthreads: i32,
): void {
  const s = vecShareStart(n, tid, nthreads), e = vecShareEnd(n, tid, nthreads);
  const negLr: f32 = -lr;
  const keep: f32 = <f32>1 - dampening;
  for (let i = s; i < e; i++) {
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
