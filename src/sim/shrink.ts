/**
 * Shrinking a failing run: re-run the same seed with fault actions removed, one at a time,
 * keeping each removal after which the same property still fails. Greedy (one pass from the
 * last action to the first), bounded in re-runs.
 */
import { checkHistory, type CheckOptions, type CheckResult, type PropertyName } from './checker.js';
import type { FaultAction } from './faults.js';
import { Simulation, type SimOptions, type SimRun } from './simulator.js';

export interface ShrinkResult {
  run: SimRun;
  check: CheckResult;
  /** Actions in the original schedule and in the shrunk one. */
  originalActions: number;
  actions: FaultAction[];
  reruns: number;
}

export function shrinkFailure(
  options: SimOptions,
  property: PropertyName,
  schedule: readonly FaultAction[],
  o: { rerunsMax?: number; check?: CheckOptions } = {},
): ShrinkResult | undefined {
  const rerunsMax = o.rerunsMax ?? 40;
  let current = schedule.slice();
  let best: { run: SimRun; check: CheckResult } | undefined;
  let reruns = 0;
  const attempt = (actions: FaultAction[]): { run: SimRun; check: CheckResult } | undefined => {
    reruns++;
    const run = new Simulation({ ...options, schedule: actions }).run();
    const check = checkHistory(run.history, o.check);
    return check.violated.includes(property) ? { run, check } : undefined;
  };
  best = attempt(current);
  if (best === undefined) return undefined; // not reproducible with an explicit schedule
  for (let i = current.length - 1; i >= 0 && reruns < rerunsMax; i--) {
    const candidate = current.slice(0, i).concat(current.slice(i + 1));
    const r = attempt(candidate);
    if (r !== undefined) {
      current = candidate;
      best = r;
    }
  }
  return { run: best.run, check: best.check, originalActions: schedule.length, actions: current, reruns };
}
