// Registers the wasm implementation of every kernel in KernelSignatures
// (runtime/kernel_names.ts): each allocates its outputs with empty() and
// calls the typed shims beside this file, passing tensor.ptr addresses.
// Kernels without a shim of their own are composed here (MatMul from gemm,
// CopyInto from the copy shim on an offset address, argmax of MaxPool in an
// f32-sized tensor holding i32 bits).
// This module is browser compatible.
import "./register_optim.ts";
import { getBackend } from "../../backend.ts";
import type {
  Conv2dAttrs,
  ConvTranspose2dAttrs,
  KernelName,
  KernelSignatures,
  Pool2dAttrs,
} from "../../kernel_names.ts";
import { registerKernel } from "../../kernel_registry.ts";
import { empty, type Shape, type Tensor, tensor } from "../../tensor.ts";
import {
  conv2dOutShape,
  convTranspose2dOutShape,
  pool2dOutShape,
} from "../../ops/shapes.ts";
import { WASM_BACKEND, type WasmBackend } from "./backend.ts";
import * as bn from "./batchnorm.ts";
import {
  conv2dBackwardData,
  conv2dBackwardFilter,
  conv2dForward,
  type Conv2dShape,
} from "./conv2d.ts";
import {
  convTranspose2dBackwardData,
  convTranspose2dBackwardFilter,
  convTranspose2dForward,
  type ConvTranspose2dShape,
} from "./conv_transpose2d.ts";
import { gemm } from "./gemm.ts";
import { gram, gramBackward } from "./gram.ts";
import * as loss from "./loss.ts";
import { lrnBackward, lrnForward } from "./lrn.ts";
import * as pool from "./pool.ts";
import * as reduce from "./reduce.ts";
import * as vb from "./vbinary.ts";
import * as vu from "./vunary.ts";
import { ncs, rank, sameSize } from "../_checks.ts";

function engine() {
  return (getBackend() as WasmBackend).engine;
}

function register<K extends KernelName>(
  name: K,
  impl: KernelSignatures[K],
): void {
  registerKernel(WASM_BACKEND, name, impl);
}

