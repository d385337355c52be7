// 3x3 stride-1 convolution by Winograd F(2x2, 3x3), f32x4, as 16 GEMMs on
// the 6x8 micro-kernel (Lavin & Gray 2016, "Fast algorithms for convolutional
// neural networks", section 4; the transforms are their eq. 8-9 for m = 2,
// r = 3). Each 2x2 output tile costs 16 multiplies per (input, output)
// channel pair instead of 36: 2.25x fewer than the direct convolution.
//
// Shapes: In N x C x H x W, Out N x K x OH x OW (NCHW), bias K (0 = none).
//   Out[n][k][oh][ow] = bias[k] + sum_c sum_{r,s<3} In[n][c][oh - pt + r][ow - pl + s] * g[k][c][r][s]
// with In zero outside H x W. pt and pl may be negative or larger than 2, so
// the same kernel runs
//   forward conv 3x3 s1 d1 g1:  g = W[k][c],                 pt, pl as given;
//   backward-data of that conv: g = W[c][k] flipped in r, s, pt' = 2 - pt (the
//   transposed conv of stride 1 is a full correlation with the flipped kernel).
//
// Transforms (Lavin & Gray eq. 8): d is a 4x4 input patch, g a 3x3 filter,
//   U = G g G^T,  V = B^T d B,  Y = A^T [U . V] A  (2x2 outputs), with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
//   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// Summed over channels, entry xi = (i, j) of U . V becomes a GEMM
//   M_xi[k][t] = sum_c U_xi[k][c] * V_xi[c][t]   (t = tile).
//
// Layouts:
//   U (f32_conv2d_winograd_pack_weights): for each xi, ceil(K/MR) micro-kernel
//     A panels of MR rows x C (rows >= K are zero):
//     U[xi][q][c][i] at float (xi*(Kpad*C + 16) + q*MR*C + c*MR + i), row
//     k = q*MR + i (the 16-float gap: see uXiFloats).
//   V (workspace): for each xi, NT/NR B panels of C x NR tiles:
//     V[xi][q][c][l] at float (xi*(C*NT + 16) + q*C*NR + c*NR + l).
//   M (workspace): M[xi][k - kb0][t] at float (xi*(WKB*NT + 16) + (k - kb0)*NT + t).
// Work items are (image, block of NT consecutive tiles in row-major order);
// threads take contiguous ranges of items. A tile's arithmetic does not
// depend on its item, NT or thread: bit-identical for any thread count.
import { shareStart, shareEnd } from "../common/partition";
import { MR, NR } from "../f32-gemm/f32-gemm-6x8-ukernel-wasmsimd";
import { winogradSlabGemm } from "./f32-conv2d-winograd-gemm-wasmsimd";
import {
  ROWBUF, XI_GAP, columnTransform, patchRowsFast, patchRowsGather,
} from "./f32-conv2d-winograd-transforms-wasmsimd";

/**
 * Most tiles per work item (8 B panels): each weight panel loaded feeds 8
 * micro-kernel calls. V and M are used one xi at a time, so their per-xi
 * slices (C x NT and WKB x NT floats) are what must stay in L1/L2. Measured
 * on the VGG shapes: 64 beats 32 by 20% at C = K = 512 and ties elsewhere;
 * 128 ties with 64.
 */
const NT_MAX: i32 = 64;

/**
 * Tiles per work item: NT_MAX, halved (down to NR) until there are at least
 * 4 items per thread, so small images still split across threads. A tile's
 * arithmetic does not depend on NT, so this keeps results bit-identical.
 */
function tilesPerItem(N: i32, T: i32, nthreads: i32): i32 {
  let nt = NT_MAX;
  while (nt > NR && N * ((T + nt - 1) / nt) < 4 * nthreads) nt >>= 1;
  return nt;
}
/** Output channels per block: M for a block is 16 x WKB x NT floats (<= 192 KiB). */
const WKB: i32 = 48;
const HALF: f32 = 0.5;

