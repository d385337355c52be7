// conv2d forward for stride 1 and few output channels per group, f32x4:
// f32-conv2d-fwd-rows-wasmsimd.ts with 4 output rows (and up to 2 vectors
// of 4 pixels) per pass. The one-row kernel keeps one accumulator, so its
// Cg*R*S multiply-adds per vector form one dependent chain (FMA latency
// bound: ~2 GFLOP/s on the generator's 64 -> 1 transposed conv phases);
// here 4-8 independent chains share each weight splat. Each pixel still sums
// its taps in the order (c, r, s), skipping rows outside the image, so the
// vector pixels equal the one-row kernel's bit for bit.
// A last partial vector (OW not a multiple of 4) also runs as a vector when
// its 4 lanes' inputs lie inside the row (the caller may pad the input on
// the right so they do) and stores only its in-range lanes.
// Same arguments as f32_conv2d_fwd__scalar (its plain-loop twin): raw KCRS
// weights, stride 1, any dilation including negative, no workspace.
//   Y[n][k][oh][ow] = bias[k] + sum_{c,r,s} X[n][c][oh - pt + r*dh][ow - pl + s*dw] * W[k][c][r][s]
// Threads split the (n, k) output planes.
import { shareStart, shareEnd } from "../common/partition";
import { madd } from "../common/simd";

