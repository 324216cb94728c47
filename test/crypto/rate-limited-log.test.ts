import { describe, expect, it } from 'vitest';
import { OVERFLOW_KEY, RateLimitedLog } from '../../crypto/index.js';

function setup(keysMax = 256): { log: RateLimitedLog; lines: string[]; clock: { t: number } } {
  const lines: string[] = [];
  const clock = { t: 1000 };
  const log = new RateLimitedLog({ now: () => clock.t, write: (l) => lines.push(l), intervalMs: 1000, burst: 3, keysMax });
  return { log, lines, clock };
}

describe('RateLimitedLog', () => {
  it('writes a burst per key and interval, then counts what it suppresses', () => {
    const { log, lines, clock } = setup();
    for (let i = 0; i < 100; i++) log.log('auth:7', `auth failure ${i}`);
    expect(lines).toEqual(['auth failure 0', 'auth failure 1', 'auth failure 2']);
    expect(log.pendingSuppressed().get('auth:7')).toBe(97);
    clock.t += 999;
    expect(log.log('auth:7', 'still limited')).toBe(false);
    clock.t += 1;
    expect(log.log('auth:7', 'next')).toBe(true);
    expect(lines[3]).toBe('next (98 similar lines suppressed)');
    expect(log.pendingSuppressed().size).toBe(0);
  });

  it('keys are independent', () => {
    const { log, lines } = setup();
    for (let i = 0; i < 10; i++) log.log('mode:1', 'm');
    expect(log.log('auth:2', 'a')).toBe(true);
    expect(lines.filter((l) => l === 'a')).toHaveLength(1);
  });

  it('bounds the number of keys an attacker can create', () => {
    const { log, lines } = setup(4);
    for (let i = 0; i < 1000; i++) log.log(`auth:${i}`, `line ${i}`);
    // 4 keys: 3 real ones plus the shared overflow key, each limited to the burst of 3.
    expect(lines.length).toBeLessThanOrEqual(4 * 3);
    expect(log.pendingSuppressed().has(OVERFLOW_KEY)).toBe(true);
  });

  it('refuses nonsense options', () => {
    expect(() => new RateLimitedLog({ now: () => 0, write: () => undefined, burst: 0 })).toThrow();
    expect(() => new RateLimitedLog({ now: () => 0, write: () => undefined, intervalMs: 0 })).toThrow();
  });
});
