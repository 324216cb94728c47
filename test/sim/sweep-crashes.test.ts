import { describe, it } from 'vitest';
import { sweepSeeds } from './sweep-helper.js';

describe('sweep: crashes, clean leaves, restarts', () => {
  it('seeds 2000..2124 with 1% loss', () => sweepSeeds(2000, 2124, { lossRate: 0.01, partitions: false, crashes: true }), 120_000);
});
