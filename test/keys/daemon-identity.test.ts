import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import sodium from 'libsodium-wrappers';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initCrypto } from '../../crypto/index.js';
import {
  DAEMON_IDENTITY_FILE_HEADER,
  KeyFileError,
  daemonKeyFingerprint,
  daemonPublicKeysEqual,
  eraseDaemonIdentity,
  formatDaemonIdentityFile,
  formatDaemonPublicKey,
  generateDaemonIdentity,
  parseDaemonIdentityFile,
  parseDaemonPublicKey,
  readClusterKeyFile,
  readDaemonIdentityFile,
  writeClusterKeyFile,
  writeDaemonIdentityFile,
  type DaemonIdentity,
} from '../../keys/index.js';

let dir: string;

beforeAll(async () => {
  await initCrypto();
});

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-identity-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const isRoot = typeof process.geteuid === 'function' && process.geteuid() === 0;

function seed(byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte);
}

function caught(fn: () => unknown): KeyFileError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KeyFileError) return e;
    throw e;
  }
  throw new Error('expected a KeyFileError');
}

function writeRaw(name: string, text: string, mode = 0o400): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text, { mode });
  fs.chmodSync(p, mode);
  return p;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('generateDaemonIdentity', () => {
  it('gives working X25519 and Ed25519 key pairs of the documented sizes', () => {
    const a = generateDaemonIdentity();
    const b = generateDaemonIdentity();
    expect(a.publicKey.x25519).toHaveLength(32);
    expect(a.publicKey.ed25519).toHaveLength(32);
    expect(a.x25519Secret).toHaveLength(32);
    expect(a.ed25519Secret).toHaveLength(64);
    expect(hex(a.ed25519Secret.subarray(32))).toBe(hex(a.publicKey.ed25519));
    // Key agreement: both sides compute the same shared secret.
    const ab = sodium.crypto_scalarmult(a.x25519Secret, b.publicKey.x25519);
    const ba = sodium.crypto_scalarmult(b.x25519Secret, a.publicKey.x25519);
    expect(hex(ab)).toBe(hex(ba));
    // Signatures verify under the public key and not under another daemon's.
    const msg = new TextEncoder().encode('configuration 7');
    const sig = sodium.crypto_sign_detached(msg, a.ed25519Secret);
    expect(sodium.crypto_sign_verify_detached(sig, msg, a.publicKey.ed25519)).toBe(true);
    expect(sodium.crypto_sign_verify_detached(sig, msg, b.publicKey.ed25519)).toBe(false);
  });

  it('is random without a seed', () => {
    const a = generateDaemonIdentity();
    const b = generateDaemonIdentity();
    expect(hex(a.publicKey.x25519)).not.toBe(hex(b.publicKey.x25519));
    expect(hex(a.publicKey.ed25519)).not.toBe(hex(b.publicKey.ed25519));
  });

  it('is a function of the seed, with independent key pairs for distinct seeds', () => {
    const a1 = generateDaemonIdentity(seed(7));
    const a2 = generateDaemonIdentity(seed(7));
    const b = generateDaemonIdentity(seed(8));
    expect(hex(a1.x25519Secret)).toBe(hex(a2.x25519Secret));
    expect(hex(a1.ed25519Secret)).toBe(hex(a2.ed25519Secret));
    expect(formatDaemonPublicKey(a1.publicKey)).toBe(formatDaemonPublicKey(a2.publicKey));
    expect(hex(b.publicKey.x25519)).not.toBe(hex(a1.publicKey.x25519));
    expect(hex(b.publicKey.ed25519)).not.toBe(hex(a1.publicKey.ed25519));
    // The two key pairs come from distinct derivations, not from the same 32 bytes.
    expect(hex(a1.x25519Secret)).not.toBe(hex(a1.ed25519Secret.subarray(0, 32)));
    // The seed is the caller's and is left as it was.
    const s = seed(9);
    generateDaemonIdentity(s);
    expect(hex(s)).toBe(hex(seed(9)));
  });

  it('refuses a seed that is not 32 bytes', () => {
    expect(() => generateDaemonIdentity(new Uint8Array(31))).toThrow(RangeError);
    expect(() => generateDaemonIdentity(new Uint8Array(33))).toThrow(RangeError);
  });

  it('eraseDaemonIdentity zeroes both secrets', () => {
    const id = generateDaemonIdentity();
    eraseDaemonIdentity(id);
    expect(id.x25519Secret.every((b) => b === 0)).toBe(true);
    expect(id.ed25519Secret.every((b) => b === 0)).toBe(true);
  });
});

