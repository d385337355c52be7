// Implicit-GEMM convolution driver shared by the forward and backward-data
// kernels (not exported by the module).
//
// Tensors are NCHW, one image after another. For image n and group g the
// output block is a GEMM
//   Out[m][p] = sum_kk Ap[m][kk] * B[kk][p]  (+ bias[g*Mg + m])
// with m < Mg output channels, p < OH*OW output pixels and kk = (ci, r, s)
// over Cin input channels of the group and the R x S window. B is the
// im2col matrix of the input; it is never built whole: each thread packs a
// KC x NC slice of it (NC output pixels) straight into the micro-kernel's
// B panel layout (Chellapilla et al. 2006, "High performance convolutional
// neural networks for document processing", unrolled as implicit GEMM).
//
// Gathers (mode):
//   GATHER_CONV: B[(ci,r,s)][(oh,ow)] = In[ci][oh*sh - pt + r*dh][ow*sw - pl + s*dw]
//     (forward conv). With sh = sw = 1, pt/pl/dh/dw negated it is also the
//     stride-1 backward-data gather In = dY: ih + pt - r*dh.
//   GATHER_TRANSPOSED: B[(k,r,s)][(ih,iw)] = dY[k][(ih + pt - r*dh)/sh][...]
//     when the division is exact and in range, else 0 (backward data of a
//     strided conv = the transposed conv as a gather, so every output is
//     written by one thread: no col2im scatter, deterministic).
//
// Packed A (weights) holds, per group, ceil(Mg/MR) panels of MR rows x Kdim
// (see f32_conv2d_pack_weights). Threads split the (n, g, pixel tile) items;
// every output sees the same k blocks in the same order: bit-identical for
// any thread count.
import { shareStart, shareEnd } from "../common/partition";
import { MR, NR, ukernel6x8 } from "../f32-gemm/f32-gemm-6x8-ukernel-wasmsimd";

export const GATHER_CONV: i32 = 0;
export const GATHER_TRANSPOSED: i32 = 1;

/** k block: a packed A panel (MR x KC floats = 6 KiB) stays in L1. */
export const CONV_KC: i32 = 256;
/** Output pixels per tile: a packed B block (KC x NC = 128 KiB) stays in L2. */
export const CONV_NC: i32 = 128;

/**
 * Workspace bytes per thread of the implicit-GEMM driver for Mg output rows
 * per group: packed B, micro-kernel scratch, per-lane coordinates and the
 * Mg x CONV_NC output tile of a multi-image tile.
 */
export function igemmWorkspace(Mg: i32): i32 {
  return (CONV_KC * CONV_NC + MR * NR + 3 * NR + Mg * CONV_NC) * 4;
}

const FAR: i32 = -(1 << 29);

/** Packs B for GATHER_CONV: rows [kk0, kk0+kc), pixels [p0, p0+nc). */
function packConv(
  inp: usize, Cin: i32, IH: i32, IW: i32, OW: i32, R: i32, S: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
  kk0: i32, kc: i32, p0: i32, nc: i32, dst: usize, lane: usize,
): void {
  const RS = R * S;
  const plane = <usize>(IH * IW) << 2;
  const rowBytes = <usize>IW << 2;
  for (let q = 0; q < nc; q += NR) {
    const panel = dst + (<usize>(q * kc) << 2);
    const lanes = min(NR, nc - q);
    const pix0 = p0 + q;
    const oh0 = pix0 / OW, ow0 = pix0 - oh0 * OW;
    let ci = kk0 / RS;
    const rem = kk0 - ci * RS;
    let r = rem / S, s = rem - r * S;
    let src = inp + <usize>ci * plane;
    if (lanes == NR && ow0 + NR <= OW) {
      // The NR pixels lie in one output row: their inputs are one input row
      // (contiguous when sw == 1).
      const ihb = oh0 * sh - pt, iwb = ow0 * sw - pl;
      for (let t = 0; t < kc; t++) {
        const out = panel + (<usize>(t * NR) << 2);
        const ih = ihb + r * dh, iw = iwb + s * dw;
        if (<u32>ih < <u32>IH) {
          const row = src + <usize>ih * rowBytes;
          if (sw == 1 && iw >= 0 && iw + NR <= IW) {
            const p = row + (<usize>iw << 2);
            v128.store(out, v128.load(p));
            v128.store(out, v128.load(p, 16), 16);
          } else {
            for (let l = 0; l < NR; l++) {
              const x = iw + l * sw;
              store<f32>(out + (<usize>l << 2), <u32>x < <u32>IW ? load<f32>(row + (<usize>x << 2)) : 0);
            }
          }
        } else {
          v128.store(out, f32x4.splat(0));
          v128.store(out, f32x4.splat(0), 16);
        }
        if (++s == S) { s = 0; if (++r == R) { r = 0; ci++; src += plane; } }
      }
    } else {
      // Pixels span output rows or the tile ends: per-lane coordinates.
      let oh = oh0, ow = ow0;
      for (let l = 0; l < NR; l++) {
        if (l < lanes) {
          store<i32>(lane + (<usize>l << 2), oh * sh - pt);
          store<i32>(lane + (<usize>(l + NR) << 2), ow * sw - pl);
          if (++ow == OW) { ow = 0; oh++; }
        } else {
          store<i32>(lane + (<usize>l << 2), FAR);
          store<i32>(lane + (<usize>(l + NR) << 2), FAR);
        }
      }
      for (let t = 0; t < kc; t++) {
        const out = panel + (<usize>(t * NR) << 2);
        const rdh = r * dh, sdw = s * dw;
        for (let l = 0; l < NR; l++) {
          const ih = load<i32>(lane + (<usize>l << 2)) + rdh;
          const iw = load<i32>(lane + (<usize>(l + NR) << 2)) + sdw;
          store<f32>(
            out + (<usize>l << 2),
            <u32>ih < <u32>IH && <u32>iw < <u32>IW
              ? load<f32>(src + <usize>ih * rowBytes + (<usize>iw << 2)) : 0,
          );
        }
        if (++s == S) { s = 0; if (++r == R) { r = 0; ci++; src += plane; } }
      }
    }
  }
}

