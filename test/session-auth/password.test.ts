import { beforeAll, describe, expect, it } from 'vitest';
import {
  initSessionCrypto,
  passwordBytes,
  PasswordClientAuth,
  PasswordServerAuth,
  saltedPasswordSync,
  verifierFromSaltedPassword,
  type PasswordVerifier,
  type ScryptParams,
  KeyedStreamDecoder,
  sealFrame,
} from '../../crypto/session/index.js';
import { concat, pump, randomBytes, seededRandom } from './helpers.js';

const TEST_PARAMS: ScryptParams = { logN: 4, r: 1, p: 1 };
const PASSWORD = 'corr€ct horse battery';
const DAEMON = 'd1';

let alice: PasswordVerifier;
const decoySecret = randomBytes(32);

beforeAll(async () => {
  await initSessionCrypto();
  const salt = randomBytes(16);
  alice = verifierFromSaltedPassword('alice', TEST_PARAMS, salt, saltedPasswordSync(passwordBytes(PASSWORD), salt, TEST_PARAMS));
});

function server(rnd = randomBytes): PasswordServerAuth {
  return new PasswordServerAuth({ daemonName: DAEMON, randomBytes: rnd, lookup: (u) => (u === 'alice' ? alice : undefined), decoySecret, decoyParams: TEST_PARAMS });
}

function client(password = PASSWORD, user = 'alice', extra: Partial<ConstructorParameters<typeof PasswordClientAuth>[0]> = {}): PasswordClientAuth {
  return new PasswordClientAuth({
    user,
    password,
    randomBytes,
    scryptMinimum: TEST_PARAMS,
    deriveSync: (r) => saltedPasswordSync(r.password, r.salt, r.params),
    ...extra,
  });
}

