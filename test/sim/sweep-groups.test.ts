import { describe, expect, it } from 'vitest';
import { checkGroupHistory } from '../../src/sim/group-checker.js';
import { defaultGroupClientOptions } from '../../src/sim/group-views.js';
import { checkHistory } from '../../src/sim/checker.js';
import { totemEngineFactory } from '../../src/sim/engine.js';
import { buildOptions, type SimSpec } from '../../src/sim/runner.js';
import { Simulation } from '../../src/sim/simulator.js';

/**
 * Every group property is judged on every seed, view ids and view agreement included
 * (group-view-ids.test.ts pins the seeds that once broke them; group-checker.test.ts shows the
 * checker catches each property).
 */
function sweepGroups(from: number, to: number, spec: SimSpec): void {
  const problems: string[] = [];
  let data = 0;
  let compared = 0;
  let views = 0;
  for (let seed = from; seed <= to; seed++) {
    const run = new Simulation({ ...buildOptions(seed, spec, totemEngineFactory), groups: defaultGroupClientOptions() }).run();
    const core = checkHistory(run.history);
    const groups = checkGroupHistory(run.groups!);
    if (!core.ok) problems.push(`seed ${seed}: core ${core.violated.join(', ')}: ${core.violations[0]?.description ?? ''}`);
    if (!groups.ok) problems.push(`seed ${seed}: groups ${groups.violated.join(', ')}: ${groups.violations[0]?.description ?? ''}`);
    if (!run.history.quiescent) problems.push(`seed ${seed}: did not settle`);
    data += groups.stats.dataDeliveries;
    compared += groups.stats.comparedViewPairs;
    views += groups.stats.views;
  }
  expect(problems).toEqual([]);
  const seeds = to - from + 1;
  // Real group traffic: views changed, data reached sessions, and members were compared pairwise.
  expect(views).toBeGreaterThan(seeds * 20);
  expect(data).toBeGreaterThan(seeds * 50);
  expect(compared).toBeGreaterThan(seeds * 10);
}

describe('sweep with process groups: group views and messages in them', () => {
  it('seeds 40..89, loss drawn from each seed', () => sweepGroups(40, 89, { partitions: false, crashes: false }), 120_000);
  it('seeds 1000..1049, partitions, merges, heals with 5% loss', () => sweepGroups(1000, 1049, { lossRate: 0.05, partitions: true, crashes: false }), 120_000);
  it('seeds 2000..2049, crashes, clean leaves, restarts with 1% loss', () => sweepGroups(2000, 2049, { lossRate: 0.01, partitions: false, crashes: true }), 120_000);
  it('seeds 3000..3099, fault mix drawn from each seed', () => sweepGroups(3000, 3099, {}), 120_000);
});
