// Line plots rasterised into an RGBA buffer and encoded as PNG with image-js:
// loss curves and gradient-norm plots for the training scripts, with no
// browser, canvas or font library. Several panels per figure, several series
// per panel, linear or log-scale y, tick labels, a legend and a title, drawn
// with antialiased lines and a 5x7 bitmap font (./_font.ts).
// This module is browser compatible.
import { encode, Image } from "image-js";
import { currentPlatform } from "../platform/mod.ts";
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphRows } from "./_font.ts";

export type Rgb = readonly [number, number, number];

export interface Series {
  name: string;
  /** Values; non-finite ones (and, on a log axis, non-positive ones) break the line. */
  y: ArrayLike<number>;
  /** X coordinates (default 0, 1, 2, ...). */
  x?: ArrayLike<number>;
  /** Line colour (default: the palette by position). */
  color?: Rgb;
  /** Line width in pixels (default 1.5). */
  width?: number;
}

export interface PlotSpec {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic y axis (base 10). */
  logY?: boolean;
  series: Series[];
  /** Fixed y range (default: from the data). */
  yMin?: number;
  yMax?: number;
  /** Fixed x range (default: from the data). */
  xMin?: number;
  xMax?: number;
  /** Draw the legend (default true). */
  legend?: boolean;
}

export interface FigureOptions {
  /** Width of one panel in pixels (default 720). */
  width?: number;
  /** Height of one panel in pixels (default 420). */
  height?: number;
  /** Panels per row (default: all in one row). */
  columns?: number;
  /** A title above all panels. */
  title?: string;
  background?: Rgb;
}

/** An RGBA image, 4 bytes per pixel, row-major from the top-left. */
export interface Raster {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

/** Ten distinct colours (Tableau 10), for a few series. */
export const PALETTE: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

// Anchors of matplotlib's viridis map (perceptually ordered), for many
// series that form a sequence such as the layers of a network.
const VIRIDIS: readonly Rgb[] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];

/** A colour along viridis for t in [0, 1] (dark purple to yellow). */
export function sequentialColor(t: number): Rgb {
  const u = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const f = u - i;
  const a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];
const FRAME: Rgb = [120, 120, 120];
const ADVANCE = GLYPH_WIDTH + 1;

class Canvas implements Raster {
  readonly data: Uint8ClampedArray;
  constructor(readonly width: number, readonly height: number, bg: Rgb) {
    this.data = new Uint8ClampedArray(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      this.data.set(bg, i * 4);
      this.data[i * 4 + 3] = 255;
    }
  }

  /** Blends `color` over pixel (x, y) with coverage `alpha`. */
  blend(x: number, y: number, color: Rgb, alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    const d = this.data;
    d[i] += (color[0] - d[i]) * alpha;
    d[i + 1] += (color[1] - d[i + 1]) * alpha;
    d[i + 2] += (color[2] - d[i + 2]) * alpha;
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    for (let j = Math.max(0, y); j < Math.min(this.height, y + h); j++) {
      for (let i = Math.max(0, x); i < Math.min(this.width, x + w); i++) {
        this.blend(i, j, color);
      }
    }
  }

  hline(x0: number, x1: number, y: number, color: Rgb): void {
    this.fillRect(x0, y, x1 - x0 + 1, 1, color);
  }

  vline(x: number, y0: number, y1: number, color: Rgb): void {
    this.fillRect(x, y0, 1, y1 - y0 + 1, color);
  }

