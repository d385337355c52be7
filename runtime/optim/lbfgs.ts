// L-BFGS: Nocedal & Wright, Numerical Optimization (2nd ed.), Algorithm 7.5
// with the two-loop recursion of Algorithm 7.4 for the search direction, the
// initial Hessian scaling γ = sᵀy / yᵀy of eq. 7.20, and the strong-Wolfe
// line search of Algorithms 3.5/3.6 (line_search.ts) or a fixed step. The
// control flow and stopping tests follow torch.optim.LBFGS, so one step()
// runs up to maxIter iterations.
//
// Every vector (the flat gradient, direction, history pairs s and y) is a
// tensor in engine memory holding all parameters concatenated; the maths
// runs in kernels (Dot, AxpyInPlace, ScaleInPlace, CopyInto, MaxAbs,
// AbsSum). Only scalars (dot products, step lengths, losses) live here.
// This module is browser compatible.
import { runKernel } from "../kernel_registry.ts";
import { empty, keep, Tensor, tensor } from "../tensor.ts";
import { strongWolfe } from "./line_search.ts";
import { absSumValue, dotValue, maxAbsValue } from "./optimizer.ts";

export interface LbfgsProgress {
  /** Iterations since the optimiser was made (or its state restored). */
  iteration: number;
  /** Loss at the start of this iteration. */
  loss: number;
  /** Loss after this iteration's step (NaN when not evaluated). */
  newLoss: number;
  /** Step length taken. */
  t: number;
  /** Function evaluations since the optimiser was made. */
  funcEvals: number;
}

export interface LbfgsOptions {
  lr?: number;
  /** Most iterations per step() (default 20). */
  maxIter?: number;
  /** Most closure evaluations per step() (default maxIter * 5 / 4). */
  maxEval?: number;
  /** Stop when max |gradient| is at most this. */
  toleranceGrad?: number;
  /** Stop when a step or the loss changes by less than this. */
  toleranceChange?: number;
  /** Correction pairs kept (m in Nocedal & Wright). */
  historySize?: number;
  lineSearch?: "strong-wolfe" | "none";
  /** Called after every iteration. */
  onIteration?: (p: LbfgsProgress) => void;
}

type Hyper = Required<Omit<LbfgsOptions, "onIteration">>;

export interface LbfgsStateDict {
  type: "LBFGS";
  hyper: Hyper;
  funcEvals: number;
  nIter: number;
  /** Last direction and step length. */
  d: Float32Array | null;
  t: number;
  /** Initial inverse-Hessian scale γ (eq. 7.20). */
  hDiag: number;
  prevFlatGrad: Float32Array | null;
  prevLoss: number;
  /** History, oldest first: y (gradient changes), s (steps), ρ = 1 / yᵀs. */
  oldDirs: Float32Array[];
  oldStps: Float32Array[];
  ro: number[];
}

export class LBFGS {
  readonly params: Tensor[];
  readonly hyper: Hyper;
  onIteration?: (p: LbfgsProgress) => void;
  /** Total elements of all parameters. */
  readonly numel: number;
  #offsets: number[];
  #funcEvals = 0;
  #nIter = 0;
  #d: Tensor | null = null;
  #t = 0;
  #hDiag = 1;
  #prevFlatGrad: Tensor | null = null;
  #prevLoss = NaN;
  #oldDirs: Tensor[] = [];
  #oldStps: Tensor[] = [];
  #ro: number[] = [];

  constructor(params: Tensor[], options: LbfgsOptions = {}) {
    if (params.length === 0) throw new Error("LBFGS: no parameters");
    this.params = [...params];
    const maxIter = options.maxIter ?? 20;
    this.hyper = {
      lr: options.lr ?? 1,
      maxIter,
      maxEval: options.maxEval ?? Math.floor(maxIter * 5 / 4),
      toleranceGrad: options.toleranceGrad ?? 1e-7,
      toleranceChange: options.toleranceChange ?? 1e-9,
      historySize: options.historySize ?? 100,
      lineSearch: options.lineSearch ?? "strong-wolfe",
    };
    if (!(this.hyper.lr > 0)) {
      throw new RangeError(`LBFGS: lr ${this.hyper.lr}`);
    }
    if (!(this.hyper.historySize >= 1)) {
      throw new RangeError("LBFGS: historySize < 1");
    }
    this.onIteration = options.onIteration;
    this.#offsets = [];
    let n = 0;
    for (const p of this.params) {
      this.#offsets.push(n);
      n += p.size;
    }
    this.numel = n;
  }

  /** Closure evaluations so far. */
  get funcEvals(): number {
    return this.#funcEvals;
  }

  /** Iterations so far. */
  get iterations(): number {
    return this.#nIter;
  }

  // ---- Flat vectors <-> parameters ----