/**
 * Packs B for GATHER_CONV when a tile's pixels span images (multi-image
 * tiles, used when an image has fewer than CONV_NC output pixels): column
 * q0 + j is pixel (q0 + j) % P of image (q0 + j) / P. imageBytes is the
 * distance between images' group planes.
 */
function packConvMulti(
  inp: usize, imageBytes: usize, P: i32, IH: i32, IW: i32, OW: i32, R: i32, S: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
  kk0: i32, kc: i32, q0: i32, nc: i32, dst: usize, lane: usize,
): void {
  const RS = R * S;
  const plane = <usize>(IH * IW) << 2;
  const rowBytes = <usize>IW << 2;
  for (let q = 0; q < nc; q += NR) {
    const panel = dst + (<usize>(q * kc) << 2);
    const lanes = min(NR, nc - q);
    for (let l = 0; l < NR; l++) {
      if (l < lanes) {
        const col = q0 + q + l;
        const n = col / P, pix = col - n * P;
        const oh = pix / OW, ow = pix - oh * OW;
        store<i32>(lane + (<usize>l << 2), oh * sh - pt);
        store<i32>(lane + (<usize>(l + NR) << 2), ow * sw - pl);
        store<i32>(lane + (<usize>(l + 2 * NR) << 2), <i32>(<usize>n * imageBytes));
      } else {
        store<i32>(lane + (<usize>l << 2), FAR);
        store<i32>(lane + (<usize>(l + NR) << 2), FAR);
        store<i32>(lane + (<usize>(l + 2 * NR) << 2), 0);
      }
    }
    let ci = kk0 / RS;
    const rem = kk0 - ci * RS;
    let r = rem / S, s = rem - r * S;
    let src = inp + <usize>ci * plane;
    for (let t = 0; t < kc; t++) {
      const out = panel + (<usize>(t * NR) << 2);
      const rdh = r * dh, sdw = s * dw;
      for (let l = 0; l < NR; l++) {
        const ih = load<i32>(lane + (<usize>l << 2)) + rdh;
        const iw = load<i32>(lane + (<usize>(l + NR) << 2)) + sdw;
        store<f32>(
          out + (<usize>l << 2),
          <u32>ih < <u32>IH && <u32>iw < <u32>IW
            ? load<f32>(src + <usize>load<u32>(lane + (<usize>(l + 2 * NR) << 2)) + <usize>ih * rowBytes + (<usize>iw << 2))
            : 0,
        );
      }
      if (++s == S) { s = 0; if (++r == R) { r = 0; ci++; src += plane; } }
    }
  }
}

/**
 * Packs B for GATHER_TRANSPOSED with a stride > 1: output pixel (ih, iw)
 * takes dY[k][oh][ow] where oh*sh = ih + pt - r*dh exactly.
 */
