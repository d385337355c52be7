// Argument checks shared by the wasm kernel shims: each failure is a
// one-line RangeError naming the function, the argument and the value.
// This module is browser compatible.

/** An integer count or size of at least `min`. */
export function checkInt(
  fn: string,
  name: string,
  v: number,
  min: number,
): void {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(
      `${fn}: ${name} must be an integer >= ${min}, got ${v}`,
    );
  }
}

/** Byte address of an f32/i32 buffer: a multiple of 4; 0 only if optional. */
export function checkPtr(
  fn: string,
  name: string,
  p: number,
  optional = false,
): void {
  if (!Number.isInteger(p) || p < 0 || p % 4 !== 0 || (p === 0 && !optional)) {
    throw new RangeError(
      `${fn}: ${name} must be a ${
        optional ? "" : "non-zero "
      }byte address (multiple of 4), got ${p}`,
    );
  }
}
