import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthRejectedError,
  formatPasswordEntry,
  generateClientKeyPair,
  initSessionCrypto,
  KeyedStreamDecoder,
  loadAuthorizedKeys,
  loadPasswordFile,
  parsePasswordFile,
  passwordBytes,
  PasswordClientAuth,
  PasswordServerAuth,
  PubkeyClientAuth,
  PubkeyServerAuth,
  readClientKeyFile,
  removePasswordEntry,
  runClientAuth,
  saltedPasswordSync,
  ScryptBusyError,
  ScryptPool,
  upsertPasswordEntry,
  verifierFromSaltedPassword,
  writeClientKeyFile,
  type ExactChannel,
  type ScryptParams,
  type ServerAuth,
} from '../../crypto/session/index.js';
import { randomBytes } from './helpers.js';

const TEST_PARAMS: ScryptParams = { logN: 4, r: 1, p: 1 };
let dir: string;

beforeAll(async () => {
  await initSessionCrypto();
  dir = mkdtempSync(join(tmpdir(), 'rc-auth-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An exact-read channel whose other end is a daemon-side state machine, plus bytes the daemon appends. */
function channelTo(server: ServerAuth, afterAccept: () => Uint8Array): ExactChannel & { pending: () => number } {
  let inbox = Buffer.alloc(0);
  let appended = false;
  return {
    async write(b) {
      server.receive(b);
      for (let out = server.pollOutput(); out; out = server.pollOutput()) inbox = Buffer.concat([inbox, out]);
      if (server.result().status === 'rejected') inbox = Buffer.concat([inbox, Buffer.of(0xf7)]);
      if (server.result().status === 'accepted' && !appended) {
        appended = true;
        inbox = Buffer.concat([inbox, afterAccept()]);
      }
    },
    async read(n) {
      if (inbox.length < n) throw new Error(`read(${n}) beyond the ${inbox.length} bytes sent`);
      const out = inbox.subarray(0, n);
      inbox = inbox.subarray(n);
      return new Uint8Array(out);
    },
    pending: () => inbox.length,
  };
}

describe('client driver over an exact-read channel', () => {
  it('runs RC-PASSWORD with scrypt in the pool and leaves the first keyed frame unread', async () => {
    const salt = randomBytes(16);
    const v = verifierFromSaltedPassword('bob', TEST_PARAMS, salt, saltedPasswordSync(passwordBytes('pw-bob'), salt, TEST_PARAMS));
    const server = new PasswordServerAuth({ daemonName: 'd1', randomBytes, lookup: (u) => (u === 'bob' ? v : undefined), decoySecret: randomBytes(32) });
    let frameLength = 0;
    const ch = channelTo(server, () => {
      const r = server.result();
      if (r.status !== 'accepted') throw new Error('not accepted');
      const f = r.keys.send.seal(Uint8Array.of(1, 5, 0, 1));
      frameLength = f.length;
      return f;
    });
    const pool = new ScryptPool();
    const client = new PasswordClientAuth({ user: 'bob', password: 'pw-bob', randomBytes, scryptMinimum: TEST_PARAMS });
    const accepted = await runClientAuth(client, ch, { derive: (r) => pool.derive(r) });
    expect(ch.pending()).toBe(frameLength);
    const dec = new KeyedStreamDecoder(accepted.keys.receive);
    dec.push(await ch.read(frameLength));
    expect([...dec.next()!]).toEqual([1, 5, 0, 1]);
  });

  it('throws AuthRejectedError with the daemon code for an unknown key', async () => {
    const server = new PubkeyServerAuth({ daemonName: 'd1', randomBytes, lookupKey: () => undefined });
    const ch = channelTo(server, () => new Uint8Array(0));
    const kp = generateClientKeyPair();
    const err = await runClientAuth(new PubkeyClientAuth({ ...kp, randomBytes }), ch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthRejectedError);
    expect((err as AuthRejectedError).spreadCode).toBe(-9);
  });
});

describe('ScryptPool', () => {
  it('agrees with @noble/hashes scrypt', async () => {
    const pool = new ScryptPool();
    const req = { password: passwordBytes('pässword'), salt: randomBytes(16), params: { logN: 10, r: 8, p: 1 } };
    expect(Buffer.from(await pool.derive(req)).toString('hex')).toBe(Buffer.from(saltedPasswordSync(req.password, req.salt, req.params)).toString('hex'));
  });

  it('keeps the event loop turning during a production-strength derivation', async () => {
    const pool = new ScryptPool();
    let turns = 0;
    let spinning = true;
    const spin = (): void => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    await pool.derive({ password: passwordBytes('x'), salt: randomBytes(16), params: { logN: 15, r: 8, p: 1 } });
    spinning = false;
    // A derivation on the event-loop thread would allow no turn at all until it finished.
    expect(turns).toBeGreaterThan(3);
  });

  it('bounds running and waiting derivations', async () => {
    const pool = new ScryptPool({ concurrencyMax: 1, queueMax: 1 });
    const req = { password: passwordBytes('x'), salt: randomBytes(16), params: { logN: 12, r: 8, p: 1 } };
    const a = pool.derive(req);
    const b = pool.derive(req);
    await expect(pool.derive(req)).rejects.toBeInstanceOf(ScryptBusyError);
    expect(pool.runningCount).toBe(1);
    await Promise.all([a, b]);
    expect(pool.runningCount).toBe(0);
    expect(pool.waitingCount).toBe(0);
  });
});

describe('credential files', () => {
  const entry = (user: string) => {
    const salt = randomBytes(16);
    return verifierFromSaltedPassword(user, TEST_PARAMS, salt, saltedPasswordSync(passwordBytes('p'), salt, TEST_PARAMS));
  };

  it('password file: round trip, update in place, remove, line numbers in errors', () => {
    const a = entry('alice');
    const text = `# users\n${formatPasswordEntry(a)}\n`;
    const b = entry('bob');
    const t2 = upsertPasswordEntry(text, b, 'pw');
    const a2 = entry('alice');
    const t3 = upsertPasswordEntry(t2, a2, 'pw');
    expect(t3.split('\n')[0]).toBe('# users');
    const m = parsePasswordFile(t3, 'pw');
    expect([...m.keys()]).toEqual(['alice', 'bob']);
    expect(Buffer.from(m.get('alice')!.storedKey).equals(Buffer.from(a2.storedKey))).toBe(true);
    expect(removePasswordEntry(t3, 'bob', 'pw').removed).toBe(true);
    expect(() => parsePasswordFile('# x\nalice:scrypt-N15-r8-p1:AAAA:BBBB\n', 'pw')).toThrow(/^pw:2: expected user/);
    expect(() => parsePasswordFile(`${formatPasswordEntry(a)}\n${formatPasswordEntry(a)}\n`, 'pw')).toThrow(/pw:2: user alice has a second entry/);
    expect(() => parsePasswordFile(formatPasswordEntry(a).replace('scrypt-N4', 'scrypt-N99'), 'pw')).toThrow(/pw:1:/);
  });

  it('password file must be owner-only', () => {
    const p = join(dir, 'passwd');
    writeFileSync(p, formatPasswordEntry(entry('alice')) + '\n', { mode: 0o640 });
    chmodSync(p, 0o640);
    expect(() => loadPasswordFile(p)).toThrow(/mode 0640; run: chmod 0600/);
    chmodSync(p, 0o600);
    expect(loadPasswordFile(p).has('alice')).toBe(true);
  });

  it('authorized keys file must not be writable by others', () => {
    const p = join(dir, 'authorized_keys');
    const kp = generateClientKeyPair();
    writeFileSync(p, `ops ${Buffer.from(kp.publicKey).toString('base64')} laptop\n`);
    chmodSync(p, 0o666);
    expect(() => loadAuthorizedKeys(p)).toThrow(/chmod 0644/);
    chmodSync(p, 0o644);
    expect(loadAuthorizedKeys(p).lookup(kp.publicKey)).toBe('ops');
  });

  it('client key file: written 0400, read back, refused when readable by others or existing', () => {
    const p = join(dir, 'client.key');
    const kp = generateClientKeyPair();
    const { publicPath } = writeClientKeyFile(p, kp, { identity: 'ops-1', comment: 'test' });
    expect(statSync(p).mode & 0o777).toBe(0o400);
    const back = readClientKeyFile(p);
    expect(Buffer.from(back.secretKey).equals(Buffer.from(kp.secretKey))).toBe(true);
    expect(loadAuthorizedKeysFromText(readFileSync(publicPath, 'utf8'))).toBe(Buffer.from(kp.publicKey).toString('base64'));
    expect(() => writeClientKeyFile(p, kp, { identity: 'ops-1' })).toThrow(/already exists/);
    chmodSync(p, 0o440);
    expect(() => readClientKeyFile(p)).toThrow(/chmod 0400/);
  });
});

function loadAuthorizedKeysFromText(text: string): string {
  const [identity, key] = text.trim().split(' ');
  expect(identity).toBe('ops-1');
  return key!;
}