/** Stores the first `cols` lanes of v at p (cols in 1..4). */
// @ts-ignore: decorator
@inline
function storeLanes(p: usize, v: v128, cols: i32): void {
  if (cols >= 4) { v128.store(p, v); return; }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (cols > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (cols > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/**
 * 4 rows x `nv` (1 or 2) vectors of output at (oh, ow): rows >= nr are not
 * computed; the last vector stores `cols` lanes.
 */
// @ts-ignore: decorator
@inline
function block(
  xg: usize, wk: usize, yp: usize, b: f32, Cg: i32, H: i32, W: i32, R: i32, S: i32,
  OW: i32, pt: i32, pl: i32, dh: i32, dw: i32, oh: i32, nr: i32, ow: i32, nv: i32, cols: i32,
): void {
  const plane = <usize>(H * W) << 2;
  let a0 = f32x4.splat(b), a1 = a0, a2 = a0, a3 = a0;
  let e0 = a0, e1 = a0, e2 = a0, e3 = a0;
  for (let c = 0; c < Cg; c++) {
    const xc = xg + <usize>c * plane;
    const wc = wk + ((<usize>(c * R * S)) << 2);
    for (let r = 0; r < R; r++) {
      const ih = oh - pt + r * dh;
      const v0 = <u32>ih < <u32>H, v1 = nr > 1 && <u32>(ih + 1) < <u32>H;
      const v2 = nr > 2 && <u32>(ih + 2) < <u32>H, v3 = nr > 3 && <u32>(ih + 3) < <u32>H;
      const x0 = xc + ((<usize>ih * <usize>W + <usize>(ow - pl)) << 2);
      const x1 = x0 + (<usize>W << 2), x2 = x1 + (<usize>W << 2), x3 = x2 + (<usize>W << 2);
      const wr = wc + (<usize>(r * S) << 2);
      if (v0 && v3) {
        // All 4 rows inside the image (the common case): no per-row tests.
        for (let s = 0; s < S; s++) {
          const wv = v128.load32_splat(wr + (<usize>s << 2));
          const o = <usize>(s * dw) << 2;
          a0 = madd(wv, v128.load(x0 + o), a0);
          a1 = madd(wv, v128.load(x1 + o), a1);
          a2 = madd(wv, v128.load(x2 + o), a2);
          a3 = madd(wv, v128.load(x3 + o), a3);
          if (nv > 1) {
            e0 = madd(wv, v128.load(x0 + o, 16), e0);
            e1 = madd(wv, v128.load(x1 + o, 16), e1);
            e2 = madd(wv, v128.load(x2 + o, 16), e2);
            e3 = madd(wv, v128.load(x3 + o, 16), e3);
          }
        }
        continue;
      }
      for (let s = 0; s < S; s++) {
        const wv = v128.load32_splat(wr + (<usize>s << 2));
        const o = <usize>(s * dw) << 2;
        if (v0) a0 = madd(wv, v128.load(x0 + o), a0);
        if (v1) a1 = madd(wv, v128.load(x1 + o), a1);
        if (v2) a2 = madd(wv, v128.load(x2 + o), a2);
        if (v3) a3 = madd(wv, v128.load(x3 + o), a3);
        if (nv > 1) {
          if (v0) e0 = madd(wv, v128.load(x0 + o, 16), e0);
          if (v1) e1 = madd(wv, v128.load(x1 + o, 16), e1);
          if (v2) e2 = madd(wv, v128.load(x2 + o, 16), e2);
          if (v3) e3 = madd(wv, v128.load(x3 + o, 16), e3);
        }
      }
    }
  }
  const row = <usize>OW << 2;
  const y0 = yp + ((<usize>oh * <usize>OW + <usize>ow) << 2);
  if (nv > 1) {
    v128.store(y0, a0);
    storeLanes(y0 + 16, e0, cols);
    if (nr > 1) { v128.store(y0 + row, a1); storeLanes(y0 + row + 16, e1, cols); }
    if (nr > 2) { v128.store(y0 + 2 * row, a2); storeLanes(y0 + 2 * row + 16, e2, cols); }
    if (nr > 3) { v128.store(y0 + 3 * row, a3); storeLanes(y0 + 3 * row + 16, e3, cols); }
  } else {
    storeLanes(y0, a0, cols);
    if (nr > 1) storeLanes(y0 + row, a1, cols);
    if (nr > 2) storeLanes(y0 + 2 * row, a2, cols);
    if (nr > 3) storeLanes(y0 + 3 * row, a3, cols);
  }
}

export function f32_conv2d_fwd_rows4__wasmsimd(
  x: usize, w: usize, bias: usize, y: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, R: i32, S: i32, OH: i32, OW: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, G: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const Cg = C / G, Kg = K / G;
  const plane = <usize>(H * W) << 2;
  const i0 = shareStart(N * K, tid, nthreads), i1 = shareEnd(N * K, tid, nthreads);
  // Output columns whose 4-pixel vectors read inside the row for every s.
  const sLo = min(0, (S - 1) * dw), sHi = max(0, (S - 1) * dw);
  const owA = max(0, pl - sLo), owB = min(OW, W + pl - sHi);
  // Vector columns: [owA, owEnd) with 4-pixel steps; the last step may be
  // partial (ow + 4 > OW) when its 4 lanes still read inside the row.
  let owEnd = owA;
  if (owA < owB) {
    owEnd = owA + ((owB - owA) >> 2 << 2);
    if (owEnd < OW && owEnd - pl + sHi + 3 < W) owEnd = OW;
  }
  for (let item = i0; item < i1; item++) {
    const n = item / K, k = item - n * K, g = k / Kg;
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>k << 2)) : 0;
    const xg = x + <usize>(n * C + g * Cg) * plane;
    const wk = w + ((<usize>(k * Cg) * <usize>(R * S)) << 2);
    const yp = y + ((<usize>item * <usize>(OH * OW)) << 2);
    for (let oh = 0; oh < OH; oh += 4) {
      const nr = min(4, OH - oh);
      let ow = owA;
      for (; ow + 8 <= owEnd; ow += 8) {
        block(xg, wk, yp, b, Cg, H, W, R, S, OW, pt, pl, dh, dw, oh, nr, ow, 2, min(4, owEnd - ow - 4));
      }
      for (; ow < owEnd; ow += 4) {
        block(xg, wk, yp, b, Cg, H, W, R, S, OW, pt, pl, dh, dw, oh, nr, ow, 1, min(4, owEnd - ow));
      }
      // Borders: one pixel at a time, in the same tap order.
      for (let i = 0; i < nr; i++) {
        const ohi = oh + i;
        const yrow = yp + ((<usize>ohi * <usize>OW) << 2);
        for (let o = 0; o < OW; o++) {
          if (o >= owA && o < owEnd) { o = owEnd - 1; continue; }
          let sum: f32 = b;
          for (let c = 0; c < Cg; c++) {
            const xc = xg + <usize>c * plane;
            const wc = wk + ((<usize>(c * R * S)) << 2);
            for (let r = 0; r < R; r++) {
              const ih = ohi - pt + r * dh;
              if (<u32>ih >= <u32>H) continue;
              const xrow = xc + ((<usize>ih * <usize>W) << 2);
              for (let s = 0; s < S; s++) {
                const iw = o - pl + s * dw;
                if (<u32>iw >= <u32>W) continue;
                sum += load<f32>(wc + (<usize>(r * S + s) << 2)) * load<f32>(xrow + (<usize>iw << 2));
              }
            }
          }
          store<f32>(yrow + (<usize>o << 2), sum);
        }
      }
    }
  }
}

/**
 * Zero padding (a layout helper for f32_conv2d_fwd_rows4__wasmsimd, plain
 * loops): X planes x H x W -> Y planes x (H+pt+pb) x (W+pl+pr), zeros
 * outside. Threads split the planes.
 */
export function f32_conv2d_pad_zero(
  x: usize, y: usize, planes: i32, H: i32, W: i32, pt: i32, pb: i32, pl: i32, pr: i32,
  tid: i32, nthreads: i32,
): void {
  const OH = H + pt + pb, OW = W + pl + pr;
  const i0 = shareStart(planes, tid, nthreads), i1 = shareEnd(planes, tid, nthreads);
  for (let p = i0; p < i1; p++) {
    const xp = x + ((<usize>p * <usize>(H * W)) << 2);
    const yp = y + ((<usize>p * <usize>(OH * OW)) << 2);
    for (let i = 0; i < OH; i++) {
      const yrow = yp + ((<usize>(i * OW)) << 2);
      const si = i - pt;
      if (<u32>si >= <u32>H) {
        for (let j = 0; j < OW; j++) store<f32>(yrow + (<usize>j << 2), 0);
        continue;
      }
      const xrow = xp + ((<usize>(si * W)) << 2);
      for (let j = 0; j < pl; j++) store<f32>(yrow + (<usize>j << 2), 0);
      memory.copy(yrow + (<usize>pl << 2), xrow, <usize>W << 2);
      for (let j = pl + W; j < OW; j++) store<f32>(yrow + (<usize>j << 2), 0);
    }
  }
}
