// conv2d backward-filter for 3x3 stride-1 convolutions by Winograd
// F(2x2, 3x3) and (second half of the file) F(4x4, 3x3), f32x4 (Lavin & Gray 2016, section 4; the filter gradient is
// the adjoint of their eq. 9). The forward conv (see
// f32-conv2d-winograd-6x8-wasmsimd.ts) is, per 2x2 output tile t,
//   Y_t = A^T [sum_c U[k][c] . V_t[c]] A,  U = G g G^T,  V_t = B^T d_t B,
// so with dM_t[k] = A dY_t A^T (4x4 from the 2x2 gradient tile, zero outside
// OH x OW):
//   dU_xi[k][c] = sum over images n and tiles t of dM_xi[k][t] * V_xi[c][t],
//   dW[k][c] = G^T dU[k][c] G,
// 16 multiplies per (tile, k, c) instead of 36 for the direct gradient.
//
// Shapes: X N x C x H x W, dY N x K x OH x OW, dW K x C x 3 x 3 (one group,
// stride 1, dilation 1, pads pt, pl; OH, OW those of the forward conv).
// Threads split the input channels c (outputs of the reduction, never the
// reduction): each thread transforms X for its channels and dY for all K
// (cheap: 4 values in per tile), then accumulates the 16 dot products
// dU_xi[k][c] over tile blocks of TB tiles in a fixed order (vector lanes
// within a block, horizontal sum per block, blocks in order): bit-identical
// for any thread count.
//
// Workspace per thread (f32_conv2d_winograd_bwd_filter_workspace):
//   V  [xi][c - c0][TB]   transformed inputs of this thread's channels,
//   dM [xi][k][TB]        transformed output gradients,
//   dU [xi][k][c - c0]    the sums,
//   scratch for the transforms.
import { shareStart, shareEnd } from "../common/partition";
import { madd, hsum } from "../common/simd";
import { NR } from "../f32-gemm/f32-gemm-6x8-ukernel-wasmsimd";
import {
  ROWBUF, XI_GAP, columnTransform, patchRowsFast, patchRowsGather,
} from "./f32-conv2d-winograd-transforms-wasmsimd";
import {
  ROWBUF as ROWBUF4, ROWS_FLOATS, columnTransform as columnTransform4,
  patchRowsFast as patchRowsFast4, patchRowsGather as patchRowsGather4,
} from "./f32-conv2d-winograd-f43-transforms-wasmsimd";

/** Tiles per block: a dM or V row is 1 KiB. */
const TB: i32 = 256;
const HALF: f32 = 0.5;

/** The largest channel share of nthreads threads. */
// @ts-ignore: decorator
@inline
function maxShare(C: i32, nthreads: i32): i32 {
  return (C + nthreads - 1) / nthreads;
}

/** Workspace bytes per thread for nthreads threads. */
export function f32_conv2d_winograd_bwd_filter_workspace(C: i32, K: i32, nthreads: i32): i32 {
  const Cs = maxShare(C, nthreads);
  return (16 * (Cs * TB + XI_GAP) + 16 * (K * TB + XI_GAP) + 16 * (K * Cs + XI_GAP) + 128 + ROWBUF) * 4;
}

/**
 * dM rows for output channel k of 8 tiles (t0..t0+7, lanes >= `lanes` zero):
 * dM_xi[t] at dm + xi*xiStride floats. oneRow: the tiles lie in one tile row
 * (th, tw), read as vectors; else tile by tile.
 */
function gradTransform(
  plane: usize, OH: i32, OW: i32, TW: i32, t0: i32, lanes: i32, oneRow: bool,
  dm: usize, xiStride: usize, rowbuf: usize,
): void {
  const s = xiStride << 2;
  if (oneRow) {
    const th = t0 / TW, tw = t0 - th * TW;
    const ow0 = 2 * tw;
    for (let h = 0; h < 2; h++) {
      // y_ab: gradient at (2*th + a, 2*tw + b) for the 4 tiles of half h.
      let y00 = f32x4.splat(0), y01 = f32x4.splat(0), y10 = f32x4.splat(0), y11 = f32x4.splat(0);
      for (let a = 0; a < 2; a++) {
        const oh = 2 * th + a;
        if (oh >= OH) continue;
        const c0 = ow0 + 8 * h;
        let p = plane + ((<usize>oh * <usize>OW + <usize>c0) << 2);
        if (c0 + 8 > OW) {
          for (let e = 0; e < 8; e++) {
            store<f32>(rowbuf + (<usize>e << 2), c0 + e < OW ? load<f32>(p + (<usize>e << 2)) : 0);
          }
          p = rowbuf;
        }
        const v0 = v128.load(p), v1 = v128.load(p, 16);
        const ev = v128.shuffle<f32>(v0, v1, 0, 2, 4, 6), od = v128.shuffle<f32>(v0, v1, 1, 3, 5, 7);
        if (a == 0) { y00 = ev; y01 = od; } else { y10 = ev; y11 = od; }
      }
      // A dY (rows i): (y0, y0 + y1, y0 - y1, -y1), per column b.
      const o = <usize>h << 4;
      for (let i = 0; i < 4; i++) {
        let z0: v128, z1: v128;
        if (i == 0) { z0 = y00; z1 = y01; }
        else if (i == 1) { z0 = f32x4.add(y00, y10); z1 = f32x4.add(y01, y11); }
        else if (i == 2) { z0 = f32x4.sub(y00, y10); z1 = f32x4.sub(y01, y11); }
        else { z0 = f32x4.neg(y10); z1 = f32x4.neg(y11); }
        // (A dY) A^T (columns j): (z0, z0 + z1, z0 - z1, -z1).
        const out = dm + <usize>(4 * i) * s + o;
        v128.store(out, z0);
        v128.store(out + s, f32x4.add(z0, z1));
        v128.store(out + 2 * s, f32x4.sub(z0, z1));
        v128.store(out + 3 * s, f32x4.neg(z1));
      }
    }
    return;
  }
  for (let l = 0; l < NR; l++) {
    let y00: f32 = 0, y01: f32 = 0, y10: f32 = 0, y11: f32 = 0;
    if (l < lanes) {
      const t = t0 + l;
      const th = t / TW, tw = t - th * TW;
      const oh = 2 * th, ow = 2 * tw;
      const p = plane + ((<usize>oh * <usize>OW + <usize>ow) << 2);
      y00 = load<f32>(p);
      if (ow + 1 < OW) y01 = load<f32>(p, 4);
      if (oh + 1 < OH) {
        y10 = load<f32>(p + (<usize>OW << 2));
        if (ow + 1 < OW) y11 = load<f32>(p + (<usize>OW << 2), 4);
      }
    }
    const out = dm + (<usize>l << 2);
    for (let i = 0; i < 4; i++) {
      const z0: f32 = i == 0 ? y00 : i == 1 ? y00 + y10 : i == 2 ? y00 - y10 : -y10;
      const z1: f32 = i == 0 ? y01 : i == 1 ? y01 + y11 : i == 2 ? y01 - y11 : -y11;
      const o = out + <usize>(4 * i) * s;
      store<f32>(o, z0);
      store<f32>(o + s, z0 + z1);
      store<f32>(o + 2 * s, z0 - z1);
      store<f32>(o + 3 * s, -z1);
    }
  }
}

