// 3x3 stride-1 convolution by Winograd F(4x4, 3x3), f32x4, as 36 GEMMs on
// the 6x8 micro-kernel (Lavin & Gray 2016, "Fast algorithms for convolutional
// neural networks", section 4, the F(4x4, 3x3) matrices of their section
// 4.2). Each 4x4 output tile costs 36 multiplies per (input, output) channel
// pair instead of 144: 4x fewer than the direct convolution (F(2x2, 3x3):
// 2.25x). Same arguments, geometry and uses (forward, backward-data with
// flipped transposed weights) as f32-conv2d-winograd-6x8-wasmsimd.ts.
//
// Transforms (interpolation points 0, 1, -1, 2, -2, infinity):
//   U = G g G^T (6x6), V = B^T d B (6x6 from a 6x6 input patch d),
//   Y = A^T [U . V] A (4x4 outputs), with
//   B^T = [4  0 -5  0 1 0;  0 -4 -4  1 1 0;  0  4 -4 -1 1 0;
//          0 -2 -1  2 1 0;  0  2 -1 -2 1 0;  0  4  0 -5 0 1],
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6;
//          1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
// Accuracy: the points 0, +-1, +-1/2 were also tried (f32 simulation of
// whole tiles, C = 260 / 512, inputs in [-1, 1] and activations ~100 with
// weights ~0.02): their largest error was 1.4-1.9x that of +-2, so +-2 it is.
// Either is ~7-15x the F(2x2, 3x3) error (still within the tests' atol
// 2e-4 / rtol 1e-4 on C <= 260 unit-range data, ~1e-4 absolute measured).
//
// Layouts (xi = 6 * i + j, 36 slabs, XI_GAP floats between slabs):
//   U[xi][q][c][i] at float (xi*(Kpad*C + 16) + q*MR*C + c*MR + i);
//   V[xi][q][c][l] at float (xi*(C*NT + 16) + q*C*NR + c*NR + l);
//   M[xi][k - kb0][t] at float (xi*(WKB*NT + 16) + (k - kb0)*NT + t).
// Work items are (image, block of NT consecutive tiles in row-major order,
// group of whole MR-row panels of output channels; see kGroups); threads take
// contiguous ranges of items; a tile's arithmetic does not depend on its
// item, NT, group or thread: bit-identical for any thread count.
import { shareStart, shareEnd } from "../common/partition";
import { madd } from "../common/simd";
import { MR, NR } from "../f32-gemm/f32-gemm-6x8-ukernel-wasmsimd";
import { winogradSlabGemm } from "./f32-conv2d-winograd-gemm-wasmsimd";
import { XI_GAP } from "./f32-conv2d-winograd-transforms-wasmsimd";
import {
  ROWBUF, ROWS_FLOATS, btScalar, columnTransform, patchRowsFast, patchRowsGather,
} from "./f32-conv2d-winograd-f43-transforms-wasmsimd";

/** Most tiles per work item: 32 tiles of 16 outputs (F(2x2): 64 of 4). */
const NT_MAX: i32 = 64;
/** Output channels per block: M is 36 x WKB x NT floats (<= 216 KiB). */
const WKB: i32 = 48;

// @ts-ignore: decorator
@inline
function kPad(K: i32): i32 {
  return (K + MR - 1) / MR * MR;
}

// @ts-ignore: decorator
@inline
function uXiFloats(K: i32, C: i32): i32 {
  return kPad(K) * C + XI_GAP;
}

/** Tiles per item below which output-channel groups are split first. */
const NT_KEEP: i32 = NT_MAX;

function tilesPerItem(N: i32, T: i32, K: i32, nthreads: i32): i32 {
  let nt = NT_MAX;
  while (nt > NT_KEEP && N * ((T + nt - 1) / nt) < 2 * nthreads) nt >>= 1;
  const kg = kGroups(N * ((T + nt - 1) / nt), K, nthreads);
  while (nt > NR && N * ((T + nt - 1) / nt) * kg < 2 * nthreads) nt >>= 1;
  return nt;
}

/**
 * Output-channel groups per (image, tile block). Few tiles with many
 * channels (512->512 @ 32x32, batch 1: 64 tiles) used to shrink NT to 16 for
 * 2 threads, so each thread streamed all 36 U slabs (38 MB) twice, for 16
 * tiles at a time: ~25% more work in total than 1 thread (2 threads: 1.58x).
 * Splitting the output channels instead (groups of at least 2 * WKB rows)
 * keeps NT = 64: each thread reads only its groups' U rows and transforms V
 * once for consecutive items of one tile block (measured 512->512 @ 32:
 * 1 thread 44.7 -> 41.7 ms, 2 threads 30.8 -> 24.7 ms).
 */
