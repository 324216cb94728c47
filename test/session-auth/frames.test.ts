import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initSessionCrypto, KeyedFrameError, KeyedStreamDecoder, keyedFramePlaintextBytesMax, makeSessionKeys, sealFrame, type SessionKeys } from '../../crypto/session/index.js';
import { randomBytes } from './helpers.js';

function pair(): { a: SessionKeys; b: SessionKeys } {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  return { a: makeSessionKeys(k1, k2), b: makeSessionKeys(k2, k1) };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof KeyedFrameError ? e.code : 'other';
  }
}

beforeAll(async () => {
  await initSessionCrypto();
});

describe('keyed framing', () => {
  it('round-trips any frames through any segmentation', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }), (msgs, cuts) => {
        const { a, b } = pair();
        const stream = Buffer.concat(msgs.map((m) => Buffer.from(sealFrame(a, m))));
        const dec = new KeyedStreamDecoder(b.receive);
        const got: Uint8Array[] = [];
        let off = 0;
        for (let i = 0; off < stream.length; i++) {
          const n = cuts[i % cuts.length]!;
          dec.push(stream.subarray(off, off + n));
          off += n;
          for (let m = dec.next(); m; m = dec.next()) got.push(m);
        }
        expect(got.map((g) => Buffer.from(g).toString('hex'))).toEqual(msgs.map((m) => Buffer.from(m).toString('hex')));
      }),
      { numRuns: 50 },
    );
  });

  it('rejects a tampered frame, then refuses everything after', () => {
    const { a, b } = pair();
    const f0 = sealFrame(a, Uint8Array.of(1, 2, 3));
    const f1 = sealFrame(a, Uint8Array.of(4));
    for (const pos of [0, 5, 12, f0.length - 1]) {
      const { a: a2, b: b2 } = pair();
      const g = sealFrame(a2, Uint8Array.of(1, 2, 3)).slice();
      g[pos]! ^= 0x40;
      expect(code(() => b2.receive.open(g))).not.toBeUndefined();
    }
    const t = f0.slice();
    t[13]! ^= 1;
    expect(code(() => b.receive.open(t))).toBe('FRAME_TAMPERED');
    expect(code(() => b.receive.open(f0))).toBe('FRAME_CLOSED');
    expect(code(() => b.receive.open(f1))).toBe('FRAME_CLOSED');
  });

  it('rejects a replayed frame', () => {
    const { a, b } = pair();
    const f0 = sealFrame(a, Uint8Array.of(1));
    sealFrame(a, Uint8Array.of(2));
    expect([...b.receive.open(f0)]).toEqual([1]);
    expect(code(() => b.receive.open(f0))).toBe('FRAME_REPLAYED');
  });

  it('rejects reordered frames', () => {
    const { a, b } = pair();
    sealFrame(a, Uint8Array.of(1));
    const f1 = sealFrame(a, Uint8Array.of(2));
    expect(code(() => b.receive.open(f1))).toBe('FRAME_OUT_OF_ORDER');
  });

  it('rejects a frame whose counter was rewritten to the expected one', () => {
    const { a, b } = pair();
    sealFrame(a, Uint8Array.of(1));
    const f1 = sealFrame(a, Uint8Array.of(2)).slice();
    f1[11] = 0;
    expect(code(() => b.receive.open(f1))).toBe('FRAME_TAMPERED');
  });

  it('rejects a frame sealed with the other direction key (reflection)', () => {
    const { a } = pair();
    const f0 = sealFrame(a, Uint8Array.of(1));
    expect(code(() => a.receive.open(f0))).toBe('FRAME_TAMPERED');
  });

  it('bounds the frame size before buffering', () => {
    const { a, b } = pair();
    expect(code(() => sealFrame(a, new Uint8Array(keyedFramePlaintextBytesMax + 1)))).toBe('FRAME_TOO_LARGE');
    expect(b.receive.open(sealFrame(a, new Uint8Array(keyedFramePlaintextBytesMax))).length).toBe(keyedFramePlaintextBytesMax);
    const dec = new KeyedStreamDecoder(b.receive);
    dec.push(Uint8Array.of(0x7f, 0xff, 0xff, 0xff));
    expect(code(() => dec.next())).toBe('FRAME_TOO_LARGE');
    const dec2 = new KeyedStreamDecoder(pair().b.receive);
    dec2.push(Uint8Array.of(0, 0, 0, 3, 1, 2, 3));
    expect(code(() => dec2.next())).toBe('FRAME_TAMPERED');
  });
});