// @ts-ignore: decorator
@inline
function kPad(K: i32): i32 {
  return (K + MR - 1) / MR * MR;
}

/** Floats between the 16 xi slabs of U. */
// @ts-ignore: decorator
@inline
function uXiFloats(K: i32, C: i32): i32 {
  return kPad(K) * C + XI_GAP;
}

/** Bytes of transformed weights for K output rows and C input channels. */
export function f32_conv2d_winograd_weights_bytes(K: i32, C: i32): i32 {
  return 16 * uXiFloats(K, C) * 4;
}

/**
 * U = G g G^T for every (row k < K, column c < C) into the layout above.
 * g[r][s] = w[k*strideK + c*strideC + r*3 + s], or w[... + (2-r)*3 + (2-s)]
 * when flip != 0. Forward: strideK = C*9, strideC = 9, flip 0. Backward data
 * of a conv with Kf outputs and Cf inputs: K = Cf, C = Kf, strideK = 9,
 * strideC = Cf*9, flip 1. Threads split the padded rows. Plain loads and
 * stores (a layout helper: no separate scalar twin).
 */
export function f32_conv2d_winograd_pack_weights(
  w: usize, dst: usize, K: i32, C: i32, strideK: i32, strideC: i32, flip: i32,
  tid: i32, nthreads: i32,
): void {
  const Kp = kPad(K);
  const r0 = shareStart(Kp, tid, nthreads), r1 = shareEnd(Kp, tid, nthreads);
  const xs = <usize>uXiFloats(K, C) << 2;
  for (let k = r0; k < r1; k++) {
    const q = k / MR, i = k - q * MR;
    const rowBase = dst + ((<usize>(q * MR) * <usize>C + <usize>i) << 2);
    for (let c = 0; c < C; c++) {
      const out = rowBase + (<usize>(c * MR) << 2);
      if (k >= K) {
        for (let xi = 0; xi < 16; xi++) store<f32>(out + <usize>xi * xs, 0);
        continue;
      }
      const src = w + ((<usize>k * <usize>strideK + <usize>c * <usize>strideC) << 2);
      // g with the flip applied: row r, column s.
      let g00 = load<f32>(src), g01 = load<f32>(src, 4), g02 = load<f32>(src, 8);
      const g10 = load<f32>(src, 12), g11 = load<f32>(src, 16), g12 = load<f32>(src, 20);
      let g20 = load<f32>(src, 24), g21 = load<f32>(src, 28), g22 = load<f32>(src, 32);
      let g10f = g10, g12f = g12;
      if (flip != 0) {
        let t = g00; g00 = g22; g22 = t;
        t = g01; g01 = g21; g21 = t;
        t = g02; g02 = g20; g20 = t;
        g10f = g12; g12f = g10;
      }
      // Gg (4 x 3): rows g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2.
      const a00 = g00, a01 = g01, a02 = g02;
      const a10 = HALF * (g00 + g10f + g20), a11 = HALF * (g01 + g11 + g21), a12 = HALF * (g02 + g12f + g22);
      const a20 = HALF * (g00 - g10f + g20), a21 = HALF * (g01 - g11 + g21), a22 = HALF * (g02 - g12f + g22);
      const a30 = g20, a31 = g21, a32 = g22;
      // (Gg) G^T, row by row: (a0, (a0 + a1 + a2)/2, (a0 - a1 + a2)/2, a2).
      store<f32>(out, a00);
      store<f32>(out + xs, HALF * (a00 + a01 + a02));
      store<f32>(out + 2 * xs, HALF * (a00 - a01 + a02));
      store<f32>(out + 3 * xs, a02);
      store<f32>(out + 4 * xs, a10);
      store<f32>(out + 5 * xs, HALF * (a10 + a11 + a12));
      store<f32>(out + 6 * xs, HALF * (a10 - a11 + a12));
      store<f32>(out + 7 * xs, a12);
      store<f32>(out + 8 * xs, a20);
      store<f32>(out + 9 * xs, HALF * (a20 + a21 + a22));
      store<f32>(out + 10 * xs, HALF * (a20 - a21 + a22));
      store<f32>(out + 11 * xs, a22);
      store<f32>(out + 12 * xs, a30);
      store<f32>(out + 13 * xs, HALF * (a30 + a31 + a32));
      store<f32>(out + 14 * xs, HALF * (a30 - a31 + a32));
      store<f32>(out + 15 * xs, a32);
    }
  }
}

