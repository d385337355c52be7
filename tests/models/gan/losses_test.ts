// GAN losses and their gradients through small networks, against an f64
// host reference and central finite differences of it:
// G: x = tanh(W z + b) (W [P, L]); D: l = v·x + c. For a batch of m noise
// vectors and m real rows,
//   L_D = mean softplus(-l_real) + mean softplus(l_fake)
//   minimax L_G = -mean softplus(l_fake), non-saturating = mean softplus(-l_fake).
// Tolerances: the engine computes in f32 (rel. error ~1e-6 per op); the
// finite differences use h = 1e-4 in f64 (truncation ~h², negligible), so
// gradients must agree to atol 2e-5 + rtol 1e-3.
import assert from "node:assert/strict";
import { grad } from "../../../runtime/grad.ts";
import { tanh } from "../../../runtime/ops/activation.ts";
import { linear } from "../../../runtime/ops/linalg.ts";
import { Random } from "../../../runtime/random.ts";
import { tensor, tidy } from "../../../runtime/tensor.ts";
import {
  discriminatorLoss,
  generatorLoss,
  type GeneratorLossKind,
  logSigmoid,
} from "../../../models/gan/losses.ts";
import { disposeBackendAtEnd, setupBackend } from "../../runtime/_gradcheck.ts";

await setupBackend();

const L = 3, P = 5, M = 4;
const rng = new Random(42);
const params = {
  W: Float64Array.from(rng.fillUniform(new Float32Array(P * L), -1, 1)),
  b: Float64Array.from(rng.fillUniform(new Float32Array(P), -0.5, 0.5)),
  v: Float64Array.from(rng.fillUniform(new Float32Array(P), -1.5, 1.5)),
  c: Float64Array.from([0.3]),
};
const z = Float64Array.from(rng.fillNormal(new Float32Array(M * L), 0, 1));
const real = Float64Array.from(rng.fillUniform(new Float32Array(M * P), -1, 1));
const softplus = (x: number) => -logSigmoid(-x);

type Params = typeof params;
function reference(p: Params, which: "D" | GeneratorLossKind): number {
  const logit = (x: ArrayLike<number>, i: number) => {
    let l = p.c[0];
    for (let k = 0; k < P; k++) l += p.v[k] * x[i * P + k];
    return l;
  };
  const fake = new Float64Array(M * P);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < P; k++) {
      let a = p.b[k];
      for (let j = 0; j < L; j++) a += p.W[k * L + j] * z[i * L + j];
      fake[i * P + k] = Math.tanh(a);
    }
  }
  let s = 0;
  for (let i = 0; i < M; i++) {
    const lf = logit(fake, i);
    if (which === "D") s += softplus(-logit(real, i)) + softplus(lf);
    else if (which === "minimax") s -= softplus(lf);
    else s += softplus(-lf);
  }
  return s / M;
}

function engine(which: "D" | GeneratorLossKind) {
  return tidy(() => {
    const W = tensor(params.W, [P, L]), b = tensor(params.b, [P]);
    const v = tensor(params.v, [1, P]), c = tensor(params.c, [1]);
    for (const t of [W, b, v, c]) t.requiresGrad = true;
    const fake = tanh(linear(tensor(z, [M, L]), W, b));
    const fakeLogits = linear(fake, v, c);
    const loss = which === "D"
      ? discriminatorLoss(linear(tensor(real, [M, P]), v, c), fakeLogits)
      : generatorLoss(fakeLogits, which);
    const value = loss.item();
    const [gW, gb, gv, gc] = grad(loss, [W, b, v, c]).map((g) => g.data());
    return { value, grads: { W: gW, b: gb, v: gv, c: gc } };
  });
}

function numericGrad(which: "D" | GeneratorLossKind, name: keyof Params) {
  const h = 1e-4;
  const arr = params[name];
  const out = new Float64Array(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const keep = arr[i];
    arr[i] = keep + h;
    const up = reference(params, which);
    arr[i] = keep - h;
    const down = reference(params, which);
    arr[i] = keep;
    out[i] = (up - down) / (2 * h);
  }
  return out;
}

for (const which of ["D", "minimax", "non-saturating"] as const) {
  Deno.test(`${which} loss: value and gradients match f64 finite differences`, () => {
    const e = engine(which);
    const ref = reference(params, which);
    assert.ok(
      Math.abs(e.value - ref) <= 1e-5 * Math.max(1, Math.abs(ref)),
      `${e.value} vs ${ref}`,
    );
    const names = which === "D"
      ? ["v", "c"] as const
      : ["W", "b", "v", "c"] as const;
    for (const name of names) {
      const num = numericGrad(which, name);
      const got = e.grads[name];
      for (let i = 0; i < num.length; i++) {
        assert.ok(
          Math.abs(got[i] - num[i]) <= 2e-5 + 1e-3 * Math.abs(num[i]),
          `${which} d/d${name}[${i}]: ${got[i]} vs ${num[i]}`,
        );
      }
    }
  });
}

Deno.test("losses are stable for huge logits and the minimax G gradient vanishes", () => {
  tidy(() => {
    const logits = tensor([-60, -40, 50, 80], [4, 1]);
    logits.requiresGrad = true;
    const d = discriminatorLoss(logits, logits);
    // mean softplus(-l) + mean softplus(l) = mean |l| + tiny.
    assert.ok(Math.abs(d.item() - (60 + 40 + 50 + 80) / 4) < 1e-4);
    // D confidently rejects fakes (l = -10): minimax gradient ~σ(l)/m,
    // non-saturating ~-(1-σ(l))/m.
    const fake = tensor([-10, -10], [2, 1]);
    fake.requiresGrad = true;
    const [gm] = grad(generatorLoss(fake, "minimax"), [fake]);
    const [gn] = grad(generatorLoss(fake, "non-saturating"), [fake]);
    const m = Math.abs(gm.data()[0]), n = Math.abs(gn.data()[0]);
    assert.ok(Number.isFinite(m) && m > 0 && m < 3e-5, `minimax ${m}`);
    assert.ok(Math.abs(n - 0.5) < 1e-4, `non-saturating ${n}`);
  });
  assert.throws(
    () =>
      tidy(() =>
        generatorLoss(tensor([0], [1, 1]), "bogus" as GeneratorLossKind)
      ),
    /Unknown generator loss/,
  );
});

disposeBackendAtEnd();