function packTransposed(
  inp: usize, Cin: i32, IH: i32, IW: i32, OW: i32, R: i32, S: i32,
  sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
  kk0: i32, kc: i32, p0: i32, nc: i32, dst: usize, lane: usize,
): void {
  const RS = R * S;
  const plane = <usize>(IH * IW) << 2;
  const rowBytes = <usize>IW << 2;
  for (let q = 0; q < nc; q += NR) {
    const panel = dst + (<usize>(q * kc) << 2);
    const lanes = min(NR, nc - q);
    const pix0 = p0 + q;
    let oh = pix0 / OW, ow = pix0 - oh * OW;
    for (let l = 0; l < NR; l++) {
      if (l < lanes) {
        store<i32>(lane + (<usize>l << 2), oh + pt);
        store<i32>(lane + (<usize>(l + NR) << 2), ow + pl);
        if (++ow == OW) { ow = 0; oh++; }
      } else {
        store<i32>(lane + (<usize>l << 2), FAR);
        store<i32>(lane + (<usize>(l + NR) << 2), FAR);
      }
    }
    let ci = kk0 / RS;
    const rem = kk0 - ci * RS;
    let r = rem / S, s = rem - r * S;
    let src = inp + <usize>ci * plane;
    for (let t = 0; t < kc; t++) {
      const out = panel + (<usize>(t * NR) << 2);
      const rdh = r * dh, sdw = s * dw;
      for (let l = 0; l < NR; l++) {
        const yn = load<i32>(lane + (<usize>l << 2)) - rdh;
        const xn = load<i32>(lane + (<usize>(l + NR) << 2)) - sdw;
        let v: f32 = 0;
        if (yn >= 0 && xn >= 0) {
          const y = yn / sh, x = xn / sw;
          if (y * sh == yn && x * sw == xn && y < IH && x < IW) {
            v = load<f32>(src + <usize>y * rowBytes + (<usize>x << 2));
          }
        }
        store<f32>(out + (<usize>l << 2), v);
      }
      if (++s == S) { s = 0; if (++r == R) { r = 0; ci++; src += plane; } }
    }
  }
}

/**
 * Out (N x G*Mg x OH x OW) = packed weights * gather(In) + bias.
 * In is N x G*Cin x IH x IW. Conv parameters are the convolution's own
 * (for GATHER_TRANSPOSED: the forward conv whose data gradient this is).
 */
