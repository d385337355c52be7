// Hyper-parameter schedules. Values are closed-form functions of the step
// count (no running products), so a restored run reproduces them exactly.
// This module is browser compatible.

/**
 * A value moving linearly from `initial` to `final` over `steps` steps and
 * staying at `final` afterwards. With momentum, this is the schedule of
 * Goodfellow et al. 2014 (Generative Adversarial Nets; their Pylearn2
 * configuration raised momentum linearly from 0.5 to 0.7).
 */
export interface LinearSchedule {
  initial: number;
  final: number;
  /** Steps to go from initial to final (0: final at once). */
  steps: number;
}

/** The scheduled value after `step` steps (step 0: initial). */
export function linearScheduleValue(s: LinearSchedule, step: number): number {
  if (s.steps <= 0 || step >= s.steps) return s.final;
  return s.initial + (s.final - s.initial) * (step / s.steps);
}

/** Anything with parameter groups carrying a learning rate. */
export interface HasLearningRate {
  paramGroups: { lr: number }[];
}

export interface LRSchedulerState {
  type: string;
  /** Scheduler steps taken. */
  epoch: number;
  baseLrs: number[];
}

/**
 * Sets each group's lr to baseLr * factor(epoch); call step() once per
 * epoch (or per update, as the schedule intends). The base rates are the
 * groups' lr when the scheduler is made.
 */
export abstract class LRScheduler {
  readonly optimizer: HasLearningRate;
  epoch = 0;
  baseLrs: number[];
  protected abstract readonly type: string;

  constructor(optimizer: HasLearningRate) {
    this.optimizer = optimizer;
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
  }

  /** The factor on the base rate after `epoch` scheduler steps. */
  protected abstract factor(epoch: number): number;

  /** The learning rate of group `i` after `epoch` steps. */
  lrAt(epoch: number, i = 0): number {
    return this.baseLrs[i] * this.factor(epoch);
  }

  step(): void {
    this.epoch++;
    this.apply();
  }

  protected apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.lrAt(this.epoch, i);
    });
  }

  stateDict(): LRSchedulerState {
    return { type: this.type, epoch: this.epoch, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(s: LRSchedulerState): void {
    if (s.type !== this.type) {
      throw new Error(`loadStateDict: a ${s.type} state for a ${this.type}`);
    }
    this.epoch = s.epoch;
    this.baseLrs = [...s.baseLrs];
    this.apply();
  }
}

/** lr = base * gamma^floor(epoch / stepSize) (PyTorch StepLR). */
export class StepLR extends LRScheduler {
  protected readonly type = "StepLR";
  constructor(
    optimizer: HasLearningRate,
    readonly options: { stepSize: number; gamma?: number },
  ) {
    super(optimizer);
  }
  protected factor(epoch: number): number {
    return Math.pow(
      this.options.gamma ?? 0.1,
      Math.floor(epoch / this.options.stepSize),
    );
  }
}

/**
 * lr = max(base * gamma^epoch, minLr). The GAN paper's configuration decays
 * the rate by 1/1.000004 per update down to 1e-6.
 */
export class ExponentialLR extends LRScheduler {
  protected readonly type = "ExponentialLR";
  constructor(
    optimizer: HasLearningRate,
    readonly options: { gamma: number; minLr?: number },
  ) {
    super(optimizer);
  }
  override lrAt(epoch: number, i = 0): number {
    return Math.max(super.lrAt(epoch, i), this.options.minLr ?? 0);
  }
  protected factor(epoch: number): number {
    return Math.pow(this.options.gamma, epoch);
  }
}

/**
 * Constant for `constantSteps`, then linear decay to zero over `decaySteps`
 * (CycleGAN/pix2pix "linear" policy: 1 - max(0, e - constant) / (decay + 1)).
 */
export class LinearDecayLR extends LRScheduler {
  protected readonly type = "LinearDecayLR";
  constructor(
    optimizer: HasLearningRate,
    readonly options: { constantSteps: number; decaySteps: number },
  ) {
    super(optimizer);
  }
  protected factor(epoch: number): number {
    const { constantSteps, decaySteps } = this.options;
    return Math.max(
      0,
      1 - Math.max(0, epoch - constantSteps) / (decaySteps + 1),
    );
  }
}
