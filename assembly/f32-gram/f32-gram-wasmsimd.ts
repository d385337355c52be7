// Gram matrix and its backward, f32x4 (shapes and formulas: f32-gram-scalar.ts).
//
// Forward G = scale F F^T: only the upper triangle is computed, in 4x2 tiles
// of dot products (8 f32x4 accumulators, 6 loads per 8 multiply-adds), then
// mirrored. M is cut into panels of GRAM_PANEL_FLOATS / C positions so that
// one panel of every row (256 KiB) stays in L2 while the tiles sweep it.
// Threads own blocks of 4 rows, shares balanced over the triangle's area.
// Every entry (i, j) is produced by the same arithmetic whatever the tile or
// thread: per panel, a 4-lane madd chain, lanes summed (0+1)+(2+3), the
// panel's tail added in order, the panel result added to G in panel order.
// So any thread count gives the same bits.
//
// Backward dF = S F (S = scale (dG + dG^T) from f32_gram_sym): a GEMM with
// 4x8 register tiles (8 accumulators, S broadcast by load32_splat), blocked
// over S's columns (GRAM_BWD_KB); each 8-column strip of F (KB rows) is
// packed contiguously (4 KiB, L1) and every row block of S passes over it.
// Threads own column ranges of dF (multiples of 8); each entry is one madd
// chain over j in order, so any thread count gives the same bits.
import { shareEnd, shareStart } from "../common/partition";
import { hsum, madd } from "../common/simd";
import { triangleShare } from "./f32-gram-common";

// @ts-ignore: decorator
@inline const GRAM_PANEL_FLOATS: i32 = 65536;
// @ts-ignore: decorator
@inline const GRAM_BWD_KB: i32 = 128;

/** Positions per panel for C rows: a multiple of 4, at least 64. */
// @ts-ignore: decorator
@inline
function gramPanel(C: i32): i32 {
  const kc = (GRAM_PANEL_FLOATS / C) & ~3;
  return kc < 64 ? 64 : kc;
}

/** s + sum of pa[k] * pb[k] for k in [from, to), in order (panel tails). */
// @ts-ignore: decorator
@inline
function addTail(s: f32, pa: usize, pb: usize, from: i32, to: i32): f32 {
  for (let k = from; k < to; k++) s += load<f32>(pa + (<usize>k << 2)) * load<f32>(pb + (<usize>k << 2));
  return s;
}

/** G[i, j] += dot of rows i and j over positions [k0, k1) (kv: end of whole vectors). */
// @ts-ignore: decorator
@inline
function gramDot1x1(f: usize, rowBytes: usize, i: i32, j: i32, k0: i32, kv: i32, k1: i32, g: usize, C: i32): void {
  const pa = f + <usize>i * rowBytes, pb = f + <usize>j * rowBytes;
  let acc = f32x4.splat(0);
  for (let k = k0; k < kv; k += 4) {
    const o = <usize>k << 2;
    acc = madd(v128.load(pa + o), v128.load(pb + o), acc);
  }
  const pg = g + ((<usize>i * <usize>C + <usize>j) << 2);
  store<f32>(pg, load<f32>(pg) + addTail(hsum(acc), pa, pb, kv, k1));
}

/** G[i0..i0+4, j0..j0+2] += the 8 dot products over positions [k0, k1). */
// @ts-ignore: decorator
@inline
function gramTile4x2(f: usize, rowBytes: usize, i0: i32, j0: i32, k0: i32, kv: i32, k1: i32, g: usize, C: i32): void {
  const a0 = f + <usize>i0 * rowBytes, a1 = a0 + rowBytes, a2 = a1 + rowBytes, a3 = a2 + rowBytes;
  const b0 = f + <usize>j0 * rowBytes, b1 = b0 + rowBytes;
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = k0; k < kv; k += 4) {
    const o = <usize>k << 2;
    const vb0 = v128.load(b0 + o), vb1 = v128.load(b1 + o);
    const va0 = v128.load(a0 + o);
    c00 = madd(va0, vb0, c00);
    c01 = madd(va0, vb1, c01);
    const va1 = v128.load(a1 + o);
    c10 = madd(va1, vb0, c10);
    c11 = madd(va1, vb1, c11);
    const va2 = v128.load(a2 + o);
    c20 = madd(va2, vb0, c20);
    c21 = madd(va2, vb1, c21);
    const va3 = v128.load(a3 + o);
    c30 = madd(va3, vb0, c30);
    c31 = madd(va3, vb1, c31);
  }
  const cb = <usize>C << 2;
  const g0 = g + ((<usize>i0 * <usize>C + <usize>j0) << 2), g1 = g0 + cb, g2 = g1 + cb, g3 = g2 + cb;
  store<f32>(g0, load<f32>(g0) + addTail(hsum(c00), a0, b0, kv, k1));
  store<f32>(g0, load<f32>(g0, 4) + addTail(hsum(c01), a0, b1, kv, k1), 4);
  store<f32>(g1, load<f32>(g1) + addTail(hsum(c10), a1, b0, kv, k1));
  store<f32>(g1, load<f32>(g1, 4) + addTail(hsum(c11), a1, b1, kv, k1), 4);
  store<f32>(g2, load<f32>(g2) + addTail(hsum(c20), a2, b0, kv, k1));
  store<f32>(g2, load<f32>(g2, 4) + addTail(hsum(c21), a2, b1, kv, k1), 4);
  store<f32>(g3, load<f32>(g3) + addTail(hsum(c30), a3, b0, kv, k1));
  store<f32>(g3, load<f32>(g3, 4) + addTail(hsum(c31), a3, b1, kv, k1), 4);
}

