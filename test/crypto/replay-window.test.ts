import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REPLAY_WINDOW_PACKETS, ReplayWindow } from '../../crypto/index.js';
import type { ReplayVerdict } from '../../crypto/index.js';

const W = BigInt(REPLAY_WINDOW_PACKETS);

/** Reference model: a set of everything accepted and the highest. */
class Model {
  seen = new Set<bigint>();
  top = -1n;
  check(c: bigint): ReplayVerdict {
    if (c > this.top) return 'fresh';
    if (this.top - c >= W) return 'too-old';
    return this.seen.has(c) ? 'replay' : 'fresh';
  }
  accept(c: bigint): boolean {
    if (this.check(c) !== 'fresh') return false;
    this.seen.add(c);
    if (c > this.top) this.top = c;
    return true;
  }
}

describe('ReplayWindow', () => {
  it('is at least WireGuard-sized', () => {
    expect(REPLAY_WINDOW_PACKETS).toBeGreaterThanOrEqual(8128);
  });

  it('accepts each counter once, in any order within the window', () => {
    const w = new ReplayWindow();
    expect(w.highest).toBeUndefined();
    for (const c of [5n, 3n, 4n, 10n, 6n]) expect(w.accept(c)).toBe(true);
    for (const c of [5n, 3n, 4n, 10n, 6n]) expect(w.check(c)).toBe('replay');
    expect(w.accept(10n)).toBe(false);
    expect(w.check(7n)).toBe('fresh');
    expect(w.highest).toBe(10n);
  });

  it('edge: top − (W − 1) is inside, top − W is too old', () => {
    const w = new ReplayWindow();
    const top = 1n << 62n;
    w.accept(top);
    expect(w.check(top - (W - 1n))).toBe('fresh');
    expect(w.check(top - W)).toBe('too-old');
    expect(w.accept(top - (W - 1n))).toBe(true);
    expect(w.check(top - (W - 1n))).toBe('replay');
  });

  it('handles the largest counters', () => {
    const w = new ReplayWindow();
    const max = (1n << 64n) - 2n;
    expect(w.accept(max - 1n)).toBe(true);
    expect(w.accept(max)).toBe(true);
    expect(w.check(max - 1n)).toBe('replay');
    expect(w.check(0n)).toBe('too-old');
  });

  it('agrees with a reference model on random sequences (including wrap-around of the bitmap)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 1n << 63n }),
        fc.array(fc.oneof(fc.integer({ min: -9000, max: 40 }), fc.integer({ min: 0, max: 20_000 }), fc.constant(0)), { maxLength: 400 }),
        (start, steps) => {
          const w = new ReplayWindow();
          const m = new Model();
          let cursor = start;
          for (const step of steps) {
            const c = cursor + BigInt(step) >= 0n ? cursor + BigInt(step) : 0n;
            expect(w.check(c)).toBe(m.check(c));
            expect(w.accept(c)).toBe(m.accept(c));
            if (c > cursor) cursor = c;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
