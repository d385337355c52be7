// Line search satisfying the strong Wolfe conditions: Nocedal & Wright,
// Numerical Optimization (2nd ed.), Algorithm 3.5 (bracketing) and
// Algorithm 3.6 (zoom), with the step chosen by cubic interpolation (eq.
// 3.59); the safeguards follow PyTorch's torch.optim.lbfgs._strong_wolfe so
// the two take the same steps. Gradients are tensors (kernels do the dot
// products); the scalars live here.
// This module is browser compatible.
import type { Tensor } from "../tensor.ts";
import { dotValue, maxAbsValue } from "./optimizer.ts";

/**
 * Minimiser of the cubic interpolating (x1, f1, f1') and (x2, f2, f2')
 * (Nocedal & Wright eq. 3.59), clamped to `bounds` (default: [x1, x2]);
 * the bounds' midpoint when the cubic has no minimiser.
 */
export function cubicInterpolate(
  x1: number,
  f1: number,
  g1: number,
  x2: number,
  f2: number,
  g2: number,
  bounds?: [number, number],
): number {
  const [lo, hi] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const d2Square = d1 * d1 - g1 * g2;
  if (d2Square >= 0) {
    const d2 = Math.sqrt(d2Square);
    const minPos = x1 <= x2
      ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
      : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return Math.min(Math.max(minPos, lo), hi);
  }
  return (lo + hi) / 2;
}

/** Loss and flat gradient at x + t d (the gradient a fresh tensor). */
export type DirectionalObjective = (
  t: number,
) => { loss: number; grad: Tensor };

export interface StrongWolfeOptions {
  /** Sufficient decrease constant (Armijo), N&W eq. 3.7a. */
  c1?: number;
  /** Curvature constant, N&W eq. 3.7b. */
  c2?: number;
  /** Stop zooming when the bracket shrinks below this (times max |d|). */
  toleranceChange?: number;
  /** Most function evaluations. */
  maxLs?: number;
}

export interface LineSearchResult {
  loss: number;
  /** The gradient at the accepted step: `g` itself or a fresh tensor. */
  grad: Tensor;
  /** The accepted step length. */
  t: number;
  evals: number;
}

/**
 * Searches along d from the current point (loss f, gradient g, directional
 * derivative gtd = gᵀd < 0), starting at step t. Every gradient the
 * objective returned is freed except the one in the result.
 */
export function strongWolfe(
  obj: DirectionalObjective,
  t: number,
  d: Tensor,
  f: number,
  g: Tensor,
  gtd: number,
  options: StrongWolfeOptions = {},
): LineSearchResult {
  const c1 = options.c1 ?? 1e-4;
  const c2 = options.c2 ?? 0.9;
  const toleranceChange = options.toleranceChange ?? 1e-9;
  const maxLs = options.maxLs ?? 25;
  const owned: Tensor[] = [];
  const evaluate = (step: number) => {
    const r = obj(step);
    owned.push(r.grad);
    return { loss: r.loss, grad: r.grad, gtd: dotValue(r.grad, d) };
  };

  const dNorm = maxAbsValue(d);
  let { loss: fNew, grad: gNew, gtd: gtdNew } = evaluate(t);
  let evals = 1;
  let tPrev = 0, fPrev = f, gPrev = g, gtdPrev = gtd;
  let done = false;
  let lsIter = 0;
  // Bracket: [step, loss, gradient, directional derivative] at two ends.
  let bracket: number[] = [];
  let bracketF: number[] = [];
  let bracketG: Tensor[] = [];
  let bracketGtd: number[] = [];

  // Algorithm 3.5: grow the step until it brackets an acceptable point.
  while (lsIter < maxLs) {
    if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev)) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG = [gPrev, gNew];
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }
    if (Math.abs(gtdNew) <= -c2 * gtd) {
      bracket = [t];
      bracketF = [fNew];
      bracketG = [gNew];
      done = true;
      break;
    }
    if (gtdNew >= 0) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG = [gPrev, gNew];
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }
    // Extrapolate by cubic interpolation within [t + 0.01 (t - tPrev), 10 t].
    const minStep = t + 0.01 * (t - tPrev);
    const maxStep = t * 10;
    const tmp = t;
    t = cubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [
      minStep,
      maxStep,
    ]);
    tPrev = tmp;
    fPrev = fNew;
    gPrev = gNew;
    gtdPrev = gtdNew;
    ({ loss: fNew, grad: gNew, gtd: gtdNew } = evaluate(t));
    evals++;
    lsIter++;
  }
  if (lsIter === maxLs) {
    bracket = [0, t];
    bracketF = [f, fNew];
    bracketG = [g, gNew];
  }

  // Algorithm 3.6: zoom into the bracket until the strong Wolfe conditions
  // hold. low/high index the ends with the lower/higher loss.
  let insufficientProgress = false;
  let [low, high] = bracketF[0] <= bracketF[bracketF.length - 1]
    ? [0, 1]
    : [1, 0];
  while (!done && lsIter < maxLs) {
    if (Math.abs(bracket[1] - bracket[0]) * dNorm < toleranceChange) break;
    t = cubicInterpolate(
      bracket[0],
      bracketF[0],
      bracketGtd[0],
      bracket[1],
      bracketF[1],
      bracketGtd[1],
    );
    // Keep away from the ends: a point within 10% of an end twice in a row,
    // or outside, moves to 10% inside (PyTorch's safeguard).
    const bMax = Math.max(...bracket), bMin = Math.min(...bracket);
    const eps = 0.1 * (bMax - bMin);
    if (Math.min(bMax - t, t - bMin) < eps) {
      if (insufficientProgress || t >= bMax || t <= bMin) {
        t = Math.abs(t - bMax) < Math.abs(t - bMin) ? bMax - eps : bMin + eps;
        insufficientProgress = false;
      } else {
        insufficientProgress = true;
      }
    } else {
      insufficientProgress = false;
    }
    ({ loss: fNew, grad: gNew, gtd: gtdNew } = evaluate(t));
    evals++;
    lsIter++;
    if (fNew > f + c1 * t * gtd || fNew >= bracketF[low]) {
      // Armijo fails or no better than the low end: shrink from above.
      bracket[high] = t;
      bracketF[high] = fNew;
      bracketG[high] = gNew;
      bracketGtd[high] = gtdNew;
      [low, high] = bracketF[0] <= bracketF[1] ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(gtdNew) <= -c2 * gtd) {
        done = true;
      } else if (gtdNew * (bracket[high] - bracket[low]) >= 0) {
        bracket[high] = bracket[low];
        bracketF[high] = bracketF[low];
        bracketG[high] = bracketG[low];
        bracketGtd[high] = bracketGtd[low];
      }
      bracket[low] = t;
      bracketF[low] = fNew;
      bracketG[low] = gNew;
      bracketGtd[low] = gtdNew;
    }
  }

  // A one-point bracket (done in Algorithm 3.5) has its point at index 0.
  if (bracket.length === 1) low = 0;
  const grad = bracketG[low];
  for (const o of owned) if (o !== grad) o.dispose();
  return { loss: bracketF[low], grad, t: bracket[low], evals };
}
