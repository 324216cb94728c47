import { describe, expect, it } from 'vitest';
import { checkGroupHistory } from '../../src/sim/group-checker.js';
import { defaultGroupClientOptions } from '../../src/sim/group-views.js';
import { checkHistory } from '../../src/sim/checker.js';
import { totemEngineFactory } from '../../src/sim/engine.js';
import { buildOptions } from '../../src/sim/runner.js';
import { Simulation } from '../../src/sim/simulator.js';

/**
 * Seeds on which daemons once named different group views alike (group-view-id-unique) or
 * installed one view id with different member lists (group-view-agreement), pinned by cause.
 * The same causes are shown step by step, without the simulator, in test/groups/view-ids.test.ts.
 */
function judge(seed: number): { core: boolean; violations: string[]; views: number; reused: number } {
  const run = new Simulation({ ...buildOptions(seed, {}, totemEngineFactory), groups: defaultGroupClientOptions() }).run();
  const groups = checkGroupHistory(run.groups!);
  return {
    core: checkHistory(run.history).ok,
    violations: groups.violations.map((v) => `${v.property}: ${v.description}`),
    views: groups.stats.views,
    reused: groups.stats.reusedViewIds,
  };
}

describe('group view ids on seeds that once broke them', () => {
  // A group state exchange abandoned because another configuration change cascaded in: daemons
  // that held different views before it named the views they formed afterwards alike.
  for (const seed of [3001, 3002, 3009, 3041, 3054, 3059, 3086]) {
    it(`abandoned exchange, seed ${seed}`, () => {
      const r = judge(seed);
      expect(r.core).toBe(true);
      expect(r.violations).toEqual([]);
      expect(r.reused).toBe(0);
      expect(r.views).toBeGreaterThan(100);
    });
  }

  // A group untouched by a configuration change stepped the old ring's index in the new ring,
  // while daemons that left the old ring another way had used that index for another view (the
  // old ring's last messages delivered by some daemons only, or in the regular configuration at
  // one and in the transitional one at another).
  for (const seed of [419, 3088]) {
    it(`old ring's index stepped after leaving it, seed ${seed}`, () => {
      const r = judge(seed);
      expect(r.core).toBe(true);
      expect(r.violations).toEqual([]);
      expect(r.reused).toBe(0);
      expect(r.views).toBeGreaterThan(100);
    });
  }
});
