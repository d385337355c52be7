// Every WebGPU kernel against the wasm backend on random shapes (sizes not
// multiples of 4 included, so both the vec4 and the scalar paths run), and a
// style-transfer-like loss (conv features, Gram, MSE, backward to the image)
// giving the same loss and gradient on both. Runs on any adapter, the
// software one (llvmpipe/lavapipe) in CI; skips with a message when there is
// none. Tolerance: |gpu − wasm| ≤ 1e-5 + 1e-4·max|wasm| per output (3e-4
// for the style loss's gradient after six layers), f32 on both sides with
// different summation orders.
import assert from "node:assert/strict";
import { setBackend } from "../../runtime/backend.ts";
import { runKernel } from "../../runtime/kernel_registry.ts";
import type {
  Conv2dAttrs,
  ConvTranspose2dAttrs,
  Pool2dAttrs,
} from "../../runtime/kernel_names.ts";
import { Random } from "../../runtime/random.ts";
import { type Tensor, tensor } from "../../runtime/tensor.ts";
import * as ops from "../../runtime/ops/mod.ts";
import { grad } from "../../runtime/grad.ts";
import { noGrad } from "../../runtime/autograd.ts";
import { gemmTuning } from "../../runtime/backends/webgpu/gemm.ts";
import type { WebGpuBackend } from "../../runtime/backends/webgpu/backend.ts";
import {
  assertClose,
  createPair,
  onBoth,
  randomArray,
  scoped,
} from "./_both.ts";

Deno.env.set("XDG_RUNTIME_DIR", Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp");
const pair = await createPair();
const ignore = pair.gpu === null;
if (ignore) {
  console.log(`webgpu_test: skipped, no WebGPU adapter (${pair.skipReason})`);
}
const rng = new Random(20240611);

type Case = () => Float32Array[];

/** Runs `c` on both backends and compares every output. */
function check(name: string, c: Case, rtol = 1e-4, atol = 1e-5): void {
  if (Deno.env.get("WEBGPU_TEST_TRACE")) console.log(name);
  const [want, got] = onBoth(pair, () => scoped(c));
  assert.equal(got.length, want.length);
  want.forEach((w, i) => assertClose(`${name}[${i}]`, got[i], w, rtol, atol));
}

const t = (a: Float32Array, shape: number[]) => tensor(a, shape);
const dims = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);

Deno.test({
  name: "webgpu: elementwise, activations and in-place kernels",
  ignore,
  fn() {
    for (const n of [1, 7, 64, 1001, 4096 + 3]) {
      const a = randomArray(rng, n, 3), b = randomArray(rng, n, 3);
      const A = () => t(a, [n]), B = () => t(b, [n]);
      const unary: [string, (x: Tensor) => Tensor][] = [
        ["Relu", (x) => runKernel("Relu", x)],
        ["LeakyRelu", (x) => runKernel("LeakyRelu", x, 0.2)],
        ["Sigmoid", (x) => runKernel("Sigmoid", x)],
        ["Tanh", (x) => runKernel("Tanh", x)],
        ["Scale", (x) => runKernel("Scale", x, -1.5)],
        ["AddScalar", (x) => runKernel("AddScalar", x, 0.25)],
        ["Copy", (x) => runKernel("Copy", x)],
      ];
      for (const [name, f] of unary) {
        check(`${name} n=${n}`, () => [f(A()).data()]);
      }
      const binary: [string, (x: Tensor, y: Tensor) => Tensor][] = [
        ["Add", (x, y) => runKernel("Add", x, y)],
        ["Sub", (x, y) => runKernel("Sub", x, y)],
        ["Mul", (x, y) => runKernel("Mul", x, y)],
        ["ReluGrad", (x, y) => runKernel("ReluGrad", x, y)],
        ["LeakyReluGrad", (x, y) => runKernel("LeakyReluGrad", x, y, 0.2)],
        ["SigmoidGrad", (x, y) => runKernel("SigmoidGrad", x, y)],
        ["TanhGrad", (x, y) => runKernel("TanhGrad", x, y)],
      ];
      for (const [name, f] of binary) {
        check(`${name} n=${n}`, () => [f(A(), B()).data()]);
      }
      const inPlace: [string, (x: Tensor, y: Tensor) => void][] = [
        ["AxpyInPlace", (x, y) => runKernel("AxpyInPlace", 0.5, x, y)],
        ["AxpbyInPlace", (x, y) => runKernel("AxpbyInPlace", 0.5, x, -2, y)],
        ["ScaleInPlace", (_x, y) => runKernel("ScaleInPlace", y, 3)],
        ["FillInPlace", (_x, y) => runKernel("FillInPlace", y, 7)],
        ["ClampInPlace", (_x, y) => runKernel("ClampInPlace", y, -1, 0.5)],
      ];
      for (const [name, f] of inPlace) {
        check(`${name} n=${n}`, () => {
          const y = B();
          f(A(), y);
          return [y.data()];
        });
      }
    }
    // Views at offsets that are not multiples of 4 (scalar path, copies).
    const big = randomArray(rng, 103);
    check("CopyInto/views", () => {
      const src = t(big, [103]);
      const dst = t(new Float32Array(220), [220]);
      runKernel("CopyInto", src, dst, 37);
      const view = new (src
        .constructor as typeof import("../../runtime/tensor.ts").Tensor)(
        src.storage,
        [50],
        13,
      );
      const y = dst.view([220]);
      const relu = runKernel("Relu", view);
      runKernel("AxpyInPlace", 2, view, relu);
      return [dst.data(), relu.data(), y.data()];
    });
    // Channel bias and sums.
    const [n, c, h, w] = [2, 5, 3, 7];
    const x = randomArray(rng, n * c * h * w), bias = randomArray(rng, c);
    check("AddChannelBias", () => [
      runKernel("AddChannelBias", t(x, [n, c, h, w]), t(bias, [c])).data(),
    ]);
    check(
      "ChannelSum",
      () => [runKernel("ChannelSum", t(x, [n, c, h, w])).data()],
    );
  },
});

