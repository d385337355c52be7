// conv2d backward-filter and bias gradient, f32x4.
// Shapes: X N x C x H x W, dY N x K x OH x OW, dW K x C/G x R x S, db K.
//   dW[g*Kg + k][kk] = sum_n sum_p dY[n][g*Kg + k][p] * col_n[kk][p]
// with kk = (c, r, s) and col the im2col matrix of image n, group g.
// Both operands are contiguous along pixels, so the micro-kernel is a 3x3
// block of dot products along p (9 accumulators + 3 col vectors + 1 dY
// vector = 13 live v128, under V8's 15 usable xmm). Each thread owns whole
// KB-row tiles of dW (split over outputs, never over the pixel reduction)
// and sums n, then PB-pixel blocks, then lanes, in a fixed order:
// bit-identical for any thread count. col rows of a tile are packed per
// pixel block into the workspace (KB x PB floats = 48 KiB).
import { shareStart, shareEnd } from "../common/partition";
import { madd, hsum } from "../common/simd";

const KB: i32 = 24;
const PB: i32 = 512;

/** Workspace bytes per thread for f32_conv2d_bwd_filter__wasmsimd. */
export function f32_conv2d_bwd_filter_workspace(): i32 {
  return KB * PB * 4;
}

/** col rows [kk0, kk0+kb) x pixels [p0, p0+pb) of one image/group into dst (row stride PB). */
function packColRows(
  x: usize, H: i32, W: i32, OW: i32, R: i32, S: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
  kk0: i32, kb: i32, p0: i32, pb: i32, dst: usize,
): void {
  const RS = R * S;
  const plane = <usize>(H * W);
  for (let t = 0; t < kb; t++) {
    const kk = kk0 + t;
    const c = kk / RS, rs = kk - c * RS;
    const r = rs / S, s = rs - r * S;
    const src = x + ((<usize>c * plane) << 2);
    const out = dst + (<usize>(t * PB) << 2);
    let oh = p0 / OW, ow = p0 - oh * OW;
    let i = 0;
    while (i < pb) {
      const seg = min(OW - ow, pb - i);
      const ih = oh * sh - pt + r * dh;
      const o = out + (<usize>i << 2);
      if (<u32>ih >= <u32>H) {
        for (let j = 0; j < seg; j++) store<f32>(o + (<usize>j << 2), 0);
      } else {
        const row = src + ((<usize>ih * <usize>W) << 2);
        const iwb = ow * sw - pl + s * dw;
        if (sw == 1) {
          // iw = iwb + j: zeros, a contiguous run, zeros.
          const ja = min(seg, max(0, -iwb)), jb = max(ja, min(seg, W - iwb));
          let j = 0;
          for (; j < ja; j++) store<f32>(o + (<usize>j << 2), 0);
          const p = row + (<usize>(iwb) << 2);
          for (; j + 4 <= jb; j += 4) v128.store(o + (<usize>j << 2), v128.load(p + (<usize>j << 2)));
          for (; j < jb; j++) store<f32>(o + (<usize>j << 2), load<f32>(p + (<usize>j << 2)));
          for (; j < seg; j++) store<f32>(o + (<usize>j << 2), 0);
        } else {
          for (let j = 0; j < seg; j++) {
            const iw = iwb + j * sw;
            store<f32>(o + (<usize>j << 2), <u32>iw < <u32>W ? load<f32>(row + (<usize>iw << 2)) : 0);
          }
        }
      }
      i += seg;
      ow = 0;
      oh++;
    }
  }
}

/**
 * out[i][j] += dot(a_i, b_j) over pb floats for i < rows, j < cols (3x3
 * block). Missing rows/columns reuse the last valid pointer and are not
 * stored. out rows are ldo floats apart.
 */
