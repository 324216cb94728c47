import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { initCrypto, secretFingerprint } from '../../crypto/index.js';
import {
  CLUSTER_KEY_BYTES,
  CLUSTER_KEY_FILE_HEADER,
  KeyFileError,
  formatClusterKey,
  readClusterKeyFile,
  writeClusterKeyFile,
} from '../../keys/index.js';
import { registerKeygenCommand } from '../../src/cli/keygen-command.js';

let dir: string;

beforeAll(async () => {
  await initCrypto();
});

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-keys-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof KeyFileError) return e.code;
    throw e;
  }
  return undefined;
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

function writeRaw(name: string, text: string, mode = 0o400): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text, { mode });
  fs.chmodSync(p, mode);
  return p;
}

const isRoot = typeof process.geteuid === 'function' && process.geteuid() === 0;

describe('writeClusterKeyFile', () => {
  it('writes 256 random bits as a two-line text file with mode 0400, readable back', () => {
    const p = path.join(dir, 'ringcast.key');
    const written = writeClusterKeyFile(p);
    expect((fs.statSync(p).mode & 0o777).toString(8)).toBe('400');
    const text = fs.readFileSync(p, 'latin1');
    expect(text).toMatch(/^ringcast-cluster-key v1\n[A-Za-z0-9+/]{43}=\n$/);
    const secret = readClusterKeyFile(p);
    expect(secret.length).toBe(CLUSTER_KEY_BYTES);
    expect(written.fingerprint).toBe(secretFingerprint(secret));
    const other = path.join(dir, 'other.key');
    writeClusterKeyFile(other);
    expect(Buffer.from(readClusterKeyFile(other)).equals(Buffer.from(secret))).toBe(false);
  });

  it('keeps mode 0400 whatever the umask', () => {
    const old = process.umask(0o000);
    try {
      const p = path.join(dir, 'k');
      writeClusterKeyFile(p);
      expect(fs.statSync(p).mode & 0o777).toBe(0o400);
    } finally {
      process.umask(old);
    }
  });

  it('refuses to overwrite an existing file, or to follow a link', () => {
    const p = path.join(dir, 'ringcast.key');
    writeClusterKeyFile(p);
    const before = fs.readFileSync(p);
    expect(codeOf(() => writeClusterKeyFile(p))).toBe('KEY_FILE_EXISTS');
    expect(messageOf(() => writeClusterKeyFile(p))).toContain('never overwritten');
    expect(fs.readFileSync(p).equals(before)).toBe(true);
    const link = path.join(dir, 'link.key');
    fs.symlinkSync(path.join(dir, 'missing-target'), link);
    expect(codeOf(() => writeClusterKeyFile(link))).toBe('KEY_FILE_EXISTS');
    expect(fs.existsSync(path.join(dir, 'missing-target'))).toBe(false);
  });

  it('reports a missing directory', () => {
    expect(codeOf(() => writeClusterKeyFile(path.join(dir, 'no', 'such', 'dir', 'k')))).toBe('KEY_FILE_WRITE_FAILED');
  });
});

describe('readClusterKeyFile', () => {
  const good = formatClusterKey(new Uint8Array(32).fill(9));

  it('accepts 0400 and 0600', () => {
    expect(readClusterKeyFile(writeRaw('a', good, 0o400))[0]).toBe(9);
    expect(readClusterKeyFile(writeRaw('b', good, 0o600))[0]).toBe(9);
  });

  for (const mode of [0o644, 0o440, 0o404, 0o420, 0o402, 0o460, 0o700 | 0o001]) {
    it(`refuses mode 0${mode.toString(8)} and says to chmod 0400`, () => {
      const p = writeRaw(`m${mode}`, good, mode);
      expect(codeOf(() => readClusterKeyFile(p))).toBe('KEY_FILE_PERMISSIONS');
      expect(messageOf(() => readClusterKeyFile(p))).toContain(`chmod 0400 ${p}`);
    });
  }

  it.runIf(isRoot)('refuses a file owned by another user and says to chown', () => {
    const p = writeRaw('nobody', good, 0o400);
    fs.chownSync(p, 65534, 65534);
    expect(codeOf(() => readClusterKeyFile(p))).toBe('KEY_FILE_OWNER');
    expect(messageOf(() => readClusterKeyFile(p))).toMatch(new RegExp(`chown \\S+ ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('refuses malformed files', () => {
    const b64 = (n: number): string => Buffer.alloc(n, 7).toString('base64');
    const cases = [
      '',
      'hello\n',
      `${CLUSTER_KEY_FILE_HEADER}\n`,
      `${CLUSTER_KEY_FILE_HEADER}\n${b64(32)}`,
      `${CLUSTER_KEY_FILE_HEADER}\n${b64(31)}\n`,
      `${CLUSTER_KEY_FILE_HEADER}\n${b64(33)}\n`,
      `${CLUSTER_KEY_FILE_HEADER}\n${b64(32)}\nextra\n`,
      `${CLUSTER_KEY_FILE_HEADER}\r\n${b64(32)}\r\n`,
      `ringcast-cluster-key v2\n${b64(32)}\n`,
      `${CLUSTER_KEY_FILE_HEADER}\n${b64(32).replace('B', '*')}\n`,
      `${CLUSTER_KEY_FILE_HEADER}\n${'A'.repeat(2000)}\n`,
      Buffer.alloc(32, 1).toString('latin1'),
    ];
    cases.forEach((text, i) => {
      const p = writeRaw(`bad${i}`, text);
      expect(codeOf(() => readClusterKeyFile(p)), JSON.stringify(text).slice(0, 60)).toBe('KEY_FILE_MALFORMED');
    });
    expect(messageOf(() => readClusterKeyFile(writeRaw('bad-msg', 'x\n')))).toContain('ringcast keygen');
  });

  it('refuses missing files and directories', () => {
    expect(codeOf(() => readClusterKeyFile(path.join(dir, 'absent')))).toBe('KEY_FILE_NOT_FOUND');
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub, { mode: 0o700 });
    expect(codeOf(() => readClusterKeyFile(sub))).toBe('KEY_FILE_NOT_REGULAR');
  });
});

describe('ringcast keygen', () => {
  it('writes the file given by --out and refuses to overwrite it', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    const previousExitCode = process.exitCode;
    try {
      const p = path.join(dir, 'cluster.key');
      const program = new Command().exitOverride();
      registerKeygenCommand(program);
      await program.parseAsync(['node', 'ringcast', 'keygen', '--out', p]);
      expect(readClusterKeyFile(p).length).toBe(32);
      expect(out.join('')).toContain('fingerprint');
      const again = new Command().exitOverride();
      registerKeygenCommand(again);
      await again.parseAsync(['node', 'ringcast', 'keygen', '-o', p]);
      expect(process.exitCode).toBe(1);
      expect(err.join('')).toContain('already exists');
    } finally {
      so.mockRestore();
      se.mockRestore();
      process.exitCode = previousExitCode;
    }
  });

  it('defaults to ./ringcast.key', () => {
    const program = new Command();
    registerKeygenCommand(program);
    const keygen = program.commands.find((c) => c.name() === 'keygen')!;
    expect(keygen.opts()['out']).toBe('./ringcast.key');
  });
});
