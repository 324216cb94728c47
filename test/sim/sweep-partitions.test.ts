import { describe, it } from 'vitest';
import { sweepSeeds } from './sweep-helper.js';

describe('sweep: partitions into arbitrary components, merges, heals', () => {
  it('seeds 1000..1124 with 5% loss', () => sweepSeeds(1000, 1124, { lossRate: 0.05, partitions: true, crashes: false }), 120_000);
});