Deno.test({
  name: "webgpu: reductions and losses",
  ignore,
  fn() {
    for (const n of [1, 5, 300, 70001]) {
      const a = randomArray(rng, n, 2), b = randomArray(rng, n, 2);
      const A = () => t(a, [n]), B = () => t(b, [n]);
      check(`Sum ${n}`, () => [runKernel("Sum", A()).data()], 1e-4, 1e-4);
      check(`Dot ${n}`, () => [runKernel("Dot", A(), B()).data()], 1e-4, 1e-4);
      check(`SquaredNorm ${n}`, () => [runKernel("SquaredNorm", A()).data()]);
      check(`MaxAbs ${n}`, () => [runKernel("MaxAbs", A()).data()]);
      check(`AbsSum ${n}`, () => [runKernel("AbsSum", A()).data()]);
      check(`MseLoss ${n}`, () => {
        const r = runKernel("MseLoss", A(), B(), 0.5);
        return [r.loss.data(), r.grad.data()];
      });
      check(`BceWithLogitsLoss ${n}`, () => {
        const tg = t(b.map((v) => (v > 0 ? 1 : 0)), [n]);
        const r = runKernel("BceWithLogitsLoss", A(), tg, 1 / n);
        return [r.loss.data(), r.grad.data()];
      });
    }
    const bad = new Float32Array([1, NaN, 2, Infinity, -Infinity, 3]);
    check(
      "CountNonFinite",
      () => [runKernel("CountNonFinite", t(bad, [6])).data()],
    );
    const [rows, cols] = [6, 11];
    const z = randomArray(rng, rows * cols, 4);
    const labels = Float32Array.from({ length: rows }, () => rng.int(cols));
    check("SoftmaxCrossEntropy", () => {
      const r = runKernel(
        "SoftmaxCrossEntropy",
        t(z, [rows, cols]),
        t(labels, [rows]),
        1 / rows,
      );
      return [r.loss.data(), r.grad.data()];
    });
    check("Softmax", () => [runKernel("Softmax", t(z, [rows, cols])).data()]);
  },
});

Deno.test({
  name: "webgpu: MatMul (all transposes), Gram and its gradient",
  ignore,
  fn() {
    for (let i = 0; i < 6; i++) {
      const m = dims(1, 90), n = dims(1, 70), k = dims(1, 600);
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = randomArray(rng, m * k), b = randomArray(rng, k * n);
          check(`MatMul ${m}x${n}x${k} ${ta} ${tb}`, () => [
            runKernel(
              "MatMul",
              t(a, ta ? [k, m] : [m, k]),
              t(b, tb ? [n, k] : [k, n]),
              ta,
              tb,
            ).data(),
          ]);
        }
      }
    }
    for (const [c, m] of [[3, 5], [17, 333], [64, 4096 + 5]]) {
      const f = randomArray(rng, c * m), dg = randomArray(rng, c * c);
      check(
        `Gram ${c}x${m}`,
        () => [runKernel("Gram", t(f, [c, m]), 1 / m).data()],
      );
      check(`GramGrad ${c}x${m}`, () => [
        runKernel("GramGrad", t(f, [c, m]), t(dg, [c, c]), 1 / m).data(),
      ]);
    }
  },
});