describe('public key tokens', () => {
  it('round-trip as one 91-character token without spaces', () => {
    const id = generateDaemonIdentity(seed(1));
    const token = formatDaemonPublicKey(id.publicKey);
    expect(token).toMatch(/^rcd1:[A-Za-z0-9_-]{86}$/);
    const back = parseDaemonPublicKey(token);
    expect(back).toBeDefined();
    expect(daemonPublicKeysEqual(back!, id.publicKey)).toBe(true);
    expect(hex(back!.x25519)).toBe(hex(id.publicKey.x25519));
    expect(hex(back!.ed25519)).toBe(hex(id.publicKey.ed25519));
  });

  it('rejects malformed tokens', () => {
    const token = formatDaemonPublicKey(generateDaemonIdentity(seed(2)).publicKey);
    const bad = [
      '',
      token.slice(0, -1),
      token + 'A',
      'rcd2:' + token.slice(5),
      token.replace('rcd1:', 'RCD1:'),
      ' ' + token,
      token.slice(0, 20) + '+' + token.slice(21),
      token.slice(0, 20) + '=' + token.slice(21),
      'rcd1:' + Buffer.alloc(64).toString('base64'),
    ];
    for (const t of bad) expect(parseDaemonPublicKey(t), t).toBeUndefined();
  });

  it('rejects a non-canonical encoding (unused trailing bits set)', () => {
    const token = formatDaemonPublicKey(generateDaemonIdentity(seed(3)).publicKey);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(token.at(-1)!);
    // 64 bytes use 2 bits of the last character; the low 4 bits must be zero.
    expect(last & 0x0f).toBe(0);
    const other = token.slice(0, -1) + alphabet[last | 1];
    expect(parseDaemonPublicKey(other)).toBeUndefined();
  });

  it('any 64 bytes round-trip through a token; any string either parses to a key that formats back to it, or is refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (x25519, ed25519) => {
        const back = parseDaemonPublicKey(formatDaemonPublicKey({ x25519, ed25519 }));
        return back !== undefined && hex(back.x25519) === hex(x25519) && hex(back.ed25519) === hex(ed25519);
      }),
      { numRuns: 200 },
    );
    const tokenish = fc.string({ unit: fc.constantFrom(...'rcd1:AZaz09-_+/= '.split('')), minLength: 0, maxLength: 100 });
    fc.assert(
      fc.property(fc.oneof(fc.string(), tokenish, tokenish.map((t) => 'rcd1:' + t)), (text) => {
        const k = parseDaemonPublicKey(text);
        return k === undefined || formatDaemonPublicKey(k) === text;
      }),
      { numRuns: 500 },
    );
  });

  it('fingerprints are short hex, stable, and differ between keys', () => {
    const a = generateDaemonIdentity(seed(4)).publicKey;
    const b = generateDaemonIdentity(seed(5)).publicKey;
    expect(daemonKeyFingerprint(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(daemonKeyFingerprint(a)).toBe(daemonKeyFingerprint(parseDaemonPublicKey(formatDaemonPublicKey(a))!));
    expect(daemonKeyFingerprint(a)).not.toBe(daemonKeyFingerprint(b));
    // Either half changes the fingerprint.
    expect(daemonKeyFingerprint({ x25519: a.x25519, ed25519: b.ed25519 })).not.toBe(daemonKeyFingerprint(a));
    expect(daemonKeyFingerprint({ x25519: b.x25519, ed25519: a.ed25519 })).not.toBe(daemonKeyFingerprint(a));
  });

  it('refuses to format keys of the wrong size', () => {
    const a = generateDaemonIdentity(seed(6)).publicKey;
    expect(() => formatDaemonPublicKey({ x25519: a.x25519.subarray(1), ed25519: a.ed25519 })).toThrow(RangeError);
    expect(() => formatDaemonPublicKey({ x25519: a.x25519, ed25519: new Uint8Array(33) })).toThrow(RangeError);
  });
});

