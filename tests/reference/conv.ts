// f64 plain-loop references for 2-D convolution and transposed convolution
// (NCHW; conv weights K x C/G x R x S, transposed-conv weights
// C_in x K_out/G x R x S, as in PyTorch). Each is written from its own
// definition (the backward passes as the adjoint scatter of the forward),
// not from the kernels' gather formulas.
import type { Conv2dShape } from "../../runtime/backends/wasm/conv2d.ts";
import type { ConvTranspose2dShape } from "../../runtime/backends/wasm/conv_transpose2d.ts";

type Arr = ArrayLike<number>;

function outSize(s: Conv2dShape): [number, number] {
  return [
    Math.floor(
      (s.inHeight + s.padTop + s.padBottom - s.dilationH * (s.kernelH - 1) -
        1) / s.strideH,
    ) + 1,
    Math.floor(
      (s.inWidth + s.padLeft + s.padRight - s.dilationW * (s.kernelW - 1) -
        1) / s.strideW,
    ) + 1,
  ];
}

/** Input coordinate v (may be out of range) -> source index, or -1 for zero. */
function source(v: number, n: number, reflect: boolean): number {
  if (v >= 0 && v < n) return v;
  if (!reflect) return -1;
  return v < 0 ? -v : 2 * (n - 1) - v;
}

/**
 * Visits every (y index, x index, w index) triple of the convolution:
 * y[yi] += x[xi] * w[wi]. Reflect padding maps out-of-range taps to their
 * mirror image.
 */
function forEachTap(
  s: Conv2dShape,
  visit: (yi: number, xi: number, wi: number) => void,
): void {
  const [OH, OW] = outSize(s);
  const Cg = s.inChannels / s.groups, Kg = s.outChannels / s.groups;
  const reflect = s.padMode === "reflect";
  for (let n = 0; n < s.batch; n++) {
    for (let k = 0; k < s.outChannels; k++) {
      const g = Math.floor(k / Kg);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const yi = ((n * s.outChannels + k) * OH + oh) * OW + ow;
          for (let c = 0; c < Cg; c++) {
            for (let r = 0; r < s.kernelH; r++) {
              const ih = source(
                oh * s.strideH - s.padTop + r * s.dilationH,
                s.inHeight,
                reflect,
              );
              if (ih < 0) continue;
              for (let q = 0; q < s.kernelW; q++) {
                const iw = source(
                  ow * s.strideW - s.padLeft + q * s.dilationW,
                  s.inWidth,
                  reflect,
                );
                if (iw < 0) continue;
                const xi = ((n * s.inChannels + g * Cg + c) * s.inHeight + ih) *
                    s.inWidth + iw;
                const wi = ((k * Cg + c) * s.kernelH + r) * s.kernelW + q;
                visit(yi, xi, wi);
              }
            }
          }
        }
      }
    }
  }
}

export function conv2dOutputLength(s: Conv2dShape): number {
  const [OH, OW] = outSize(s);
  return s.batch * s.outChannels * OH * OW;
}

export function conv2dForwardRef(
  s: Conv2dShape,
  x: Arr,
  w: Arr,
  bias: Arr | null,
): Float64Array {
  const [OH, OW] = outSize(s);
  const y = new Float64Array(conv2dOutputLength(s));
  if (bias) {
    for (let i = 0; i < y.length; i++) {
      y[i] = bias[Math.floor(i / (OH * OW)) % s.outChannels];
    }
  }
  forEachTap(s, (yi, xi, wi) => y[yi] += x[xi] * w[wi]);
  return y;
}

export function conv2dBackwardDataRef(
  s: Conv2dShape,
  dy: Arr,
  w: Arr,
): Float64Array {
  const dx = new Float64Array(
    s.batch * s.inChannels * s.inHeight * s.inWidth,
  );
  forEachTap(s, (yi, xi, wi) => dx[xi] += dy[yi] * w[wi]);
  return dx;
}