function convAttrs(over: Partial<Conv2dAttrs> = {}): Conv2dAttrs {
  return {
    strideH: 1,
    strideW: 1,
    padTop: 1,
    padBottom: 1,
    padLeft: 1,
    padRight: 1,
    dilationH: 1,
    dilationW: 1,
    groups: 1,
    padMode: "zero",
    ...over,
  };
}

/** Conv2D forward, input and filter gradients on both backends. */
function checkConv(cases: [number[], number[], Partial<Conv2dAttrs>][]) {
  for (const [xs, ws, over] of cases) {
    const a = convAttrs(over);
    const x = randomArray(rng, xs.reduce((p, d) => p * d));
    const w = randomArray(rng, ws.reduce((p, d) => p * d));
    const b = randomArray(rng, ws[0]);
    const name = `conv x[${xs}] w[${ws}] ${JSON.stringify(over)}`;
    check(`${name} forward`, () => [
      runKernel("Conv2D", t(x, xs), t(w, ws), t(b, [ws[0]]), a).data(),
    ]);
    const ys = onBoth(pair, () =>
      scoped(() =>
        runKernel("Conv2D", t(x, xs), t(w, ws), null, a).shape
      ))[0];
    const dy = randomArray(
      rng,
      ys.reduce((p: number, d: number) =>
        p * d, 1),
    );
    check(`${name} backprop input`, () => [
      runKernel("Conv2DBackpropInput", t(dy, [...ys]), t(w, ws), xs, a)
        .data(),
    ]);
    check(`${name} backprop filter`, () => {
      const r = runKernel(
        "Conv2DBackpropFilter",
        t(x, xs),
        t(dy, [...ys]),
        ws,
        true,
        a,
      );
      return [r.dw.data(), r.db!.data()];
    });
  }
}

Deno.test({
  name: "webgpu: Conv2D and its gradients (strides, groups, dilation, reflect)",
  ignore,
  fn() {
    const cases: [number[], number[], Partial<Conv2dAttrs>][] = [
      [[2, 3, 9, 11], [5, 3, 3, 3], {}],
      [[1, 4, 10, 7], [6, 2, 3, 3], { groups: 2, strideH: 2, strideW: 2 }],
      [[2, 3, 8, 9], [4, 3, 4, 4], {
        strideH: 2,
        strideW: 2,
        padTop: 1,
        padBottom: 2,
        padLeft: 0,
        padRight: 1,
      }],
      [[1, 2, 9, 9], [3, 2, 3, 3], { dilationH: 2, dilationW: 2, padTop: 2 }],
      [[1, 3, 7, 8], [4, 3, 3, 3], { padMode: "reflect" }],
      [[1, 2, 6, 5], [3, 2, 5, 5], {
        padMode: "reflect",
        padTop: 2,
        padBottom: 2,
        padLeft: 2,
        padRight: 2,
      }],
      [[1, 70, 9, 9], [66, 70, 1, 1], {
        padTop: 0,
        padBottom: 0,
        padLeft: 0,
        padRight: 0,
      }],
    ];
    checkConv(cases);
  },
});