/** G = scale * F F^T (upper triangle in tiles, then mirrored). */
export function f32_gram__wasmsimd(f: usize, C: i32, M: i32, scale: f32, g: usize, tid: i32, nthreads: i32): void {
  const r0 = triangleShare(C, 4, tid, nthreads), r1 = min(triangleShare(C, 4, tid + 1, nthreads), C);
  if (r0 >= r1) return;
  const rowBytes = <usize>M << 2;
  // Zero the entries this thread accumulates: its rows, from the start of
  // each row's block (other threads' mirrors write only left of that).
  for (let i = r0; i < r1; i++) {
    const from = i & ~3;
    memory.fill(g + ((<usize>i * <usize>C + <usize>from) << 2), 0, <usize>(C - from) << 2);
  }
  const kc = gramPanel(C);
  for (let k0 = 0; k0 < M; k0 += kc) {
    const k1 = min(k0 + kc, M);
    const kv = k0 + ((k1 - k0) & ~3);
    for (let i0 = r0; i0 < r1; i0 += 4) {
      if (i0 + 4 <= C) {
        let j0 = i0;
        for (; j0 + 2 <= C; j0 += 2) gramTile4x2(f, rowBytes, i0, j0, k0, kv, k1, g, C);
        for (; j0 < C; j0++) {
          for (let i = i0; i < i0 + 4; i++) gramDot1x1(f, rowBytes, i, j0, k0, kv, k1, g, C);
        }
      } else {
        for (let i = i0; i < C; i++) {
          for (let j = i0; j < C; j++) gramDot1x1(f, rowBytes, i, j, k0, kv, k1, g, C);
        }
      }
    }
  }
  // Scale the upper entries of this thread's rows and mirror them.
  for (let i = r0; i < r1; i++) {
    for (let j = i; j < C; j++) {
      const v = load<f32>(g + ((<usize>i * <usize>C + <usize>j) << 2)) * scale;
      store<f32>(g + ((<usize>i * <usize>C + <usize>j) << 2), v);
      store<f32>(g + ((<usize>j * <usize>C + <usize>i) << 2), v);
    }
  }
}

/** S = scale * (dG + dG^T), split over rows (C^2 work: plain loads suffice). */
export function f32_gram_sym__wasmsimd(dg: usize, s: usize, C: i32, scale: f32, tid: i32, nthreads: i32): void {
  const r0 = shareStart(C, tid, nthreads), r1 = shareEnd(C, tid, nthreads);
  for (let i = r0; i < r1; i++) {
    for (let j = 0; j < C; j++) {
      const v = load<f32>(dg + ((<usize>i * <usize>C + <usize>j) << 2)) +
        load<f32>(dg + ((<usize>j * <usize>C + <usize>i) << 2));
      store<f32>(s + ((<usize>i * <usize>C + <usize>j) << 2), scale * v);
    }
  }
}

/**
 * Rows [i0, i0 + 4) x columns [q, q + 8) of dF over j in [j0, j1):
 * acc = (first ? 0 : dF) then madd chains, written back to dF. F's rows
 * j0..j1 at columns q..q+8 come packed (32 bytes a row) in `packed`.
 */
// @ts-ignore: decorator
@inline
function bwdTile4x8(
  s: usize, packed: usize, df: usize, C: i32, rowBytes: usize, i0: i32, q: i32, j0: i32, j1: i32, first: bool,
): void {
  const cb = <usize>C << 2;
  const o = <usize>q << 2;
  const d0 = df + <usize>i0 * rowBytes + o, d1 = d0 + rowBytes, d2 = d1 + rowBytes, d3 = d2 + rowBytes;
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (!first) {
    c00 = v128.load(d0); c01 = v128.load(d0, 16);
    c10 = v128.load(d1); c11 = v128.load(d1, 16);
    c20 = v128.load(d2); c21 = v128.load(d2, 16);
    c30 = v128.load(d3); c31 = v128.load(d3, 16);
  }
  let ps = s + ((<usize>i0 * <usize>C + <usize>j0) << 2);
  let pf = packed;
  for (let j = j0; j < j1; j++) {
    const vb0 = v128.load(pf), vb1 = v128.load(pf, 16);
    const va0 = v128.load32_splat(ps);
    c00 = madd(va0, vb0, c00);
    c01 = madd(va0, vb1, c01);
    const va1 = v128.load32_splat(ps + cb);
    c10 = madd(va1, vb0, c10);
    c11 = madd(va1, vb1, c11);
    const va2 = v128.load32_splat(ps + 2 * cb);
    c20 = madd(va2, vb0, c20);
    c21 = madd(va2, vb1, c21);
    const va3 = v128.load32_splat(ps + 3 * cb);
    c30 = madd(va3, vb0, c30);
    c31 = madd(va3, vb1, c31);
    ps += 4;
    pf += 32;
  }
  v128.store(d0, c00); v128.store(d0, c01, 16);
  v128.store(d1, c10); v128.store(d1, c11, 16);
  v128.store(d2, c20); v128.store(d2, c21, 16);
  v128.store(d3, c30); v128.store(d3, c31, 16);
}

