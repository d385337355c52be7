// conv2d backward-filter for 3x3 stride-1 convolutions by Winograd
// F(2x2, 3x3), f32x4 (Lavin & Gray 2016, section 4; the filter gradient is
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
