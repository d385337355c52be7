// IEEE 754 binary16 (half precision) decoding, shared by the weight readers
// (safetensors F16, PyTorch HalfStorage).
// This module is browser compatible.

/** IEEE 754 binary16 bits to a number (exact: every half is a float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal or zero
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
