import * as nodeCrypto from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHACHA_SODIUM_BYTES_MAX, initCrypto } from '../../crypto/index.js';
import { suiteFor } from '../../crypto/suites.js';
import { HEADER_BYTES, headerByte0, writeHeader } from '../../crypto/header.js';
import { bytes } from './helpers.js';

beforeAll(async () => {
  await initCrypto();
});

function frame(plaintextLength: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + plaintextLength + 16);
  writeHeader(out, headerByte0(2, 1), 5, 0x01020304, 0x1122334455667788n);
  return out;
}

describe('suites', () => {
  it('chacha20-poly1305: libsodium (small) and node:crypto (large) produce the same RFC 8439 bytes', () => {
    const suite = suiteFor('encrypt', 'chacha20-poly1305')!;
    const key = bytes(32, 3);
    for (const size of [0, 100, CHACHA_SODIUM_BYTES_MAX, CHACHA_SODIUM_BYTES_MAX + 1, 9000]) {
      const pt = bytes(size, size + 5);
      const out = frame(size);
      suite.seal(key, out, pt);
      const header = out.subarray(0, HEADER_BYTES);
      const viaSodium = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(pt, header, null, header.subarray(4), key);
      const c = nodeCrypto.createCipheriv('chacha20-poly1305', key, header.subarray(4), { authTagLength: 16 });
      c.setAAD(header, { plaintextLength: size });
      const viaNode = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
      expect(Buffer.from(out.subarray(HEADER_BYTES)).equals(Buffer.from(viaSodium))).toBe(true);
      expect(Buffer.from(viaSodium).equals(viaNode)).toBe(true);
      expect(Buffer.from(suite.open(key, out)!).equals(Buffer.from(pt))).toBe(true);
    }
  });

  it('aes-256-gcm matches node:crypto with nonce = header bytes 4..16 and the header as associated data', () => {
    const suite = suiteFor('encrypt', 'aes-256-gcm')!;
    const key = bytes(32, 4);
    const pt = bytes(300, 8);
    const out = frame(300);
    suite.seal(key, out, pt);
    const header = out.subarray(0, HEADER_BYTES);
    const c = nodeCrypto.createCipheriv('aes-256-gcm', key, header.subarray(4), { authTagLength: 16 });
    c.setAAD(header);
    const expected = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
    expect(Buffer.from(out.subarray(HEADER_BYTES)).equals(expected)).toBe(true);
  });

  it('integrity suites: HMAC-SHA-256-128 and keyed BLAKE2b-128 over header ‖ payload', () => {
    const key = bytes(32, 6);
    const pt = bytes(77, 9);
    const hmac = suiteFor('integrity', 'hmac-sha256')!;
    const out = frame(77);
    hmac.seal(key, out, pt);
    const data = out.subarray(0, HEADER_BYTES + 77);
    expect(Buffer.from(out.subarray(-16)).equals(nodeCrypto.createHmac('sha256', key).update(data).digest().subarray(0, 16))).toBe(true);
    const blake = suiteFor('integrity', 'blake2b')!;
    const out2 = frame(77);
    blake.seal(key, out2, pt);
    expect(Buffer.from(out2.subarray(-16)).equals(Buffer.from(sodium.crypto_generichash(16, out2.subarray(0, HEADER_BYTES + 77), key)))).toBe(true);
    const tampered = out2.slice();
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1;
    expect(blake.open(key, tampered)).toBeUndefined();
    expect(blake.open(bytes(32, 7), out2)).toBeUndefined();
  });

  it('only the documented suites exist per mode', () => {
    expect(suiteFor('encrypt', 'hmac-sha256')).toBeUndefined();
    expect(suiteFor('integrity', 'aes-256-gcm')).toBeUndefined();
    expect(suiteFor('none', 'none')?.tagBytes).toBe(0);
  });
});