function dot3x3(
  pb: i32, a0: usize, a1: usize, a2: usize, b0: usize, b1: usize, b2: usize,
  out: usize, ldo: i32, rows: i32, cols: i32,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c22 = f32x4.splat(0);
  const pb4 = pb & ~3;
  for (let i = 0; i < pb4; i += 4) {
    const o = <usize>i << 2;
    const v0 = v128.load(b0 + o), v1 = v128.load(b1 + o), v2 = v128.load(b2 + o);
    const u0 = v128.load(a0 + o);
    c00 = madd(u0, v0, c00); c01 = madd(u0, v1, c01); c02 = madd(u0, v2, c02);
    const u1 = v128.load(a1 + o);
    c10 = madd(u1, v0, c10); c11 = madd(u1, v1, c11); c12 = madd(u1, v2, c12);
    const u2 = v128.load(a2 + o);
    c20 = madd(u2, v0, c20); c21 = madd(u2, v1, c21); c22 = madd(u2, v2, c22);
  }
  // Lanes first, then the pixel tail, always in this order.
  let s00 = hsum(c00), s01 = hsum(c01), s02 = hsum(c02);
  let s10 = hsum(c10), s11 = hsum(c11), s12 = hsum(c12);
  let s20 = hsum(c20), s21 = hsum(c21), s22 = hsum(c22);
  for (let i = pb4; i < pb; i++) {
    const o = <usize>i << 2;
    const v0 = load<f32>(b0 + o), v1 = load<f32>(b1 + o), v2 = load<f32>(b2 + o);
    const u0 = load<f32>(a0 + o), u1 = load<f32>(a1 + o), u2 = load<f32>(a2 + o);
    s00 += u0 * v0; s01 += u0 * v1; s02 += u0 * v2;
    s10 += u1 * v0; s11 += u1 * v1; s12 += u1 * v2;
    s20 += u2 * v0; s21 += u2 * v1; s22 += u2 * v2;
  }
  const rs = <usize>ldo << 2;
  store<f32>(out, load<f32>(out) + s00);
  if (cols > 1) store<f32>(out, load<f32>(out, 4) + s01, 4);
  if (cols > 2) store<f32>(out, load<f32>(out, 8) + s02, 8);
  if (rows < 2) return;
  out += rs;
  store<f32>(out, load<f32>(out) + s10);
  if (cols > 1) store<f32>(out, load<f32>(out, 4) + s11, 4);
  if (cols > 2) store<f32>(out, load<f32>(out, 8) + s12, 8);
  if (rows < 3) return;
  out += rs;
  store<f32>(out, load<f32>(out) + s20);
  if (cols > 1) store<f32>(out, load<f32>(out, 4) + s21, 4);
  if (cols > 2) store<f32>(out, load<f32>(out, 8) + s22, 8);
}

/** dW = sum over images and pixels of dY * im2col(X); sizes are the forward conv's. */
export function f32_conv2d_bwd_filter__wasmsimd(
  x: usize, dy: usize, dw: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, R: i32, S: i32, OH: i32, OW: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dwl: i32, G: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const Cg = C / G, Kg = K / G, RS = R * S, Kdim = Cg * RS, P = OH * OW;
  const tilesPer = (Kdim + KB - 1) / KB;
  const items = G * tilesPer;
  const i0 = shareStart(items, tid, nthreads), i1 = shareEnd(items, tid, nthreads);
  const col = workspace + <usize>tid * <usize>f32_conv2d_bwd_filter_workspace();
  const plane = <usize>(H * W);
  for (let item = i0; item < i1; item++) {
    const g = item / tilesPer, tile = item - g * tilesPer;
    const kk0 = tile * KB, kb = min(KB, Kdim - kk0);
    const dwBase = dw + ((<usize>(g * Kg) * <usize>Kdim + <usize>kk0) << 2);
    for (let k = 0; k < Kg; k++) {
      const row = dwBase + ((<usize>k * <usize>Kdim) << 2);
      for (let j = 0; j < kb; j++) store<f32>(row + (<usize>j << 2), 0);
    }
    for (let n = 0; n < N; n++) {
      const xg = x + ((<usize>(n * C + g * Cg) * plane) << 2);
      const dyg = dy + ((<usize>(n * K + g * Kg) * <usize>P) << 2);
      for (let p0 = 0; p0 < P; p0 += PB) {
        const pb = min(PB, P - p0);
        packColRows(xg, H, W, OW, R, S, sh, sw, pt, pl, dh, dwl, kk0, kb, p0, pb, col);
        for (let k = 0; k < Kg; k += 3) {
          const rows = min(3, Kg - k);
          const a0 = dyg + ((<usize>k * <usize>P + <usize>p0) << 2);
          const a1 = rows > 1 ? a0 + (<usize>P << 2) : a0;
          const a2 = rows > 2 ? a1 + (<usize>P << 2) : a1;
          for (let j = 0; j < kb; j += 3) {
            const cols = min(3, kb - j);
            const b0 = col + (<usize>(j * PB) << 2);
            const b1 = cols > 1 ? b0 + (<usize>PB << 2) : b0;
            const b2 = cols > 2 ? b1 + (<usize>PB << 2) : b1;
            dot3x3(
              pb, a0, a1, a2, b0, b1, b2,
              dwBase + ((<usize>k * <usize>Kdim + <usize>j) << 2), Kdim, rows, cols,
            );
          }
        }
      }
    }
  }
}

/** db[k] = sum over images and pixels of dY[n][k]; threads split k. */
export function f32_conv2d_bwd_bias__wasmsimd(
  dy: usize, db: usize, N: i32, K: i32, P: i32, tid: i32, nthreads: i32,
): void {
  const k0 = shareStart(K, tid, nthreads), k1 = shareEnd(K, tid, nthreads);
  const P4 = P & ~3;
  for (let k = k0; k < k1; k++) {
    let total: f32 = 0;
    for (let n = 0; n < N; n++) {
      const row = dy + ((<usize>(n * K + k) * <usize>P) << 2);
      let acc = f32x4.splat(0);
      for (let i = 0; i < P4; i += 4) acc = f32x4.add(acc, v128.load(row + (<usize>i << 2)));
      let s = hsum(acc);
      for (let i = P4; i < P; i++) s += load<f32>(row + (<usize>i << 2));
      total += s;
    }
    store<f32>(db + (<usize>k << 2), total);
  }
}
