// Tiles for outputs larger than memory allows. The image is optimised as a
// whole; only its evaluation (loss and gradient) is split into overlapping
// tiles, so there is one image, one optimiser and no stitching:
//
// - content: each tile's content loss is weighted per feature position by a
//   partition of unity m_t (linear ramps across the overlaps, Σ_t m_t = 1),
//   so the sum over tiles is the full image's ½ Σ (F − P)²;
// - style: the Gram matrices are those of the WHOLE image: a first pass
//   (no gradient) sums F_t F_tᵀ over the tiles; the gradient pass then gives
//   each tile dE/dĜ of the whole-image Gram (style statistics never come
//   from one tile, so no "style shift" between tiles);
// - the gradient is the sum of the tiles' gradients (overlaps add).
// Tile origins are multiples of the deepest layer's stride, so features in a
// tile's interior equal the full image's exactly.
// This module is browser compatible.

/** One tile: pixel rectangle [x, x + width) × [y, y + height). */
export interface Tile {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Tiles of about `size` (the last up to `align` more) covering [0, length). */
export function tileStarts(
  length: number,
  size: number,
  overlap: number,
  align: number,
): { start: number; end: number }[] {
  if (size >= length) return [{ start: 0, end: length }];
  // The fewest tiles whose overlaps are at least `overlap`, spread evenly.
  const count = Math.ceil((length - overlap) / Math.max(1, size - overlap));
  const out: { start: number; end: number }[] = [];
  for (let i = 0; i < count; i++) {
    const start =
      Math.floor(Math.round((i * (length - size)) / (count - 1)) / align) *
      align;
    const end = i === count - 1 ? length : start + size;
    if (out.length && start <= out[out.length - 1].start) continue;
    out.push({ start, end });
  }
  return out;
}

/** The tiles of a width x height image (row-major order). */
export function tileLayout(
  width: number,
  height: number,
  size: number,
  overlap: number,
  align: number,
): Tile[] {
  const xs = tileStarts(width, size, overlap, align);
  const ys = tileStarts(height, size, overlap, align);
  const tiles: Tile[] = [];
  for (const y of ys) {
    for (const x of xs) {
      tiles.push({
        x: x.start,
        y: y.start,
        width: x.end - x.start,
        height: y.end - y.start,
      });
    }
  }
  return tiles;
}

/**
 * Per-axis partition-of-unity weights at feature resolution (stride s):
 * each segment's raw weight ramps linearly from its inner edges over the
 * overlap (never at the image border), then the weights are divided by
 * their sum at each position.
 */
function axisWeights(
  segments: { start: number; end: number }[],
  length: number,
  stride: number,
): Float64Array[] {
  const fl = Math.floor(length / stride);
  const raw = segments.map(({ start, end }) => {
    const a = start / stride, b = a + Math.floor((end - start) / stride);
    const w = new Float64Array(fl);
    // Ramp width: the overlap with the neighbours, at least one position.
    const before = segments.filter((s) => s.start < start && s.end > start)
      .reduce((m, s) => Math.max(m, s.end / stride - a), 0);
    const after = segments.filter((s) => s.end > end && s.start < end)
      .reduce((m, s) => Math.max(m, b - s.start / stride), 0);
    for (let q = a; q < Math.min(b, fl); q++) {
      let v = 1;
      if (start > 0 && before > 0) v = Math.min(v, (q - a + 0.5) / before);
      if (end < length && after > 0) v = Math.min(v, (b - q - 0.5) / after);
      w[q] = Math.max(v, 1e-6);
    }
    return w;
  });
  for (let q = 0; q < fl; q++) {
    let s = 0;
    for (const w of raw) s += w[q];
    if (s > 0) { for (const w of raw) w[q] /= s; }
  }
  return raw;
}

/**
 * The content-loss weights m_t of every tile at a layer of stride `stride`:
 * one [h_t · w_t] plane per tile (row-major), Σ_t m_t = 1 at every feature
 * position of the whole image.
 */
export function tileMasks(
  tiles: Tile[],
  width: number,
  height: number,
  stride: number,
): Float32Array[] {
  const xs = [
    ...new Map(tiles.map((t) => [t.x, { start: t.x, end: t.x + t.width }]))
      .values(),
  ];
  const ys = [
    ...new Map(tiles.map((t) => [t.y, { start: t.y, end: t.y + t.height }]))
      .values(),
  ];
  const wx = axisWeights(xs, width, stride),
    wy = axisWeights(ys, height, stride);
  return tiles.map((t) => {
    const ix = xs.findIndex((s) => s.start === t.x);
    const iy = ys.findIndex((s) => s.start === t.y);
    const fw = Math.floor(t.width / stride), fh = Math.floor(t.height / stride);
    const x0 = t.x / stride, y0 = t.y / stride;
    const m = new Float32Array(fw * fh);
    for (let r = 0; r < fh; r++) {
      for (let c = 0; c < fw; c++) {
        m[r * fw + c] = wy[iy][y0 + r] * wx[ix][x0 + c];
      }
    }
    return m;
  });
}

/** Copies a tile out of planar 3-channel values of a width x height image. */
export function cropPlanes(
  values: Float32Array,
  width: number,
  height: number,
  t: Tile,
): Float32Array {
  const out = new Float32Array(3 * t.width * t.height);
  for (let c = 0; c < 3; c++) {
    for (let r = 0; r < t.height; r++) {
      const src = c * width * height + (t.y + r) * width + t.x;
      out.set(
        values.subarray(src, src + t.width),
        c * t.width * t.height + r * t.width,
      );
    }
  }
  return out;
}

/** Adds a tile's planar 3-channel values into the whole image's. */
export function addPlanes(
  into: Float32Array,
  width: number,
  height: number,
  t: Tile,
  values: Float32Array,
): void {
  for (let c = 0; c < 3; c++) {
    for (let r = 0; r < t.height; r++) {
      const dst = c * width * height + (t.y + r) * width + t.x;
      const src = c * t.width * t.height + r * t.width;
      for (let i = 0; i < t.width; i++) into[dst + i] += values[src + i];
    }
  }
}