function kGroups(blocksTotal: i32, K: i32, nthreads: i32): i32 {
  let kg = 1;
  while (blocksTotal * kg < 2 * nthreads && K / (2 * kg) >= 2 * WKB) kg <<= 1;
  return kg;
}

/** Bytes of F(4x4, 3x3) transformed weights for K output rows and C input channels. */
export function f32_conv2d_winograd_f43_weights_bytes(K: i32, C: i32): i32 {
  return 36 * uXiFloats(K, C) * 4;
}

/**
 * Stores G (a0, a1, a2) (6 values) at out, out + s, ... (the rows of G
 * applied to one column of 3).
 */
// @ts-ignore: decorator
@inline
function storeG(a0: f32, a1: f32, a2: f32, out: usize, s: usize): void {
  const q: f32 = 1.0 / 6.0, e: f32 = 1.0 / 24.0, tw: f32 = 1.0 / 12.0;
  store<f32>(out, 0.25 * a0);
  store<f32>(out + s, -q * (a0 + a1 + a2));
  store<f32>(out + 2 * s, -q * (a0 - a1 + a2));
  store<f32>(out + 3 * s, e * a0 + tw * a1 + q * a2);
  store<f32>(out + 4 * s, e * a0 - tw * a1 + q * a2);
  store<f32>(out + 5 * s, a2);
}

/**
 * U = G g G^T for every (row k < K, column c < C); arguments as
 * f32_conv2d_winograd_pack_weights. `tmp` is not needed: G g (6 x 3) is
 * written to the slabs xi = 6 i + {0, 1, 2} first and then expanded in place
 * (row i of G g G^T needs only row i of G g). Plain loads and stores.
 */
export function f32_conv2d_winograd_f43_pack_weights(
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
        for (let xi = 0; xi < 36; xi++) store<f32>(out + <usize>xi * xs, 0);
        continue;
      }
      const src = w + ((<usize>k * <usize>strideK + <usize>c * <usize>strideC) << 2);
      // Column s of g (with the flip: g[r][s] = w[2 - r][2 - s]) -> column s
      // of G g, at slabs 6 * i + s.
      for (let s = 0; s < 3; s++) {
        const sc = flip != 0 ? 2 - s : s;
        let g0 = load<f32>(src + (<usize>sc << 2)), g2 = load<f32>(src + (<usize>(6 + sc) << 2));
        const g1 = load<f32>(src + (<usize>(3 + sc) << 2));
        if (flip != 0) { const t = g0; g0 = g2; g2 = t; }
        storeG(g0, g1, g2, out + <usize>s * xs, 6 * xs);
      }
      // Row i of (G g) G^T, in place from slabs 6i .. 6i + 2 (read first).
      for (let r = 0; r < 6; r++) {
        const row = out + <usize>(6 * r) * xs;
        const a0 = load<f32>(row), a1 = load<f32>(row + xs), a2 = load<f32>(row + 2 * xs);
        storeG(a0, a1, a2, row, xs);
      }
    }
  }
}

/** Workspace bytes per thread of f32_conv2d_winograd_f43__wasmsimd (and __scalar). */
export function f32_conv2d_winograd_f43_workspace(C: i32, K: i32): i32 {
  return (36 * (C * NT_MAX + XI_GAP) + 36 * (WKB * NT_MAX + XI_GAP) + MR * NR + ROWBUF + ROWS_FLOATS + 64) * 4;
}

/**
 * A^T m for 6 vectors: returns via 4 stores at dst, dst + ds, ...
 * (p = m1 + m2, q = m1 - m2, s = m3 + m4, t = m3 - m4:
 * y = (m0 + p + s, q + 2t, p + 4s, q + 8t + m5)).
 */
// @ts-ignore: decorator
@inline
function atVector(m0: v128, m1: v128, m2: v128, m3: v128, m4: v128, m5: v128, dst: usize, ds: usize): void {
  const p = f32x4.add(m1, m2), q = f32x4.sub(m1, m2), s = f32x4.add(m3, m4), t = f32x4.sub(m3, m4);
  v128.store(dst, f32x4.add(f32x4.add(m0, p), s));
  v128.store(dst + ds, madd(f32x4.splat(2), t, q));
  v128.store(dst + 2 * ds, madd(f32x4.splat(4), s, p));
  v128.store(dst + 3 * ds, f32x4.add(madd(f32x4.splat(8), t, q), m5));
}