  /** Views of the flat vector v, one per parameter, shaped like it. */
  #segments(v: Tensor): Tensor[] {
    return this.params.map((p, i) =>
      keep(new Tensor(v.storage, p.shape, v.offset + this.#offsets[i]))
    );
  }

  /** The parameters' gradients concatenated (zeros where none). */
  #gatherFlatGrad(): Tensor {
    const flat = keep(empty([this.numel]));
    if (this.params.some((p) => !p.grad)) runKernel("FillInPlace", flat, 0);
    this.params.forEach((p, i) => {
      if (p.grad) runKernel("CopyInto", p.grad, flat, this.#offsets[i]);
    });
    return flat;
  }

  /** params += t * d. */
  #addStep(t: number, d: Tensor): void {
    const segs = this.#segments(d);
    this.params.forEach((p, i) => runKernel("AxpyInPlace", t, segs[i], p));
    segs.forEach((s) => s.dispose());
  }

  /** A flat copy of the parameters. */
  #cloneParams(): Tensor {
    const x = keep(empty([this.numel]));
    this.params.forEach((p, i) =>
      runKernel("CopyInto", p, x, this.#offsets[i])
    );
    return x;
  }

  /** params = x. */
  #setParams(x: Tensor): void {
    const segs = this.#segments(x);
    this.params.forEach((p, i) => runKernel("CopyInto", segs[i], p, 0));
    segs.forEach((s) => s.dispose());
  }

  #copy(v: Tensor): Tensor {
    return keep(runKernel("Copy", v));
  }

  /**
   * Runs up to maxIter iterations. `closure` must zero the gradients,
   * compute the loss, back-propagate and return the loss. Returns the loss
   * from the first closure call (the loss before this step).
   */
  step(closure: () => number): number {
    const h = this.hyper;
    const origLoss = closure();
    let loss = origLoss;
    let currentEvals = 1;
    this.#funcEvals++;
    let flatGrad = this.#gatherFlatGrad();
    try {
      if (maxAbsValue(flatGrad) <= h.toleranceGrad) return origLoss;
      let nIter = 0;
      while (nIter < h.maxIter) {
        nIter++;
        this.#nIter++;
        this.#computeDirection(flatGrad);
        const d = this.#d!;
        if (this.#prevFlatGrad) {
          runKernel("CopyInto", flatGrad, this.#prevFlatGrad, 0);
        } else {
          this.#prevFlatGrad = this.#copy(flatGrad);
        }
        this.#prevLoss = loss;
        // First step: scale to at most lr in the L1 sense (PyTorch).
        const t0 = this.#nIter === 1
          ? Math.min(1, 1 / absSumValue(flatGrad)) * h.lr
          : h.lr;
        const gtd = dotValue(flatGrad, d);
        // Not a descent direction (to tolerance): stop.
        if (gtd > -h.toleranceChange) break;

        let lsEvals = 0;
        let optimal = false;
        let newLoss = NaN;
        if (h.lineSearch === "strong-wolfe") {
          const x = this.#cloneParams();
          try {
            const r = strongWolfe(
              (t) => {
                this.#addStep(t, d);
                const f = closure();
                const g = this.#gatherFlatGrad();
                this.#setParams(x);
                return { loss: f, grad: g };
              },
              t0,
              d,
              loss,
              flatGrad,
              gtd,
            );
            if (r.grad !== flatGrad) {
              flatGrad.dispose();
              flatGrad = r.grad;
            }
            loss = newLoss = r.loss;
            this.#t = r.t;
            lsEvals = r.evals;
          } finally {
            x.dispose();
          }
          this.#addStep(this.#t, d);
          optimal = maxAbsValue(flatGrad) <= h.toleranceGrad;
        } else {
          this.#t = t0;
          this.#addStep(t0, d);
          if (nIter !== h.maxIter) {
            // Re-evaluate unless this was the last iteration.
            loss = newLoss = closure();
            flatGrad.dispose();
            flatGrad = this.#gatherFlatGrad();
            optimal = maxAbsValue(flatGrad) <= h.toleranceGrad;
            lsEvals = 1;
          }
        }
        currentEvals += lsEvals;
        this.#funcEvals += lsEvals;
        this.onIteration?.({
          iteration: this.#nIter,
          loss: this.#prevLoss,
          newLoss,
          t: this.#t,
          funcEvals: this.#funcEvals,
        });

        if (nIter === h.maxIter) break;
        if (currentEvals >= h.maxEval) break;
        if (optimal) break;
        // Step too small, or the loss no longer changes.
        if (maxAbsValue(d) * Math.abs(this.#t) <= h.toleranceChange) break;
        if (Math.abs(loss - this.#prevLoss) < h.toleranceChange) break;
      }
    } finally {
      flatGrad.dispose();
    }
    return origLoss;
  }

  /**
   * Sets #d to the new search direction -H∇f: steepest descent on the first
   * iteration, otherwise the two-loop recursion (N&W Algorithm 7.4) after
   * adding the pair (s, y) from the last step when it has positive
   * curvature yᵀs > 1e-10.
   */
  #computeDirection(flatGrad: Tensor): void {
    if (this.#nIter === 1) {
      this.#d?.dispose();
      this.#d = this.#copy(flatGrad);
      runKernel("ScaleInPlace", this.#d, -1);
      this.#disposeHistory();
      this.#hDiag = 1;
      return;
    }
    const d = this.#d!;
    const prev = this.#prevFlatGrad!;
    // y = g_{k+1} - g_k, s = t d.
    const y = this.#copy(flatGrad);
    runKernel("AxpyInPlace", -1, prev, y);
    const s = this.#copy(d);
    runKernel("ScaleInPlace", s, this.#t);
    const ys = dotValue(y, s);
    if (ys > 1e-10) {
      if (this.#oldDirs.length === this.hyper.historySize) {
        this.#oldDirs.shift()!.dispose();
        this.#oldStps.shift()!.dispose();
        this.#ro.shift();
      }
      this.#oldDirs.push(y);
      this.#oldStps.push(s);
      this.#ro.push(1 / ys);
      this.#hDiag = ys / dotValue(y, y); // eq. 7.20
    } else {
      y.dispose();
      s.dispose();
    }
    // Two-loop recursion: q = -g; first loop newest to oldest, then r = γ q,
    // second loop oldest to newest. d becomes r (in place in d's memory).
    const k = this.#oldDirs.length;
    const al = new Array<number>(k);
    runKernel("CopyInto", flatGrad, d, 0);
    runKernel("ScaleInPlace", d, -1);
    for (let i = k - 1; i >= 0; i--) {
      al[i] = dotValue(this.#oldStps[i], d) * this.#ro[i];
      runKernel("AxpyInPlace", -al[i], this.#oldDirs[i], d);
    }
    runKernel("ScaleInPlace", d, this.#hDiag);
    for (let i = 0; i < k; i++) {
      const be = dotValue(this.#oldDirs[i], d) * this.#ro[i];
      runKernel("AxpyInPlace", al[i] - be, this.#oldStps[i], d);
    }
  }

  #disposeHistory(): void {
    for (const v of this.#oldDirs) v.dispose();
    for (const v of this.#oldStps) v.dispose();
    this.#oldDirs = [];
    this.#oldStps = [];
    this.#ro = [];
  }

  /** Everything needed to continue bit-identically (history included). */
  stateDict(): LbfgsStateDict {
    return {
      type: "LBFGS",
      hyper: { ...this.hyper },
      funcEvals: this.#funcEvals,
      nIter: this.#nIter,
      d: this.#d?.data() ?? null,
      t: this.#t,
      hDiag: this.#hDiag,
      prevFlatGrad: this.#prevFlatGrad?.data() ?? null,
      prevLoss: this.#prevLoss,
      oldDirs: this.#oldDirs.map((v) => v.data()),
      oldStps: this.#oldStps.map((v) => v.data()),
      ro: [...this.#ro],
    };
  }

  /** Restores a stateDict() for parameters of the same total size. */
  loadStateDict(sd: LbfgsStateDict): void {
    if (sd.type !== "LBFGS") {
      throw new Error(`loadStateDict: a ${sd.type} state for an LBFGS`);
    }
    const vectors = [sd.d, sd.prevFlatGrad, ...sd.oldDirs, ...sd.oldStps];
    for (const v of vectors) {
      if (v && v.length !== this.numel) {
        throw new Error(
          `loadStateDict: a vector of ${v.length} values for ${this.numel} parameters`,
        );
      }
    }
    if (
      sd.oldDirs.length !== sd.oldStps.length ||
      sd.ro.length !== sd.oldDirs.length
    ) {
      throw new Error("loadStateDict: history lengths differ");
    }
    const up = (v: Float32Array) => keep(tensor(v, [this.numel]));
    this.dispose();
    Object.assign(this.hyper, sd.hyper);
    this.#funcEvals = sd.funcEvals;
    this.#nIter = sd.nIter;
    this.#d = sd.d ? up(sd.d) : null;
    this.#t = sd.t;
    this.#hDiag = sd.hDiag;
    this.#prevFlatGrad = sd.prevFlatGrad ? up(sd.prevFlatGrad) : null;
    this.#prevLoss = sd.prevLoss;
    this.#oldDirs = sd.oldDirs.map(up);
    this.#oldStps = sd.oldStps.map(up);
    this.#ro = [...sd.ro];
  }

  /** Frees the history and direction (the parameters are the caller's). */
  dispose(): void {
    this.#disposeHistory();
    this.#d?.dispose();
    this.#d = null;
    this.#prevFlatGrad?.dispose();
    this.#prevFlatGrad = null;
  }
}
