// A seeded pseudo-random generator that gives bit-identical sequences in
// every JavaScript host: xoshiro128** (Blackman & Vigna 2018) on 32-bit
// integer arithmetic (Math.imul, shifts), seeded through a SplitMix-style
// Weyl sequence with the MurmurHash3 finaliser. Normals use the polar form
// of the Box–Muller transform (Marsaglia & Bray 1964), which needs only
// sqrt (correctly rounded by IEEE 754) and log; log is fdlibm's algorithm
// ported below, because Math.log may differ in the last bit between engines.
// This module is browser compatible.

const TWO_POW_32 = 4294967296;
const TWO_POW_M53 = 1 / 9007199254740992;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** MurmurHash3's 32-bit finaliser (a bijection with good avalanche). */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// fdlibm e_log.c (Sun Microsystems, 1993) constants.
const LN2_HI = 6.93147180369123816490e-01;
const LN2_LO = 1.90821492927058770002e-10;
const TWO54 = 1.80143985094819840000e+16;
const LG1 = 6.666666666666735130e-01;
const LG2 = 3.999999999940941908e-01;
const LG3 = 2.857142874366239149e-01;
const LG4 = 2.222219843214978396e-01;
const LG5 = 1.818357216161805012e-01;
const LG6 = 1.531383769920937332e-01;
const LG7 = 1.479819860511658591e-01;

const logBuf = new DataView(new ArrayBuffer(8));

/**
 * Natural logarithm with fdlibm's algorithm (error < 1 ulp), written with
 * only IEEE-exact operations so that every host gives the same bits.
 */
export function portableLog(x: number): number {
  logBuf.setFloat64(0, x);
  let hx = logBuf.getInt32(0);
  const lx = logBuf.getUint32(4);
  let k = 0;
  if (hx < 0x00100000) { // x < 2^-1022
    if (((hx & 0x7fffffff) | lx) === 0) return -Infinity;
    if (hx < 0) return NaN;
    k -= 54;
    x *= TWO54; // subnormal: scale up
    logBuf.setFloat64(0, x);
    hx = logBuf.getInt32(0);
  }
  if (hx >= 0x7ff00000) return x + x;
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  const i0 = (hx + 0x95f64) & 0x100000;
  // Normalise x or x/2 into [sqrt(2)/2, sqrt(2)).
  logBuf.setInt32(0, hx | (i0 ^ 0x3ff00000));
  x = logBuf.getFloat64(0);
  k += i0 >> 20;
  const f = x - 1.0;
  if ((0x000fffff & (2 + hx)) < 3) { // |f| < 2^-20
    if (f === 0) {
      if (k === 0) return 0;
      return k * LN2_HI + k * LN2_LO;
    }
    const r = f * f * (0.5 - 0.33333333333333333 * f);
    if (k === 0) return f - r;
    return k * LN2_HI - ((r - k * LN2_LO) - f);
  }
  const s = f / (2.0 + f);
  const dk = k;
  const z = s * s;
  let i = hx - 0x6147a;
  const w = z * z;
  const j = 0x6b851 - hx;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  i |= j;
  const r = t2 + t1;
  if (i > 0) {
    const hfsq = 0.5 * f * f;
    if (k === 0) return f - (hfsq - s * (hfsq + r));
    return dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f);
  }
  if (k === 0) return f - s * (f - r);
  return dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f);
}

/** A seeded xoshiro128** generator. */
export class Random {
  #s = new Uint32Array(4);
  #spare: number | null = null;

  /** `seed`: any finite number (integers up to 2^53 are all distinct). */
  constructor(seed = 0) {
    this.seed(seed);
  }

  /** Restarts the sequence from `seed`. */
  seed(seed: number): void {
    if (!Number.isFinite(seed)) throw new RangeError(`Invalid seed ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    // Weyl sequence over the golden-ratio increment, each step hashed.
    let w = (lo ^ fmix32(hi ^ 0x5bd1e995)) >>> 0;
    for (let i = 0; i < 4; i++) {
      w = (w + 0x9e3779b9) >>> 0;
      this.#s[i] = fmix32(w);
    }
    if ((this.#s[0] | this.#s[1] | this.#s[2] | this.#s[3]) === 0) {
      this.#s[0] = 1;
    }
    this.#spare = null;
  }

  /** The next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [lo, hi) from 53 random bits (two draws). */
  uniform(lo = 0, hi = 1): number {
    const a = this.nextU32() >>> 5, b = this.nextU32() >>> 6; // 27 + 26 bits
    const u = (a * 67108864 + b) * TWO_POW_M53;
    return lo + (hi - lo) * u;
  }

  /** An integer uniform in [0, n), unbiased (rejection), n ≤ 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(
        `int(n): n must be an integer in [1, 2^32], got ${n}`,
      );
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % n;
    }
  }

  /** Normal(mean, std) by the polar Box–Muller method (values come in pairs). */
  normal(mean = 0, std = 1): number {
    if (this.#spare !== null) {
      const z = this.#spare;
      this.#spare = null;
      return mean + std * z;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt(-2 * portableLog(s) / s);
    this.#spare = v * m;
    return mean + std * (u * m);
  }

  /** Fills `out` with Uniform[lo, hi) values. */
  fillUniform<T extends Float32Array | Float64Array>(
    out: T,
    lo = 0,
    hi = 1,
  ): T {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(lo, hi);
    return out;
  }

  /** Fills `out` with Normal(mean, std) values. */
  fillNormal<T extends Float32Array | Float64Array>(
    out: T,
    mean = 0,
    std = 1,
  ): T {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** The generator's full state (to checkpoint and resume a sequence). */
  getState(): number[] {
    return [...this.#s, this.#spare ?? NaN];
  }

  setState(state: readonly number[]): void {
    if (state.length !== 5) {
      throw new RangeError("setState: expected 5 numbers");
    }
    for (let i = 0; i < 4; i++) this.#s[i] = state[i];
    this.#spare = Number.isNaN(state[4]) ? null : state[4];
  }
}

let global = new Random(0);

/** The generator used when none is passed (initialisers, dropout). */
export function defaultRandom(): Random {
  return global;
}

/** Reseeds the default generator (like torch.manual_seed). */
export function manualSeed(seed: number): void {
  global = new Random(seed);
}