Deno.test({
  name: "webgpu: ConvTranspose2D and its gradients",
  ignore,
  fn() {
    const cases: [number[], number[], Partial<ConvTranspose2dAttrs>][] = [
      [[2, 6, 4, 4], [6, 3, 4, 4], { strideH: 2, strideW: 2 }],
      [[1, 4, 5, 3], [4, 2, 3, 3], { groups: 2, outputPadH: 1, strideH: 2 }],
      [[2, 3, 3, 3], [3, 5, 4, 4], {
        padTop: 0,
        padBottom: 0,
        padLeft: 0,
        padRight: 0,
      }],
    ];
    for (const [xs, ws, over] of cases) {
      const a: ConvTranspose2dAttrs = {
        strideH: 1,
        strideW: 1,
        padTop: 1,
        padBottom: 1,
        padLeft: 1,
        padRight: 1,
        dilationH: 1,
        dilationW: 1,
        groups: 1,
        outputPadH: 0,
        outputPadW: 0,
        ...over,
      };
      const x = randomArray(rng, xs.reduce((p, d) => p * d));
      const w = randomArray(rng, ws.reduce((p, d) => p * d));
      const kOut = ws[1] * a.groups;
      const b = randomArray(rng, kOut);
      const name = `convT x[${xs}] w[${ws}] ${JSON.stringify(over)}`;
      check(`${name} forward`, () => [
        runKernel("ConvTranspose2D", t(x, xs), t(w, ws), t(b, [kOut]), a)
          .data(),
      ]);
      const ys = onBoth(pair, () =>
        scoped(() =>
          runKernel("ConvTranspose2D", t(x, xs), t(w, ws), null, a).shape
        ))[0];
      const dy = randomArray(
        rng,
        ys.reduce((p: number, d: number) =>
          p * d, 1),
      );
      check(`${name} backprop input`, () => [
        runKernel(
          "ConvTranspose2DBackpropInput",
          t(dy, [...ys]),
          t(w, ws),
          xs,
          a,
        )
          .data(),
      ]);
      check(`${name} backprop filter`, () => {
        const r = runKernel(
          "ConvTranspose2DBackpropFilter",
          t(x, xs),
          t(dy, [...ys]),
          ws,
          true,
          a,
        );
        return [r.dw.data(), r.db!.data()];
      });
    }
  },
});

Deno.test({
  name: "webgpu: GEMM and convolutions with the 128-wide tiles forced",
  ignore,
  fn() {
    // The bench shapes pick 128×128, 64×128 and 128×64 tiles; these small
    // shapes would pick 64×64 unless the tile threshold is lifted.
    const saved = gemmTuning.minTiles;
    gemmTuning.minTiles = 0;
    try {
      for (const [m, n, k] of [[130, 200, 37], [70, 300, 129], [300, 66, 17]]) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const a = randomArray(rng, m * k), b = randomArray(rng, k * n);
            check(`MatMul ${m}x${n}x${k} ${ta} ${tb} (big tiles)`, () => [
              runKernel(
                "MatMul",
                t(a, ta ? [k, m] : [m, k]),
                t(b, tb ? [n, k] : [k, n]),
                ta,
                tb,
              ).data(),
            ]);
          }
        }
      }
      checkConv([
        [[1, 5, 13, 11], [70, 5, 3, 3], {}],
        [[2, 6, 12, 13], [130, 3, 3, 3], { groups: 2, padMode: "reflect" }],
      ]);
    } finally {
      gemmTuning.minTiles = saved;
    }
  },
});

Deno.test({
  name: "webgpu: small results travel along with a read and stay correct",
  ignore,
  fn() {
    const gpu = pair.gpu as WebGpuBackend;
    setBackend(gpu);
    try {
      scoped(() => {
        const x = tensor(new Float32Array([1, 2, 3, 4, 5]), [5]);
        const sums = [1, 2, 3].map((k) => {
          const y = runKernel("Scale", x, k);
          return runKernel("Sum", y);
        });
        const before = { ...gpu.readStats };
        // One round trip: the other sums come back with the first.
        assert.deepEqual(sums.map((s) => s.item()), [15, 30, 45]);
        assert.equal(gpu.readStats.count, before.count + 1);
        assert.equal(gpu.readStats.cached, before.cached + 2);
        // A later GPU write (in place) or host write invalidates the copy.
        runKernel("ScaleInPlace", sums[1], 2);
        assert.equal(sums[1].item(), 60);
        assert.equal(sums[0].item(), 15);
        sums[2].write([7]);
        assert.equal(sums[2].item(), 7);
        runKernel("ScaleInPlace", sums[2], 3);
        assert.equal(sums[2].item(), 21);
        assert.deepEqual([...x.data()], [1, 2, 3, 4, 5]);
      });
    } finally {
      setBackend(pair.wasm);
    }
  },
});

