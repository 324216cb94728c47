import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../src/sim/event-queue.js';
import { generateSchedule } from '../../src/sim/faults.js';
import { decodePayload, encodePayload, messageId, parseMessageId } from '../../src/sim/payload.js';
import { Prng } from '../../src/sim/prng.js';
import { parseSeedRange } from '../../src/sim/runner.js';

describe('Prng', () => {
  it('replays a seed and separates seeds and forks', () => {
    const a = new Prng(7);
    const b = new Prng(7);
    const xs = Array.from({ length: 100 }, () => a.nextU32());
    expect(Array.from({ length: 100 }, () => b.nextU32())).toEqual(xs);
    const c = new Prng(8);
    expect(Array.from({ length: 100 }, () => c.nextU32())).not.toEqual(xs);
    const f1 = new Prng(7).fork('network');
    const f2 = new Prng(7).fork('clients');
    expect(f1.nextU32()).not.toBe(f2.nextU32());
  });

  it('stays in range and is roughly uniform', () => {
    const p = new Prng(1);
    const buckets = new Array<number>(10).fill(0);
    let outOfRange = 0;
    for (let i = 0; i < 20000; i++) {
      const f = p.float();
      if (!(f >= 0 && f < 1)) outOfRange++;
      else buckets[Math.floor(f * 10)]!++;
      const r = p.range(3, 5);
      if (r !== 3 && r !== 4 && r !== 5) outOfRange++;
    }
    expect(outOfRange).toBe(0);
    for (const n of buckets) expect(Math.abs(n - 2000)).toBeLessThan(300);
    expect(() => p.int(0)).toThrow(RangeError);
  });
});

describe('EventQueue', () => {
  it('orders by time, then by insertion', () => {
    const q = new EventQueue<string>();
    const p = new Prng(3);
    const items: { t: number; s: string }[] = [];
    for (let i = 0; i < 500; i++) {
      const t = p.int(20);
      items.push({ t, s: `e${i}` });
      q.push(t, `e${i}`);
    }
    const expected = items
      .map((x, i) => ({ ...x, i }))
      .sort((a, b) => a.t - b.t || a.i - b.i)
      .map((x) => x.s);
    const got: string[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) got.push(e.item);
    expect(got).toEqual(expected);
  });

  it('refuses to grow past its bound', () => {
    const q = new EventQueue<number>(3);
    q.push(1, 1);
    q.push(1, 2);
    q.push(1, 3);
    expect(() => q.push(1, 4)).toThrow(/exceeded 3 events/);
  });
});

describe('payload', () => {
  it('round-trips and detects corruption, truncation and lying lengths', () => {
    const key = { daemon: 0xc0a80001, incarnation: 3, stream: 2, counter: 77 };
    const bytes = encodePayload(key, 300);
    const d = decodePayload(bytes);
    expect(d.ok && messageId(d.key)).toBe(messageId(key));
    expect(parseMessageId(messageId(key))).toEqual(key);
    const bad = bytes.slice();
    bad[100] = bad[100]! ^ 1;
    expect(decodePayload(bad)).toMatchObject({ ok: false });
    expect(decodePayload(bytes.subarray(0, 200))).toMatchObject({ ok: false });
    expect(decodePayload(bytes.subarray(0, 10))).toMatchObject({ ok: false });
  });
});

describe('fault schedule', () => {
  it('draws only the enabled kinds, in time order, with consistent daemon choices', () => {
    for (let seed = 0; seed < 50; seed++) {
      const s = generateSchedule(new Prng(seed), {
        daemons: 5,
        steps: 10,
        firstFaultMs: [10, 50],
        stepMs: [50, 100],
        mix: { partitions: false, crashes: true, lossBursts: false },
      });
      const up = [true, true, true, true, true];
      let last = 0;
      for (const a of s.actions) {
        expect(a.atMs).toBeGreaterThanOrEqual(last);
        last = a.atMs;
        expect(['crash', 'leave', 'restart']).toContain(a.kind);
        if (a.kind === 'crash' || a.kind === 'leave') {
          expect(up[a.daemon]).toBe(true);
          up[a.daemon] = false;
        } else if (a.kind === 'restart') {
          expect(up[a.daemon]).toBe(false);
          up[a.daemon] = true;
        }
        expect(up.some(Boolean)).toBe(true);
      }
      expect(s.healAtMs).toBeGreaterThan(last);
    }
  });

  it('partitions cover every daemon exactly once', () => {
    const s = generateSchedule(new Prng(9), {
      daemons: 7,
      steps: 30,
      firstFaultMs: [10, 50],
      stepMs: [50, 100],
      mix: { partitions: true, crashes: false, lossBursts: false },
    });
    const parts = s.actions.filter((a) => a.kind === 'partition');
    expect(parts.length).toBeGreaterThan(0);
    for (const p of parts) {
      if (p.kind !== 'partition') continue;
      expect(p.components.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(p.components.length).toBeGreaterThanOrEqual(2);
    }
  });
});

describe('parseSeedRange', () => {
  it('parses ranges and single seeds, refuses nonsense', () => {
    expect(parseSeedRange('0..9999')).toEqual({ from: 0, to: 9999 });
    expect(parseSeedRange('42')).toEqual({ from: 42, to: 42 });
    expect(parseSeedRange('9..3')).toBeUndefined();
    expect(parseSeedRange('a..b')).toBeUndefined();
  });
});