/** [N, C, H, W] of a rank-4 tensor, or [N, C, 1, 1] of a rank-2 one. */
function nchw(op: string, t: Tensor): [number, number, number, number] {
  if (t.rank === 4) return [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
  if (t.rank === 2) return [t.shape[0], t.shape[1], 1, 1];
  throw new RangeError(`${op}: needs [N, C, H, W] or [N, C], got [${t.shape}]`);
}

// Elementwise --------------------------------------------------------------

register("Add", (a, b) => {
  sameSize("Add", a, b);
  const y = empty(a.shape);
  vb.vadd(engine(), a.ptr, b.ptr, y.ptr, a.size);
  return y;
});

register("Sub", (a, b) => {
  sameSize("Sub", a, b);
  const y = empty(a.shape);
  vb.vsub(engine(), a.ptr, b.ptr, y.ptr, a.size);
  return y;
});

register("Mul", (a, b) => {
  sameSize("Mul", a, b);
  const y = empty(a.shape);
  vb.vmul(engine(), a.ptr, b.ptr, y.ptr, a.size);
  return y;
});

register("Scale", (x, alpha) => {
  const y = empty(x.shape);
  vb.vscale(engine(), alpha, x.ptr, y.ptr, x.size);
  return y;
});

register("AddScalar", (x, c) => {
  const y = empty(x.shape);
  vb.vaddScalar(engine(), x.ptr, c, y.ptr, x.size);
  return y;
});

register("Copy", (x) => {
  const y = empty(x.shape);
  vb.vcopy(engine(), x.ptr, y.ptr, x.size);
  return y;
});

register("CopyInto", (src, dst, dstOffset) => {
  if (
    !Number.isInteger(dstOffset) || dstOffset < 0 ||
    dstOffset + src.size > dst.size
  ) {
    throw new RangeError(
      `CopyInto: ${src.size} values at offset ${dstOffset} overrun a tensor of ${dst.size}`,
    );
  }
  if (src.size === 0) return;
  vb.vcopy(engine(), src.ptr, dst.ptr + dstOffset * 4, src.size);
});

register("AxpyInPlace", (alpha, x, y) => {
  sameSize("AxpyInPlace", x, y);
  vb.vaxpy(engine(), alpha, x.ptr, y.ptr, x.size);
});

register("AxpbyInPlace", (a, x, b, y) => {
  sameSize("AxpbyInPlace", x, y);
  vb.vaxpby(engine(), a, x.ptr, b, y.ptr, x.size);
});

register("ScaleInPlace", (x, alpha) => {
  vb.vscale(engine(), alpha, x.ptr, x.ptr, x.size);
});

register("FillInPlace", (x, value) => {
  vb.vfill(engine(), value, x.ptr, x.size);
});

register("ClampInPlace", (x, min, max) => {
  vb.vclamp(engine(), x.ptr, x.ptr, x.size, min, max);
});

register("AddChannelBias", (x, b) => {
  const [n, c, s] = ncs("AddChannelBias", x);
  if (b.size !== c) {
    throw new RangeError(`AddChannelBias: bias [${b.shape}] for ${c} channels`);
  }
  const y = empty(x.shape);
  vb.vaddChannel(engine(), x.ptr, b.ptr, y.ptr, n, c, s);
  return y;
});

register("ChannelSum", (dy) => {
  const [n, c, s] = ncs("ChannelSum", dy);
  const y = empty([c]);
  vb.vchannelSum(engine(), dy.ptr, y.ptr, n, c, s);
  return y;
});

// Activations -----------------------------------------------------------------

register("Relu", (x) => {
  const y = empty(x.shape);
  vu.relu(engine(), x.ptr, y.ptr, x.size);
  return y;
});

register("ReluGrad", (x, dy) => {
  sameSize("ReluGrad", x, dy);
  const dx = empty(x.shape);
  vu.reluBackward(engine(), x.ptr, dy.ptr, dx.ptr, x.size);
  return dx;
});

register("LeakyRelu", (x, slope) => {
  const y = empty(x.shape);
  vu.leakyRelu(engine(), x.ptr, y.ptr, x.size, slope);
  return y;
});

register("LeakyReluGrad", (x, dy, slope) => {
  sameSize("LeakyReluGrad", x, dy);
  const dx = empty(x.shape);
  vu.leakyReluBackward(engine(), x.ptr, dy.ptr, dx.ptr, x.size, slope);
  return dx;
});

register("Sigmoid", (x) => {
  const y = empty(x.shape);
  vu.sigmoid(engine(), x.ptr, y.ptr, x.size);
  return y;
});

register("SigmoidGrad", (y, dy) => {
  sameSize("SigmoidGrad", y, dy);
  const dx = empty(y.shape);
  vu.sigmoidBackward(engine(), y.ptr, dy.ptr, dx.ptr, y.size);
  return dx;
});

register("Tanh", (x) => {
  const y = empty(x.shape);
  vu.tanh(engine(), x.ptr, y.ptr, x.size);
  return y;
});

register("TanhGrad", (y, dy) => {
  sameSize("TanhGrad", y, dy);
  const dx = empty(y.shape);
  vu.tanhBackward(engine(), y.ptr, dy.ptr, dx.ptr, y.size);
  return dx;
});

// Reductions (the shims combine fixed-chunk partials in f64 on the host) ----

register("Sum", (x) => tensor([reduce.sum(engine(), x.ptr, x.size)], [1]));

register("Dot", (a, b) => {
  sameSize("Dot", a, b);
  return tensor([reduce.dot(engine(), a.ptr, b.ptr, a.size)], [1]);
});

register(
  "SquaredNorm",
  (x) => tensor([reduce.squaredNorm(engine(), x.ptr, x.size)], [1]),
);

register(
  "MaxAbs",
  (x) => tensor([reduce.maxAbs(engine(), x.ptr, x.size)], [1]),
);

register(
  "CountNonFinite",
  (x) => tensor([reduce.countNonFinite(engine(), x.ptr, x.size)], [1]),
);

// Linear algebra --------------------------------------------------------------

register("MatMul", (a, b, transA, transB) => {
  rank("MatMul", a, 2);
  rank("MatMul", b, 2);
  const m = transA ? a.shape[1] : a.shape[0];
  const k = transA ? a.shape[0] : a.shape[1];
  const kb = transB ? b.shape[1] : b.shape[0];
  const n = transB ? b.shape[0] : b.shape[1];
  if (k !== kb) {
    throw new RangeError(
      `MatMul: [${a.shape}] and [${b.shape}] do not multiply`,
    );
  }
  const c = empty([m, n]);
  if (m === 0 || n === 0) return c;
  if (k === 0) {
    vb.vfill(engine(), 0, c.ptr, c.size);
    return c;
  }
  gemm(
    engine(),
    transA,
    transB,
    m,
    n,
    k,
    1,
    a.ptr,
    a.shape[1],
    b.ptr,
    b.shape[1],
    0,
    c.ptr,
    n,
  );
  return c;
});

// Convolutions ----------------------------------------------------------------

function convShape(x: Shape, w: Shape, a: Conv2dAttrs): Conv2dShape {
  return {
    batch: x[0],
    inChannels: x[1],
    inHeight: x[2],
    inWidth: x[3],
    outChannels: w[0],
    kernelH: w[2],
    kernelW: w[3],
    strideH: a.strideH,
    strideW: a.strideW,
    padTop: a.padTop,
    padBottom: a.padBottom,
    padLeft: a.padLeft,
    padRight: a.padRight,
    dilationH: a.dilationH,
    dilationW: a.dilationW,
    groups: a.groups,
    padMode: a.padMode,
  };
}

function convTransposeShape(
  x: Shape,
  w: Shape,
  a: ConvTranspose2dAttrs,
): ConvTranspose2dShape {
  return {
    batch: x[0],
    inChannels: x[1],
    inHeight: x[2],
    inWidth: x[3],
    outChannels: w[1] * a.groups,
    kernelH: w[2],
    kernelW: w[3],
    strideH: a.strideH,
    strideW: a.strideW,
    padTop: a.padTop,
    padBottom: a.padBottom,
    padLeft: a.padLeft,
    padRight: a.padRight,
    dilationH: a.dilationH,
    dilationW: a.dilationW,
    groups: a.groups,
    outputPadH: a.outputPadH,
    outputPadW: a.outputPadW,
  };
}

register("Conv2D", (x, w, bias, a) => {
  rank("Conv2D", x, 4);
  rank("Conv2D", w, 4);
  const y = empty(conv2dOutShape(x.shape, w.shape, a));
  conv2dForward(
    engine(),
    convShape(x.shape, w.shape, a),
    x.ptr,
    w.ptr,
    bias?.ptr ?? 0,
    y.ptr,
  );
  return y;
});

register("Conv2DBackpropInput", (dy, w, xShape, a) => {
  const dx = empty(xShape);
  conv2dBackwardData(
    engine(),
    convShape(xShape, w.shape, a),
    dy.ptr,
    w.ptr,
    dx.ptr,
  );
  return dx;
});

register("Conv2DBackpropFilter", (x, dy, wShape, withBias, a) => {
  const dw = empty(wShape);
  const db = withBias ? empty([wShape[0]]) : null;
  conv2dBackwardFilter(
    engine(),
    convShape(x.shape, wShape, a),
    x.ptr,
    dy.ptr,
    dw.ptr,
    db?.ptr ?? 0,
  );
  return { dw, db };
});

register("ConvTranspose2D", (x, w, bias, a) => {
  rank("ConvTranspose2D", x, 4);
  rank("ConvTranspose2D", w, 4);
  const y = empty(convTranspose2dOutShape(x.shape, w.shape, a));
  convTranspose2dForward(
    engine(),
    convTransposeShape(x.shape, w.shape, a),
    x.ptr,
    w.ptr,
    bias?.ptr ?? 0,
    y.ptr,
  );
  return y;
});

register("ConvTranspose2DBackpropInput", (dy, w, xShape, a) => {
  const dx = empty(xShape);
  convTranspose2dBackwardData(
    engine(),
    convTransposeShape(xShape, w.shape, a),
    dy.ptr,
    w.ptr,
    dx.ptr,
  );
  return dx;
});

register("ConvTranspose2DBackpropFilter", (x, dy, wShape, withBias, a) => {
  const dw = empty(wShape);
  const db = withBias ? empty([wShape[1] * a.groups]) : null;
  convTranspose2dBackwardFilter(
    engine(),
    convTransposeShape(x.shape, wShape, a),
    x.ptr,
    dy.ptr,
    dw.ptr,
    db?.ptr ?? 0,
  );
  return { dw, db };
});

// Pooling and resampling --------------------------------------------------------

function poolShape(x: Shape, a: Pool2dAttrs): pool.Pool2dShape {
  return {
    batch: x[0],
    channels: x[1],
    inHeight: x[2],
    inWidth: x[3],
    kernelH: a.kernelH,
    kernelW: a.kernelW,
    strideH: a.strideH,
    strideW: a.strideW,
    padTop: a.padTop,
    padBottom: a.padBottom,
    padLeft: a.padLeft,
    padRight: a.padRight,
    ceilMode: a.ceilMode,
  };
}

register("MaxPool", (x, a) => {
  rank("MaxPool", x, 4);
  const out = pool2dOutShape(x.shape, a);
  const y = empty(out);
  // The argmax indices are i32; an f32-sized tensor holds their bits.
  const argmax = empty(out);
  pool.maxPool2dForward(
    engine(),
    poolShape(x.shape, a),
    x.ptr,
    y.ptr,
    argmax.ptr,
  );
  return { y, argmax };
});

register("MaxPoolGrad", (dy, argmax, xShape, a) => {
  sameSize("MaxPoolGrad", dy, argmax);
  const dx = empty(xShape);
  pool.maxPool2dBackward(
    engine(),
    poolShape(xShape, a),
    dy.ptr,
    argmax.ptr,
    dx.ptr,
  );
  return dx;
});

register("AvgPool", (x, a, countIncludePad) => {
  rank("AvgPool", x, 4);
  const y = empty(pool2dOutShape(x.shape, a));
  pool.avgPool2dForward(
    engine(),
    poolShape(x.shape, a),
    countIncludePad,
    x.ptr,
    y.ptr,
  );
  return y;
});

register("AvgPoolGrad", (dy, xShape, a, countIncludePad) => {
  const dx = empty(xShape);
  pool.avgPool2dBackward(
    engine(),
    poolShape(xShape, a),
    countIncludePad,
    dy.ptr,
    dx.ptr,
  );
  return dx;
});

register("GlobalAvgPool", (x) => {
  rank("GlobalAvgPool", x, 4);
  const [n, c, h, w] = x.shape;
  const y = empty([n, c, 1, 1]);
  pool.globalAvgPoolForward(engine(), n, c, h, w, x.ptr, y.ptr);
  return y;
});

register("GlobalAvgPoolGrad", (dy, xShape) => {
  rank("GlobalAvgPoolGrad", xShape, 4);
  const [n, c, h, w] = xShape;
  const dx = empty(xShape);
  pool.globalAvgPoolBackward(engine(), n, c, h, w, dy.ptr, dx.ptr);
  return dx;
});

register("UpsampleNearest", (x, fh, fw) => {
  rank("UpsampleNearest", x, 4);
  const [n, c, h, w] = x.shape;
  const y = empty([n, c, h * fh, w * fw]);
  pool.upsampleNearestForward(engine(), n, c, h, w, fh, fw, x.ptr, y.ptr);
  return y;
});

register("UpsampleNearestGrad", (dy, xShape, fh, fw) => {
  rank("UpsampleNearestGrad", xShape, 4);
  const [n, c, h, w] = xShape;
  const dx = empty(xShape);
  pool.upsampleNearestBackward(engine(), n, c, h, w, fh, fw, dy.ptr, dx.ptr);
  return dx;
});

// Normalisation -------------------------------------------------------------------

register("LRN", (x, a) => {
  rank("LRN", x, 4);
  const [n, c, h, w] = x.shape;
  const y = empty(x.shape), scale = empty(x.shape);
  lrnForward(engine(), n, c, h, w, a, x.ptr, y.ptr, scale.ptr);
  return { y, scale };
});

register("LRNGrad", (x, y, scale, dy, a) => {
  rank("LRNGrad", x, 4);
  sameSize("LRNGrad", x, y, scale, dy);
  const [n, c, h, w] = x.shape;
  const dx = empty(x.shape);
  lrnBackward(engine(), n, c, h, w, a, x.ptr, y.ptr, scale.ptr, dy.ptr, dx.ptr);
  return dx;
});

register(
  "BatchNormTrain",
  (x, gamma, beta, runningMean, runningVar, eps, momentum) => {
    const [n, c, h, w] = nchw("BatchNormTrain", x);
    const y = empty(x.shape), mean = empty([c]), invStd = empty([c]);
    bn.batchNormForwardTrain(
      engine(),
      n,
      c,
      h,
      w,
      eps,
      momentum,
      x.ptr,
      gamma?.ptr ?? 0,
      beta?.ptr ?? 0,
      y.ptr,
      mean.ptr,
      invStd.ptr,
      runningMean?.ptr ?? 0,
      runningVar?.ptr ?? 0,
    );
    return { y, mean, invStd };
  },
);

register("BatchNormEval", (x, gamma, beta, runningMean, runningVar, eps) => {
  const [n, c, h, w] = nchw("BatchNormEval", x);
  const y = empty(x.shape);
  bn.batchNormForwardEval(
    engine(),
    n,
    c,
    h,
    w,
    eps,
    x.ptr,
    gamma?.ptr ?? 0,
    beta?.ptr ?? 0,
    runningMean.ptr,
    runningVar.ptr,
    y.ptr,
  );
  return y;
});

register("BatchNormGrad", (x, gamma, mean, invStd, dy) => {
  const [n, c, h, w] = nchw("BatchNormGrad", x);
  sameSize("BatchNormGrad", x, dy);
  const dx = empty(x.shape), dgamma = empty([c]), dbeta = empty([c]);
  bn.batchNormBackward(
    engine(),
    n,
    c,
    h,
    w,
    x.ptr,
    gamma?.ptr ?? 0,
    mean.ptr,
    invStd.ptr,
    dy.ptr,
    dx.ptr,
    dgamma.ptr,
    dbeta.ptr,
  );
  return { dx, dgamma, dbeta };
});

// Style ---------------------------------------------------------------------------

register("Gram", (f, scale) => {
  rank("Gram", f, 2);
  const [c, m] = f.shape;
  const g = empty([c, c]);
  gram(engine(), f.ptr, c, m, scale, g.ptr);
  return g;
});

register("GramGrad", (f, dg, scale) => {
  rank("GramGrad", f, 2);
  const [c, m] = f.shape;
  if (dg.size !== c * c) {
    throw new RangeError(`GramGrad: dG [${dg.shape}] for ${c} channels`);
  }
  const df = empty(f.shape);
  gramBackward(engine(), f.ptr, dg.ptr, c, m, scale, df.ptr);
  return df;
});

// Losses --------------------------------------------------------------------------

register("MseLoss", (x, target, scale) => {
  sameSize("MseLoss", x, target);
  const grad = empty(x.shape);
  const v = loss.mseLoss(engine(), x.ptr, target.ptr, x.size, scale, grad.ptr);
  return { loss: tensor([v], [1]), grad };
});

register("BceWithLogitsLoss", (logits, targets, scale) => {
  sameSize("BceWithLogitsLoss", logits, targets);
  const grad = empty(logits.shape);
  const v = loss.bceWithLogitsLoss(
    engine(),
    logits.ptr,
    targets.ptr,
    logits.size,
    scale,
    grad.ptr,
  );
  return { loss: tensor([v], [1]), grad };
});

register("SoftmaxCrossEntropy", (logits, labels, scale) => {
  rank("SoftmaxCrossEntropy", logits, 2);
  const [rows, cols] = logits.shape;
  if (labels.size !== rows) {
    throw new RangeError(
      `SoftmaxCrossEntropy: ${labels.size} labels for ${rows} rows`,
    );
  }
  const grad = empty(logits.shape);
  const v = loss.softmaxCrossEntropy(
    engine(),
    logits.ptr,
    labels.ptr,
    rows,
    cols,
    scale,
    grad.ptr,
  );
  return { loss: tensor([v], [1]), grad };
});

register("Softmax", (x) => {
  if (x.rank < 1) throw new RangeError("Softmax: needs at least one axis");
  const cols = x.shape[x.rank - 1];
  const y = empty(x.shape);
  if (x.size > 0) loss.softmax(engine(), x.ptr, y.ptr, x.size / cols, cols);
  return y;
});