describe('identity file text', () => {
  function sameIdentity(a: DaemonIdentity, b: DaemonIdentity): void {
    expect(hex(a.x25519Secret)).toBe(hex(b.x25519Secret));
    expect(hex(a.ed25519Secret)).toBe(hex(b.ed25519Secret));
    expect(daemonPublicKeysEqual(a.publicKey, b.publicKey)).toBe(true);
  }

  it('is a header, 128 characters of base64 and the public key token, and round-trips', () => {
    const id = generateDaemonIdentity(seed(10));
    const text = formatDaemonIdentityFile(id);
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(DAEMON_IDENTITY_FILE_HEADER);
    expect(lines[1]).toMatch(/^[A-Za-z0-9+/]{128}$/);
    expect(lines[2]).toBe(formatDaemonPublicKey(id.publicKey));
    expect(lines[3]).toBe('');
    sameIdentity(parseDaemonIdentityFile(text, 'x.key'), id);
  });

  it('refuses malformed text with KEY_FILE_MALFORMED and says how to make a new identity', () => {
    const text = formatDaemonIdentityFile(generateDaemonIdentity(seed(11)));
    const [h, s, p] = text.split('\n') as [string, string, string];
    const bad = [
      '',
      `ringcast-daemon-identity v2\n${s}\n${p}\n`,
      `${h}\n${s}\n${p}`,
      `${h}\n${s}\n${p}\n\n`,
      `${h}\r\n${s}\r\n${p}\r\n`,
      `${h}\n${s.slice(1)}\n${p}\n`,
      `${h}\n${s}=\n${p}\n`,
      `${h}\n${s.replace(/^./, '-')}\n${p}\n`,
      `${h}\n${s}\n${p.slice(0, -1)}\n`,
      `${h}\n${p}\n${s}\n`,
      `${h}\n${s}\n`,
    ];
    for (const t of bad) {
      const e = caught(() => parseDaemonIdentityFile(t, '/etc/ringcast/d.key'));
      expect(e.code, JSON.stringify(t)).toBe('KEY_FILE_MALFORMED');
      expect(e.message).toContain('/etc/ringcast/d.key');
      expect(e.message).toContain('ringcast keygen --identity');
    }
  });

  it('refuses a file whose secrets do not match its public key (KEY_FILE_MISMATCH)', () => {
    const a = generateDaemonIdentity(seed(12));
    const b = generateDaemonIdentity(seed(13));
    const [h, sa] = formatDaemonIdentityFile(a).split('\n') as [string, string];
    const [, sb, pb] = formatDaemonIdentityFile(b).split('\n') as [string, string, string];
    // a's secrets with b's public key.
    expect(caught(() => parseDaemonIdentityFile(`${h}\n${sa}\n${pb}\n`, 'm.key')).code).toBe('KEY_FILE_MISMATCH');
    // a's X25519 secret with b's Ed25519 secret, under b's public key: the X25519 half is wrong.
    const mixed = Buffer.concat([Buffer.from(sa, 'base64').subarray(0, 32), Buffer.from(sb, 'base64').subarray(32)]).toString('base64');
    const e = caught(() => parseDaemonIdentityFile(`${h}\n${mixed}\n${pb}\n`, 'm.key'));
    expect(e.code).toBe('KEY_FILE_MISMATCH');
    expect(e.message).toContain('X25519');
    // b's secrets with the embedded Ed25519 public half altered: the seed still gives b's key.
    const raw = Buffer.from(sb, 'base64');
    raw[95] = raw[95]! ^ 1;
    const e2 = caught(() => parseDaemonIdentityFile(`${h}\n${raw.toString('base64')}\n${pb}\n`, 'm.key'));
    expect(e2.code).toBe('KEY_FILE_MISMATCH');
    // One flipped bit in the Ed25519 seed.
    const raw2 = Buffer.from(sb, 'base64');
    raw2[40] = raw2[40]! ^ 0x10;
    expect(caught(() => parseDaemonIdentityFile(`${h}\n${raw2.toString('base64')}\n${pb}\n`, 'm.key')).code).toBe('KEY_FILE_MISMATCH');
  });

  it('refuses to format an inconsistent identity', () => {
    const a = generateDaemonIdentity(seed(14));
    const b = generateDaemonIdentity(seed(15));
    expect(() => formatDaemonIdentityFile({ ...a, publicKey: b.publicKey })).toThrow(RangeError);
  });
});