  /**
   * An antialiased segment of width `w`: each pixel near it is covered by
   * how far its centre lies inside the stroke (distance to the segment).
   */
  segment(
    ax: number,
    ay: number,
    bx: number,
    by: number,
    w: number,
    color: Rgb,
    clip: Rect,
  ): void {
    const r = w / 2 + 1;
    const x0 = Math.max(clip.x, Math.floor(Math.min(ax, bx) - r));
    const x1 = Math.min(clip.x + clip.w - 1, Math.ceil(Math.max(ax, bx) + r));
    const y0 = Math.max(clip.y, Math.floor(Math.min(ay, by) - r));
    const y1 = Math.min(clip.y + clip.h - 1, Math.ceil(Math.max(ay, by) + r));
    const dx = bx - ax, dy = by - ay;
    const len2 = dx * dx + dy * dy;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5 - ax, py = y + 0.5 - ay;
        const t = len2 > 0
          ? Math.min(1, Math.max(0, (px * dx + py * dy) / len2))
          : 0;
        const ex = px - t * dx, ey = py - t * dy;
        const coverage = w / 2 + 0.5 - Math.sqrt(ex * ex + ey * ey);
        if (coverage > 0) this.blend(x, y, color, Math.min(1, coverage));
      }
    }
  }

  /**
   * Draws text with its top-left corner at (x, y); `vertical` runs it
   * bottom to top (rotated 90 degrees anticlockwise) from (x, y) upwards.
   */
  text(
    x: number,
    y: number,
    s: string,
    color: Rgb,
    scale = 1,
    vertical = false,
  ): void {
    for (let k = 0; k < s.length; k++) {
      const rows = glyphRows(s[k]);
      for (let r = 0; r < GLYPH_HEIGHT; r++) {
        for (let c = 0; c < GLYPH_WIDTH; c++) {
          if (!(rows[r] & (1 << (GLYPH_WIDTH - 1 - c)))) continue;
          const gx = k * ADVANCE + c, gy = r;
          if (vertical) {
            this.fillRect(
              x + gy * scale,
              y - (gx + 1) * scale,
              scale,
              scale,
              color,
            );
          } else {
            this.fillRect(x + gx * scale, y + gy * scale, scale, scale, color);
          }
        }
      }
    }
  }
}

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Width in pixels of `s` drawn at `scale`. */
export function textWidth(s: string, scale = 1): number {
  return s.length ? (s.length * ADVANCE - 1) * scale : 0;
}

/** A short label for a tick value. */
export function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential().split("e");
    const mant = Number(Number(m).toPrecision(3)).toString();
    const exp = Number(e);
    return `${mant === "1" ? "1" : mant === "-1" ? "-1" : mant}e${exp}`;
  }
  return Number(v.toPrecision(4)).toString();
}

/** Round tick positions (1, 2 or 5 times a power of ten) covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return ticks;
}

interface Axis {
  lo: number;
  hi: number;
  log: boolean;
}

function toScreen(v: number, axis: Axis, from: number, span: number): number {
  const t = axis.log
    ? (Math.log10(v) - Math.log10(axis.lo)) /
      (Math.log10(axis.hi) - Math.log10(axis.lo))
    : (v - axis.lo) / (axis.hi - axis.lo);
  return from + t * span;
}

function usable(v: number, log: boolean): boolean {
  return Number.isFinite(v) && (!log || v > 0);
}

function yAxisOf(spec: PlotSpec): Axis {
  const log = spec.logY ?? false;
  let lo = Infinity, hi = -Infinity;
  for (const s of spec.series) {
    for (let i = 0; i < s.y.length; i++) {
      const v = s.y[i];
      if (!usable(v, log)) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (spec.yMin !== undefined && usable(spec.yMin, log)) lo = spec.yMin;
  if (spec.yMax !== undefined && usable(spec.yMax, log)) hi = spec.yMax;
  if (!(lo <= hi)) return log ? { lo: 1, hi: 10, log } : { lo: 0, hi: 1, log };
  if (log) {
    // Whole decades, so both ends carry a labelled tick.
    lo = 10 ** Math.floor(Math.log10(lo));
    hi = 10 ** Math.ceil(Math.log10(hi));
    if (hi === lo) hi = lo * 10;
    return { lo, hi, log };
  }
  if (hi === lo) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return { lo: lo - pad, hi: hi + pad, log };
  }
  const pad = (hi - lo) * 0.05;
  return {
    lo: spec.yMin ?? lo - pad,
    hi: spec.yMax ?? hi + pad,
    log,
  };
}

function xAxisOf(spec: PlotSpec): Axis {
  let lo = Infinity, hi = -Infinity;
  for (const s of spec.series) {
    const n = s.y.length;
    for (let i = 0; i < n; i++) {
      const x = s.x ? s.x[i] : i;
      if (!Number.isFinite(x)) continue;
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
  }
  if (spec.xMin !== undefined && Number.isFinite(spec.xMin)) lo = spec.xMin;
  if (spec.xMax !== undefined && Number.isFinite(spec.xMax)) hi = spec.xMax;
  if (!(lo <= hi)) return { lo: 0, hi: 1, log: false };
  if (hi === lo) return { lo: lo - 1, hi: hi + 1, log: false };
  return { lo, hi, log: false };
}

function logTicks(axis: Axis): { major: number[]; minor: number[] } {
  const a = Math.round(Math.log10(axis.lo)),
    b = Math.round(Math.log10(axis.hi));
  const stride = Math.max(1, Math.ceil((b - a) / 8));
  const major: number[] = [], minor: number[] = [];
  for (let e = a; e <= b; e++) {
    if ((e - a) % stride === 0) major.push(10 ** e);
    if (b - a <= 6 && e < b) {
      for (let m = 2; m < 10; m++) minor.push(m * 10 ** e);
    }
  }
  return { major, minor };
}

/** Clips segment a-b to the rectangle (Liang-Barsky); null when outside. */
function clipSegment(
  ax: number,
  ay: number,
  bx: number,
  by: number,
  r: Rect,
): [number, number, number, number] | null {
  let t0 = 0, t1 = 1;
  const dx = bx - ax, dy = by - ay;
  const edges: [number, number][] = [
    [-dx, ax - r.x],
    [dx, r.x + r.w - ax],
    [-dy, ay - r.y],
    [dy, r.y + r.h - ay],
  ];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return null;
      continue;
    }
    const t = q / p;
    if (p < 0) t0 = Math.max(t0, t);
    else t1 = Math.min(t1, t);
    if (t0 > t1) return null;
  }
  return [ax + t0 * dx, ay + t0 * dy, ax + t1 * dx, ay + t1 * dy];
}