/** Workspace bytes per thread of f32_conv2d_winograd__wasmsimd. */
export function f32_conv2d_winograd_workspace(C: i32, K: i32): i32 {
  return (16 * (C * NT_MAX + XI_GAP) + 16 * (WKB * NT_MAX + XI_GAP) + MR * NR + 4 * ROWBUF) * 4;
}

/**
 * Y for output channel k of the 8 tiles t0..t0+7 of a panel from M (m at
 * M[0][k][q*NR], xi stride xiStride floats), + bias. oneRow: the tiles lie
 * in one tile row (vector stores); else tile by tile through scratch.
 */
function outputTransform(
  m: usize, xiStride: usize, yplane: usize, OH: i32, OW: i32, TW: i32, t0: i32,
  lanes: i32, bv: f32, scratch: usize, oneRow: bool,
): void {
  const th0 = t0 / TW;
  const oh0 = 2 * th0, ow0 = 2 * (t0 - th0 * TW);
  const s = xiStride << 2;
  const b = f32x4.splat(bv);
  for (let h = 0; h < 2; h++) {
    const base = m + (<usize>h << 4);
    // A^T m along j for each row i: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3.
    let x0 = v128.load(base), x1 = v128.load(base + s), x2 = v128.load(base + 2 * s), x3 = v128.load(base + 3 * s);
    let s00 = f32x4.add(f32x4.add(x0, x1), x2), s01 = f32x4.sub(f32x4.sub(x1, x2), x3);
    x0 = v128.load(base + 4 * s); x1 = v128.load(base + 5 * s); x2 = v128.load(base + 6 * s); x3 = v128.load(base + 7 * s);
    const s10 = f32x4.add(f32x4.add(x0, x1), x2), s11 = f32x4.sub(f32x4.sub(x1, x2), x3);
    x0 = v128.load(base + 8 * s); x1 = v128.load(base + 9 * s); x2 = v128.load(base + 10 * s); x3 = v128.load(base + 11 * s);
    const s20 = f32x4.add(f32x4.add(x0, x1), x2), s21 = f32x4.sub(f32x4.sub(x1, x2), x3);
    x0 = v128.load(base + 12 * s); x1 = v128.load(base + 13 * s); x2 = v128.load(base + 14 * s); x3 = v128.load(base + 15 * s);
    const s30 = f32x4.add(f32x4.add(x0, x1), x2), s31 = f32x4.sub(f32x4.sub(x1, x2), x3);
    // Then along i: row 0 = s0 + s1 + s2, row 1 = s1 - s2 - s3.
    const y00 = f32x4.add(f32x4.add(f32x4.add(s00, s10), s20), b);
    const y01 = f32x4.add(f32x4.add(f32x4.add(s01, s11), s21), b);
    const y10 = f32x4.add(f32x4.sub(f32x4.sub(s10, s20), s30), b);
    const y11 = f32x4.add(f32x4.sub(f32x4.sub(s11, s21), s31), b);
    // Interleave the two columns of each tile: lane l -> pixels 2l, 2l + 1.
    const r0a = v128.shuffle<f32>(y00, y01, 0, 4, 1, 5);
    const r0b = v128.shuffle<f32>(y00, y01, 2, 6, 3, 7);
    const r1a = v128.shuffle<f32>(y10, y11, 0, 4, 1, 5);
    const r1b = v128.shuffle<f32>(y10, y11, 2, 6, 3, 7);
    const lanesHere = min(4, lanes - h * 4);
    if (lanesHere <= 0) return;
    if (!oneRow) {
      // Tiles span rows: y[a][b] of tile t at (2*th + a, 2*tw + b).
      v128.store(scratch, r0a);
      v128.store(scratch, r0b, 16);
      v128.store(scratch, r1a, 32);
      v128.store(scratch, r1b, 48);
      for (let l = 0; l < lanesHere; l++) {
        const t = t0 + h * 4 + l;
        const th = t / TW, tw = t - th * TW;
        for (let a = 0; a < 2; a++) {
          const oh = 2 * th + a;
          if (oh >= OH) break;
          const row = yplane + ((<usize>oh * <usize>OW + <usize>(2 * tw)) << 2);
          const src = scratch + (<usize>(a * 8 + 2 * l) << 2);
          store<f32>(row, load<f32>(src));
          if (2 * tw + 1 < OW) store<f32>(row, load<f32>(src, 4), 4);
        }
      }
      continue;
    }
    const ow = ow0 + h * 8;
    for (let a = 0; a < 2; a++) {
      const oh = oh0 + a;
      if (oh >= OH) break;
      const va = a == 0 ? r0a : r1a, vb = a == 0 ? r0b : r1b;
      const row = yplane + ((<usize>oh * <usize>OW + <usize>ow) << 2);
      const cols = min(2 * lanesHere, OW - ow);
      if (cols == 8) {
        v128.store(row, va);
        v128.store(row, vb, 16);
      } else {
        // Right edge: through 8 floats of scratch, element by element.
        v128.store(scratch, va);
        v128.store(scratch, vb, 16);
        for (let e = 0; e < cols; e++) store<f32>(row + (<usize>e << 2), load<f32>(scratch + (<usize>e << 2)));
      }
    }
  }
}

