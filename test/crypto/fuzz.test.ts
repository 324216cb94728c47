import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../../crypto/index.js';
import type { PacketProtector } from '../../crypto/index.js';
import { A, ALL_CONFIGS, B, C, pair } from './helpers.js';

beforeAll(async () => {
  await initCrypto();
});

function mustNotThrow(p: PacketProtector, packet: Uint8Array, from: number): void {
  let result;
  try {
    result = p.open(packet, from);
  } catch (e) {
    throw new Error(`open threw on ${Buffer.from(packet).toString('hex').slice(0, 120)}: ${String(e)}`);
  }
  expect(typeof result.ok).toBe('boolean');
}

describe('open() on hostile input', () => {
  for (const { mode, suite } of ALL_CONFIGS) {
    it(`${mode}/${suite}: random bytes never throw and are never accepted in secure modes`, () => {
      const { a, b } = pair(mode, suite, { packetBytesMax: 4096 });
      const genuine = a.seal(new Uint8Array(40).fill(1));
      const sender = fc.constantFrom(A, B, C, 0, 0xffffffff);
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 0, maxLength: 5000 }), sender, (packet, from) => {
          mustNotThrow(b, packet, from);
          // Offset views into a larger buffer exercise byteOffset handling.
          const padded = new Uint8Array(packet.length + 7);
          padded.set(packet, 7);
          mustNotThrow(b, padded.subarray(7), from);
        }),
        { numRuns: 400 },
      );
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 0, maxLength: 200 }),
          fc.nat({ max: 60 }),
          fc.uint8Array({ minLength: 1, maxLength: 8 }),
          (tail, at, patch) => {
            // A valid-looking header (version, mode, sender) followed by garbage or a patched genuine packet.
            const forged = new Uint8Array(genuine.length + tail.length);
            forged.set(genuine, 0);
            forged.set(tail, genuine.length);
            forged.set(patch.subarray(0, Math.max(0, forged.length - at)), Math.min(at, forged.length));
            const r = b.open(forged, A);
            if (mode !== 'none' && r.ok) {
              // Only the untouched genuine packet may verify, and only once.
              expect(Buffer.from(forged.subarray(0, genuine.length)).equals(Buffer.from(genuine)) && tail.length === 0).toBe(true);
            }
          },
        ),
        { numRuns: 400 },
      );
    });
  }
});