describe('identity files on disk', () => {
  it('writes mode 0400, reads back the same identity, and never overwrites', () => {
    const id = generateDaemonIdentity();
    const p = path.join(dir, 'daemon.key');
    writeDaemonIdentityFile(p, id);
    expect(fs.statSync(p).mode & 0o777).toBe(0o400);
    const back = readDaemonIdentityFile(p);
    expect(hex(back.x25519Secret)).toBe(hex(id.x25519Secret));
    expect(hex(back.ed25519Secret)).toBe(hex(id.ed25519Secret));
    expect(daemonPublicKeysEqual(back.publicKey, id.publicKey)).toBe(true);
    const before = fs.readFileSync(p, 'utf8');
    const e = caught(() => writeDaemonIdentityFile(p, generateDaemonIdentity()));
    expect(e.code).toBe('KEY_FILE_EXISTS');
    expect(e.message).toContain('never overwritten');
    expect(fs.readFileSync(p, 'utf8')).toBe(before);
  });

  it('does not follow a dangling symbolic link to create a file', () => {
    const target = path.join(dir, 'elsewhere.key');
    const link = path.join(dir, 'link.key');
    fs.symlinkSync(target, link);
    expect(caught(() => writeDaemonIdentityFile(link, generateDaemonIdentity())).code).toBe('KEY_FILE_EXISTS');
    expect(fs.existsSync(target)).toBe(false);
  });

  it('says how to create a missing file', () => {
    const e = caught(() => readDaemonIdentityFile(path.join(dir, 'missing.key')));
    expect(e.code).toBe('KEY_FILE_NOT_FOUND');
    expect(e.message).toContain('ringcast keygen --identity');
    expect(e.message).toContain('DaemonPublicKey');
  });

  it('refuses group- or other-accessible files with the chmod to run', () => {
    const text = formatDaemonIdentityFile(generateDaemonIdentity(seed(20)));
    for (const mode of [0o440, 0o404, 0o600 | 0o044, 0o640]) {
      const p = writeRaw(`loose-${mode.toString(8)}.key`, text, mode);
      const e = caught(() => readDaemonIdentityFile(p));
      expect(e.code).toBe('KEY_FILE_PERMISSIONS');
      expect(e.message).toContain(`chmod 0400 ${p}`);
      expect(e.message).toContain('daemon identity file');
    }
    // 0600 is accepted, like the cluster key file.
    expect(readDaemonIdentityFile(writeRaw('ok.key', text, 0o600)).x25519Secret).toHaveLength(32);
  });

  it('refuses a directory and an oversized file', () => {
    expect(caught(() => readDaemonIdentityFile(dir)).code).toBe('KEY_FILE_NOT_REGULAR');
    const big = writeRaw('big.key', 'x'.repeat(5000));
    const e = caught(() => readDaemonIdentityFile(big));
    expect(e.code).toBe('KEY_FILE_MALFORMED');
    expect(e.message).toContain('too large');
  });

  it('refuses a tampered file on disk', () => {
    const text = formatDaemonIdentityFile(generateDaemonIdentity(seed(21)));
    const other = formatDaemonPublicKey(generateDaemonIdentity(seed(22)).publicKey);
    const lines = text.split('\n');
    lines[2] = other;
    expect(caught(() => readDaemonIdentityFile(writeRaw('swapped.key', lines.join('\n')))).code).toBe('KEY_FILE_MISMATCH');
  });

  it.runIf(isRoot)('refuses a file owned by another user with the chown to run', () => {
    const p = writeRaw('foreign.key', formatDaemonIdentityFile(generateDaemonIdentity(seed(23))));
    fs.chownSync(p, 12345, 12345);
    const e = caught(() => readDaemonIdentityFile(p));
    expect(e.code).toBe('KEY_FILE_OWNER');
    expect(e.message).toMatch(new RegExp(`chown \\S+ ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('the cluster key file keeps its own messages through the shared checker', () => {
    const p = path.join(dir, 'cluster.key');
    writeClusterKeyFile(p);
    expect(readClusterKeyFile(p)).toHaveLength(32);
    fs.chmodSync(p, 0o644);
    const e = caught(() => readClusterKeyFile(p));
    expect(e.code).toBe('KEY_FILE_PERMISSIONS');
    expect(e.message).toContain(`cluster key file ${p} has mode 0644`);
    expect(caught(() => readClusterKeyFile(path.join(dir, 'none.key'))).message).toContain("'ringcast keygen --out");
  });
});