function drawPanel(canvas: Canvas, spec: PlotSpec, box: Rect): void {
  const yAxis = yAxisOf(spec);
  const xAxis = xAxisOf(spec);
  const showLegend = (spec.legend ?? true) && spec.series.length > 0;
  const legendWidth = showLegend
    ? Math.max(...spec.series.map((s) => textWidth(s.name))) + 30
    : 0;

  const yTicks = yAxis.log
    ? logTicks(yAxis)
    : { major: linearTicks(yAxis.lo, yAxis.hi), minor: [] };
  const tickLabelWidth = Math.max(
    ...yTicks.major.map((v) => textWidth(formatTick(v))),
  );
  const left = box.x + 10 + (spec.yLabel ? GLYPH_HEIGHT + 8 : 0) +
    tickLabelWidth + 6;
  const top = box.y + (spec.title ? 2 * GLYPH_HEIGHT + 14 : 10);
  const right = box.x + box.w - 12 - (legendWidth ? legendWidth + 8 : 0);
  const bottom = box.y + box.h - 14 - (spec.xLabel ? GLYPH_HEIGHT + 8 : 0) -
    GLYPH_HEIGHT;
  const plot: Rect = { x: left, y: top, w: right - left, h: bottom - top };
  if (plot.w < 20 || plot.h < 20) {
    throw new RangeError(
      `Plot panel of ${box.w}x${box.h} pixels is too small for its labels`,
    );
  }

  const sx = (v: number) => toScreen(v, xAxis, plot.x, plot.w - 1);
  const sy = (v: number) =>
    toScreen(v, yAxis, plot.y + plot.h - 1, -(plot.h - 1));

  // Grid and ticks.
  for (const v of yTicks.minor) {
    const y = Math.round(sy(v));
    if (y > plot.y && y < plot.y + plot.h - 1) {
      canvas.hline(plot.x, plot.x + plot.w - 1, y, [240, 240, 240]);
    }
  }
  for (const v of yTicks.major) {
    const y = Math.round(sy(v));
    if (y < plot.y - 1 || y > plot.y + plot.h) continue;
    canvas.hline(plot.x, plot.x + plot.w - 1, y, GRID);
    canvas.hline(plot.x - 4, plot.x - 1, y, FRAME);
    const label = formatTick(v);
    canvas.text(
      plot.x - 6 - textWidth(label),
      y - (GLYPH_HEIGHT >> 1),
      label,
      INK,
    );
  }
  for (const v of linearTicks(xAxis.lo, xAxis.hi, Math.max(2, plot.w / 80))) {
    const x = Math.round(sx(v));
    if (x < plot.x - 1 || x > plot.x + plot.w) continue;
    canvas.vline(x, plot.y, plot.y + plot.h - 1, GRID);
    canvas.vline(x, plot.y + plot.h, plot.y + plot.h + 3, FRAME);
    const label = formatTick(v);
    canvas.text(x - (textWidth(label) >> 1), plot.y + plot.h + 6, label, INK);
  }

  // Series, clipped to the plot area.
  spec.series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const width = s.width ?? 1.5;
    let prev: [number, number] | null = null;
    for (let i = 0; i < s.y.length; i++) {
      const xv = s.x ? s.x[i] : i, yv = s.y[i];
      if (!Number.isFinite(xv) || !usable(yv, yAxis.log)) {
        prev = null;
        continue;
      }
      const p: [number, number] = [sx(xv), sy(yv)];
      const a = prev ?? p;
      const c = clipSegment(a[0], a[1], p[0], p[1], plot);
      if (c) canvas.segment(c[0], c[1], c[2], c[3], width, color, plot);
      prev = p;
    }
  });

  // Frame, labels, title, legend.
  canvas.hline(plot.x - 1, plot.x + plot.w, plot.y - 1, FRAME);
  canvas.hline(plot.x - 1, plot.x + plot.w, plot.y + plot.h, FRAME);
  canvas.vline(plot.x - 1, plot.y - 1, plot.y + plot.h, FRAME);
  canvas.vline(plot.x + plot.w, plot.y - 1, plot.y + plot.h, FRAME);
  if (spec.title) {
    const w = textWidth(spec.title, 2);
    canvas.text(plot.x + ((plot.w - w) >> 1), box.y + 6, spec.title, INK, 2);
  }
  if (spec.xLabel) {
    const w = textWidth(spec.xLabel);
    canvas.text(
      plot.x + ((plot.w - w) >> 1),
      plot.y + plot.h + 8 + GLYPH_HEIGHT + 6,
      spec.xLabel,
      INK,
    );
  }
  if (spec.yLabel) {
    const w = textWidth(spec.yLabel);
    canvas.text(
      box.x + 8,
      plot.y + ((plot.h + w) >> 1),
      spec.yLabel,
      INK,
      1,
      true,
    );
  }
  if (showLegend) {
    const lx = plot.x + plot.w + 10;
    const rowH = GLYPH_HEIGHT + 5;
    const visible = Math.min(
      spec.series.length,
      Math.floor((plot.h - 8) / rowH),
    );
    canvas.fillRect(lx, plot.y, legendWidth, visible * rowH + 8, [
      250,
      250,
      250,
    ]);
    for (let k = 0; k < visible; k++) {
      const s = spec.series[k];
      const color = s.color ?? PALETTE[k % PALETTE.length];
      const y = plot.y + 5 + k * rowH;
      canvas.fillRect(lx + 5, y + 2, 16, 3, color);
      canvas.text(lx + 25, y, s.name, INK);
    }
  }
}

