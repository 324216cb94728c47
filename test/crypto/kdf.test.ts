import * as nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KEY_PURPOSES, KeyDeriver, deriveKey, epochZeroSecret, secretFingerprint, u32Context } from '../../crypto/index.js';
import { RingcastError } from '../../src/util/errors.js';
import { OTHER_SECRET, SECRET } from './helpers.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('deriveKey', () => {
  it('is HKDF-SHA-256 with salt "ringcast v1 kdf" and info "ringcast v1 <purpose>\\0<context>" (checked against node:crypto)', () => {
    const context = u32Context(7, 9);
    const info = Buffer.concat([Buffer.from('ringcast v1 packet-mac'), Buffer.from([0]), Buffer.from(context)]);
    const expected = new Uint8Array(nodeCrypto.hkdfSync('sha256', SECRET, Buffer.from('ringcast v1 kdf'), info, 32));
    expect(hex(deriveKey(SECRET, 'packet-mac', context))).toBe(hex(expected));
  });

  it('separates purposes, contexts and secrets', () => {
    const keys = new Set<string>();
    for (const purpose of KEY_PURPOSES) {
      for (const ctx of [new Uint8Array(0), u32Context(0), u32Context(1), u32Context(0, 0)]) {
        keys.add(hex(deriveKey(SECRET, purpose, ctx)));
        keys.add(hex(deriveKey(OTHER_SECRET, purpose, ctx)));
      }
    }
    expect(keys.size).toBe(KEY_PURPOSES.length * 4 * 2);
  });

  it('KeyDeriver gives the same keys as deriveKey, and refuses use after erase', () => {
    const d = new KeyDeriver(SECRET);
    expect(hex(d.derive('session-auth', u32Context(3)))).toBe(hex(deriveKey(SECRET, 'session-auth', u32Context(3))));
    expect(d.derive('epoch', new Uint8Array(0), 64).length).toBe(64);
    d.erase();
    expect(() => d.derive('epoch')).toThrow(RingcastError);
  });

  it('refuses short secrets, unknown purposes and bad lengths', () => {
    expect(() => deriveKey(new Uint8Array(31), 'epoch')).toThrow(/256 bits/);
    expect(() => deriveKey(SECRET, 'nonsense' as never)).toThrow(RingcastError);
    expect(() => deriveKey(SECRET, 'epoch', new Uint8Array(0), 8)).toThrow(RingcastError);
    expect(() => deriveKey(SECRET, 'epoch', new Uint8Array(0), 65)).toThrow(RingcastError);
  });

  it('epoch 0 comes from the cluster secret; fingerprints identify a secret without being a key', () => {
    expect(hex(epochZeroSecret(SECRET))).toBe(hex(deriveKey(SECRET, 'epoch', u32Context(0))));
    expect(hex(epochZeroSecret(SECRET))).not.toBe(hex(SECRET));
    expect(secretFingerprint(SECRET)).toMatch(/^[0-9a-f]{16}$/);
    expect(secretFingerprint(SECRET)).toBe(secretFingerprint(SECRET.slice()));
    expect(secretFingerprint(SECRET)).not.toBe(secretFingerprint(OTHER_SECRET));
  });
});