Deno.test({
  name: "webgpu: pooling, resampling, LRN and batch norm",
  ignore,
  fn() {
    const pools: Pool2dAttrs[] = [
      {
        kernelH: 2,
        kernelW: 2,
        strideH: 2,
        strideW: 2,
        padTop: 0,
        padBottom: 0,
        padLeft: 0,
        padRight: 0,
        ceilMode: false,
      },
      {
        kernelH: 3,
        kernelW: 3,
        strideH: 2,
        strideW: 2,
        padTop: 1,
        padBottom: 1,
        padLeft: 1,
        padRight: 1,
        ceilMode: true,
      },
      {
        kernelH: 3,
        kernelW: 2,
        strideH: 1,
        strideW: 2,
        padTop: 0,
        padBottom: 1,
        padLeft: 1,
        padRight: 0,
        ceilMode: false,
      },
    ];
    const xs = [2, 3, 9, 7];
    const x = randomArray(rng, 2 * 3 * 9 * 7);
    for (const a of pools) {
      const name = `pool ${a.kernelH}x${a.kernelW}/${a.strideH}`;
      check(`MaxPool ${name}`, () => {
        const r = runKernel("MaxPool", t(x, xs), a);
        return [
          r.y.data(),
          new Float32Array(new Int32Array(r.argmax.data().buffer)),
        ];
      });
      const ys = onBoth(pair, () =>
        scoped(() =>
          runKernel("AvgPool", t(x, xs), a, true).shape
        ))[0];
      const dy = randomArray(
        rng,
        ys.reduce((p: number, d: number) =>
          p * d, 1),
      );
      check(`MaxPoolGrad ${name}`, () => {
        const r = runKernel("MaxPool", t(x, xs), a);
        return [
          runKernel("MaxPoolGrad", t(dy, [...ys]), r.argmax, xs, a).data(),
        ];
      });
      for (const incl of [true, false]) {
        check(
          `AvgPool ${name} ${incl}`,
          () => [runKernel("AvgPool", t(x, xs), a, incl).data()],
        );
        check(`AvgPoolGrad ${name} ${incl}`, () => [
          runKernel("AvgPoolGrad", t(dy, [...ys]), xs, a, incl).data(),
        ]);
      }
    }
    check("GlobalAvgPool", () => [runKernel("GlobalAvgPool", t(x, xs)).data()]);
    const g6 = randomArray(rng, 6);
    check("GlobalAvgPoolGrad", () => [
      runKernel("GlobalAvgPoolGrad", t(g6, [2, 3, 1, 1]), xs).data(),
    ]);
    check(
      "UpsampleNearest",
      () => [runKernel("UpsampleNearest", t(x, xs), 2, 3).data()],
    );
    const du = randomArray(rng, x.length * 6);
    check("UpsampleNearestGrad", () => [
      runKernel("UpsampleNearestGrad", t(du, [2, 3, 18, 21]), xs, 2, 3).data(),
    ]);
    const lx = [2, 7, 3, 4];
    const lv = randomArray(rng, 2 * 7 * 12, 2),
      ldy = randomArray(rng, 2 * 7 * 12);
    for (const size of [5, 4]) {
      const la = { size, alpha: 1e-2, beta: 0.75, bias: 2 };
      check(`LRN ${size}`, () => {
        const r = runKernel("LRN", t(lv, lx), la);
        return [
          r.y.data(),
          r.scale.data(),
          runKernel("LRNGrad", t(lv, lx), r.y, r.scale, t(ldy, lx), la).data(),
        ];
      });
    }
    for (const shape of [[4, 5, 3, 3], [8, 6]]) {
      const c = shape[1];
      const bx = randomArray(rng, shape.reduce((p, d) => p * d), 3);
      const gamma = randomArray(rng, c), beta = randomArray(rng, c);
      const rm = randomArray(rng, c),
        rv = randomArray(rng, c).map((v) => 1 + v * v);
      const bdy = randomArray(rng, bx.length);
      for (const affine of [true, false]) {
        check(`BatchNorm [${shape}] affine=${affine}`, () => {
          const runM = t(rm, [c]), runV = t(rv, [c]);
          const G = affine ? t(gamma, [c]) : null,
            B = affine ? t(beta, [c]) : null;
          const r = runKernel(
            "BatchNormTrain",
            t(bx, shape),
            G,
            B,
            runM,
            runV,
            1e-5,
            0.1,
          );
          const g = runKernel(
            "BatchNormGrad",
            t(bx, shape),
            G,
            r.mean,
            r.invStd,
            t(bdy, shape),
          );
          const ev = runKernel(
            "BatchNormEval",
            t(bx, shape),
            G,
            B,
            runM,
            runV,
            1e-5,
          );
          const noRun = runKernel(
            "BatchNormTrain",
            t(bx, shape),
            G,
            B,
            null,
            null,
            1e-5,
            0.1,
          );
          return [
            r.y.data(),
            r.mean.data(),
            r.invStd.data(),
            runM.data(),
            runV.data(),
            g.dx.data(),
            g.dgamma.data(),
            g.dbeta.data(),
            ev.data(),
            noRun.y.data(),
          ];
        });
      }
    }
  },
});