/**
 * out[i][j] += dot(a_i, b_j) over n4 vectors for i < rows, j < cols (a 3x3
 * block: 9 accumulators + 3 b vectors + 1 a vector = 13 live v128). Missing
 * rows/columns reuse the last valid pointer and are not stored. out rows are
 * ldo floats apart.
 */
function dot3x3(
  n4: i32, a0: usize, a1: usize, a2: usize, b0: usize, b1: usize, b2: usize,
  out: usize, ldo: i32, rows: i32, cols: i32,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c22 = f32x4.splat(0);
  const end = <usize>n4 << 4;
  for (let o: usize = 0; o < end; o += 16) {
    const v0 = v128.load(b0 + o), v1 = v128.load(b1 + o), v2 = v128.load(b2 + o);
    const u0 = v128.load(a0 + o);
    c00 = madd(u0, v0, c00); c01 = madd(u0, v1, c01); c02 = madd(u0, v2, c02);
    const u1 = v128.load(a1 + o);
    c10 = madd(u1, v0, c10); c11 = madd(u1, v1, c11); c12 = madd(u1, v2, c12);
    const u2 = v128.load(a2 + o);
    c20 = madd(u2, v0, c20); c21 = madd(u2, v1, c21); c22 = madd(u2, v2, c22);
  }
  const rs = <usize>ldo << 2;
  store<f32>(out, load<f32>(out) + hsum(c00));
  if (cols > 1) store<f32>(out, load<f32>(out, 4) + hsum(c01), 4);
  if (cols > 2) store<f32>(out, load<f32>(out, 8) + hsum(c02), 8);
  if (rows < 2) return;
  out += rs;
  store<f32>(out, load<f32>(out) + hsum(c10));
  if (cols > 1) store<f32>(out, load<f32>(out, 4) + hsum(c11), 4);
  if (cols > 2) store<f32>(out, load<f32>(out, 8) + hsum(c12), 8);
  if (rows < 3) return;
  out += rs;
  store<f32>(out, load<f32>(out) + hsum(c20));
  if (cols > 1) store<f32>(out, load<f32>(out, 4) + hsum(c21), 4);
  if (cols > 2) store<f32>(out, load<f32>(out, 8) + hsum(c22), 8);
}

/** dW[k][c] (9 floats at dst) = G^T dU G, dU[xi] at du + xi*xiStride floats. */
// @ts-ignore: decorator
@inline
function filterTransform(du: usize, xiStride: usize, dst: usize): void {
  const s = xiStride << 2;
  // Y = G^T X (3 x 4), G^T rows (1, 1/2, 1/2, 0), (0, 1/2, -1/2, 0), (0, 1/2, 1/2, 1).
  for (let r = 0; r < 3; r++) {
    let y0: f32 = 0, y1: f32 = 0, y2: f32 = 0, y3: f32 = 0;
    for (let j = 0; j < 4; j++) {
      const x0 = load<f32>(du + <usize>j * s), x1 = load<f32>(du + <usize>(4 + j) * s);
      const x2 = load<f32>(du + <usize>(8 + j) * s), x3 = load<f32>(du + <usize>(12 + j) * s);
      const v: f32 = r == 0 ? x0 + HALF * (x1 + x2) : r == 1 ? HALF * (x1 - x2) : HALF * (x1 + x2) + x3;
      if (j == 0) y0 = v; else if (j == 1) y1 = v; else if (j == 2) y2 = v; else y3 = v;
    }
    // Y G, the same combinations along columns.
    store<f32>(dst + (<usize>(r * 3) << 2), y0 + HALF * (y1 + y2));
    store<f32>(dst + (<usize>(r * 3 + 1) << 2), HALF * (y1 - y2));
    store<f32>(dst + (<usize>(r * 3 + 2) << 2), HALF * (y1 + y2) + y3);
  }
}