/** One row i, four columns [q, q + 4): the same lane arithmetic as the 4x8 tile. */
// @ts-ignore: decorator
@inline
function bwdTile1x4(
  s: usize, f: usize, df: usize, C: i32, rowBytes: usize, i: i32, q: i32, j0: i32, j1: i32, first: bool,
): void {
  const o = <usize>q << 2;
  const d = df + <usize>i * rowBytes + o;
  let c = first ? f32x4.splat(0) : v128.load(d);
  let ps = s + ((<usize>i * <usize>C + <usize>j0) << 2);
  let pf = f + <usize>j0 * rowBytes + o;
  for (let j = j0; j < j1; j++) {
    c = madd(v128.load32_splat(ps), v128.load(pf), c);
    ps += 4;
    pf += rowBytes;
  }
  v128.store(d, c);
}

/** One entry (i, q): scalar chain, used only for the last M % 4 columns. */
// @ts-ignore: decorator
@inline
function bwdTile1x1(
  s: usize, f: usize, df: usize, C: i32, rowBytes: usize, i: i32, q: i32, j0: i32, j1: i32, first: bool,
): void {
  const o = <usize>q << 2;
  const d = df + <usize>i * rowBytes + o;
  let c: f32 = first ? 0 : load<f32>(d);
  for (let j = j0; j < j1; j++) {
    c += load<f32>(s + ((<usize>i * <usize>C + <usize>j) << 2)) * load<f32>(f + <usize>j * rowBytes + o);
  }
  store<f32>(d, c);
}

/** Bytes of workspace per thread for f32_gram_bwd__wasmsimd: one packed strip. */
export function f32_gram_bwd_workspace(C: i32, M: i32): i32 {
  return GRAM_BWD_KB * 8 * 4;
}

/**
 * dF = S F (S [C, C] from f32_gram_sym); df must not alias f or s.
 * workspace: nthreads x f32_gram_bwd_workspace bytes.
 */
export function f32_gram_bwd__wasmsimd(
  s: usize, f: usize, df: usize, C: i32, M: i32, workspace: usize, tid: i32, nthreads: i32,
): void {
  const packed = workspace + <usize>tid * <usize>(GRAM_BWD_KB * 8 * 4);
  // Column ranges in multiples of 8; the last thread takes the remainder, so
  // the scalar columns (the last M % 4) are the same for any thread count.
  const cs = tid == 0 ? 0 : (shareStart(M, tid, nthreads) & ~7);
  const ce = tid == nthreads - 1 ? M : (shareEnd(M, tid, nthreads) & ~7);
  if (cs >= ce) return;
  const rowBytes = <usize>M << 2;
  for (let j0 = 0; j0 < C; j0 += GRAM_BWD_KB) {
    const j1 = min(j0 + GRAM_BWD_KB, C);
    const first = j0 == 0;
    // Strips of 8 columns outer, row blocks inner: the strip of F (KB rows x
    // 32 bytes) stays in L1 while every row block of S streams past it.
    let q = cs;
    for (; q + 8 <= ce; q += 8) {
      // Pack the strip: F's rows are M floats apart, often a multiple of
      // 4 KiB, which would map the whole strip onto a few L1 sets.
      let pf = f + <usize>j0 * rowBytes + (<usize>q << 2);
      for (let j = 0; j < j1 - j0; j++) {
        v128.store(packed + (<usize>j << 5), v128.load(pf));
        v128.store(packed + (<usize>j << 5), v128.load(pf, 16), 16);
        pf += rowBytes;
      }
      let i0 = 0;
      for (; i0 + 4 <= C; i0 += 4) bwdTile4x8(s, packed, df, C, rowBytes, i0, q, j0, j1, first);
      for (let i = i0; i < C; i++) {
        bwdTile1x4(s, f, df, C, rowBytes, i, q, j0, j1, first);
        bwdTile1x4(s, f, df, C, rowBytes, i, q + 4, j0, j1, first);
      }
    }
    for (; q + 4 <= ce; q += 4) {
      for (let i = 0; i < C; i++) bwdTile1x4(s, f, df, C, rowBytes, i, q, j0, j1, first);
    }
    for (; q < ce; q++) {
      for (let i = 0; i < C; i++) bwdTile1x1(s, f, df, C, rowBytes, i, q, j0, j1, first);
    }
  }
}
