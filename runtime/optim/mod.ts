// Optimisers: SGD (momentum, Nesterov, momentum schedule), Adam/AdamW,
// L-BFGS with a strong-Wolfe line search, gradient clipping, schedules.
// This module is browser compatible.
export {
  type ClipOptions,
  Optimizer,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamsArg,
} from "./optimizer.ts";
export { SGD, type SgdHyper, type SgdOptions } from "./sgd.ts";
export { Adam, type AdamHyper, type AdamOptions, AdamW } from "./adam.ts";
export {
  LBFGS,
  type LbfgsOptions,
  type LbfgsProgress,
  type LbfgsStateDict,
} from "./lbfgs.ts";
export {
  cubicInterpolate,
  type LineSearchResult,
  strongWolfe,
  type StrongWolfeOptions,
} from "./line_search.ts";
export { clipGradNorm, clipGradValue, gradNorm } from "./clip.ts";
export {
  ExponentialLR,
  LinearDecayLR,
  type LinearSchedule,
  linearScheduleValue,
  LRScheduler,
  type LRSchedulerState,
  StepLR,
} from "./schedule.ts";
