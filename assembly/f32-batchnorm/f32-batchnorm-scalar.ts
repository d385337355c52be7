// Batch normalisation over N, H, W per channel (Ioffe & Szegedy 2015),
// training forward, inference forward and backward, plain loops: the
// reference twins of f32-batchnorm-wasmsimd.ts.
// Shapes: N images, C channels, HW = H·W positions, M = N·HW values per
// channel. Layout: x, y, dy, dx [N][C][HW]; gamma, beta, savedMean,
// savedInvStd, runningMean, runningVar, dgamma, dbeta [C]. gamma/beta = 0
// means no affine transform (γ = 1, β = 0); runningMean/runningVar = 0 means
// not tracked; dgamma/dbeta = 0 means not wanted.
// Sums run in f32 inside a plane and are combined across the N planes in f64
// (cheap, and it keeps the mean of large batches accurate). Training forward
// and backward are parallel over channels, each channel's reduction in one
// thread, so results are identical for any thread count; inference is
// parallel over (n, c) planes.
import { shareStart, shareEnd } from "../common/partition";

/**
 * Algorithm 1 of Ioffe & Szegedy: μ = Σx / M, σ² = Σ(x − μ)² / M (two
 * passes), y = γ·(x − μ)/√(σ² + ε) + β. Saves μ and 1/√(σ² + ε). Running
 * estimates as PyTorch: r ← (1 − momentum)·r + momentum·batch, with the
 * unbiased variance σ²·M/(M − 1) (the shim requires M > 1).
 */
export function f32_batchnorm_fwd_train__scalar(
  x: usize, gamma: usize, beta: usize, y: usize, savedMean: usize, savedInvStd: usize,
  runningMean: usize, runningVar: usize, batch: i32, channels: i32, hw: i32,
  eps: f32, momentum: f32, tid: i32, nthreads: i32,
): void {
  const c0 = shareStart(channels, tid, nthreads), c1 = shareEnd(channels, tid, nthreads);
  const count = <f64>batch * <f64>hw;
  const imageStride = <usize>(channels * hw) << 2;
  for (let c = c0; c < c1; c++) {
    const first = x + (<usize>(c * hw) << 2);
    let total: f64 = 0;
    for (let n = 0; n < batch; n++) {
      const xp = first + <usize>n * imageStride;
      let sum: f32 = 0;
      for (let i = 0; i < hw; i++) sum += load<f32>(xp + (<usize>i << 2));
      total += sum;
    }
    const mean = <f32>(total / count);
    let totalSq: f64 = 0;
    for (let n = 0; n < batch; n++) {
      const xp = first + <usize>n * imageStride;
      let sum: f32 = 0;
      for (let i = 0; i < hw; i++) {
        const d = load<f32>(xp + (<usize>i << 2)) - mean;
        sum += d * d;
      }
      totalSq += sum;
    }
    const variance = <f32>(totalSq / count);
    const invStd = <f32>1 / Mathf.sqrt(variance + eps);
    const co = <usize>c << 2;
    store<f32>(savedMean + co, mean);
    store<f32>(savedInvStd + co, invStd);
    if (runningMean) {
      store<f32>(runningMean + co, (<f32>1 - momentum) * load<f32>(runningMean + co) + momentum * mean);
    }
    if (runningVar) {
      const unbiased = <f32>(totalSq / (count - 1));
      store<f32>(runningVar + co, (<f32>1 - momentum) * load<f32>(runningVar + co) + momentum * unbiased);
    }
    const a = gamma ? invStd * load<f32>(gamma + co) : invStd;
    const b: f32 = beta ? load<f32>(beta + co) : 0;
    const yFirst = y + (<usize>(c * hw) << 2);
    for (let n = 0; n < batch; n++) {
      const xp = first + <usize>n * imageStride;
      const yp = yFirst + <usize>n * imageStride;
      for (let i = 0; i < hw; i++) {
        const o = <usize>i << 2;
        store<f32>(yp + o, (load<f32>(xp + o) - mean) * a + b);
      }
    }
  }
}

/** Inference: y = γ·(x − runningMean)/√(runningVar + ε) + β. */
export function f32_batchnorm_fwd_eval__scalar(
  x: usize, gamma: usize, beta: usize, runningMean: usize, runningVar: usize, y: usize,
  batch: i32, channels: i32, hw: i32, eps: f32, tid: i32, nthreads: i32,
): void {
  const planes = batch * channels;
  const p0 = shareStart(planes, tid, nthreads), p1 = shareEnd(planes, tid, nthreads);
  for (let p = p0; p < p1; p++) {
    const c = p % channels;
    const co = <usize>c << 2;
    const mean = load<f32>(runningMean + co);
    const invStd = <f32>1 / Mathf.sqrt(load<f32>(runningVar + co) + eps);
    const a = gamma ? invStd * load<f32>(gamma + co) : invStd;
    const b: f32 = beta ? load<f32>(beta + co) : 0;
    const plane = <usize>(p * hw) << 2;
    for (let i = 0; i < hw; i++) {
      const o = plane + (<usize>i << 2);
      store<f32>(y + o, (load<f32>(x + o) - mean) * a + b);
    }
  }
}

/**
 * Backward of the training forward (Ioffe & Szegedy 2015, §3, the chain rule
 * below Algorithm 1), with x̂ = (x − μ)·invStd:
 *   dβ = Σ dy,   dγ = Σ dy·x̂,
 *   dx = γ·invStd · (dy − dβ/M − x̂·dγ/M).
 */
export function f32_batchnorm_bwd__scalar(
  x: usize, gamma: usize, savedMean: usize, savedInvStd: usize, dy: usize,
  dx: usize, dgamma: usize, dbeta: usize, batch: i32, channels: i32, hw: i32,
  tid: i32, nthreads: i32,
): void {
  const c0 = shareStart(channels, tid, nthreads), c1 = shareEnd(channels, tid, nthreads);
  const count = <f64>batch * <f64>hw;
  const imageStride = <usize>(channels * hw) << 2;
  for (let c = c0; c < c1; c++) {
    const co = <usize>c << 2;
    const mean = load<f32>(savedMean + co), invStd = load<f32>(savedInvStd + co);
    const start = <usize>(c * hw) << 2;
    let sumDy: f64 = 0, sumDyXmu: f64 = 0;
    for (let n = 0; n < batch; n++) {
      const q = start + <usize>n * imageStride;
      let s1: f32 = 0, s2: f32 = 0;
      for (let i = 0; i < hw; i++) {
        const o = q + (<usize>i << 2);
        const g = load<f32>(dy + o);
        s1 += g;
        s2 += g * (load<f32>(x + o) - mean);
      }
      sumDy += s1;
      sumDyXmu += s2;
    }
    const dBeta = <f32>sumDy;
    const dGamma = <f32>sumDyXmu * invStd;
    if (dbeta) store<f32>(dbeta + co, dBeta);
    if (dgamma) store<f32>(dgamma + co, dGamma);
    const scale = gamma ? invStd * load<f32>(gamma + co) : invStd;
    const meanDy = <f32>(sumDy / count);
    // x̂·dγ/M = (x − μ)·invStd·dγ/M
    const k = invStd * <f32>(<f64>dGamma / count);
    for (let n = 0; n < batch; n++) {
      const q = start + <usize>n * imageStride;
      for (let i = 0; i < hw; i++) {
        const o = q + (<usize>i << 2);
        store<f32>(dx + o, scale * (load<f32>(dy + o) - meanDy - (load<f32>(x + o) - mean) * k));
      }
    }
  }
}