/**
 * Rasterises one panel, or several in a grid (`columns` per row), into RGBA.
 */
export function renderPlot(
  panels: PlotSpec | PlotSpec[],
  options: FigureOptions = {},
): Raster {
  const list = Array.isArray(panels) ? panels : [panels];
  if (list.length === 0) throw new RangeError("renderPlot(): no panels");
  const pw = options.width ?? 720, ph = options.height ?? 420;
  const columns = Math.max(
    1,
    Math.min(list.length, options.columns ?? list.length),
  );
  const rows = Math.ceil(list.length / columns);
  const titleH = options.title ? 2 * GLYPH_HEIGHT + 16 : 0;
  const canvas = new Canvas(
    pw * columns,
    ph * rows + titleH,
    options.background ?? [255, 255, 255],
  );
  if (options.title) {
    const w = textWidth(options.title, 2);
    canvas.text((canvas.width - w) >> 1, 8, options.title, INK, 2);
  }
  list.forEach((spec, i) => {
    drawPanel(canvas, spec, {
      x: (i % columns) * pw,
      y: titleH + Math.floor(i / columns) * ph,
      w: pw,
      h: ph,
    });
  });
  return canvas;
}

/** Encodes an RGBA raster as PNG through image-js. */
export function encodePng(raster: Raster): Uint8Array {
  const image = new Image(raster.width, raster.height, {
    colorModel: "RGBA",
    data: new Uint8Array(
      raster.data.buffer,
      raster.data.byteOffset,
      raster.data.byteLength,
    ),
  });
  return encode(image, { format: "png" });
}

/** Renders and encodes a figure as PNG bytes. */
export function plotPng(
  panels: PlotSpec | PlotSpec[],
  options: FigureOptions = {},
): Uint8Array {
  return encodePng(renderPlot(panels, options));
}

/** Renders a figure and writes it as a PNG file (atomically). */
export async function writePlotPng(
  path: string,
  panels: PlotSpec | PlotSpec[],
  options: FigureOptions = {},
): Promise<void> {
  const png = plotPng(panels, options);
  await (await currentPlatform()).writeFileAtomic(path, png);
}
