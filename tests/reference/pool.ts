// f64 plain-loop references for the f32-pool family (NCHW): max/average
// pooling 2-D, global average pooling and nearest-neighbour upsampling,
// forward and backward. Written independently of the kernels from the
// PyTorch/Caffe definitions.

export interface PoolRefShape {
  batch: number;
  channels: number;
  inHeight: number;
  inWidth: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  ceilMode: boolean;
}

/** PyTorch's pooling_output_shape for one axis (with asymmetric padding). */
export function poolOutRef(
  size: number,
  k: number,
  stride: number,
  padBefore: number,
  padAfter: number,
  ceil: boolean,
): number {
  const num = size + padBefore + padAfter - k + (ceil ? stride - 1 : 0);
  let out = Math.floor(num / stride) + 1;
  if (ceil && (out - 1) * stride >= size + padBefore) out -= 1;
  return out;
}

export function poolOutSizeRef(s: PoolRefShape): [number, number] {
  return [
    poolOutRef(
      s.inHeight,
      s.kernelH,
      s.strideH,
      s.padTop,
      s.padBottom,
      s.ceilMode,
    ),
    poolOutRef(
      s.inWidth,
      s.kernelW,
      s.strideW,
      s.padLeft,
      s.padRight,
      s.ceilMode,
    ),
  ];
}

/** Visits every (plane, oh, ow) with its window clipped to the input. */
function forEachWindow(
  s: PoolRefShape,
  f: (
    plane: number,
    o: number,
    h0: number,
    h1: number,
    w0: number,
    w1: number,
    padRows: number,
    padCols: number,
  ) => void,
): void {
  const [oh, ow] = poolOutSizeRef(s);
  for (let p = 0; p < s.batch * s.channels; p++) {
    for (let i = 0; i < oh; i++) {
      const hs = i * s.strideH - s.padTop;
      const he = Math.min(hs + s.kernelH, s.inHeight + s.padBottom);
      for (let j = 0; j < ow; j++) {
        const ws = j * s.strideW - s.padLeft;
        const we = Math.min(ws + s.kernelW, s.inWidth + s.padRight);
        f(
          p,
          (p * oh + i) * ow + j,
          Math.max(hs, 0),
          Math.min(hs + s.kernelH, s.inHeight),
          Math.max(ws, 0),
          Math.min(ws + s.kernelW, s.inWidth),
          he - hs,
          we - ws,
        );
      }
    }
  }
}

/** Max pooling: y and the in-plane argmax (first maximum in row-major order). */
export function maxPoolRef(
  x: ArrayLike<number>,
  s: PoolRefShape,
): { y: Float64Array; argmax: Int32Array } {
  const [oh, ow] = poolOutSizeRef(s);
  const n = s.batch * s.channels * oh * ow;
  const y = new Float64Array(n), argmax = new Int32Array(n);
  const plane = s.inHeight * s.inWidth;
  forEachWindow(s, (p, o, h0, h1, w0, w1) => {
    let best = -Infinity, bi = h0 * s.inWidth + w0;
    for (let h = h0; h < h1; h++) {
      for (let w = w0; w < w1; w++) {
        const v = x[p * plane + h * s.inWidth + w];
        if (v > best) {
          best = v;
          bi = h * s.inWidth + w;
        }
      }
    }
    y[o] = best;
    argmax[o] = bi;
  });
  return { y, argmax };
}

export function maxPoolBackwardRef(
  dy: ArrayLike<number>,
  argmax: ArrayLike<number>,
  s: PoolRefShape,
): Float64Array {
  const [oh, ow] = poolOutSizeRef(s);
  const plane = s.inHeight * s.inWidth;
  const dx = new Float64Array(s.batch * s.channels * plane);
  for (let p = 0; p < s.batch * s.channels; p++) {
    for (let o = 0; o < oh * ow; o++) {
      dx[p * plane + argmax[p * oh * ow + o]] += dy[p * oh * ow + o];
    }
  }
  return dx;
}

export function avgPoolRef(
  x: ArrayLike<number>,
  s: PoolRefShape,
  countIncludePad: boolean,
): Float64Array {
  const [oh, ow] = poolOutSizeRef(s);
  const y = new Float64Array(s.batch * s.channels * oh * ow);
  const plane = s.inHeight * s.inWidth;
  forEachWindow(s, (p, o, h0, h1, w0, w1, padRows, padCols) => {
    let sum = 0;
    for (let h = h0; h < h1; h++) {
      for (let w = w0; w < w1; w++) sum += x[p * plane + h * s.inWidth + w];
    }
    y[o] = sum / (countIncludePad ? padRows * padCols : (h1 - h0) * (w1 - w0));
  });
  return y;
}

export function avgPoolBackwardRef(
  dy: ArrayLike<number>,
  s: PoolRefShape,
  countIncludePad: boolean,
): Float64Array {
  const plane = s.inHeight * s.inWidth;
  const dx = new Float64Array(s.batch * s.channels * plane);
  forEachWindow(s, (p, o, h0, h1, w0, w1, padRows, padCols) => {
    const g = dy[o] /
      (countIncludePad ? padRows * padCols : (h1 - h0) * (w1 - w0));
    for (let h = h0; h < h1; h++) {
      for (let w = w0; w < w1; w++) dx[p * plane + h * s.inWidth + w] += g;
    }
  });
  return dx;
}

export function globalAvgPoolRef(
  x: ArrayLike<number>,
  planes: number,
  hw: number,
): Float64Array {
  const y = new Float64Array(planes);
  for (let p = 0; p < planes; p++) {
    let s = 0;
    for (let i = 0; i < hw; i++) s += x[p * hw + i];
    y[p] = s / hw;
  }
  return y;
}

export function globalAvgPoolBackwardRef(
  dy: ArrayLike<number>,
  planes: number,
  hw: number,
): Float64Array {
  const dx = new Float64Array(planes * hw);
  for (let p = 0; p < planes; p++) dx.fill(dy[p] / hw, p * hw, (p + 1) * hw);
  return dx;
}

export function upsampleNearestRef(
  x: ArrayLike<number>,
  planes: number,
  h: number,
  w: number,
  fh: number,
  fw: number,
): Float64Array {
  const oh = h * fh, ow = w * fw;
  const y = new Float64Array(planes * oh * ow);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        y[(p * oh + i) * ow + j] =
          x[(p * h + Math.floor(i / fh)) * w + Math.floor(j / fw)];
      }
    }
  }
  return y;
}

export function upsampleNearestBackwardRef(
  dy: ArrayLike<number>,
  planes: number,
  h: number,
  w: number,
  fh: number,
  fw: number,
): Float64Array {
  const oh = h * fh, ow = w * fw;
  const dx = new Float64Array(planes * h * w);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        dx[(p * h + Math.floor(i / fh)) * w + Math.floor(j / fw)] +=
          dy[(p * oh + i) * ow + j];
      }
    }
  }
  return dx;
}
