// Adam (Kingma & Ba 2015) with bias correction, and L2 or decoupled
// (AdamW, Loshchilov & Hutter 2019) weight decay, following torch.optim.Adam
// / AdamW; one fused kernel (AdamUpdate) per parameter.
// This module is browser compatible.
import { runKernel } from "../kernel_registry.ts";
import type { Tensor } from "../tensor.ts";
import {
  type ClipOptions,
  Optimizer,
  type ParamGroup,
  type ParamsArg,
} from "./optimizer.ts";

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Decoupled weight decay (AdamW): param *= 1 - lr * weightDecay. */
  decoupled: boolean;
}

export type AdamOptions = Partial<AdamHyper> & ClipOptions;

export class Adam extends Optimizer<AdamHyper> {
  protected readonly type: string = "Adam";

  constructor(params: ParamsArg<AdamHyper>, options: AdamOptions = {}) {
    const { clipNorm, clipValue, ...hyper } = options;
    super(params, {
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0,
      decoupled: false,
      ...hyper,
    }, { clipNorm, clipValue });
  }

  protected validate(g: ParamGroup<AdamHyper>): void {
    if (!(g.lr >= 0)) throw new RangeError(`Adam: lr ${g.lr}`);
    if (!(g.beta1 >= 0 && g.beta1 < 1)) {
      throw new RangeError(`Adam: beta1 ${g.beta1}`);
    }
    if (!(g.beta2 >= 0 && g.beta2 < 1)) {
      throw new RangeError(`Adam: beta2 ${g.beta2}`);
    }
    if (!(g.eps >= 0)) throw new RangeError(`Adam: eps ${g.eps}`);
    if (!(g.weightDecay >= 0)) {
      throw new RangeError(`Adam: weightDecay ${g.weightDecay}`);
    }
  }

  /**
   * One update of every parameter that has a gradient. Returns the global
   * gradient norm before clipping when clipNorm is set.
   */
  step(): number | undefined {
    const norm = this.clipGradients();
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (p.grad) this.#update(p, p.grad, group);
      }
    }
    return norm;
  }

  #update(p: Tensor, grad: Tensor, g: ParamGroup<AdamHyper>): void {
    let st = this.state.get(p);
    if (!st) {
      st = { step: 0, expAvg: this.zerosLike(p), expAvgSq: this.zerosLike(p) };
      this.state.set(p, st);
    }
    const step = (st.step as number) + 1;
    st.step = step;
    runKernel(
      "AdamUpdate",
      p,
      grad,
      st.expAvg as Tensor,
      st.expAvgSq as Tensor,
      {
        lr: g.lr,
        beta1: g.beta1,
        beta2: g.beta2,
        eps: g.eps,
        weightDecay: g.weightDecay,
        decoupled: g.decoupled,
        step,
      },
    );
  }
}

/** Adam with decoupled weight decay (default 1e-2), as torch.optim.AdamW. */
export class AdamW extends Adam {
  protected override readonly type: string = "AdamW";
  constructor(
    params: ParamsArg<AdamHyper>,
    options: Omit<AdamOptions, "decoupled"> = {},
  ) {
    super(params, { weightDecay: 1e-2, ...options, decoupled: true });
  }
}