Deno.test({
  name: "webgpu: optimiser updates",
  ignore,
  fn() {
    const n = 1003;
    const p = randomArray(rng, n),
      g = randomArray(rng, n),
      m = randomArray(rng, n);
    const v = randomArray(rng, n).map((x) => x * x);
    for (
      const [momentum, nesterov, firstStep] of [[0, false, false], [
        0.9,
        true,
        false,
      ], [0.9, false, true]] as const
    ) {
      check(`SgdUpdate ${momentum} ${nesterov} ${firstStep}`, () => {
        const P = t(p, [n]), B = momentum ? t(m, [n]) : null;
        runKernel("SgdUpdate", P, t(g, [n]), B, {
          lr: 0.1,
          weightDecay: 0.01,
          momentum,
          dampening: 0.1,
          nesterov,
          firstStep,
        });
        return B ? [P.data(), B.data()] : [P.data()];
      });
    }
    for (const decoupled of [false, true]) {
      check(`AdamUpdate decoupled=${decoupled}`, () => {
        const P = t(p, [n]), M = t(m, [n]), V = t(v, [n]);
        runKernel("AdamUpdate", P, t(g, [n]), M, V, {
          lr: 1e-3,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: 0.01,
          decoupled,
          step: 3,
        });
        return [P.data(), M.data(), V.data()];
      });
    }
  },
});

Deno.test({
  name: "webgpu: a style-transfer-like loss and its image gradient match wasm",
  ignore,
  fn() {
    // A small VGG-like stack: conv3x3-relu ×2, maxpool, conv3x3-relu ×2,
    // avgpool, conv-relu; Gram style losses on three layers and a content
    // loss; gradient with respect to the image (Gatys et al. 2016).
    const chans = [3, 8, 8, 16, 16, 24];
    const weights = chans.slice(1).map((k, i) =>
      randomArray(rng, k * chans[i] * 9, Math.sqrt(6 / (chans[i] * 9)))
    );
    const biases = chans.slice(1).map((k) => randomArray(rng, k, 0.1));
    const img = randomArray(rng, 3 * 20 * 22).map((v) => (v + 1) / 2);
    const content = randomArray(rng, 3 * 20 * 22).map((v) => (v + 1) / 2);
    const features = (x: Tensor, ws: Tensor[], bs: Tensor[]): Tensor[] => {
      const taps: Tensor[] = [];
      let h = x;
      for (let i = 0; i < ws.length; i++) {
        h = ops.relu(ops.conv2d(h, ws[i], bs[i], { padding: 1 }));
        taps.push(h);
        if (i === 1) h = ops.maxPool2d(h, 2);
        if (i === 3) h = ops.avgPool2d(h, 2);
      }
      return taps;
    };
    const [want, got] = onBoth(pair, () =>
      scoped(() => {
        const ws = weights.map((w, i) => t(w, [chans[i + 1], chans[i], 3, 3]));
        const bs = biases.map((b, i) => t(b, [chans[i + 1]]));
        const targets = noGrad(() =>
          features(t(content, [1, 3, 20, 22]), ws, bs).map((f) =>
            ops.gram(f, 1 / f.size)
          )
        );
        const contentTarget = noGrad(() =>
          features(t(content, [1, 3, 20, 22]), ws, bs)[2]
        );
        const x = t(img, [1, 3, 20, 22]);
        x.requiresGrad = true;
        const taps = features(x, ws, bs);
        let loss = ops.mseLoss(taps[2], contentTarget);
        for (const i of [0, 2, 4]) {
          loss = ops.add(
            loss,
            ops.mseLoss(ops.gram(taps[i], 1 / taps[i].size), targets[i]),
          );
        }
        const [dx] = grad(loss, [x]);
        return [loss.data(), dx.data()];
      }));
    assertClose("style loss", got[0], want[0], 1e-4, 0);
    assertClose("style gradient", got[1], want[1], 3e-4, 0);
  },
});

Deno.test({
  name: "webgpu: a missing kernel fails naming the kernel and the backend",
  ignore,
  fn() {
    setBackend(pair.gpu!);
    try {
      assert.throws(
        () => runKernel("NoSuchKernel" as "Relu", tensor([1], [1])),
        /Kernel NoSuchKernel is not registered for backend webgpu/,
      );
    } finally {
      setBackend(pair.wasm);
    }
  },
});

Deno.test("webgpu: dispose the backends", () => {
  pair.gpu?.dispose();
  pair.wasm.dispose();
});
