import { describe, it } from 'vitest';
import { sweepSeeds } from './sweep-helper.js';

describe('sweep: packet loss up to 20%, duplication, reordering', () => {
  it('seeds 0..39 at 20% loss', () => sweepSeeds(0, 39, { lossRate: 0.2, partitions: false, crashes: false }), 120_000);
  it('seeds 40..124 at loss drawn from each seed', () => sweepSeeds(40, 124, { partitions: false, crashes: false }), 120_000);
});
