import { linear, matmul } from "../../../runtime/ops/mod.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import { assertClose, randomArray } from "../../_check.ts";
import { disposeBackendAtEnd, gradcheck, setupBackend } from "../_gradcheck.ts";

await setupBackend();

/** op(A)·op(B) in f64; A stored [ra, ca], B stored [rb, cb]. */
function matmulRef(
  a: ArrayLike<number>,
  [ra, ca]: number[],
  b: ArrayLike<number>,
  [rb, cb]: number[],
  ta: boolean,
  tb: boolean,
): number[] {
  const m = ta ? ca : ra, k = ta ? ra : ca, n = tb ? rb : cb;
  const at = (i: number, p: number) => (ta ? a[p * ca + i] : a[i * ca + p]);
  const bt = (p: number, j: number) => (tb ? b[j * cb + p] : b[p * cb + j]);
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += at(i, p) * bt(p, j);
      out.push(s);
    }
  }
  return out;
}

// Bilinear: each output is linear in every single element, so h = 0.25 is
// exact; tolerance 1e-5 relative to the largest gradient.
const o = { h: 0.25, atol: 1e-5, rtol: 1e-5 };

Deno.test("matmul with every transpose: forward and backward", () => {
  const m = 5, k = 7, n = 3;
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const sa = ta ? [k, m] : [m, k], sb = tb ? [n, k] : [k, n];
      const a = randomArray(m * k, 11), b = randomArray(k * n, 12);
      tidy(() => {
        const y = matmul(tensor(a, sa), tensor(b, sb), {
          transA: ta,
          transB: tb,
        });
        assertClose(y.data(), matmulRef(a, sa, b, sb, ta, tb), {
          atol: 1e-5,
          label: `matmul ${ta} ${tb}`,
        });
      });
      gradcheck(
        [{ shape: sa }, { shape: sb }],
        ([x, w]) => matmul(x, w, { transA: ta, transB: tb }),
        { ...o, label: `matmul transA=${ta} transB=${tb}` },
      );
    }
  }
});

Deno.test("linear: x Wᵀ + b with W [out, in]", () => {
  const nb = 3, inF = 6, outF = 4;
  const x = randomArray(nb * inF, 1),
    w = randomArray(outF * inF, 2),
    b = randomArray(outF, 3);
  tidy(() => {
    const y = linear(
      tensor(x, [nb, inF]),
      tensor(w, [outF, inF]),
      tensor(b, [outF]),
    );
    const ref = matmulRef(x, [nb, inF], w, [outF, inF], false, true).map((
      v,
      i,
    ) => v + b[i % outF]);
    assertClose(y.data(), ref, { atol: 1e-5, label: "linear forward" });
  });
  gradcheck(
    [{ shape: [nb, inF] }, { shape: [outF, inF] }, { shape: [outF] }],
    ([xx, ww, bb]) => linear(xx, ww, bb),
    { ...o, label: "linear" },
  );
  gradcheck(
    [{ shape: [nb, inF], grad: false }, { shape: [outF, inF] }],
    ([xx, ww]) => linear(xx, ww),
    { ...o, label: "linear without bias, parameters only" },
  );
});

disposeBackendAtEnd();
