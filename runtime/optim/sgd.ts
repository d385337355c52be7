// Stochastic gradient descent with momentum (heavy ball, or Nesterov in the
// form of Sutskever et al. 2013), dampening and L2 weight decay, following
// torch.optim.SGD; one fused kernel (SgdUpdate) per parameter.
// This module is browser compatible.
import { runKernel } from "../kernel_registry.ts";
import { empty, keep, type Tensor } from "../tensor.ts";
import {
  type ClipOptions,
  Optimizer,
  type ParamGroup,
  type ParamsArg,
} from "./optimizer.ts";
import { type LinearSchedule, linearScheduleValue } from "./schedule.ts";

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /**
   * Momentum rising linearly from `initial` to `final` over `steps` calls
   * of step() (Goodfellow et al. 2014); overrides `momentum`, which shows
   * the value used by the latest step.
   */
  momentumSchedule: LinearSchedule | null;
}

export type SgdOptions = Partial<SgdHyper> & { lr: number } & ClipOptions;

export class SGD extends Optimizer<SgdHyper> {
  protected readonly type = "SGD";

  constructor(params: ParamsArg<SgdHyper>, options: SgdOptions) {
    const { clipNorm, clipValue, ...hyper } = options;
    super(params, {
      momentum: 0,
      dampening: 0,
      nesterov: false,
      weightDecay: 0,
      momentumSchedule: null,
      ...hyper,
    }, { clipNorm, clipValue });
    this.counters.steps = 0;
  }

  protected validate(g: ParamGroup<SgdHyper>): void {
    if (!(g.lr >= 0)) throw new RangeError(`SGD: lr ${g.lr}`);
    if (!(g.momentum >= 0)) throw new RangeError(`SGD: momentum ${g.momentum}`);
    if (!(g.weightDecay >= 0)) {
      throw new RangeError(`SGD: weightDecay ${g.weightDecay}`);
    }
    if (
      g.nesterov &&
      (g.dampening !== 0 || !(g.momentum > 0 || g.momentumSchedule))
    ) {
      throw new RangeError(
        "SGD: Nesterov momentum needs momentum > 0 and zero dampening",
      );
    }
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.counters.steps;
  }

  /**
   * One update of every parameter that has a gradient. Returns the global
   * gradient norm before clipping when clipNorm is set.
   */
  step(): number | undefined {
    const norm = this.clipGradients();
    const k = this.counters.steps;
    for (const group of this.paramGroups) {
      if (group.momentumSchedule) {
        group.momentum = linearScheduleValue(group.momentumSchedule, k);
      }
      for (const p of group.params) {
        if (p.grad) this.#update(p, p.grad, group);
      }
    }
    this.counters.steps = k + 1;
    return norm;
  }

  #update(p: Tensor, grad: Tensor, g: ParamGroup<SgdHyper>): void {
    let st = this.state.get(p);
    if (!st) this.state.set(p, st = {});
    let buf: Tensor | null = null;
    let firstStep = false;
    if (g.momentum !== 0) {
      const existing = st.momentumBuffer;
      if (existing === undefined || typeof existing === "number") {
        // PyTorch initialises the buffer to the first (decayed) gradient;
        // the kernel writes it when firstStep is set.
        buf = keep(empty(p.shape));
        st.momentumBuffer = buf;
        firstStep = true;
      } else {
        buf = existing;
      }
    }
    runKernel("SgdUpdate", p, grad, buf, {
      lr: g.lr,
      weightDecay: g.weightDecay,
      momentum: g.momentum,
      dampening: g.dampening,
      nesterov: g.nesterov,
      firstStep,
    });
  }
}
