// Image decoding, encoding and resampling for the runtime: images as planar
// RGB f32 in 0..1 (C, H, W), the layout tensors use. PNG, JPEG, BMP, TIFF
// decode through image-js; output is PNG (or JPEG by extension).
// This module is browser compatible.
import { decode, encode, Image } from "image-js";

/** An RGB image, planar (all R, then all G, then all B), values in 0..1. */
export interface RgbImage {
  width: number;
  height: number;
  data: Float32Array;
}

/** Thrown for images that cannot be read; the message is one line. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageError";
  }
}

/** Default cap on decoded pixels (64 megapixels: 768 MiB as f32 RGB). */
export const DEFAULT_MAX_PIXELS = 64 * 1024 * 1024;

function sniff(bytes: Uint8Array): string {
  const b = bytes;
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    return "png";
  }
  if (b[0] === 0xff && b[1] === 0xd8) return "jpeg";
  if (b[0] === 0x42 && b[1] === 0x4d) return "bmp";
  if (
    (b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a) ||
    (b[0] === 0x4d && b[1] === 0x4d && b[3] === 0x2a)
  ) return "tiff";
  return "unknown";
}

/**
 * Decodes PNG/JPEG/BMP/TIFF bytes to RGB. Grey images become RGB; alpha is
 * composited over white; 16-bit images are scaled to 0..1 exactly.
 * `name` appears in error messages.
 */
export function decodeImage(
  bytes: Uint8Array,
  { name = "image", maxPixels = DEFAULT_MAX_PIXELS } = {},
): RgbImage {
  const kind = sniff(bytes);
  if (kind === "unknown") {
    throw new ImageError(
      `${name} is not a PNG, JPEG, BMP or TIFF image (${bytes.length} bytes); convert it to PNG or JPEG`,
    );
  }
  let img: Image;
  try {
    img = decode(bytes) as Image;
  } catch (e) {
    const why = String((e as Error)?.message ?? e).split("\n")[0];
    throw new ImageError(
      `${name} is a corrupt or unsupported ${kind.toUpperCase()} (${why}); re-save it as PNG or JPEG`,
    );
  }
  const { width, height } = img;
  if (width < 1 || height < 1) {
    throw new ImageError(`${name} has no pixels (${width}x${height})`);
  }
  if (width * height > maxPixels) {
    throw new ImageError(
      `${name} is ${width}x${height}, more than the ${maxPixels} pixel limit; resize it first`,
    );
  }
  const channels = img.channels;
  const raw = img.getRawImage().data as ArrayLike<number>;
  const max = img.maxValue;
  const colour = channels >= 3;
  const alpha = img.alpha;
  const n = width * height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const base = i * channels;
    const a = alpha ? raw[base + channels - 1] / max : 1;
    for (let c = 0; c < 3; c++) {
      const v = raw[base + (colour ? c : 0)] / max;
      // Composite over white so transparent areas do not turn black.
      out[c * n + i] = v * a + (1 - a);
    }
  }
  return { width, height, data: out };
}

/** Encodes RGB (0..1, clamped, rounded) as PNG, or JPEG when asked. */
export function encodeImage(
  image: RgbImage,
  format: "png" | "jpeg" = "png",
): Uint8Array {
  const { width, height, data } = image;
  const n = width * height;
  const pixels = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = data[c * n + i];
      if (!Number.isFinite(v)) {
        throw new ImageError(
          "Refusing to encode an image with NaN or infinite pixels",
        );
      }
      pixels[3 * i + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  const img = new Image(width, height, {
    colorModel: "RGB",
    data: pixels,
  });
  return format === "jpeg"
    ? encode(img, { format: "jpeg", encoderOptions: { quality: 95 } })
    : encode(img, { format: "png" });
}

/** The output format implied by a file name. */
export function formatForPath(path: string): "png" | "jpeg" {
  return /\.jpe?g$/i.test(path) ? "jpeg" : "png";
}

/**
 * Resamples to width x height with bilinear interpolation at half-pixel
 * centres (PyTorch align_corners=false). Large reductions first halve by
 * 2x2 box averages so that detail is averaged rather than aliased.
 */
export function resizeImage(
  image: RgbImage,
  width: number,
  height: number,
): RgbImage {
  if (!(width >= 1 && height >= 1)) {
    throw new RangeError(`Cannot resize to ${width}x${height}`);
  }
  let src = image;
  while (src.width >= 2 * width && src.height >= 2 * height) {
    src = halve(src);
  }
  if (src.width === width && src.height === height) return src;
  const out = new Float32Array(3 * width * height);
  const sx = src.width / width, sy = src.height / height;
  const sn = src.width * src.height, dn = width * height;
  for (let y = 0; y < height; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(src.height - 1, Math.floor(fy));
    const y1 = Math.min(src.height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5);
      const x0 = Math.min(src.width - 1, Math.floor(fx));
      const x1 = Math.min(src.width - 1, x0 + 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const p = src.data, o = c * sn;
        const top = p[o + y0 * src.width + x0] * (1 - wx) +
          p[o + y0 * src.width + x1] * wx;
        const bottom = p[o + y1 * src.width + x0] * (1 - wx) +
          p[o + y1 * src.width + x1] * wx;
        out[c * dn + y * width + x] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return { width, height, data: out };
}

function halve(image: RgbImage): RgbImage {
  const w = Math.floor(image.width / 2), h = Math.floor(image.height / 2);
  const sn = image.width * image.height, dn = w * h;
  const out = new Float32Array(3 * dn);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = c * sn + 2 * y * image.width + 2 * x;
        const d = image.data;
        out[c * dn + y * w + x] = 0.25 *
          (d[i] + d[i + 1] + d[i + image.width] + d[i + image.width + 1]);
      }
    }
  }
  return { width: w, height: h, data: out };
}

/** Scales so that the longer side is `longest` pixels, keeping the aspect. */
export function resizeLongestSide(image: RgbImage, longest: number): RgbImage {
  const scale = longest / Math.max(image.width, image.height);
  return resizeImage(
    image,
    Math.max(1, Math.round(image.width * scale)),
    Math.max(1, Math.round(image.height * scale)),
  );
}