describe('RC-PASSWORD', () => {
  it('accepts the right password, both sides keyed, identity password:alice', () => {
    const c = client();
    const s = server();
    pump(c, s);
    const cr = c.result();
    const sr = s.result();
    expect(sr.status).toBe('accepted');
    expect(cr.status).toBe('accepted');
    if (sr.status !== 'accepted' || cr.status !== 'accepted') return;
    expect(sr.identity).toBe('password:alice');
    expect(cr.daemonName).toBe(DAEMON);
    // Keys agree in both directions.
    const dec = new KeyedStreamDecoder(sr.keys.receive);
    dec.push(sealFrame(cr.keys, new TextEncoder().encode('hello daemon')));
    expect(new TextDecoder().decode(dec.next())).toBe('hello daemon');
    expect(new TextDecoder().decode(cr.keys.receive.open(sr.keys.send.seal(new TextEncoder().encode('hello client'))))).toBe('hello client');
  });

  it('works with every record delivered byte by byte', () => {
    const c = client();
    const s = server();
    pump(c, s, 1);
    expect(s.result().status).toBe('accepted');
    expect(c.result().status).toBe('accepted');
  });

  it('rejects a wrong password with REJECT_AUTH, and the reason has no password', () => {
    const c = client('wrong horse');
    const s = server();
    pump(c, s);
    const r = s.result();
    expect(r).toMatchObject({ status: 'rejected', code: -9 });
    if (r.status !== 'rejected') return;
    expect(r.reason).toContain('wrong password for user alice');
    expect(r.reason).not.toContain('wrong horse');
    expect(r.reason).not.toContain(PASSWORD);
    // The daemon sends nothing after a failure; the client is still waiting for ServerFinal.
    expect(c.result().status).toBe('pending');
    // The session layer writes the Spread reject byte; the client reports it.
    c.receive(Uint8Array.of(0xf7));
    expect(c.result()).toMatchObject({ status: 'rejected', code: -9 });
  });

  it('rejects an unknown user at the proof, with a stable decoy salt', () => {
    const hellos: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) {
      const c = client(PASSWORD, 'mallory');
      const s = server();
      const log = pump(c, s);
      hellos.push(log.serverSent[0]!);
      expect(s.result()).toMatchObject({ status: 'rejected', code: -9, reason: 'unknown user mallory' });
    }
    // Salt field sits after e_s, nonce_s and 3 parameter bytes: identical across attempts.
    const saltOf = (h: Uint8Array) => Buffer.from(h.subarray(3 + 64 + 3, 3 + 64 + 3 + 17)).toString('hex');
    expect(saltOf(hellos[0]!)).toBe(saltOf(hellos[1]!));
  });

  it('never sends the password: not in any client byte, not in any encoding', () => {
    for (const pw of [PASSWORD, 'wrong horse']) {
      const c = client(pw);
      const s = server();
      const log = pump(c, s, 7);
      const sent = concat(log.clientSent);
      expect(sent.length).toBeGreaterThan(0);
      for (const enc of ['utf8', 'utf16le', 'latin1'] as const) {
        expect(sent.indexOf(Buffer.from(pw, enc))).toBe(-1);
      }
      expect(sent.indexOf(Buffer.from(pw.normalize('NFD'), 'utf8'))).toBe(-1);
      const reasons = [s.result(), c.result()].map((r) => (r.status === 'rejected' ? r.reason : '')).join(' ');
      expect(reasons).not.toContain(pw);
    }
  });

  it('rejects a replayed client transcript against a fresh daemon handshake', () => {
    const c = client();
    const s1 = server(seededRandom(1));
    const log = pump(c, s1);
    expect(s1.result().status).toBe('accepted');
    const s2 = server(seededRandom(2));
    for (const rec of log.clientSent) s2.receive(rec);
    const r = s2.result();
    expect(r).toMatchObject({ status: 'rejected', code: -9 });
    // The proof decrypted? No: fresh ephemeral keys mean fresh handshake keys.
    if (r.status === 'rejected') expect(r.reason).toContain('does not decrypt');
  });

  it('rejects when a man in the middle swaps the daemon ephemeral key', () => {
    const c = client();
    const s = server();
    for (let out = c.pollOutput(); out; out = c.pollOutput()) s.receive(out);
    const hello = s.pollOutput()!;
    const forged = hello.slice();
    forged.set(randomBytes(32), 3); // replace e_s
    c.receive(forged);
    for (let out = c.pollOutput(); out; out = c.pollOutput()) s.receive(out);
    expect(s.result().status).toBe('rejected');
  });

  it('client refuses weaker scrypt parameters than its minimum (fake daemon)', () => {
    const c = client(PASSWORD, 'alice', { scryptMinimum: { logN: 15, r: 8, p: 1 } });
    const s = server();
    pump(c, s);
    const r = c.result();
    expect(r.status).toBe('rejected');
    if (r.status === 'rejected') expect(r.reason).toContain('weaker than the minimum');
  });

  it('client refuses a daemon with an unexpected name', () => {
    const c = client(PASSWORD, 'alice', { expectedDaemonName: 'd2' });
    pump(c, server());
    expect(c.result()).toMatchObject({ status: 'rejected', code: -9 });
  });

  it('client refuses a daemon without the verifier (fake ServerFinal)', () => {
    const fakeVerifier = { ...alice, serverKey: randomBytes(32) };
    const c = client();
    const s = new PasswordServerAuth({ daemonName: DAEMON, randomBytes, lookup: () => fakeVerifier, decoySecret });
    pump(c, s);
    expect(s.result().status).toBe('accepted');
    expect(c.result().status).toBe('rejected');
  });

  it('rejects malformed and oversized records without buffering them', () => {
    const s = server();
    s.receive(Uint8Array.of(0x01, 0xff, 0xff));
    expect(s.result()).toMatchObject({ status: 'rejected', code: -9 });
    const s2 = server();
    s2.receive(Uint8Array.of(0x03, 0x00, 0x30));
    expect(s2.result().status).toBe('rejected');
    const s3 = server();
    s3.receive(Uint8Array.of(0x01, 0x00, 68, 2, ...new Uint8Array(67)));
    expect(s3.result()).toMatchObject({ status: 'rejected' });
  });

  it('an adapter can run scrypt asynchronously through pendingDerivation()', () => {
    const c = new PasswordClientAuth({ user: 'alice', password: PASSWORD, randomBytes, scryptMinimum: TEST_PARAMS });
    const s = server();
    pump(c, s);
    const req = c.pendingDerivation();
    expect(req?.params).toEqual(TEST_PARAMS);
    expect(c.bytesWanted()).toBe(0);
    c.supplyDerivation(saltedPasswordSync(req!.password, req!.salt, req!.params));
    pump(c, s);
    expect(s.result().status).toBe('accepted');
    expect(c.result().status).toBe('accepted');
  });

  it('keeps bytes after the last record for the keyed stream', () => {
    const c = client();
    const s = server();
    pump(c, s);
    const sr = s.result();
    const cr = c.result();
    if (sr.status !== 'accepted' || cr.status !== 'accepted') throw new Error('not accepted');
    s.receive(sealFrame(cr.keys, Uint8Array.of(1, 2, 3)));
    const dec = new KeyedStreamDecoder(sr.keys.receive);
    dec.push(s.takeUnconsumed());
    expect([...dec.next()!]).toEqual([1, 2, 3]);
  });

  it('no failure reason on either side ever contains the password', () => {
    const reasons: string[] = [];
    const collect = (...rs: { status: string; reason?: string }[]) => rs.forEach((r) => r.status === 'rejected' && reasons.push(r.reason!));
    const scenarios: (() => void)[] = [
      () => { const c = client('wrong horse'); const s = server(); pump(c, s); collect(s.result(), c.result()); },
      () => { const c = client(PASSWORD, 'mallory'); const s = server(); pump(c, s); collect(s.result(), c.result()); },
      () => { const c = client(PASSWORD, 'alice', { scryptMinimum: { logN: 20, r: 8, p: 1 } }); pump(c, server()); collect(c.result()); },
      () => { const c = client(PASSWORD, 'alice', { expectedDaemonName: 'dx' }); pump(c, server()); collect(c.result()); },
      () => {
        const c = client();
        const s = new PasswordServerAuth({ daemonName: DAEMON, randomBytes, lookup: () => ({ ...alice, serverKey: randomBytes(32) }), decoySecret });
        pump(c, s);
        collect(c.result());
      },
      () => {
        const c = client();
        const s = server();
        s.receive(c.pollOutput()!);
        c.receive(s.pollOutput()!);
        const proof = c.pollOutput()!.slice();
        proof[10]! ^= 1;
        s.receive(proof);
        collect(s.result());
      },
    ];
    for (const run of scenarios) run();
    expect(reasons.length).toBeGreaterThanOrEqual(scenarios.length);
    for (const r of reasons) {
      expect(r).not.toContain(PASSWORD);
      expect(r).not.toContain('wrong horse');
    }
  });
});
