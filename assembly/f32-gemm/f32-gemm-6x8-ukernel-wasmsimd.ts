// The 6x8 register-blocked micro-kernel and the panel packers shared by the
// SIMD GEMM and the implicit-GEMM convolutions (not exported by the module).
//
// Shapes: C (MR x NR tile, MR = 6, NR = 8) += Ap (MR x kc) * Bp (kc x NR).
// Packed layouts (the GotoBLAS / BLIS scheme, Goto & van de Geijn 2008,
// "Anatomy of high-performance matrix multiplication", section 4):
//   A panel: kc steps of MR consecutive floats  -> Ap[p * MR + i] = A[i][p]
//   B panel: kc steps of NR consecutive floats  -> Bp[p * NR + j] = B[p][j]
// Panels are zero-padded to MR rows / NR columns, so the micro-kernel always
// runs a full tile and only the store is clipped.
//
// Registers: 12 accumulators (6 rows x 2 vectors) + 2 B vectors + 1 splat
// of A = 15 live v128: the most V8 can allocate on x64 (16 xmm, one kept as
// scratch). With relaxed-SIMD FMA this fits; measured faster than 4x8 (each
// B load feeds 12 FMAs instead of 8). The plain-SIMD build (mul + add) may
// spill one register.
import { madd } from "../common/simd";

export const MR: i32 = 6;
export const NR: i32 = 8;

/**
 * C[0..mr)[0..nr) += Ap * Bp over kc steps. c is the address of C[0][0] and
 * ldc its row stride in elements. `tmp` is MR*NR = 48 floats of scratch for clipped
 * tiles (mr < 6 or nr < 8).
 */
export function ukernel6x8(
  kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, mr: i32, nr: i32, tmp: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    a = v128.load32_splat(ap, 16);
    c40 = madd(a, b0, c40); c41 = madd(a, b1, c41);
    a = v128.load32_splat(ap, 20);
    c50 = madd(a, b0, c50); c51 = madd(a, b1, c51);
    ap += 24;
    bp += 32;
  }
  const rs = <usize>ldc << 2;
  if (mr == MR && nr == NR) {
    v128.store(c, f32x4.add(v128.load(c), c00));
    v128.store(c, f32x4.add(v128.load(c, 16), c01), 16);
    c += rs;
    v128.store(c, f32x4.add(v128.load(c), c10));
    v128.store(c, f32x4.add(v128.load(c, 16), c11), 16);
    c += rs;
    v128.store(c, f32x4.add(v128.load(c), c20));
    v128.store(c, f32x4.add(v128.load(c, 16), c21), 16);
    c += rs;
    v128.store(c, f32x4.add(v128.load(c), c30));
    v128.store(c, f32x4.add(v128.load(c, 16), c31), 16);
    c += rs;
    v128.store(c, f32x4.add(v128.load(c), c40));
    v128.store(c, f32x4.add(v128.load(c, 16), c41), 16);
    c += rs;
    v128.store(c, f32x4.add(v128.load(c), c50));
    v128.store(c, f32x4.add(v128.load(c, 16), c51), 16);
    return;
  }
  v128.store(tmp, c00); v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
  v128.store(tmp, c40, 128); v128.store(tmp, c41, 144);
  v128.store(tmp, c50, 160); v128.store(tmp, c51, 176);
  for (let i = 0; i < mr; i++) {
    const row = c + <usize>i * rs;
    const t = tmp + (<usize>(i * NR) << 2);
    for (let j = 0; j < nr; j++) {
      const o = <usize>j << 2;
      store<f32>(row + o, load<f32>(row + o) + load<f32>(t + o));
    }
  }
}

/**
 * Packs rows [i0, i0+mc) x columns [p0, p0+kc) of op(A), scaled by alpha,
 * into MR-row panels at dst (panel q at dst + q*kc*MR floats). op(A)[i][p] is
 * A[i*lda + p], or A[p*lda + i] when transposed.
 */
export function packA(
  trans: bool, a: usize, lda: i32, i0: i32, mc: i32, p0: i32, kc: i32, alpha: f32, dst: usize,
): void {
  for (let q = 0; q < mc; q += MR) {
    const rows = min(MR, mc - q);
    const panel = dst + (<usize>(q * kc) << 2);
    for (let i = 0; i < MR; i++) {
      const out = panel + (<usize>i << 2);
      if (i >= rows) {
        for (let p = 0; p < kc; p++) store<f32>(out + (<usize>(p * MR) << 2), 0);
        continue;
      }
      const r = i0 + q + i;
      if (trans) {
        let src = a + ((<usize>p0 * <usize>lda + <usize>r) << 2);
        const step = <usize>lda << 2;
        for (let p = 0; p < kc; p++) {
          store<f32>(out + (<usize>(p * MR) << 2), alpha * load<f32>(src));
          src += step;
        }
      } else {
        const src = a + ((<usize>r * <usize>lda + <usize>p0) << 2);
        for (let p = 0; p < kc; p++) {
          store<f32>(out + (<usize>(p * MR) << 2), alpha * load<f32>(src + (<usize>p << 2)));
        }
      }
    }
  }
}

/**
 * Packs rows [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR-column
 * panels at dst (panel q at dst + q*kc*NR floats). op(B)[p][j] is
 * B[p*ldb + j], or B[j*ldb + p] when transposed.
 */
export function packB(
  trans: bool, b: usize, ldb: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize,
): void {
  for (let q = 0; q < nc; q += NR) {
    const cols = min(NR, nc - q);
    const panel = dst + (<usize>(q * kc) << 2);
    if (!trans && cols == NR) {
      let src = b + ((<usize>p0 * <usize>ldb + <usize>(j0 + q)) << 2);
      const step = <usize>ldb << 2;
      for (let p = 0; p < kc; p++) {
        const out = panel + (<usize>(p * NR) << 2);
        v128.store(out, v128.load(src));
        v128.store(out, v128.load(src, 16), 16);
        src += step;
      }
      continue;
    }
    for (let j = 0; j < NR; j++) {
      const out = panel + (<usize>j << 2);
      if (j >= cols) {
        for (let p = 0; p < kc; p++) store<f32>(out + (<usize>(p * NR) << 2), 0);
        continue;
      }
      const col = j0 + q + j;
      for (let p = 0; p < kc; p++) {
        const src = trans
          ? b + ((<usize>col * <usize>ldb + <usize>(p0 + p)) << 2)
          : b + ((<usize>(p0 + p) * <usize>ldb + <usize>col) << 2);
        store<f32>(out + (<usize>(p * NR) << 2), load<f32>(src));
      }
    }
  }
}
