import { beforeAll, describe, expect, it } from 'vitest';
import {
  formatAuthorizedKeyLine,
  generateClientKeyPair,
  initSessionCrypto,
  parseAuthorizedKeys,
  PubkeyClientAuth,
  PubkeyServerAuth,
  type AuthorizedKeys,
  type ClientKeyPair,
} from '../../crypto/session/index.js';
import { pump, randomBytes, seededRandom } from './helpers.js';

let ops: ClientKeyPair;
let stranger: ClientKeyPair;
let keys: AuthorizedKeys;

beforeAll(async () => {
  await initSessionCrypto();
  ops = generateClientKeyPair(randomBytes);
  stranger = generateClientKeyPair(randomBytes);
  keys = parseAuthorizedKeys(`# operators\n${formatAuthorizedKeyLine('ops-1', ops.publicKey, 'laptop')}\n`, 'authorized_keys');
});

const server = (rnd = randomBytes, name = 'd1') => new PubkeyServerAuth({ daemonName: name, randomBytes: rnd, lookupKey: (k) => keys.lookup(k) });
const client = (kp: ClientKeyPair, expectedDaemonName?: string) => new PubkeyClientAuth({ ...kp, randomBytes, expectedDaemonName });

describe('RC-PUBKEY', () => {
  it('accepts an authorized key as key:<identity> with matching session keys', () => {
    const c = client(ops, 'd1');
    const s = server();
    pump(c, s, 5);
    const sr = s.result();
    const cr = c.result();
    expect(sr).toMatchObject({ status: 'accepted', identity: 'key:ops-1' });
    expect(cr).toMatchObject({ status: 'accepted', daemonName: 'd1' });
    if (sr.status !== 'accepted' || cr.status !== 'accepted') return;
    expect([...sr.keys.receive.open(cr.keys.send.seal(Uint8Array.of(9, 8, 7)))]).toEqual([9, 8, 7]);
    expect([...cr.keys.receive.open(sr.keys.send.seal(Uint8Array.of(1)))]).toEqual([1]);
  });

  it('rejects an unknown key with REJECT_AUTH', () => {
    const c = client(stranger);
    const s = server();
    pump(c, s);
    const r = s.result();
    expect(r).toMatchObject({ status: 'rejected', code: -9 });
    if (r.status === 'rejected') expect(r.reason).toContain('not in the authorized keys');
    expect(c.result().status).toBe('pending');
  });

  it('rejects a client that claims an authorized public key without its secret key', () => {
    const c = new PubkeyClientAuth({ publicKey: ops.publicKey, secretKey: stranger.secretKey, randomBytes });
    const s = server();
    pump(c, s);
    const r = s.result();
    expect(r.status).toBe('rejected');
    if (r.status === 'rejected') expect(r.reason).toContain('does not verify');
  });

  it('rejects a replayed client transcript against a fresh daemon', () => {
    const c = client(ops);
    const s1 = server(seededRandom(11));
    const log = pump(c, s1);
    expect(s1.result().status).toBe('accepted');
    const s2 = server(seededRandom(12));
    for (const rec of log.clientSent) s2.receive(rec);
    expect(s2.result()).toMatchObject({ status: 'rejected', code: -9 });
  });

  it('a signature made for one daemon does not open a session at another', () => {
    // Relay: the client talks to d1, a relay forwards its records to d2 with d2's own ServerHello.
    const c = client(ops);
    const d1 = server(randomBytes, 'd1');
    const d2 = server(randomBytes, 'd2');
    const hello = c.pollOutput()!;
    d1.receive(hello);
    d2.receive(hello);
    c.receive(d1.pollOutput()!);
    d2.pollOutput();
    d2.receive(c.pollOutput()!);
    expect(d2.result().status).toBe('rejected');
  });

  it('client refuses a daemon with an unexpected name', () => {
    const c = client(ops, 'd9');
    pump(c, server());
    expect(c.result()).toMatchObject({ status: 'rejected', code: -9 });
  });

  it('client fails on a tampered ServerFinal', () => {
    const c = client(ops);
    const s = server();
    s.receive(c.pollOutput()!);
    c.receive(s.pollOutput()!);
    s.receive(c.pollOutput()!);
    const fin = s.pollOutput()!.slice();
    fin[fin.length - 1]! ^= 1;
    c.receive(fin);
    expect(c.result().status).toBe('rejected');
  });

  it('client reports the daemon reject byte as its code', () => {
    const c = client(ops);
    c.pollOutput();
    expect(c.bytesWanted()).toBe(1);
    c.receive(Uint8Array.of(0xf7));
    expect(c.result()).toMatchObject({ status: 'rejected', code: -9 });
  });

  it('rejects a wrong record kind and a bad version', () => {
    const s = server();
    s.receive(Uint8Array.of(0x03, 0x00, 0x50));
    expect(s.result().status).toBe('rejected');
    const s2 = server();
    const c = client(ops);
    const hello = c.pollOutput()!.slice();
    hello[3] = 7;
    s2.receive(hello);
    expect(s2.result()).toMatchObject({ status: 'rejected', code: -9 });
  });
});

describe('authorized keys file format', () => {
  it('reports the line of a bad entry and refuses a key listed twice', () => {
    expect(() => parseAuthorizedKeys('ok-1 notbase64!\n', 'ak')).toThrow(/ak:1: public key/);
    const line = formatAuthorizedKeyLine('a', ops.publicKey);
    expect(() => parseAuthorizedKeys(`${line}\n${line.replace(/^a /, 'b ')}\n`, 'ak')).toThrow(/ak:2: this key is already authorized as a/);
    expect(() => parseAuthorizedKeys('bad*id AAAA\n', 'ak')).toThrow(/ak:1: identity/);
  });
});
