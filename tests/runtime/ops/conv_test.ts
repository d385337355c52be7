import assert from "node:assert/strict";
import { conv2d, convTranspose2d } from "../../../runtime/ops/mod.ts";
import { conv2dAttrs } from "../../../runtime/ops/shapes.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { assertClose, randomArray } from "../../_check.ts";
import { disposeBackendAtEnd, gradcheck, setupBackend } from "../_gradcheck.ts";

await setupBackend();

interface Cfg {
  n: number;
  c: number;
  h: number;
  w: number;
  k: number;
  r: number;
  s: number;
  stride: [number, number];
  pad: [number, number, number, number];
  dil: [number, number];
  groups: number;
}

function reflect(i: number, n: number): number {
  if (i < 0) return -i;
  if (i >= n) return 2 * (n - 1) - i;
  return i;
}

/** f64 direct convolution (zero or reflect padding). */
function convRef(
  x: ArrayLike<number>,
  wt: ArrayLike<number>,
  b: ArrayLike<number> | null,
  g: Cfg,
  padMode: "zero" | "reflect",
): { y: number[]; oh: number; ow: number } {
  const [pt, pb, pl, pr] = g.pad;
  const oh =
    Math.floor((g.h + pt + pb - g.dil[0] * (g.r - 1) - 1) / g.stride[0]) + 1;
  const ow =
    Math.floor((g.w + pl + pr - g.dil[1] * (g.s - 1) - 1) / g.stride[1]) + 1;
  const cg = g.c / g.groups, kg = g.k / g.groups;
  const y: number[] = [];
  for (let n = 0; n < g.n; n++) {
    for (let k = 0; k < g.k; k++) {
      const grp = Math.floor(k / kg);
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          let acc = b ? b[k] : 0;
          for (let c = 0; c < cg; c++) {
            for (let r = 0; r < g.r; r++) {
              for (let s = 0; s < g.s; s++) {
                let hi = i * g.stride[0] - pt + r * g.dil[0];
                let wi = j * g.stride[1] - pl + s * g.dil[1];
                if (padMode === "reflect") {
                  hi = reflect(hi, g.h);
                  wi = reflect(wi, g.w);
                } else if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w) continue;
                const ci = grp * cg + c;
                acc += x[((n * g.c + ci) * g.h + hi) * g.w + wi] *
                  wt[((k * cg + c) * g.r + r) * g.s + s];
              }
            }
          }
          y.push(acc);
        }
      }
    }
  }
  return { y, oh, ow };
}

const configs: Cfg[] = [
  {
    n: 2,
    c: 3,
    h: 6,
    w: 5,
    k: 4,
    r: 3,
    s: 3,
    stride: [1, 1],
    pad: [1, 1, 1, 1],
    dil: [1, 1],
    groups: 1,
  },
  {
    n: 1,
    c: 4,
    h: 7,
    w: 6,
    k: 2,
    r: 3,
    s: 2,
    stride: [2, 1],
    pad: [0, 1, 2, 0],
    dil: [1, 2],
    groups: 2,
  },
  {
    n: 1,
    c: 2,
    h: 5,
    w: 5,
    k: 3,
    r: 1,
    s: 1,
    stride: [1, 1],
    pad: [0, 0, 0, 0],
    dil: [1, 1],
    groups: 1,
  },
];

// Convolution is linear in x and in w separately: h = 0.25 is exact;
// tolerance 2e-5 of the largest gradient (f32 sums of ≤ 36 products).
const o = { h: 0.25, atol: 2e-5, rtol: 1e-5 };

Deno.test("conv2d: forward against f64 (stride, asymmetric pad, dilation, groups, reflect)", () => {
  for (const g of configs) {
    for (const padMode of ["zero", "reflect"] as const) {
      const x = randomArray(g.n * g.c * g.h * g.w, 1);
      const w = randomArray(g.k * (g.c / g.groups) * g.r * g.s, 2);
      const b = randomArray(g.k, 3);
      const { y, oh, ow } = convRef(x, w, b, g, padMode);
      tidy(() => {
        const out = conv2d(
          tensor(x, [g.n, g.c, g.h, g.w]),
          tensor(w, [g.k, g.c / g.groups, g.r, g.s]),
          tensor(b, [g.k]),
          {
            stride: g.stride,
            padding: g.pad,
            dilation: g.dil,
            groups: g.groups,
            padMode,
          },
        );
        assert.deepEqual(out.shape, [g.n, g.k, oh, ow]);
        assertClose(out.data(), y, { atol: 1e-5, label: `conv2d ${padMode}` });
      });
    }
  }
});

Deno.test("conv2d backward matches finite differences", () => {
  for (const g of configs) {
    for (const padMode of ["zero", "reflect"] as const) {
      gradcheck(
        [
          { shape: [g.n, g.c, g.h, g.w] },
          { shape: [g.k, g.c / g.groups, g.r, g.s] },
          { shape: [g.k] },
        ],
        ([x, w, b]) =>
          conv2d(x, w, b, {
            stride: g.stride,
            padding: g.pad,
            dilation: g.dil,
            groups: g.groups,
            padMode,
          }),
        { ...o, label: `conv2d ${JSON.stringify(g)} ${padMode}` },
      );
    }
  }
});