/** Out = conv3x3(In, g) + bias by F(2x2, 3x3); u from f32_conv2d_winograd_pack_weights. */
export function f32_conv2d_winograd__wasmsimd(
  x: usize, u: usize, bias: usize, y: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, OH: i32, OW: i32, pt: i32, pl: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1;
  const T = TH * TW;
  const NT = tilesPerItem(N, T, nthreads);
  const blocks = (T + NT - 1) / NT;
  const items = N * blocks;
  const i0 = shareStart(items, tid, nthreads), i1 = shareEnd(items, tid, nthreads);
  if (i0 >= i1) return;
  const ws = workspace + <usize>tid * <usize>f32_conv2d_winograd_workspace(C, K);
  const vbuf = ws;
  const mbuf = vbuf + (<usize>(16 * (C * NT_MAX + XI_GAP)) << 2);
  const tmp = mbuf + (<usize>(16 * (WKB * NT_MAX + XI_GAP)) << 2);
  const rowbuf = tmp + (<usize>(MR * NR) << 2);
  // The 4 row-transformed patch rows (4 x 32 floats) reuse M's first 512 B
  // while V is built (M is rewritten afterwards).
  const rows = mbuf;
  const vXi = <usize>(C * NT + XI_GAP);
  const mXi = <usize>(WKB * NT + XI_GAP);
  const uXi = <usize>uXiFloats(K, C);
  const inPlane = <usize>(H * W) << 2, outPlane = <usize>(OH * OW) << 2;
  for (let item = i0; item < i1; item++) {
    const b = item % blocks, n = item / blocks;
    // Tiles in row-major order over the TH x TW tile grid: [t0, t0 + nt).
    const t0 = b * NT;
    const nt = min(NT, T - t0);
    const panels = (nt + NR - 1) / NR;
    const xn = x + <usize>n * <usize>C * inPlane;
    const yn = y + <usize>n * <usize>K * outPlane;
    // Input transform: V[xi][q][c][lane] for every channel and panel.
    for (let q = 0; q < panels; q++) {
      const tq = t0 + q * NR, lanes = min(NR, nt - q * NR);
      const th = tq / TW, tw = tq - th * TW;
      const oneRow = lanes == NR && tw + NR <= TW;
      for (let c = 0; c < C; c++) {
        const plane = xn + <usize>c * inPlane;
        if (oneRow) {
          patchRowsFast(plane, H, W, 2 * th - pt, 2 * tw - pl, rowbuf, rows);
        } else {
          patchRowsGather(plane, H, W, TW, tq, lanes, pt, pl, rows);
        }
        columnTransform(rows, vbuf + ((<usize>(q * C * NR + c * NR)) << 2), vXi);
      }
    }
    for (let kb0 = 0; kb0 < K; kb0 += WKB) {
      const kb = min(WKB, K - kb0);
      // M_xi = U_xi · V_xi for every transform element.
      winogradSlabGemm(16, u, uXi, vbuf, vXi, mbuf, mXi, C, kb0, kb, NT, panels, tmp);
      // Output transform, channel by channel.
      for (let k = 0; k < kb; k++) {
        const bv: f32 = bias != 0 ? load<f32>(bias + (<usize>(kb0 + k) << 2)) : 0;
        const yplane = yn + <usize>(kb0 + k) * outPlane;
        for (let q = 0; q < panels; q++) {
          const tq = t0 + q * NR, lanes = min(NR, nt - q * NR);
          const tw = tq % TW;
          outputTransform(
            mbuf + (<usize>(k * NT + q * NR) << 2), mXi, yplane, OH, OW, TW, tq,
            lanes, bv, tmp, lanes == NR && tw + NR <= TW,
          );
        }
      }
    }
  }
}