export function igemmConv(
  mode: i32, inp: usize, wp: usize, bias: usize, out: usize,
  N: i32, G: i32, Cin: i32, IH: i32, IW: i32, Mg: i32, OH: i32, OW: i32,
  R: i32, S: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
  workspace: usize, tid: i32, nthreads: i32,
): void {
  const P = OH * OW;
  const Kdim = Cin * R * S;
  const MgPad = (Mg + MR - 1) / MR * MR;
  // Stride-1 transposed gathers are the conv gather with negated offsets.
  let gather = mode;
  let gpt = pt, gpl = pl, gdh = dh, gdw = dw;
  if (mode == GATHER_TRANSPOSED && sh == 1 && sw == 1) {
    gather = GATHER_CONV;
    gpt = -pt; gpl = -pl; gdh = -dh; gdw = -dw;
  }
  const ws = workspace + <usize>tid * <usize>igemmWorkspace(Mg);
  const packedB = ws;
  const tmp = packedB + (<usize>(CONV_KC * CONV_NC) << 2);
  const lane = tmp + (<usize>(MR * NR) << 2);
  const inPlane = <usize>(IH * IW);
  const outPlane = <usize>P;
  if (gather == GATHER_CONV && N > 1 && P < CONV_NC) {
    // Small images: tiles of CONV_NC pixels taken across images (the
    // pixels of all N images of a group in order), computed into an
    // Mg x CONV_NC buffer and copied out image by image. Each output column
    // gets the same arithmetic as in a one-image tile: bit-identical for
    // any thread count.
    const ctile = lane + (<usize>(3 * NR) << 2);
    const cols = N * P;
    const tiles = (cols + CONV_NC - 1) / CONV_NC;
    const items = G * tiles;
    const i0 = shareStart(items, tid, nthreads), i1 = shareEnd(items, tid, nthreads);
    const imageBytes = (<usize>(G * Cin) * inPlane) << 2;
    for (let item = i0; item < i1; item++) {
      const g = item / tiles, tile = item - g * tiles;
      const q0 = tile * CONV_NC;
      const nc = min(CONV_NC, cols - q0);
      const inBase = inp + ((<usize>g * <usize>Cin * inPlane) << 2);
      for (let m = 0; m < Mg; m++) {
        const bv: f32 = bias != 0 ? load<f32>(bias + (<usize>(g * Mg + m) << 2)) : 0;
        const vb = f32x4.splat(bv);
        const row = ctile + (<usize>(m * CONV_NC) << 2);
        for (let j = 0; j < CONV_NC; j += 4) v128.store(row + (<usize>j << 2), vb);
      }
      const wg = wp + ((<usize>(g * MgPad) * <usize>Kdim) << 2);
      for (let kk0 = 0; kk0 < Kdim; kk0 += CONV_KC) {
        const kc = min(CONV_KC, Kdim - kk0);
        packConvMulti(
          inBase, imageBytes, P, IH, IW, OW, R, S, sh, sw, gpt, gpl, gdh, gdw, kk0, kc, q0, nc, packedB, lane,
        );
        for (let m = 0; m < Mg; m += MR) {
          const ap = wg + ((<usize>m * <usize>Kdim + <usize>(kk0 * MR)) << 2);
          const orow = ctile + (<usize>(m * CONV_NC) << 2);
          const mr = min(MR, Mg - m);
          for (let j = 0; j < nc; j += NR) {
            ukernel6x8(
              kc, ap, packedB + (<usize>(j * kc) << 2), orow + (<usize>j << 2), CONV_NC,
              mr, min(NR, nc - j), tmp,
            );
          }
        }
      }
      // Copy out: column runs that stay within one image.
      let c = 0;
      while (c < nc) {
        const q = q0 + c;
        const n = q / P, p = q - n * P;
        const run = min(nc - c, P - p);
        const outBase = out + (((<usize>(n * G + g) * <usize>Mg) * outPlane + <usize>p) << 2);
        for (let m = 0; m < Mg; m++) {
          const src = ctile + (<usize>(m * CONV_NC + c) << 2);
          const dst = outBase + ((<usize>m * outPlane) << 2);
          let j = 0;
          for (; j + 4 <= run; j += 4) v128.store(dst + (<usize>j << 2), v128.load(src + (<usize>j << 2)));
          for (; j < run; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
        }
        c += run;
      }
    }
    return;
  }
  const tiles = (P + CONV_NC - 1) / CONV_NC;
  const items = N * G * tiles;
  const i0 = shareStart(items, tid, nthreads), i1 = shareEnd(items, tid, nthreads);
  for (let item = i0; item < i1; item++) {
    const tile = item % tiles;
    const ng = item / tiles;
    const g = ng % G, n = ng / G;
    const p0 = tile * CONV_NC;
    const nc = min(CONV_NC, P - p0);
    const inBase = inp + ((<usize>(n * G + g) * <usize>Cin * inPlane) << 2);
    const outBase = out + (((<usize>(n * G + g) * <usize>Mg) * outPlane + <usize>p0) << 2);
    // Start from the bias (or zero); the k blocks add into it.
    for (let m = 0; m < Mg; m++) {
      const bv: f32 = bias != 0 ? load<f32>(bias + (<usize>(g * Mg + m) << 2)) : 0;
      const vb = f32x4.splat(bv);
      const row = outBase + ((<usize>m * outPlane) << 2);
      let j = 0;
      for (; j + 4 <= nc; j += 4) v128.store(row + (<usize>j << 2), vb);
      for (; j < nc; j++) store<f32>(row + (<usize>j << 2), bv);
    }
    const wg = wp + ((<usize>(g * MgPad) * <usize>Kdim) << 2);
    for (let kk0 = 0; kk0 < Kdim; kk0 += CONV_KC) {
      const kc = min(CONV_KC, Kdim - kk0);
      if (gather == GATHER_CONV) {
        packConv(inBase, Cin, IH, IW, OW, R, S, sh, sw, gpt, gpl, gdh, gdw, kk0, kc, p0, nc, packedB, lane);
      } else {
        packTransposed(inBase, Cin, IH, IW, OW, R, S, sh, sw, pt, pl, dh, dw, kk0, kc, p0, nc, packedB, lane);
      }
      for (let m = 0; m < Mg; m += MR) {
        const ap = wg + ((<usize>m * <usize>Kdim + <usize>(kk0 * MR)) << 2);
        const orow = outBase + ((<usize>m * outPlane) << 2);
        const mr = min(MR, Mg - m);
        for (let j = 0; j < nc; j += NR) {
          ukernel6x8(
            kc, ap, packedB + (<usize>(j * kc) << 2), orow + (<usize>j << 2), P,
            mr, min(NR, nc - j), tmp,
          );
        }
      }
    }
  }
}
