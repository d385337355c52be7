// Winograd F(4x4, 3x3) input transform V = B^T d B for 8 tiles at a time
// (lanes = tiles), shared by the forward / data-gradient kernel
// (f32-conv2d-winograd-f43-wasmsimd.ts, which gives the matrices) and the
// F(4x4, 3x3) filter gradient (f32-conv2d-bwd-filter-winograd-3x3-wasmsimd.ts);
// not exported by the module (index.ts re-exports neither).
import { madd } from "../common/simd";
import { NR } from "../f32-gemm/f32-gemm-6x8-ukernel-wasmsimd";

/** Input columns read by 8 tiles of one tile row: 4 * 8 + 2, rounded up to 4. */
export const ROWBUF: i32 = 36;
/** Floats of one row-transformed scratch: t[i][j][lane] at (i*6 + j)*8 + lane. */
export const ROWS_FLOATS: i32 = 36 * 8;

/**
 * B^T d for 6 values d0..d5 at src (stride ss bytes) into dst (stride ds
 * bytes), plain f32 (the gather path and the scalar twin).
 */
// @ts-ignore: decorator
@inline
export function btScalar(d0: f32, d1: f32, d2: f32, d3: f32, d4: f32, d5: f32, dst: usize, ds: usize): void {
  const a: f32 = d4 - 4 * d2, b: f32 = d3 - 4 * d1;
  const c: f32 = d4 - d2, e: f32 = 2 * (d3 - d1);
  store<f32>(dst, 4 * d0 - 5 * d2 + d4);
  store<f32>(dst + ds, a + b);
  store<f32>(dst + 2 * ds, a - b);
  store<f32>(dst + 3 * ds, c + e);
  store<f32>(dst + 4 * ds, c - e);
  store<f32>(dst + 5 * ds, 4 * d1 - 5 * d3 + d5);
}

/** B^T applied to 6 vectors at src, src + ss, ...: results at dst, dst + ds, .... */
// @ts-ignore: decorator
@inline
function btVector(d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128, dst: usize, ds: usize): void {
  const four = f32x4.splat(4), mfour = f32x4.splat(-4), mfive = f32x4.splat(-5), two = f32x4.splat(2);
  const a = madd(mfour, d2, d4), b = madd(mfour, d1, d3);
  const c = f32x4.sub(d4, d2), e = f32x4.mul(two, f32x4.sub(d3, d1));
  v128.store(dst, madd(four, d0, madd(mfive, d2, d4)));
  v128.store(dst + ds, f32x4.add(a, b));
  v128.store(dst + 2 * ds, f32x4.sub(a, b));
  v128.store(dst + 3 * ds, f32x4.add(c, e));
  v128.store(dst + 4 * ds, f32x4.sub(c, e));
  v128.store(dst + 5 * ds, madd(four, d1, madd(mfive, d3, d5)));
}

/**
 * Row i of 8 tiles in one tile row, row-transformed (d B): p points at the
 * first of 34 input columns; t[i][j][lane] to rows + ((i*6 + j)*8 + lane)*4.
 */
// @ts-ignore: decorator
@inline
function rowTransform(p: usize, rows: usize, i: i32): void {
  for (let h = 0; h < 2; h++) {
    const q = p + (<usize>h << 6);
    const v0 = v128.load(q), v1 = v128.load(q, 16), v2 = v128.load(q, 32);
    const v3 = v128.load(q, 48), v4 = v128.load(q, 64);
    // 4x4 transpose: c_j lane l = column 4l + j; c4, c5 shift in column 16, 17.
    const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
    const t2 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
    const c0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), c1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
    const c2 = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), c3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
    const c4 = v128.shuffle<f32>(c0, v4, 1, 2, 3, 4), c5 = v128.shuffle<f32>(c1, v4, 1, 2, 3, 5);
    btVector(c0, c1, c2, c3, c4, c5, rows + (<usize>(i * 48 + h * 4) << 2), 32);
  }
}

/** Column transform (B^T t) of rows into V (v: float offset of V[0][q][c][0]). */
export function columnTransform(rows: usize, v: usize, xiStride: usize): void {
  const s = xiStride << 2;
  for (let j = 0; j < 6; j++) {
    for (let h = 0; h < 2; h++) {
      const src = rows + (<usize>(j * 8 + h * 4) << 2);
      btVector(
        v128.load(src), v128.load(src, 192), v128.load(src, 384),
        v128.load(src, 576), v128.load(src, 768), v128.load(src, 960),
        v + <usize>j * s + (<usize>h << 4), 6 * s,
      );
    }
  }
}

/**
 * Row-transformed patch rows of the 8 tiles t0..t0+7 (lanes >= `lanes` are
 * zero), one lane at a time: the tiles may span tile rows.
 */
export function patchRowsGather(
  plane: usize, H: i32, W: i32, TW: i32, t0: i32, lanes: i32, pt: i32, pl: i32, rows: usize,
): void {
  for (let l = 0; l < NR; l++) {
    const t = t0 + l;
    const th = t / TW, tw = t - th * TW;
    for (let i = 0; i < 6; i++) {
      const ih = 4 * th - pt + i, iw = 4 * tw - pl;
      let d0: f32 = 0, d1: f32 = 0, d2: f32 = 0, d3: f32 = 0, d4: f32 = 0, d5: f32 = 0;
      if (l < lanes && <u32>ih < <u32>H) {
        const row = plane + ((<usize>ih * <usize>W) << 2);
        if (<u32>iw < <u32>W) d0 = load<f32>(row + (<usize>iw << 2));
        if (<u32>(iw + 1) < <u32>W) d1 = load<f32>(row + (<usize>(iw + 1) << 2));
        if (<u32>(iw + 2) < <u32>W) d2 = load<f32>(row + (<usize>(iw + 2) << 2));
        if (<u32>(iw + 3) < <u32>W) d3 = load<f32>(row + (<usize>(iw + 3) << 2));
        if (<u32>(iw + 4) < <u32>W) d4 = load<f32>(row + (<usize>(iw + 4) << 2));
        if (<u32>(iw + 5) < <u32>W) d5 = load<f32>(row + (<usize>(iw + 5) << 2));
      }
      btScalar(d0, d1, d2, d3, d4, d5, rows + (<usize>(i * 48 + l) << 2), 32);
    }
  }
}

/** Row-transformed patch rows of 8 tiles in one tile row starting at (ih0, iw0). */
export function patchRowsFast(
  plane: usize, H: i32, W: i32, ih0: i32, iw0: i32, rowbuf: usize, rows: usize,
): void {
  const colsIn = iw0 >= 0 && iw0 + ROWBUF <= W;
  for (let i = 0; i < 6; i++) {
    const ih = ih0 + i;
    if (<u32>ih >= <u32>H) {
      for (let j = 0; j < 12; j++) v128.store(rows + (<usize>(i * 48 + j * 4) << 2), f32x4.splat(0));
      continue;
    }
    let p = plane + ((<usize>ih * <usize>W) << 2);
    if (colsIn) {
      p += <usize>iw0 << 2;
    } else {
      for (let j = 0; j < ROWBUF; j++) {
        const iw = iw0 + j;
        store<f32>(rowbuf + (<usize>j << 2), <u32>iw < <u32>W ? load<f32>(p + (<usize>iw << 2)) : 0);
      }
      p = rowbuf;
    }
    rowTransform(p, rows, i);
  }
}