/** dW = gradient of the 3x3 stride-1 conv's weights (see the header). */
export function f32_conv2d_winograd_bwd_filter__wasmsimd(
  x: usize, dy: usize, dw: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, OH: i32, OW: i32, pt: i32, pl: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const c0 = shareStart(C, tid, nthreads), c1 = shareEnd(C, tid, nthreads);
  if (c0 >= c1) return;
  const Cs = maxShare(C, nthreads), Cn = c1 - c0;
  const ws = workspace + <usize>tid * <usize>f32_conv2d_winograd_bwd_filter_workspace(C, K, nthreads);
  const vbuf = ws;
  const mbuf = vbuf + (<usize>(16 * (Cs * TB + XI_GAP)) << 2);
  const ubuf = mbuf + (<usize>(16 * (K * TB + XI_GAP)) << 2);
  const rows = ubuf + (<usize>(16 * (K * Cs + XI_GAP)) << 2);
  const rowbuf = rows + 512;
  // Slabs XI_GAP floats apart (see its definition).
  const vXi = <usize>(Cn * TB + XI_GAP), mXi = <usize>(K * TB + XI_GAP), uXi = <usize>(K * Cn + XI_GAP);
  for (let e: usize = 0; e < 16 * uXi; e++) store<f32>(ubuf + (e << 2), 0);
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1;
  const T = TH * TW;
  const inPlane = <usize>(H * W) << 2, outPlane = <usize>(OH * OW) << 2;
  for (let n = 0; n < N; n++) {
    const xn = x + <usize>(n * C) * inPlane;
    const dyn = dy + <usize>(n * K) * outPlane;
    for (let tb = 0; tb < T; tb += TB) {
      const nt = min(TB, T - tb);
      const panels = (nt + NR - 1) / NR;
      const n4 = panels * 2;
      // Transforms of this block: V for channels [c0, c1), dM for every k.
      for (let q = 0; q < panels; q++) {
        const tq = tb + q * NR, lanes = min(NR, nt - q * NR);
        const th = tq / TW, tw = tq - th * TW;
        const oneRow = lanes == NR && tw + NR <= TW;
        for (let c = c0; c < c1; c++) {
          const plane = xn + <usize>c * inPlane;
          if (oneRow) {
            patchRowsFast(plane, H, W, 2 * th - pt, 2 * tw - pl, rowbuf, rows);
          } else {
            patchRowsGather(plane, H, W, TW, tq, lanes, pt, pl, rows);
          }
          columnTransform(rows, vbuf + (<usize>((c - c0) * TB + q * NR) << 2), vXi);
        }
        for (let k = 0; k < K; k++) {
          gradTransform(
            dyn + <usize>k * outPlane, OH, OW, TW, tq, lanes, oneRow,
            mbuf + (<usize>(k * TB + q * NR) << 2), mXi, rowbuf,
          );
        }
      }
      // dU_xi[k][c] += dot(dM_xi[k], V_xi[c]) over the block's tiles.
      for (let xi = 0; xi < 16; xi++) {
        const mX = mbuf + ((<usize>xi * mXi) << 2);
        const vX = vbuf + ((<usize>xi * vXi) << 2);
        const uX = ubuf + ((<usize>xi * uXi) << 2);
        for (let k = 0; k < K; k += 3) {
          const rws = min(3, K - k);
          const a0 = mX + ((<usize>k * <usize>TB) << 2);
          const a1 = rws > 1 ? a0 + (<usize>TB << 2) : a0;
          const a2 = rws > 2 ? a1 + (<usize>TB << 2) : a1;
          for (let c = 0; c < Cn; c += 3) {
            const cls = min(3, Cn - c);
            const b0 = vX + ((<usize>c * <usize>TB) << 2);
            const b1 = cls > 1 ? b0 + (<usize>TB << 2) : b0;
            const b2 = cls > 2 ? b1 + (<usize>TB << 2) : b1;
            dot3x3(n4, a0, a1, a2, b0, b1, b2, uX + ((<usize>k * <usize>Cn + <usize>c) << 2), Cn, rws, cls);
          }
        }
      }
    }
  }
  for (let k = 0; k < K; k++) {
    for (let c = c0; c < c1; c++) {
      filterTransform(
        ubuf + ((<usize>k * <usize>Cn + <usize>(c - c0)) << 2), uXi,
        dw + ((<usize>(k * C + c) * 9) << 2),
      );
    }
  }
}

/**
 * Plain-loop twin of f32_conv2d_winograd_bwd_filter__wasmsimd (same
 * arguments, workspace unused): the same F(2x2, 3x3) gradient, one (k, c)
 * pair and tile at a time, summed in f32 over images then tiles.
 */
