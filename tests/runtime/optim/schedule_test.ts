// Learning-rate schedulers and the linear (momentum) schedule: closed-form
// values, and restoring a scheduler's state.
import assert from "node:assert/strict";
import { getBackend } from "../../../runtime/backend.ts";
import {
  ExponentialLR,
  LinearDecayLR,
  linearScheduleValue,
  SGD,
  StepLR,
} from "../../../runtime/optim/mod.ts";
import { tensor } from "../../../runtime/tensor.ts";
import { setupBackend } from "./_setup.ts";

await setupBackend(1);

Deno.test("linearScheduleValue ramps and saturates", () => {
  const s = { initial: 0.5, final: 0.7, steps: 4 };
  assert.deepEqual([0, 1, 2, 3, 4, 100].map((k) => linearScheduleValue(s, k)), [
    0.5,
    0.55,
    0.6,
    0.6499999999999999,
    0.7,
    0.7,
  ]);
  assert.equal(linearScheduleValue({ ...s, steps: 0 }, 0), 0.7);
});

Deno.test("StepLR, ExponentialLR and LinearDecayLR set the groups' lr", () => {
  const p = tensor([1]);
  const opt = new SGD([{ params: [p], lr: 0.1 }], { lr: 1 });
  const step = new StepLR(opt, { stepSize: 3, gamma: 0.5 });
  const seen: number[] = [];
  for (let k = 0; k < 7; k++) {
    step.step();
    seen.push(opt.paramGroups[0].lr);
  }
  assert.deepEqual(seen, [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]);

  opt.paramGroups[0].lr = 0.1;
  const exp = new ExponentialLR(opt, { gamma: 0.5, minLr: 0.02 });
  for (let k = 0; k < 3; k++) exp.step();
  assert.equal(opt.paramGroups[0].lr, 0.02); // 0.0125 clamped
  // Restoring the state puts the same lr back.
  const saved = exp.stateDict();
  opt.paramGroups[0].lr = 123;
  const exp2 = new ExponentialLR(opt, { gamma: 0.5, minLr: 0.02 });
  exp2.loadStateDict(saved);
  assert.equal(opt.paramGroups[0].lr, 0.02);
  assert.equal(exp2.epoch, 3);

  opt.paramGroups[0].lr = 1;
  const lin = new LinearDecayLR(opt, { constantSteps: 2, decaySteps: 3 });
  const lrs: number[] = [];
  for (let k = 0; k < 6; k++) {
    lin.step();
    lrs.push(opt.paramGroups[0].lr);
  }
  assert.deepEqual(lrs, [1, 1, 0.75, 0.5, 0.25, 0]);
  opt.dispose();
  p.dispose();
  getBackend().dispose();
});