/**
 * Y (+ bias) for output channel k of the 8 tiles t0.. of a panel from M (m
 * at M[0][k][q*NR], xi stride xiStride floats). scratch: 24 x 8 + 64 floats.
 */
function outputTransform(
  m: usize, xiStride: usize, yplane: usize, OH: i32, OW: i32, TW: i32, t0: i32,
  lanes: i32, bv: f32, scratch: usize, oneRow: bool,
): void {
  const s = xiStride << 2;
  const b = f32x4.splat(bv);
  const srow = scratch, yout = scratch + (24 * 16);
  for (let h = 0; h < 2; h++) {
    const lanesHere = min(4, lanes - h * 4);
    if (lanesHere <= 0) return;
    const base = m + (<usize>h << 4);
    // Along j, each row i: s[i][bb] at srow + (i*4 + bb)*16.
    for (let i = 0; i < 6; i++) {
      const r = base + <usize>(6 * i) * s;
      atVector(
        v128.load(r), v128.load(r + s), v128.load(r + 2 * s), v128.load(r + 3 * s),
        v128.load(r + 4 * s), v128.load(r + 5 * s), srow + (<usize>(i * 4) << 4), 16,
      );
    }
    // Along i, each column bb: y[a][bb] at yout + (a*4 + bb)*16.
    for (let bb = 0; bb < 4; bb++) {
      const c = srow + (<usize>bb << 4);
      atVector(
        v128.load(c), v128.load(c, 64), v128.load(c, 128), v128.load(c, 192),
        v128.load(c, 256), v128.load(c, 320), yout + (<usize>bb << 4), 64,
      );
    }
    // Transpose each output row a: lane l of y[a][bb] -> pixel 4l + bb.
    for (let a = 0; a < 4; a++) {
      const ya = yout + (<usize>(a * 4) << 4);
      const v0 = f32x4.add(v128.load(ya), b), v1 = f32x4.add(v128.load(ya, 16), b);
      const v2 = f32x4.add(v128.load(ya, 32), b), v3 = f32x4.add(v128.load(ya, 48), b);
      const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
      const t2 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
      v128.store(ya, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
      v128.store(ya, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
      v128.store(ya, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
      v128.store(ya, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
    }
    // yout: row a, tile l, column bb at float a*16 + l*4 + bb.
    const tf = t0 + h * 4;
    const th0 = tf / TW, tw0 = tf - th0 * TW;
    if (oneRow && 4 * tw0 + 16 <= OW) {
      for (let a = 0; a < 4; a++) {
        const oh = 4 * th0 + a;
        if (oh >= OH) break;
        const row = yplane + ((<usize>oh * <usize>OW + <usize>(4 * tw0)) << 2);
        const src = yout + (<usize>(a * 16) << 2);
        v128.store(row, v128.load(src));
        v128.store(row, v128.load(src, 16), 16);
        v128.store(row, v128.load(src, 32), 32);
        v128.store(row, v128.load(src, 48), 48);
      }
      continue;
    }
    for (let l = 0; l < lanesHere; l++) {
      const t = tf + l;
      const th = t / TW, tw = t - th * TW;
      for (let a = 0; a < 4; a++) {
        const oh = 4 * th + a;
        if (oh >= OH) break;
        const row = yplane + ((<usize>oh * <usize>OW) << 2);
        for (let bb = 0; bb < 4; bb++) {
          const ow = 4 * tw + bb;
          if (ow >= OW) break;
          store<f32>(row + (<usize>ow << 2), load<f32>(yout + (<usize>(a * 16 + l * 4 + bb) << 2)));
        }
      }
    }
  }
}

/** Out = conv3x3(In, g) + bias by F(4x4, 3x3); u from f32_conv2d_winograd_f43_pack_weights. */
export function f32_conv2d_winograd_f43__wasmsimd(
  x: usize, u: usize, bias: usize, y: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, OH: i32, OW: i32, pt: i32, pl: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const TH = (OH + 3) >> 2, TW = (OW + 3) >> 2;
  const T = TH * TW;
  const NT = tilesPerItem(N, T, K, nthreads);
  const blocks = (T + NT - 1) / NT;
  const KG = kGroups(N * blocks, K, nthreads);
  // Output-channel groups: whole MR-row panels (U's layout), so a row's
  // arithmetic is the same for any split; panels spread evenly.
  const kPanels = (K + MR - 1) / MR;
  const items = N * blocks * KG;
  const i0 = shareStart(items, tid, nthreads), i1 = shareEnd(items, tid, nthreads);
  if (i0 >= i1) return;
  const ws = workspace + <usize>tid * <usize>f32_conv2d_winograd_f43_workspace(C, K);
  const vbuf = ws;
  const mbuf = vbuf + (<usize>(36 * (C * NT_MAX + XI_GAP)) << 2);
  const tmp = mbuf + (<usize>(36 * (WKB * NT_MAX + XI_GAP)) << 2);
  const rowbuf = tmp + (<usize>(MR * NR) << 2);
  const rows = rowbuf + (<usize>ROWBUF << 2);
  // Output-transform scratch (24 x 4 + 16 x 4 floats) reuses rows (288 floats).
  const vXi = <usize>(C * NT + XI_GAP);
  const mXi = <usize>(WKB * NT + XI_GAP);
  const uXi = <usize>uXiFloats(K, C);
  const inPlane = <usize>(H * W) << 2, outPlane = <usize>(OH * OW) << 2;
  let vFor = -1;
  for (let item = i0; item < i1; item++) {
    const kg = item % KG, nb = item / KG;
    const bl = nb % blocks, n = nb / blocks;
    const kLo = kg * kPanels / KG * MR, kHi = min(K, (kg + 1) * kPanels / KG * MR);
    if (kLo >= kHi) continue;
    const t0 = bl * NT;
    const nt = min(NT, T - t0);
    const panels = (nt + NR - 1) / NR;
    const xn = x + <usize>n * <usize>C * inPlane;
    const yn = y + <usize>n * <usize>K * outPlane;
    // V of this (image, tile block) is still in vbuf from the previous item.
    const vPanels = nb == vFor ? 0 : panels;
    vFor = nb;
    for (let q = 0; q < vPanels; q++) {
      const tq = t0 + q * NR, lanes = min(NR, nt - q * NR);
      const th = tq / TW, tw = tq - th * TW;
      const oneRow = lanes == NR && tw + NR <= TW;
      for (let c = 0; c < C; c++) {
        const plane = xn + <usize>c * inPlane;
        if (oneRow) {
          patchRowsFast(plane, H, W, 4 * th - pt, 4 * tw - pl, rowbuf, rows);
        } else {
          patchRowsGather(plane, H, W, TW, tq, lanes, pt, pl, rows);
        }
        columnTransform(rows, vbuf + ((<usize>(q * C * NR + c * NR)) << 2), vXi);
      }
    }
    for (let kb0 = kLo; kb0 < kHi; kb0 += WKB) {
      const kb = min(WKB, kHi - kb0);
      // M_xi = U_xi · V_xi for every transform element.
      winogradSlabGemm(36, u, uXi, vbuf, vXi, mbuf, mXi, C, kb0, kb, NT, panels, tmp);
      for (let k = 0; k < kb; k++) {
        const bv: f32 = bias != 0 ? load<f32>(bias + (<usize>(kb0 + k) << 2)) : 0;
        const yplane = yn + <usize>(kb0 + k) * outPlane;
        for (let q = 0; q < panels; q++) {
          const tq = t0 + q * NR, lanes = min(NR, nt - q * NR);
          const tw = tq % TW;
          outputTransform(
            mbuf + (<usize>(k * NT + q * NR) << 2), mXi, yplane, OH, OW, TW, tq,
            lanes, bv, rows, lanes == NR && tw + NR <= TW,
          );
        }
      }
    }
  }
}

/**
 * Plain-loop twin of f32_conv2d_winograd_f43__wasmsimd (same arguments,
 * transformed weights and workspace size): the same F(4x4, 3x3) algorithm,
 * one tile and output channel at a time (V recomputed per output channel).
 * Per-thread scratch: V 36, t 36 and m 36 floats.
 */
export function f32_conv2d_winograd_f43__scalar(
  x: usize, u: usize, bias: usize, y: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, OH: i32, OW: i32, pt: i32, pl: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const TH = (OH + 3) >> 2, TW = (OW + 3) >> 2;
  const items = N * TH;
  const i0 = shareStart(items, tid, nthreads), i1 = shareEnd(items, tid, nthreads);
  const uXi = <usize>uXiFloats(K, C) << 2;
  const ws = workspace + <usize>tid * <usize>f32_conv2d_winograd_f43_workspace(C, K);
  const tb = ws, vb = ws + 36 * 4, mb = ws + 72 * 4;
  for (let item = i0; item < i1; item++) {
    const th = item % TH, n = item / TH;
    for (let tw = 0; tw < TW; tw++) {
      for (let k = 0; k < K; k++) {
        const q = k / MR, ki = k - q * MR;
        for (let xi = 0; xi < 36; xi++) store<f32>(mb + (<usize>xi << 2), 0);
        for (let c = 0; c < C; c++) {
          const plane = x + ((<usize>(n * C + c) * <usize>(H * W)) << 2);
          // t = d B (row i -> t[i][0..5] at tb + (i*6 + j)*4).
          for (let i = 0; i < 6; i++) {
            const ih = 4 * th - pt + i, iw = 4 * tw - pl;
            let d0: f32 = 0, d1: f32 = 0, d2: f32 = 0, d3: f32 = 0, d4: f32 = 0, d5: f32 = 0;
            if (ih >= 0 && ih < H) {
              const row = plane + ((<usize>ih * <usize>W) << 2);
              if (iw >= 0 && iw < W) d0 = load<f32>(row + (<usize>iw << 2));
              if (iw + 1 >= 0 && iw + 1 < W) d1 = load<f32>(row + (<usize>(iw + 1) << 2));
              if (iw + 2 >= 0 && iw + 2 < W) d2 = load<f32>(row + (<usize>(iw + 2) << 2));
              if (iw + 3 >= 0 && iw + 3 < W) d3 = load<f32>(row + (<usize>(iw + 3) << 2));
              if (iw + 4 >= 0 && iw + 4 < W) d4 = load<f32>(row + (<usize>(iw + 4) << 2));
              if (iw + 5 >= 0 && iw + 5 < W) d5 = load<f32>(row + (<usize>(iw + 5) << 2));
            }
            btScalar(d0, d1, d2, d3, d4, d5, tb + (<usize>(i * 6) << 2), 4);
          }
          // V = B^T t, column by column (V[i][j] at vb + (i*6 + j)*4).
          for (let j = 0; j < 6; j++) {
            const cj = tb + (<usize>j << 2);
            btScalar(
              load<f32>(cj), load<f32>(cj, 24), load<f32>(cj, 48),
              load<f32>(cj, 72), load<f32>(cj, 96), load<f32>(cj, 120),
              vb + (<usize>j << 2), 24,
            );
          }
          const uc = u + ((<usize>(q * MR) * <usize>C + <usize>(c * MR + ki)) << 2);
          for (let xi = 0; xi < 36; xi++) {
            const mp = mb + (<usize>xi << 2);
            store<f32>(mp, load<f32>(mp) + load<f32>(uc + <usize>xi * uXi) * load<f32>(vb + (<usize>xi << 2)));
          }
        }
        // Y = A^T m A: along j into tb (s[i][bb] at tb + (i*4 + bb)*4), then along i.
        for (let i = 0; i < 6; i++) {
          const r = mb + (<usize>(i * 6) << 2);
          const m0 = load<f32>(r), m1 = load<f32>(r, 4), m2 = load<f32>(r, 8);
          const m3 = load<f32>(r, 12), m4 = load<f32>(r, 16), m5 = load<f32>(r, 20);
          const p = m1 + m2, qq = m1 - m2, s = m3 + m4, t = m3 - m4;
          const o = tb + (<usize>(i * 4) << 2);
          store<f32>(o, m0 + p + s);
          store<f32>(o, qq + 2 * t, 4);
          store<f32>(o, p + 4 * s, 8);
          store<f32>(o, qq + 8 * t + m5, 12);
        }
        const bv: f32 = bias != 0 ? load<f32>(bias + (<usize>k << 2)) : 0;
        const yp = y + ((<usize>(n * K + k) * <usize>(OH * OW)) << 2);
        for (let bb = 0; bb < 4; bb++) {
          const ow = 4 * tw + bb;
          if (ow >= OW) break;
          const cb = tb + (<usize>bb << 2);
          const m0 = load<f32>(cb), m1 = load<f32>(cb, 16), m2 = load<f32>(cb, 32);
          const m3 = load<f32>(cb, 48), m4 = load<f32>(cb, 64), m5 = load<f32>(cb, 80);
          const p = m1 + m2, qq = m1 - m2, s = m3 + m4, t = m3 - m4;
          const oh = 4 * th;
          store<f32>(yp + ((<usize>oh * <usize>OW + <usize>ow) << 2), m0 + p + s + bv);
          if (oh + 1 < OH) store<f32>(yp + ((<usize>(oh + 1) * <usize>OW + <usize>ow) << 2), qq + 2 * t + bv);
          if (oh + 2 < OH) store<f32>(yp + ((<usize>(oh + 2) * <usize>OW + <usize>ow) << 2), p + 4 * s + bv);
          if (oh + 3 < OH) store<f32>(yp + ((<usize>(oh + 3) * <usize>OW + <usize>ow) << 2), qq + 8 * t + m5 + bv);
        }
      }
    }
  }
}
