// Shape ops: reshape and flatten are views (no copy); concat copies blocks
// with the CopyInto kernel. Gradients of views are views of the gradient.
// This module is browser compatible.
import { needsGrad, record } from "../autograd.ts";
import { runKernel } from "../kernel_registry.ts";
import { empty, resolveShape, type Shape, Tensor } from "../tensor.ts";

/** The same values in another shape (one dimension may be -1). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const y = x.view(resolveShape(shape, x.size));
  if (!needsGrad([x])) return y;
  return record(y, "reshape", [x], (g) => [g.view(x.shape)]);
}

/** Collapses dims startDim..endDim into one (PyTorch flatten; default 1..-1). */
export function flatten(x: Tensor, startDim = 1, endDim = -1): Tensor {
  const r = x.rank;
  const s = startDim < 0 ? startDim + r : startDim;
  const e = endDim < 0 ? endDim + r : endDim;
  if (r === 0) return reshape(x, [1]);
  if (s < 0 || e >= r || s > e) {
    throw new RangeError(
      `flatten: dims ${startDim}..${endDim} invalid for rank ${r}`,
    );
  }
  const merged = x.shape.slice(s, e + 1).reduce((a, d) => a * d, 1);
  return reshape(x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/** A view of `len` elements of `t` starting at element `start`. */
function slice(t: Tensor, start: number, len: number): Tensor {
  return new Tensor(t.storage, [len], t.offset + start);
}

/** Joins tensors along `axis` (negative counts from the end). */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("concat: no tensors");
  const first = tensors[0];
  const r = first.rank;
  const ax = axis < 0 ? axis + r : axis;
  if (ax < 0 || ax >= r) {
    throw new RangeError(`concat: axis ${axis} invalid for rank ${r}`);
  }
  for (const t of tensors) {
    if (
      t.rank !== r || t.shape.some((d, i) => i !== ax && d !== first.shape[i])
    ) {
      throw new RangeError(
        `concat: shapes [${first.shape}] and [${t.shape}] differ outside axis ${axis}`,
      );
    }
  }
  const outer = first.shape.slice(0, ax).reduce((a, d) => a * d, 1);
  const inner = first.shape.slice(ax + 1).reduce((a, d) => a * d, 1);
  const blocks = tensors.map((t) => t.shape[ax] * inner);
  const outBlock = blocks.reduce((a, b) => a + b, 0);
  const outShape = [...first.shape];
  outShape[ax] = outBlock / inner;
  const y = empty(outShape);
  // Row o of the output is the concatenation of row o of every input.
  let offset = 0;
  tensors.forEach((t, i) => {
    for (let o = 0; o < outer; o++) {
      const src = outer === 1 ? t : slice(t, o * blocks[i], blocks[i]);
      runKernel("CopyInto", src, y, o * outBlock + offset);
      if (src !== t) src.dispose();
    }
    offset += blocks[i];
  });
  if (!needsGrad(tensors)) return y;
  return record(y, "concat", tensors, (g) => {
    let off = 0;
    return tensors.map((t, i) => {
      const start = off;
      off += blocks[i];
      if (!t.requiresGrad) return null;
      if (outer === 1) {
        const v = slice(g, start, blocks[i]);
        const c = runKernel("Copy", v);
        v.dispose();
        return c;
      }
      const gi = empty(t.shape);
      for (let o = 0; o < outer; o++) {
        const v = slice(g, o * outBlock + start, blocks[i]);
        runKernel("CopyInto", v, gi, o * blocks[i]);
        v.dispose();
      }
      return gi;
    });
  });
}