export function f32_conv2d_winograd_bwd_filter__scalar(
  x: usize, dy: usize, dw: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, OH: i32, OW: i32, pt: i32, pl: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const c0 = shareStart(C, tid, nthreads), c1 = shareEnd(C, tid, nthreads);
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1;
  for (let k = 0; k < K; k++) {
    for (let c = c0; c < c1; c++) {
      let u0: f32 = 0, u1: f32 = 0, u2: f32 = 0, u3: f32 = 0, u4: f32 = 0, u5: f32 = 0, u6: f32 = 0, u7: f32 = 0;
      let u8: f32 = 0, u9: f32 = 0, u10: f32 = 0, u11: f32 = 0, u12: f32 = 0, u13: f32 = 0, u14: f32 = 0, u15: f32 = 0;
      for (let n = 0; n < N; n++) {
        const plane = x + ((<usize>(n * C + c) * <usize>(H * W)) << 2);
        const gp = dy + ((<usize>(n * K + k) * <usize>(OH * OW)) << 2);
        for (let th = 0; th < TH; th++) {
          for (let tw = 0; tw < TW; tw++) {
            // dM = A dY A^T from the 2x2 gradient tile.
            const oh = 2 * th, ow = 2 * tw;
            const y00 = load<f32>(gp + ((<usize>oh * <usize>OW + <usize>ow) << 2));
            const y01: f32 = ow + 1 < OW ? load<f32>(gp + ((<usize>oh * <usize>OW + <usize>(ow + 1)) << 2)) : 0;
            const y10: f32 = oh + 1 < OH ? load<f32>(gp + ((<usize>(oh + 1) * <usize>OW + <usize>ow) << 2)) : 0;
            const y11: f32 = oh + 1 < OH && ow + 1 < OW
              ? load<f32>(gp + ((<usize>(oh + 1) * <usize>OW + <usize>(ow + 1)) << 2)) : 0;
            // V = B^T d B from the 4x4 input patch, row by row (t = d B).
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
            // z = A dY (rows i), dM = z A^T (columns j).
            const z00 = y00, z01 = y01, z10 = y00 + y10, z11 = y01 + y11;
            const z20 = y00 - y10, z21 = y01 - y11, z30 = -y10, z31 = -y11;
            u0 += z00 * (t00 - t20); u1 += (z00 + z01) * (t01 - t21);
            u2 += (z00 - z01) * (t02 - t22); u3 += -z01 * (t03 - t23);
            u4 += z10 * (t10 + t20); u5 += (z10 + z11) * (t11 + t21);
            u6 += (z10 - z11) * (t12 + t22); u7 += -z11 * (t13 + t23);
            u8 += z20 * (t20 - t10); u9 += (z20 + z21) * (t21 - t11);
            u10 += (z20 - z21) * (t22 - t12); u11 += -z21 * (t23 - t13);
            u12 += z30 * (t10 - t30); u13 += (z30 + z31) * (t11 - t31);
            u14 += (z30 - z31) * (t12 - t32); u15 += -z31 * (t13 - t33);
          }
        }
      }
      // dW = G^T dU G (rows, then columns).
      const o = dw + ((<usize>(k * C + c) * 9) << 2);
      for (let r = 0; r < 3; r++) {
        let y0: f32 = 0, y1: f32 = 0, y2: f32 = 0, y3: f32 = 0;
        if (r == 0) {
          y0 = u0 + HALF * (u4 + u8); y1 = u1 + HALF * (u5 + u9);
          y2 = u2 + HALF * (u6 + u10); y3 = u3 + HALF * (u7 + u11);
        } else if (r == 1) {
          y0 = HALF * (u4 - u8); y1 = HALF * (u5 - u9);
          y2 = HALF * (u6 - u10); y3 = HALF * (u7 - u11);
        } else {
          y0 = HALF * (u4 + u8) + u12; y1 = HALF * (u5 + u9) + u13;
          y2 = HALF * (u6 + u10) + u14; y3 = HALF * (u7 + u11) + u15;
        }
        store<f32>(o + (<usize>(r * 3) << 2), y0 + HALF * (y1 + y2));
        store<f32>(o + (<usize>(r * 3 + 1) << 2), HALF * (y1 - y2));
        store<f32>(o + (<usize>(r * 3 + 2) << 2), HALF * (y1 + y2) + y3);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// F(4x4, 3x3) filter gradient: the same adjoint with the F(4x4, 3x3)
// matrices of f32-conv2d-winograd-f43-wasmsimd.ts (points 0, +-1, +-2, inf):
//   dM_t[k] = A dY_t A^T (6x6 from the 4x4 gradient tile, zero outside
//   OH x OW), dU_xi[k][c] = sum_{n, t} dM_xi[k][t] * V_xi[c][t],
//   dW[k][c] = G^T dU[k][c] G,
// 36 multiplies per (tile, k, c) for 16 outputs (2.25 per output pixel; F(2x2):
// 4). A is (A^T)^T, 6x4: rows (1 0 0 0), (1 1 1 1), (1 -1 1 -1), (1 2 4 8),
// (1 -2 4 -8), (0 0 0 1). Same threading (input channels), block order and
// per-block horizontal sums as the F(2x2) kernel above: bit-identical for any
// thread count. f32 error (simulated, 64..256 px images, unit and VGG-like
// magnitudes): 1.5-5x F(2x2)'s, <= 1.1% of the tests' atol + rtol |dW|.
//
// Workspace per thread (f32_conv2d_winograd4_bwd_filter_workspace):
//   V [36][c - c0][TB4], dM [36][k][TB4], dU [36][k][c - c0], the input
//   transform's scratch (ROWS_FLOATS + ROWBUF4) and the gradient transform's
//   (4 x 6 x 8 floats).

/** Tiles per block: a V or dM row is 512 B (36 slabs: half of TB keeps the block in L2). */
const TB4: i32 = 128;
/** Floats of the gradient transform's scratch: z[a][j][lane] at (a*6 + j)*8 + lane. */
const GRAD_FLOATS: i32 = 4 * 6 * 8;

/** Workspace bytes per thread of f32_conv2d_winograd4_bwd_filter__wasmsimd for nthreads threads. */
export function f32_conv2d_winograd4_bwd_filter_workspace(C: i32, K: i32, nthreads: i32): i32 {
  const Cs = maxShare(C, nthreads);
  return (36 * (Cs * TB4 + XI_GAP) + 36 * (K * TB4 + XI_GAP) + 36 * (K * Cs + XI_GAP) +
    ROWS_FLOATS + ROWBUF4 + GRAD_FLOATS + 64) * 4;
}

/** A y for 4 vectors y0..y3: 6 stores at dst, dst + ds, .... */
// @ts-ignore: decorator
@inline
function aVector(y0: v128, y1: v128, y2: v128, y3: v128, dst: usize, ds: usize): void {
  // p +- q = y0 +- y1 + y2 +- y3; r +- s = y0 +- 2 y1 + 4 y2 +- 8 y3.
  const p = f32x4.add(y0, y2), q = f32x4.add(y1, y3);
  const r = madd(f32x4.splat(4), y2, y0), s = madd(f32x4.splat(8), y3, f32x4.add(y1, y1));
  v128.store(dst, y0);
  v128.store(dst + ds, f32x4.add(p, q));
  v128.store(dst + 2 * ds, f32x4.sub(p, q));
  v128.store(dst + 3 * ds, f32x4.add(r, s));
  v128.store(dst + 4 * ds, f32x4.sub(r, s));
  v128.store(dst + 5 * ds, y3);
}

/** A y for 4 values, plain f32 (the gather path and the scalar twin): 6 stores. */
// @ts-ignore: decorator
@inline
function aScalar(y0: f32, y1: f32, y2: f32, y3: f32, dst: usize, ds: usize): void {
  const p = y0 + y2, q = y1 + y3;
  const r: f32 = 4 * y2 + y0, s: f32 = 8 * y3 + (y1 + y1);
  store<f32>(dst, y0);
  store<f32>(dst + ds, p + q);
  store<f32>(dst + 2 * ds, p - q);
  store<f32>(dst + 3 * ds, r + s);
  store<f32>(dst + 4 * ds, r - s);
  store<f32>(dst + 5 * ds, y3);
}

/**
 * dM rows (A dY A^T) for output channel k of 8 tiles t0..t0+7 (lanes >=
 * `lanes` zero): dM_xi[t] at dm + xi*xiStride floats. First along each
 * gradient row a (z[a] = dY[a] A^T, into scratch z[a][j][lane]), then along
 * columns (dM[.][j] = A z[.][j]). oneRow: the tiles lie in one tile row,
 * read as vectors (32 columns, via rowbuf past the right edge); else tile by
 * tile. The two paths give the same values (same operations per lane).
 */
function gradTransform4(
  plane: usize, OH: i32, OW: i32, TW: i32, t0: i32, lanes: i32, oneRow: bool,
  dm: usize, xiStride: usize, rowbuf: usize, z: usize,
): void {
  const s = xiStride << 2;
  if (oneRow) {
    const th = t0 / TW, tw = t0 - th * TW;
    const ow0 = 4 * tw;
    for (let a = 0; a < 4; a++) {
      const oh = 4 * th + a;
      if (oh >= OH) {
        for (let e = 0; e < 12; e++) v128.store(z + (<usize>(a * 48 + e * 4) << 2), f32x4.splat(0));
        continue;
      }
      let p = plane + ((<usize>oh * <usize>OW + <usize>ow0) << 2);
      if (ow0 + 32 > OW) {
        for (let e = 0; e < 32; e++) {
          store<f32>(rowbuf + (<usize>e << 2), ow0 + e < OW ? load<f32>(p + (<usize>e << 2)) : 0);
        }
        p = rowbuf;
      }
      for (let h = 0; h < 2; h++) {
        const q = p + (<usize>h << 6);
        const v0 = v128.load(q), v1 = v128.load(q, 16), v2 = v128.load(q, 32), v3 = v128.load(q, 48);
        // 4x4 transpose: y_b lane l = column 4l + b of this half.
        const t0v = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), t1v = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
        const t2v = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7), t3v = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
        const y0 = v128.shuffle<f32>(t0v, t1v, 0, 1, 4, 5), y1 = v128.shuffle<f32>(t0v, t1v, 2, 3, 6, 7);
        const y2 = v128.shuffle<f32>(t2v, t3v, 0, 1, 4, 5), y3 = v128.shuffle<f32>(t2v, t3v, 2, 3, 6, 7);
        aVector(y0, y1, y2, y3, z + (<usize>(a * 48 + h * 4) << 2), 32);
      }
    }
    for (let j = 0; j < 6; j++) {
      for (let h = 0; h < 2; h++) {
        const src = z + (<usize>(j * 8 + h * 4) << 2);
        aVector(
          v128.load(src), v128.load(src, 192), v128.load(src, 384), v128.load(src, 576),
          dm + <usize>j * s + (<usize>h << 4), 6 * s,
        );
      }
    }
    return;
  }
  for (let l = 0; l < NR; l++) {
    const t = t0 + l;
    const th = t / TW, tw = t - th * TW;
    for (let a = 0; a < 4; a++) {
      const oh = 4 * th + a, ow = 4 * tw;
      let y0: f32 = 0, y1: f32 = 0, y2: f32 = 0, y3: f32 = 0;
      if (l < lanes && oh < OH) {
        const row = plane + ((<usize>oh * <usize>OW) << 2);
        y0 = load<f32>(row + (<usize>ow << 2));
        if (ow + 1 < OW) y1 = load<f32>(row + (<usize>(ow + 1) << 2));
        if (ow + 2 < OW) y2 = load<f32>(row + (<usize>(ow + 2) << 2));
        if (ow + 3 < OW) y3 = load<f32>(row + (<usize>(ow + 3) << 2));
      }
      aScalar(y0, y1, y2, y3, z + (<usize>(a * 48 + l) << 2), 32);
    }
    for (let j = 0; j < 6; j++) {
      const src = z + (<usize>(j * 8 + l) << 2);
      aScalar(
        load<f32>(src), load<f32>(src, 192), load<f32>(src, 384), load<f32>(src, 576),
        dm + <usize>j * s + (<usize>l << 2), 6 * s,
      );
    }
  }
}

/**
 * G^T x for 6 values (G of f32-conv2d-winograd-f43-wasmsimd.ts):
 * (x0/4 - (x1 + x2)/6 + (x3 + x4)/24, (x2 - x1)/6 + (x3 - x4)/12,
 *  (x3 + x4 - x1 - x2)/6 + x5), stored at dst, dst + ds, dst + 2 ds.
 */
// @ts-ignore: decorator
@inline
function gtScalar(x0: f32, x1: f32, x2: f32, x3: f32, x4: f32, x5: f32, dst: usize, ds: usize): void {
  const six: f32 = 1.0 / 6.0, twelve: f32 = 1.0 / 12.0, tf: f32 = 1.0 / 24.0;
  const p = x1 + x2, m = x3 + x4;
  store<f32>(dst, 0.25 * x0 - six * p + tf * m);
  store<f32>(dst + ds, six * (x2 - x1) + twelve * (x3 - x4));
  store<f32>(dst + 2 * ds, six * (m - p) + x5);
}

/**
 * dW[k][c] (9 floats at dst) = G^T dU G, dU[xi] at du + xi*xiStride floats
 * (xi = 6 i + j); tmp: 18 floats ((G^T dU)[r][j] at r*6 + j).
 */
function filterTransform4(du: usize, xiStride: usize, dst: usize, tmp: usize): void {
  const s = xiStride << 2;
  for (let j = 0; j < 6; j++) {
    const col = du + <usize>j * s;
    gtScalar(
      load<f32>(col), load<f32>(col + 6 * s), load<f32>(col + 12 * s),
      load<f32>(col + 18 * s), load<f32>(col + 24 * s), load<f32>(col + 30 * s),
      tmp + (<usize>j << 2), 24,
    );
  }
  for (let r = 0; r < 3; r++) {
    const row = tmp + (<usize>(r * 6) << 2);
    gtScalar(
      load<f32>(row), load<f32>(row, 4), load<f32>(row, 8),
      load<f32>(row, 12), load<f32>(row, 16), load<f32>(row, 20),
      dst + (<usize>(r * 3) << 2), 4,
    );
  }
}

/** dW = gradient of the 3x3 stride-1 conv's weights by F(4x4, 3x3) (arguments as the F(2x2) kernel's). */
export function f32_conv2d_winograd4_bwd_filter__wasmsimd(
  x: usize, dy: usize, dw: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, OH: i32, OW: i32, pt: i32, pl: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const c0 = shareStart(C, tid, nthreads), c1 = shareEnd(C, tid, nthreads);
  if (c0 >= c1) return;
  const Cs = maxShare(C, nthreads), Cn = c1 - c0;
  const ws = workspace + <usize>tid * <usize>f32_conv2d_winograd4_bwd_filter_workspace(C, K, nthreads);
  const vbuf = ws;
  const mbuf = vbuf + (<usize>(36 * (Cs * TB4 + XI_GAP)) << 2);
  const ubuf = mbuf + (<usize>(36 * (K * TB4 + XI_GAP)) << 2);
  const rows = ubuf + (<usize>(36 * (K * Cs + XI_GAP)) << 2);
  const rowbuf = rows + (<usize>ROWS_FLOATS << 2);
  const zbuf = rowbuf + (<usize>ROWBUF4 << 2);
  const vXi = <usize>(Cn * TB4 + XI_GAP), mXi = <usize>(K * TB4 + XI_GAP), uXi = <usize>(K * Cn + XI_GAP);
  for (let e: usize = 0; e < 36 * uXi; e++) store<f32>(ubuf + (e << 2), 0);
  const TH = (OH + 3) >> 2, TW = (OW + 3) >> 2;
  const T = TH * TW;
  const inPlane = <usize>(H * W) << 2, outPlane = <usize>(OH * OW) << 2;
  for (let n = 0; n < N; n++) {
    const xn = x + <usize>(n * C) * inPlane;
    const dyn = dy + <usize>(n * K) * outPlane;
    for (let tb = 0; tb < T; tb += TB4) {
      const nt = min(TB4, T - tb);
      const panels = (nt + NR - 1) / NR;
      const n4 = panels * 2;
      for (let q = 0; q < panels; q++) {
        const tq = tb + q * NR, lanes = min(NR, nt - q * NR);
        const th = tq / TW, tw = tq - th * TW;
        const oneRow = lanes == NR && tw + NR <= TW;
        for (let c = c0; c < c1; c++) {
          const plane = xn + <usize>c * inPlane;
          if (oneRow) {
            patchRowsFast4(plane, H, W, 4 * th - pt, 4 * tw - pl, rowbuf, rows);
          } else {
            patchRowsGather4(plane, H, W, TW, tq, lanes, pt, pl, rows);
          }
          columnTransform4(rows, vbuf + (<usize>((c - c0) * TB4 + q * NR) << 2), vXi);
        }
        for (let k = 0; k < K; k++) {
          gradTransform4(
            dyn + <usize>k * outPlane, OH, OW, TW, tq, lanes, oneRow,
            mbuf + (<usize>(k * TB4 + q * NR) << 2), mXi, rowbuf, zbuf,
          );
        }
      }
      // dU_xi[k][c] += dot(dM_xi[k], V_xi[c]) over the block's tiles.
      for (let xi = 0; xi < 36; xi++) {
        const mX = mbuf + ((<usize>xi * mXi) << 2);
        const vX = vbuf + ((<usize>xi * vXi) << 2);
        const uX = ubuf + ((<usize>xi * uXi) << 2);
        for (let k = 0; k < K; k += 3) {
          const rws = min(3, K - k);
          const a0 = mX + ((<usize>k * <usize>TB4) << 2);
          const a1 = rws > 1 ? a0 + (<usize>TB4 << 2) : a0;
          const a2 = rws > 2 ? a1 + (<usize>TB4 << 2) : a1;
          for (let c = 0; c < Cn; c += 3) {
            const cls = min(3, Cn - c);
            const b0 = vX + ((<usize>c * <usize>TB4) << 2);
            const b1 = cls > 1 ? b0 + (<usize>TB4 << 2) : b0;
            const b2 = cls > 2 ? b1 + (<usize>TB4 << 2) : b1;
            dot3x3(n4, a0, a1, a2, b0, b1, b2, uX + ((<usize>k * <usize>Cn + <usize>c) << 2), Cn, rws, cls);
          }
        }
      }
    }
  }
  for (let k = 0; k < K; k++) {
    for (let c = c0; c < c1; c++) {
      filterTransform4(
        ubuf + ((<usize>k * <usize>Cn + <usize>(c - c0)) << 2), uXi,
        dw + ((<usize>(k * C + c) * 9) << 2), zbuf,
      );
    }
  }
}

/**
 * Plain-loop twin of f32_conv2d_winograd4_bwd_filter__wasmsimd (same
 * arguments, workspace unused): the same F(4x4, 3x3) gradient, one (k, c)
 * pair, transform entry xi and tile at a time (both transforms recomputed
 * per xi), summed in f32 over images then tiles.
 */
export function f32_conv2d_winograd4_bwd_filter__scalar(
  x: usize, dy: usize, dw: usize,
  N: i32, C: i32, H: i32, W: i32, K: i32, OH: i32, OW: i32, pt: i32, pl: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const c0 = shareStart(C, tid, nthreads), c1 = shareEnd(C, tid, nthreads);
  const TH = (OH + 3) >> 2, TW = (OW + 3) >> 2;
  for (let k = 0; k < K; k++) {
    for (let c = c0; c < c1; c++) {
      // dU[i][j] = sum over n, tiles of (A dY A^T)[i][j] * (B^T d B)[i][j].
      let u00: f32 = 0, u01: f32 = 0, u02: f32 = 0, u03: f32 = 0, u04: f32 = 0, u05: f32 = 0;
      let u10: f32 = 0, u11: f32 = 0, u12: f32 = 0, u13: f32 = 0, u14: f32 = 0, u15: f32 = 0;
      let u20: f32 = 0, u21: f32 = 0, u22: f32 = 0, u23: f32 = 0, u24: f32 = 0, u25: f32 = 0;
      let u30: f32 = 0, u31: f32 = 0, u32: f32 = 0, u33: f32 = 0, u34: f32 = 0, u35: f32 = 0;
      let u40: f32 = 0, u41: f32 = 0, u42: f32 = 0, u43: f32 = 0, u44: f32 = 0, u45: f32 = 0;
      let u50: f32 = 0, u51: f32 = 0, u52: f32 = 0, u53: f32 = 0, u54: f32 = 0, u55: f32 = 0;
      for (let n = 0; n < N; n++) {
        const plane = x + ((<usize>(n * C + c) * <usize>(H * W)) << 2);
        const gp = dy + ((<usize>(n * K + k) * <usize>(OH * OW)) << 2);
        for (let th = 0; th < TH; th++) {
          for (let tw = 0; tw < TW; tw++) {
            for (let xi = 0; xi < 36; xi++) {
              const i = xi / 6, j = xi - 6 * (xi / 6);
              // m = (A dY A^T)[i][j] = sum_ab A[i][a] dY[a][b] A[j][b].
              let m: f32 = 0;
              for (let a = 0; a < 4; a++) {
                const oh = 4 * th + a;
                if (oh >= OH) continue;
                let rowSum: f32 = 0;
                for (let b = 0; b < 4; b++) {
                  const ow = 4 * tw + b;
                  if (ow >= OW) continue;
                  rowSum += aCoef(j, b) * load<f32>(gp + ((<usize>oh * <usize>OW + <usize>ow) << 2));
                }
                m += aCoef(i, a) * rowSum;
              }
              // v = (B^T d B)[i][j] = sum_ab B^T[i][a] d[a][b] B^T[j][b].
              let v: f32 = 0;
              for (let a = 0; a < 6; a++) {
                const ih = 4 * th - pt + a;
                if (ih < 0 || ih >= H) continue;
                let rowSum: f32 = 0;
                for (let b = 0; b < 6; b++) {
                  const iw = 4 * tw - pl + b;
                  if (iw < 0 || iw >= W) continue;
                  rowSum += btCoef(j, b) * load<f32>(plane + ((<usize>ih * <usize>W + <usize>iw) << 2));
                }
                v += btCoef(i, a) * rowSum;
              }
              const p = m * v;
              if (i == 0) {
                if (j == 0) u00 += p; else if (j == 1) u01 += p; else if (j == 2) u02 += p;
                else if (j == 3) u03 += p; else if (j == 4) u04 += p; else u05 += p;
              } else if (i == 1) {
                if (j == 0) u10 += p; else if (j == 1) u11 += p; else if (j == 2) u12 += p;
                else if (j == 3) u13 += p; else if (j == 4) u14 += p; else u15 += p;
              } else if (i == 2) {
                if (j == 0) u20 += p; else if (j == 1) u21 += p; else if (j == 2) u22 += p;
                else if (j == 3) u23 += p; else if (j == 4) u24 += p; else u25 += p;
              } else if (i == 3) {
                if (j == 0) u30 += p; else if (j == 1) u31 += p; else if (j == 2) u32 += p;
                else if (j == 3) u33 += p; else if (j == 4) u34 += p; else u35 += p;
              } else if (i == 4) {
                if (j == 0) u40 += p; else if (j == 1) u41 += p; else if (j == 2) u42 += p;
                else if (j == 3) u43 += p; else if (j == 4) u44 += p; else u45 += p;
              } else {
                if (j == 0) u50 += p; else if (j == 1) u51 += p; else if (j == 2) u52 += p;
                else if (j == 3) u53 += p; else if (j == 4) u54 += p; else u55 += p;
              }
            }
          }
        }
      }
      // dW = G^T dU G: rows r of G^T dU (6 columns), then G along each row.
      const o = dw + ((<usize>(k * C + c) * 9) << 2);
      for (let r = 0; r < 3; r++) {
        let w0: f32 = 0, w1: f32 = 0, w2: f32 = 0;
        for (let j = 0; j < 6; j++) {
          const x0: f32 = j == 0 ? u00 : j == 1 ? u01 : j == 2 ? u02 : j == 3 ? u03 : j == 4 ? u04 : u05;
          const x1: f32 = j == 0 ? u10 : j == 1 ? u11 : j == 2 ? u12 : j == 3 ? u13 : j == 4 ? u14 : u15;
          const x2: f32 = j == 0 ? u20 : j == 1 ? u21 : j == 2 ? u22 : j == 3 ? u23 : j == 4 ? u24 : u25;
          const x3: f32 = j == 0 ? u30 : j == 1 ? u31 : j == 2 ? u32 : j == 3 ? u33 : j == 4 ? u34 : u35;
          const x4: f32 = j == 0 ? u40 : j == 1 ? u41 : j == 2 ? u42 : j == 3 ? u43 : j == 4 ? u44 : u45;
          const x5: f32 = j == 0 ? u50 : j == 1 ? u51 : j == 2 ? u52 : j == 3 ? u53 : j == 4 ? u54 : u55;
          const e = gtRow(r, x0, x1, x2, x3, x4, x5);
          w0 += gCoef(j, 0) * e; w1 += gCoef(j, 1) * e; w2 += gCoef(j, 2) * e;
        }
        store<f32>(o + (<usize>(r * 3) << 2), w0);
        store<f32>(o + (<usize>(r * 3 + 1) << 2), w1);
        store<f32>(o + (<usize>(r * 3 + 2) << 2), w2);
      }
    }
  }
}

/** A[i][a] (6x4, see the F(4x4) header). */
function aCoef(i: i32, a: i32): f32 {
  if (i == 0) return a == 0 ? 1 : 0;
  if (i == 5) return a == 3 ? 1 : 0;
  const base: f32 = i == 1 ? 1 : i == 2 ? -1 : i == 3 ? 2 : -2;
  let v: f32 = 1;
  for (let e = 0; e < a; e++) v *= base;
  return v;
}

/** B^T[i][a] (6x6, f32-conv2d-winograd-f43-wasmsimd.ts). */
function btCoef(i: i32, a: i32): f32 {
  if (i == 0) return a == 0 ? 4 : a == 2 ? -5 : a == 4 ? 1 : 0;
  if (i == 1) return a == 1 ? -4 : a == 2 ? -4 : a == 3 ? 1 : a == 4 ? 1 : 0;
  if (i == 2) return a == 1 ? 4 : a == 2 ? -4 : a == 3 ? -1 : a == 4 ? 1 : 0;
  if (i == 3) return a == 1 ? -2 : a == 2 ? -1 : a == 3 ? 2 : a == 4 ? 1 : 0;
  if (i == 4) return a == 1 ? 2 : a == 2 ? -1 : a == 3 ? -2 : a == 4 ? 1 : 0;
  return a == 1 ? 4 : a == 3 ? -5 : a == 5 ? 1 : 0;
}

/** G[j][s] (6x3, f32-conv2d-winograd-f43-wasmsimd.ts). */
function gCoef(j: i32, s: i32): f32 {
  const six: f32 = 1.0 / 6.0, twelve: f32 = 1.0 / 12.0, tf: f32 = 1.0 / 24.0;
  if (j == 0) return s == 0 ? 0.25 : 0;
  if (j == 1) return -six;
  if (j == 2) return s == 1 ? six : -six;
  if (j == 3) return s == 0 ? tf : s == 1 ? twelve : six;
  if (j == 4) return s == 0 ? tf : s == 1 ? -twelve : six;
  return s == 2 ? 1 : 0;
}

/** (G^T x)[r] for one column x0..x5 of dU, as a plain sum over the rows of G. */
function gtRow(r: i32, x0: f32, x1: f32, x2: f32, x3: f32, x4: f32, x5: f32): f32 {
  return gCoef(0, r) * x0 + gCoef(1, r) * x1 + gCoef(2, r) * x2 + gCoef(3, r) * x3 +
    gCoef(4, r) * x4 + gCoef(5, r) * x5;
}