Deno.test('conv2d padding "same" keeps ceil(H / stride)', () => {
  const a = conv2dAttrs([1, 1, 7, 8], [1, 1, 4, 3], { padding: "same" });
  // Kernel 4: total pad 3 → top 1, bottom 2; kernel 3: 1 each side.
  assert.deepEqual([a.padTop, a.padBottom, a.padLeft, a.padRight], [
    1,
    2,
    1,
    1,
  ]);
  const s = conv2dAttrs([1, 1, 7, 8], [1, 1, 3, 3], {
    padding: "same",
    stride: 2,
  });
  tidy(() => {
    const y = conv2d(
      tensor(randomArray(56, 1), [1, 1, 7, 8]),
      tensor(randomArray(9, 2), [1, 1, 3, 3]),
      null,
      {
        padding: "same",
        stride: 2,
      },
    );
    assert.deepEqual(y.shape, [1, 1, 4, 4]);
  });
  assert.deepEqual([s.padTop, s.padBottom, s.padLeft, s.padRight], [
    1,
    1,
    0,
    1,
  ]);
  assert.throws(() => conv2dAttrs([1, 3, 5, 5], [2, 2, 3, 3]), /do not match/);
});

/** f64 transposed convolution by scattering every input pixel. */
function convTransposeRef(
  x: ArrayLike<number>,
  wt: ArrayLike<number>,
  b: ArrayLike<number>,
  [n, c, h, w]: number[],
  kg: number,
  r: number,
  s: number,
  stride: number[],
  pad: number[],
  outPad: number[],
  dil: number[],
  groups: number,
): { y: number[]; shape: number[] } {
  const k = kg * groups, cg = c / groups;
  const oh = (h - 1) * stride[0] - pad[0] - pad[1] + dil[0] * (r - 1) +
    outPad[0] + 1;
  const ow = (w - 1) * stride[1] - pad[2] - pad[3] + dil[1] * (s - 1) +
    outPad[1] + 1;
  const y = new Array(n * k * oh * ow).fill(0);
  for (let b0 = 0; b0 < n; b0++) {
    for (let ko = 0; ko < k; ko++) {
      for (let i = 0; i < oh * ow; i++) y[(b0 * k + ko) * oh * ow + i] = b[ko];
    }
    for (let ci = 0; ci < c; ci++) {
      const grp = Math.floor(ci / cg);
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const v = x[((b0 * c + ci) * h + i) * w + j];
          for (let kk = 0; kk < kg; kk++) {
            for (let rr = 0; rr < r; rr++) {
              for (let ss = 0; ss < s; ss++) {
                const oi = i * stride[0] - pad[0] + rr * dil[0];
                const oj = j * stride[1] - pad[2] + ss * dil[1];
                if (oi < 0 || oi >= oh || oj < 0 || oj >= ow) continue;
                const ko = grp * kg + kk;
                y[((b0 * k + ko) * oh + oi) * ow + oj] += v *
                  wt[((ci * kg + kk) * r + rr) * s + ss];
              }
            }
          }
        }
      }
    }
  }
  return { y, shape: [n, k, oh, ow] };
}

Deno.test("convTranspose2d: forward against f64 and backward", () => {
  const cases = [
    {
      xs: [2, 3, 4, 3],
      kg: 2,
      r: 3,
      s: 3,
      stride: [2, 2],
      pad: [1, 1, 1, 1],
      outPad: [1, 0],
      dil: [1, 1],
      groups: 1,
    },
    {
      xs: [1, 4, 3, 4],
      kg: 1,
      r: 2,
      s: 3,
      stride: [1, 2],
      pad: [0, 1, 1, 0],
      outPad: [0, 1],
      dil: [2, 1],
      groups: 2,
    },
  ];
  for (const cs of cases) {
    const c = cs.xs[1];
    const wShape = [c, cs.kg, cs.r, cs.s];
    const x = randomArray(cs.xs.reduce((a, d) => a * d), 4);
    const w = randomArray(wShape.reduce((a, d) => a * d), 5);
    const b = randomArray(cs.kg * cs.groups, 6);
    const opts = {
      stride: cs.stride as [number, number],
      padding: cs.pad as [number, number, number, number],
      outputPadding: cs.outPad as [number, number],
      dilation: cs.dil as [number, number],
      groups: cs.groups,
    };
    const ref = convTransposeRef(
      x,
      w,
      b,
      cs.xs,
      cs.kg,
      cs.r,
      cs.s,
      cs.stride,
      cs.pad,
      cs.outPad,
      cs.dil,
      cs.groups,
    );
    tidy(() => {
      const y = convTranspose2d(
        tensor(x, cs.xs),
        tensor(w, wShape),
        tensor(b),
        opts,
      );
      assert.deepEqual(y.shape, ref.shape);
      assertClose(y.data(), ref.y, {
        atol: 1e-5,
        label: "convTranspose2d forward",
      });
    });
    gradcheck(
      [{ shape: cs.xs }, { shape: wShape }, { shape: [cs.kg * cs.groups] }],
      ([xx, ww, bb]) => convTranspose2d(xx, ww, bb, opts),
      { ...o, label: `convTranspose2d ${JSON.stringify(cs)}` },
    );
  }
});

disposeBackendAtEnd();
