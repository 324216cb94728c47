import { describe, it } from 'vitest';
import { sweepSeeds } from './sweep-helper.js';

describe('sweep: large rings, long fault schedules', () => {
  it('seeds 4000..4003: 12 daemons, 15 steps, every fault kind, 10% loss', () =>
    sweepSeeds(4000, 4003, { daemons: 12, steps: 15, lossRate: 0.1, partitions: true, crashes: true }), 120_000);
  it('seeds 4100..4109: 8 daemons, 10 steps, fault mix drawn from each seed', () =>
    sweepSeeds(4100, 4109, { daemons: 8, steps: 10 }), 120_000);
});
