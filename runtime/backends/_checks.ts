// Shape checks shared by every backend's kernel registrations: one-line
// RangeErrors naming the kernel and the shapes.
// This module is browser compatible.
import type { Shape, Tensor } from "../tensor.ts";

/** All tensors hold the same number of elements. */
export function sameSize(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.size !== ts[0].size) {
      throw new RangeError(
        `${op}: sizes differ ([${ts[0].shape}] vs [${t.shape}])`,
      );
    }
  }
}

/** A tensor (or shape) of rank `r`. */
export function rank(op: string, t: Tensor | Shape, r: number): void {
  const shape = "shape" in t ? t.shape : t;
  if (shape.length !== r) {
    throw new RangeError(`${op}: needs rank ${r}, got [${shape.join(", ")}]`);
  }
}

/** [N, C, spatial] of an [N, C, ...] tensor or shape. */
export function ncs(op: string, t: Tensor | Shape): [number, number, number] {
  const shape = "shape" in t ? t.shape : t;
  if (shape.length < 2) {
    throw new RangeError(`${op}: needs [N, C, ...], got [${shape.join(", ")}]`);
  }
  return [shape[0], shape[1], shape.slice(2).reduce((a, d) => a * d, 1)];
}
