import assert from "node:assert/strict";
import {
  defaultRandom,
  manualSeed,
  portableLog,
  Random,
} from "../../runtime/random.ts";

// An independent re-implementation in BigInt arithmetic (no Math.imul, no
// 32-bit shifts), of xoshiro128** and of the seeding described in
// runtime/random.ts.
const M32 = 0xffffffffn;
const rotlB = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M32;
const fmixB = (h: bigint) => {
  h = ((h ^ (h >> 16n)) * 0x85ebca6bn) & M32;
  h = ((h ^ (h >> 13n)) * 0xc2b2ae35n) & M32;
  return h ^ (h >> 16n);
};
function seedStateB(seed: number): bigint[] {
  const lo = BigInt(seed) & M32, hi = (BigInt(seed) >> 32n) & M32;
  let w = lo ^ fmixB(hi ^ 0x5bd1e995n);
  const s: bigint[] = [];
  for (let i = 0; i < 4; i++) {
    w = (w + 0x9e3779b9n) & M32;
    s.push(fmixB(w));
  }
  return s;
}
function nextB(s: bigint[]): number {
  const result = (rotlB((s[1] * 5n) & M32, 7n) * 9n) & M32;
  const t = (s[1] << 9n) & M32;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotlB(s[3], 11n);
  return Number(result);
}

Deno.test("xoshiro128** from state {1,2,3,4}: hand-derived values", () => {
  const r = new Random();
  r.setState([1, 2, 3, 4, NaN]);
  // By hand: rotl(2·5, 7)·9 = 1280·9; the next state has s1 = 0; the third
  // output is rotl(1029·5, 7)·9 (see the state updates in the algorithm).
  assert.deepEqual([r.nextU32(), r.nextU32(), r.nextU32()], [
    11520,
    0,
    5927040,
  ]);
  const s = [1n, 2n, 3n, 4n];
  for (let i = 0; i < 3; i++) nextB(s);
  for (let i = 0; i < 1000; i++) assert.equal(r.nextU32(), nextB(s));
});

Deno.test("seeded sequences match the BigInt re-implementation", () => {
  for (const seed of [0, 1, 42, 2 ** 32 - 1, 2 ** 32 + 5, 123456789012]) {
    const r = new Random(seed), s = seedStateB(seed);
    for (let i = 0; i < 200; i++) {
      assert.equal(r.nextU32(), nextB(s), `seed ${seed} #${i}`);
    }
  }
  // Uniforms: 27 + 26 bits of two draws over 2^53.
  const r = new Random(7), s = seedStateB(7);
  for (let i = 0; i < 100; i++) {
    const a = BigInt(nextB(s)) >> 5n, b = BigInt(nextB(s)) >> 6n;
    assert.equal(r.uniform(), Number((a << 26n) | b) / 2 ** 53);
  }
});

Deno.test("portableLog agrees with Math.log to 1 ulp", () => {
  const r = new Random(3);
  let exact = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const x = i < 10
      ? [1, 2, 0.5, 1e-300, 5e-324, 1 + 2 ** -30, 0.75, 3, 1e300, 0.1][i]
      : r.uniform() * 2 ** (r.int(200) - 100);
    const a = portableLog(x), e = Math.log(x);
    const ulp = Math.abs(e) * 2 ** -52 || 5e-324;
    assert.ok(Math.abs(a - e) <= ulp, `log(${x}) = ${a}, Math.log ${e}`);
    if (a === e) exact++;
  }
  assert.ok(exact > 0.99 * n, `${exact} of ${n} bit-identical`);
  assert.equal(portableLog(0), -Infinity);
  assert.ok(Number.isNaN(portableLog(-1)));
  assert.equal(portableLog(Infinity), Infinity);
});

Deno.test("normal: polar Box–Muller against an f64 re-implementation", () => {
  const r = new Random(11), s = seedStateB(11);
  const uni = () => {
    const a = BigInt(nextB(s)) >> 5n, b = BigInt(nextB(s)) >> 6n;
    return Number((a << 26n) | b) / 2 ** 53;
  };
  for (let i = 0; i < 500; i++) {
    let u: number, v: number, q: number;
    do {
      u = 2 * uni() - 1;
      v = 2 * uni() - 1;
      q = u * u + v * v;
    } while (q >= 1 || q === 0);
    const m = Math.sqrt(-2 * Math.log(q) / q); // Math.log here: ≤ 1 ulp apart
    const z0 = r.normal(), z1 = r.normal(2, 3);
    assert.ok(
      Math.abs(z0 - u * m) <= 1e-14 * Math.max(1, Math.abs(z0)),
      `${z0} vs ${u * m}`,
    );
    assert.ok(
      Math.abs(z1 - (2 + 3 * v * m)) <= 1e-13 * Math.max(1, Math.abs(z1)),
    );
  }
  // Moments of 40000 draws: mean 0 ± 0.02, variance 1 ± 0.03.
  const g = new Random(5);
  let s1 = 0, s2 = 0;
  const n = 40000;
  for (let i = 0; i < n; i++) {
    const z = g.normal();
    s1 += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s1 / n) < 0.02);
  assert.ok(Math.abs(s2 / n - 1) < 0.03);
});

Deno.test("int, shuffle, state and the default generator", () => {
  const r = new Random(9);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60000; i++) counts[r.int(6)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, `${counts}`);
  const p = new Random(1).permutation(50);
  assert.deepEqual(
    [...p].sort((a, b) => a - b),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.deepEqual(new Random(1).permutation(50), p);
  assert.notDeepEqual(new Random(2).permutation(50), p);
  const st = r.getState();
  const a = [r.normal(), r.uniform(), r.normal()];
  r.setState(st);
  assert.deepEqual([r.normal(), r.uniform(), r.normal()], a);
  manualSeed(77);
  const d = defaultRandom().nextU32();
  manualSeed(77);
  assert.equal(defaultRandom().nextU32(), d);
  assert.equal(d, new Random(77).nextU32());
  assert.throws(() => r.int(0), RangeError);
});
