import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateClientKeyPair,
  initSessionCrypto,
  passwordBytes,
  PasswordClientAuth,
  PasswordServerAuth,
  PubkeyClientAuth,
  PubkeyServerAuth,
  saltedPasswordSync,
  verifierFromSaltedPassword,
  type ClientAuth,
  type ServerAuth,
} from '../../crypto/session/index.js';
import { randomBytes } from './helpers.js';

const PARAMS = { logN: 4, r: 1, p: 1 };

beforeAll(async () => {
  await initSessionCrypto();
});

/** Delivers every record cut at the given sizes (cycled), to both sides. */
function run(c: ClientAuth, s: ServerAuth, cuts: number[]): void {
  let k = 0;
  const deliver = (bytes: Uint8Array, to: { receive(b: Uint8Array): void }) => {
    for (let i = 0; i < bytes.length; ) {
      const n = cuts[k++ % cuts.length]!;
      to.receive(bytes.subarray(i, i + n));
      i += n;
    }
  };
  for (let round = 0; round < 10; round++) {
    let moved = false;
    for (let o = c.pollOutput(); o; o = c.pollOutput(), moved = true) deliver(o, s);
    for (let o = s.pollOutput(); o; o = s.pollOutput(), moved = true) deliver(o, c);
    if (!moved) break;
  }
}

describe('handshakes under any segmentation', () => {
  it('RC-PASSWORD and RC-PUBKEY complete for every way of cutting the records', () => {
    const salt = randomBytes(16);
    const v = verifierFromSaltedPassword('alice', PARAMS, salt, saltedPasswordSync(passwordBytes('pw'), salt, PARAMS));
    const kp = generateClientKeyPair();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 12 }), (cuts) => {
        const pc = new PasswordClientAuth({ user: 'alice', password: 'pw', randomBytes, scryptMinimum: PARAMS, deriveSync: (r) => saltedPasswordSync(r.password, r.salt, r.params) });
        const ps = new PasswordServerAuth({ daemonName: 'd1', randomBytes, lookup: () => v, decoySecret: randomBytes(32) });
        run(pc, ps, cuts);
        expect([pc.result().status, ps.result().status]).toEqual(['accepted', 'accepted']);
        const kc = new PubkeyClientAuth({ ...kp, randomBytes });
        const ks = new PubkeyServerAuth({ daemonName: 'd1', randomBytes, lookupKey: () => 'ops' });
        run(kc, ks, cuts);
        expect([kc.result().status, ks.result().status]).toEqual(['accepted', 'accepted']);
      }),
      { numRuns: 40 },
    );
  });
});