/**
 * Plain-loop twin of f32_conv2d_winograd__wasmsimd (same arguments and
 * transformed weights, workspace unused): the same F(2x2, 3x3) algorithm,
 * one tile, output channel and input channel at a time.
 */
export function f32_conv2d_winograd__scalar(
  x: usize, u: usize, bias: usize, y: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, OH: i32, OW: i32, pt: i32, pl: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1;
  const items = N * TH;
  const i0 = shareStart(items, tid, nthreads), i1 = shareEnd(items, tid, nthreads);
  const uXi = <usize>uXiFloats(K, C);
  for (let item = i0; item < i1; item++) {
    const th = item % TH, n = item / TH;
    for (let tw = 0; tw < TW; tw++) {
      for (let k = 0; k < K; k++) {
        const q = k / MR, ki = k - q * MR;
        // m[xi] = sum_c U[xi][k][c] * V[xi][c]
        let m0: f32 = 0, m1: f32 = 0, m2: f32 = 0, m3: f32 = 0, m4: f32 = 0, m5: f32 = 0, m6: f32 = 0, m7: f32 = 0;
        let m8: f32 = 0, m9: f32 = 0, m10: f32 = 0, m11: f32 = 0, m12: f32 = 0, m13: f32 = 0, m14: f32 = 0, m15: f32 = 0;
        for (let c = 0; c < C; c++) {
          const plane = x + ((<usize>(n * C + c) * <usize>(H * W)) << 2);
          // d: the 4x4 input patch (zero outside the image), then t = d B.
          let t00: f32 = 0, t01: f32 = 0, t02: f32 = 0, t03: f32 = 0;
          let t10: f32 = 0, t11: f32 = 0, t12: f32 = 0, t13: f32 = 0;
          let t20: f32 = 0, t21: f32 = 0, t22: f32 = 0, t23: f32 = 0;
          let t30: f32 = 0, t31: f32 = 0, t32: f32 = 0, t33: f32 = 0;
          for (let i = 0; i < 4; i++) {
            const ih = 2 * th - pt + i;
            let d0: f32 = 0, d1: f32 = 0, d2: f32 = 0, d3: f32 = 0;
            if (ih >= 0 && ih < H) {
              const row = plane + ((<usize>ih * <usize>W) << 2);
              const iw = 2 * tw - pl;
              if (iw >= 0 && iw < W) d0 = load<f32>(row + (<usize>iw << 2));
              if (iw + 1 >= 0 && iw + 1 < W) d1 = load<f32>(row + (<usize>(iw + 1) << 2));
              if (iw + 2 >= 0 && iw + 2 < W) d2 = load<f32>(row + (<usize>(iw + 2) << 2));
              if (iw + 3 >= 0 && iw + 3 < W) d3 = load<f32>(row + (<usize>(iw + 3) << 2));
            }
            const a = d0 - d2, bb = d1 + d2, cc = d2 - d1, dd = d1 - d3;
            if (i == 0) { t00 = a; t01 = bb; t02 = cc; t03 = dd; }
            else if (i == 1) { t10 = a; t11 = bb; t12 = cc; t13 = dd; }
            else if (i == 2) { t20 = a; t21 = bb; t22 = cc; t23 = dd; }
            else { t30 = a; t31 = bb; t32 = cc; t33 = dd; }
          }
          const uc = u + ((<usize>(q * MR) * <usize>C + <usize>(c * MR + ki)) << 2);
          const s = uXi << 2;
          m0 += load<f32>(uc) * (t00 - t20);
          m1 += load<f32>(uc + s) * (t01 - t21);
          m2 += load<f32>(uc + 2 * s) * (t02 - t22);
          m3 += load<f32>(uc + 3 * s) * (t03 - t23);
          m4 += load<f32>(uc + 4 * s) * (t10 + t20);
          m5 += load<f32>(uc + 5 * s) * (t11 + t21);
          m6 += load<f32>(uc + 6 * s) * (t12 + t22);
          m7 += load<f32>(uc + 7 * s) * (t13 + t23);
          m8 += load<f32>(uc + 8 * s) * (t20 - t10);
          m9 += load<f32>(uc + 9 * s) * (t21 - t11);
          m10 += load<f32>(uc + 10 * s) * (t22 - t12);
          m11 += load<f32>(uc + 11 * s) * (t23 - t13);
          m12 += load<f32>(uc + 12 * s) * (t10 - t30);
          m13 += load<f32>(uc + 13 * s) * (t11 - t31);
          m14 += load<f32>(uc + 14 * s) * (t12 - t32);
          m15 += load<f32>(uc + 15 * s) * (t13 - t33);
        }
        // Y = A^T m A.
        const s00 = m0 + m1 + m2, s01 = m1 - m2 - m3;
        const s10 = m4 + m5 + m6, s11 = m5 - m6 - m7;
        const s20 = m8 + m9 + m10, s21 = m9 - m10 - m11;
        const s30 = m12 + m13 + m14, s31 = m13 - m14 - m15;
        const bv: f32 = bias != 0 ? load<f32>(bias + (<usize>k << 2)) : 0;
        const yp = y + ((<usize>(n * K + k) * <usize>(OH * OW)) << 2);
        const oh = 2 * th, ow = 2 * tw;
        store<f32>(yp + ((<usize>oh * <usize>OW + <usize>ow) << 2), s00 + s10 + s20 + bv);
        if (ow + 1 < OW) store<f32>(yp + ((<usize>oh * <usize>OW + <usize>(ow + 1)) << 2), s01 + s11 + s21 + bv);
        if (oh + 1 < OH) {
          store<f32>(yp + ((<usize>(oh + 1) * <usize>OW + <usize>ow) << 2), s10 - s20 - s30 + bv);
          if (ow + 1 < OW) store<f32>(yp + ((<usize>(oh + 1) * <usize>OW + <usize>(ow + 1)) << 2), s11 - s21 - s31 + bv);
        }
      }
    }
  }
}