export function conv2dBackwardFilterRef(
  s: Conv2dShape,
  x: Arr,
  dy: Arr,
): { dw: Float64Array; db: Float64Array } {
  const dw = new Float64Array(
    s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW,
  );
  forEachTap(s, (yi, xi, wi) => dw[wi] += dy[yi] * x[xi]);
  const [OH, OW] = outSize(s);
  const db = new Float64Array(s.outChannels);
  for (let i = 0; i < dy.length; i++) {
    db[Math.floor(i / (OH * OW)) % s.outChannels] += dy[i];
  }
  return { dw, db };
}

function outSizeT(s: ConvTranspose2dShape): [number, number] {
  return [
    (s.inHeight - 1) * s.strideH - s.padTop - s.padBottom +
    s.dilationH * (s.kernelH - 1) + s.outputPadH + 1,
    (s.inWidth - 1) * s.strideW - s.padLeft - s.padRight +
    s.dilationW * (s.kernelW - 1) + s.outputPadW + 1,
  ];
}

/** Transposed conv as a scatter: y[n][ko][ih*sh - pt + r*dh][...] += x * w. */
function forEachTapT(
  s: ConvTranspose2dShape,
  visit: (yi: number, xi: number, wi: number) => void,
): void {
  const [OH, OW] = outSizeT(s);
  const Cg = s.inChannels / s.groups, Kg = s.outChannels / s.groups;
  for (let n = 0; n < s.batch; n++) {
    for (let ci = 0; ci < s.inChannels; ci++) {
      const g = Math.floor(ci / Cg);
      for (let ih = 0; ih < s.inHeight; ih++) {
        for (let iw = 0; iw < s.inWidth; iw++) {
          const xi = ((n * s.inChannels + ci) * s.inHeight + ih) * s.inWidth +
            iw;
          for (let ko = 0; ko < Kg; ko++) {
            for (let r = 0; r < s.kernelH; r++) {
              const oh = ih * s.strideH - s.padTop + r * s.dilationH;
              if (oh < 0 || oh >= OH) continue;
              for (let q = 0; q < s.kernelW; q++) {
                const ow = iw * s.strideW - s.padLeft + q * s.dilationW;
                if (ow < 0 || ow >= OW) continue;
                const yi = ((n * s.outChannels + g * Kg + ko) * OH + oh) * OW +
                  ow;
                const wi = ((ci * Kg + ko) * s.kernelH + r) * s.kernelW + q;
                visit(yi, xi, wi);
              }
            }
          }
        }
      }
    }
  }
}

export function convTranspose2dOutputLength(s: ConvTranspose2dShape): number {
  const [OH, OW] = outSizeT(s);
  return s.batch * s.outChannels * OH * OW;
}

export function convTranspose2dForwardRef(
  s: ConvTranspose2dShape,
  x: Arr,
  w: Arr,
  bias: Arr | null,
): Float64Array {
  const [OH, OW] = outSizeT(s);
  const y = new Float64Array(convTranspose2dOutputLength(s));
  if (bias) {
    for (let i = 0; i < y.length; i++) {
      y[i] = bias[Math.floor(i / (OH * OW)) % s.outChannels];
    }
  }
  forEachTapT(s, (yi, xi, wi) => y[yi] += x[xi] * w[wi]);
  return y;
}

export function convTranspose2dBackwardDataRef(
  s: ConvTranspose2dShape,
  dy: Arr,
  w: Arr,
): Float64Array {
  const dx = new Float64Array(
    s.batch * s.inChannels * s.inHeight * s.inWidth,
  );
  forEachTapT(s, (yi, xi, wi) => dx[xi] += dy[yi] * w[wi]);
  return dx;
}

export function convTranspose2dBackwardFilterRef(
  s: ConvTranspose2dShape,
  x: Arr,
  dy: Arr,
): { dw: Float64Array; db: Float64Array } {
  const dw = new Float64Array(
    s.inChannels * (s.outChannels / s.groups) * s.kernelH * s.kernelW,
  );
  forEachTapT(s, (yi, xi, wi) => dw[wi] += dy[yi] * x[xi]);
  const [OH, OW] = outSizeT(s);
  const db = new Float64Array(s.outChannels);
  for (let i = 0; i < dy.length; i++) {
    db[Math.floor(i / (OH * OW)) % s.outChannels] += dy[i];
  }
  return { dw, db };
}
