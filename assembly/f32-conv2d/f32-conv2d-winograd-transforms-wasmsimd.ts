// Winograd F(2x2, 3x3) input transform V = B^T d B for 8 tiles at a time
// (lanes = tiles), shared by the forward and backward-filter kernels (not
// exported by the module). See f32-conv2d-winograd-6x8-wasmsimd.ts for the
// matrices (Lavin & Gray 2016, eq. 8). Patch rows are first transformed
// along columns (d B) into a 4 x 32-float scratch `rows` (t[i][j][lane] at
// float i*32 + j*8 + lane), then along rows (B^T t) into V.
import { NR } from "../f32-gemm/f32-gemm-6x8-ukernel-wasmsimd";

/** Floats of one row scratch: 20 input columns feed 8 tiles. */
export const ROWBUF: i32 = 20;

/**
 * Floats added between consecutive xi slabs of U, V and M (one cache line):
 * the transforms touch all 16 slabs at once, and slabs a multiple of 4 KiB
 * apart would all map to the same L1 set (8 ways for 16 streams). Measured:
 * the 512 x 512 weight transform went from 35 ms to 2.4 ms.
 */
export const XI_GAP: i32 = 16;

/**
 * Row i of 8 tiles' input patches, row-transformed (d B): for lanes
 * l = 0..3 (h = 0) or 4..7 (h = 1) of the panel. `p` points at the first of
 * 20 input columns. Returns nothing: writes 4 vectors x 2 halves at dst
 * (t[j] for j = 0..3 at dst + 32*j + 16*h bytes).
 */
// @ts-ignore: decorator
@inline
function rowTransform(p: usize, dst: usize): void {
  const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32);
  const v3 = v128.load(p, 48), v4 = v128.load(p, 64);
  // Lane l of tile l needs columns 2l + j, j = 0..3.
  const e0 = v128.shuffle<f32>(v0, v1, 0, 2, 4, 6), o0 = v128.shuffle<f32>(v0, v1, 1, 3, 5, 7);
  const e1 = v128.shuffle<f32>(v2, v3, 0, 2, 4, 6), o1 = v128.shuffle<f32>(v2, v3, 1, 3, 5, 7);
  const e2 = v128.shuffle<f32>(v4, v4, 0, 2, 0, 2), o2 = v128.shuffle<f32>(v4, v4, 1, 3, 1, 3);
  const d2a = v128.shuffle<f32>(e0, e1, 1, 2, 3, 4), d3a = v128.shuffle<f32>(o0, o1, 1, 2, 3, 4);
  const d2b = v128.shuffle<f32>(e1, e2, 1, 2, 3, 4), d3b = v128.shuffle<f32>(o1, o2, 1, 2, 3, 4);
  // d B with B^T rows (1 0 -1 0), (0 1 1 0), (0 -1 1 0), (0 1 0 -1).
  v128.store(dst, f32x4.sub(e0, d2a));
  v128.store(dst, f32x4.sub(e1, d2b), 16);
  v128.store(dst, f32x4.add(o0, d2a), 32);
  v128.store(dst, f32x4.add(o1, d2b), 48);
  v128.store(dst, f32x4.sub(d2a, o0), 64);
  v128.store(dst, f32x4.sub(d2b, o1), 80);
  v128.store(dst, f32x4.sub(o0, d3a), 96);
  v128.store(dst, f32x4.sub(o1, d3b), 112);
}

/**
 * Row-transformed patch rows (d B) of 8 tiles that lie in one tile row,
 * starting at input column iw0 (rows ih0..ih0+3), into rows (t[i][j][lane]
 * at float i*32 + j*8 + lane).
 */
export function patchRowsFast(
  plane: usize, H: i32, W: i32, ih0: i32, iw0: i32, rowbuf: usize, rows: usize,
): void {
  const colsIn = iw0 >= 0 && iw0 + ROWBUF <= W;
  for (let i = 0; i < 4; i++) {
    const ih = ih0 + i;
    const dst = rows + (<usize>(i * 32) << 2);
    if (<u32>ih >= <u32>H) {
      for (let j = 0; j < 8; j++) v128.store(dst + (<usize>j << 4), f32x4.splat(0));
      continue;
    }
    let p = plane + ((<usize>ih * <usize>W) << 2);
    if (colsIn) {
      p += <usize>iw0 << 2;
    } else {
      // Border: copy the 20 columns with zeros outside the image.
      for (let j = 0; j < ROWBUF; j++) {
        const iw = iw0 + j;
        store<f32>(rowbuf + (<usize>j << 2), <u32>iw < <u32>W ? load<f32>(p + (<usize>iw << 2)) : 0);
      }
      p = rowbuf;
    }
    rowTransform(p, dst);
  }
}

/**
 * The same for 8 tiles in linear order that span tile rows (or end early:
 * lanes >= `lanes` are zero), one lane at a time. Tile t0 + l is at
 * (th, tw) = ((t0 + l) / TW, (t0 + l) % TW).
 */
export function patchRowsGather(
  plane: usize, H: i32, W: i32, TW: i32, t0: i32, lanes: i32, pt: i32, pl: i32, rows: usize,
): void {
  for (let l = 0; l < NR; l++) {
    const t = t0 + l;
    const th = t / TW, tw = t - th * TW;
    for (let i = 0; i < 4; i++) {
      const ih = 2 * th - pt + i, iw = 2 * tw - pl;
      let d0: f32 = 0, d1: f32 = 0, d2: f32 = 0, d3: f32 = 0;
      if (l < lanes && <u32>ih < <u32>H) {
        const row = plane + ((<usize>ih * <usize>W) << 2);
        if (<u32>iw < <u32>W) d0 = load<f32>(row + (<usize>iw << 2));
        if (<u32>(iw + 1) < <u32>W) d1 = load<f32>(row + (<usize>(iw + 1) << 2));
        if (<u32>(iw + 2) < <u32>W) d2 = load<f32>(row + (<usize>(iw + 2) << 2));
        if (<u32>(iw + 3) < <u32>W) d3 = load<f32>(row + (<usize>(iw + 3) << 2));
      }
      const dst = rows + (<usize>(i * 32 + l) << 2);
      store<f32>(dst, d0 - d2);
      store<f32>(dst, d1 + d2, 32);
      store<f32>(dst, d2 - d1, 64);
      store<f32>(dst, d1 - d3, 96);
    }
  }
}

/**
 * Column transform (B^T t) of the 4 row-transformed patch rows into V
 * (v: float offset of V[0][q][c][0]; xiStride = C*NT floats):
 * V[i][j] = (t0 - t2, t1 + t2, t2 - t1, t1 - t3)[i], one j and half at a time.
 */
// @ts-ignore: decorator
@inline
export function columnTransform(rows: usize, v: usize, xiStride: usize): void {
  const s4 = (xiStride * 4) << 2;
  for (let jh = 0; jh < 8; jh++) {
    const o = <usize>jh << 4;
    const t0 = v128.load(rows + o), t1 = v128.load(rows + o, 128);
    const t2 = v128.load(rows + o, 256), t3 = v128.load(rows + o, 384);
    const j = jh >> 1, h = <usize>(jh & 1) << 4;
    const out = v + ((<usize>j * xiStride) << 2) + h;
    v128.store(out, f32x4.sub(t0, t2));
    v128.store(out + s4, f32x4.add(t1, t2));
    v128.store(out + 2 * s4, f32x4.sub(t2, t1));
    v128.store(out + 3 * s4, f32x4.sub(t1, t3));
  }
}

