import { describe, expect, it } from 'vitest';
import { sweep } from '../../src/sim/runner.js';
import { totemEngineFactory } from '../../src/sim/engine.js';

/**
 * Damaged packets reaching the engine (no packet protection, or a member sending garbage): the
 * engine must drop them and keep running. Only engine errors count here, since without
 * protection a damaged payload can be delivered (the crypto sweeps cover that).
 */
describe('damaged packets', () => {
  it('2% of packets damaged: the engine never throws over 60 seeds (commit tokens included)', () => {
    const failing: number[] = [];
    sweep(0, 59, { corruptionRate: 0.02 }, totemEngineFactory, { onResult: (seed, r) => (r.failed ? failing.push(seed) : undefined) });
    expect(failing).toEqual([]);
  }, 120_000);
});
