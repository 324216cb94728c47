import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteQueue } from '../../src/session/byte-queue.js';

type Op = { kind: 'push'; bytes: Uint8Array } | { kind: 'take' | 'peek' | 'skip' | 'at'; n: number } | { kind: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 20 }).map((bytes) => ({ kind: 'push' as const, bytes })), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constantFrom('take' as const, 'peek' as const, 'skip' as const, 'at' as const), n: fc.integer({ min: -1, max: 40 }) }), weight: 4 },
  { arbitrary: fc.constant({ kind: 'clear' as const }), weight: 1 },
);

describe('ByteQueue', () => {
  it('behaves as one flat byte array under any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const q = new ByteQueue();
        let model: number[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case 'push':
              q.push(o.bytes);
              model.push(...o.bytes);
              break;
            case 'clear':
              q.clear();
              model = [];
              break;
            case 'at':
              expect(q.at(o.n)).toBe(o.n >= 0 ? model[o.n] : undefined);
              break;
            case 'peek': {
              const got = q.peek(o.n);
              if (o.n < 0 || o.n > model.length) expect(got).toBeUndefined();
              else expect([...(got ?? [])]).toEqual(model.slice(0, o.n));
              break;
            }
            case 'take': {
              const got = q.take(o.n);
              if (o.n < 0 || o.n > model.length) expect(got).toBeUndefined();
              else {
                expect([...(got ?? [])]).toEqual(model.slice(0, o.n));
                model = model.slice(o.n);
              }
              break;
            }
            case 'skip':
              q.skip(o.n);
              model = model.slice(Math.max(0, o.n));
              break;
          }
          expect(q.length).toBe(model.length);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('take returns a copy that later pushes and skips do not change', () => {
    const q = new ByteQueue();
    const src = Uint8Array.of(1, 2, 3, 4);
    q.push(src);
    const t = q.take(2);
    src[0] = 9;
    expect([...(t ?? [])]).toEqual([1, 2]);
  });
});
