import { describe, it } from 'vitest';
import { sweepSeeds } from './sweep-helper.js';

describe('sweep: fault mix, size and loss drawn from each seed', () => {
  it('seeds 3000..3124', () => sweepSeeds(3000, 3124, {}), 120_000);
});
