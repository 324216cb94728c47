import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initSessionCrypto, loadPasswordFile, PasswordClientAuth, PasswordServerAuth, saltedPasswordSync } from '../../crypto/session/index.js';
import { registerPasswdCommand } from '../../src/cli/passwd-command.js';
import { pump, randomBytes } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
let dir: string;

beforeAll(async () => {
  await initSessionCrypto();
  dir = mkdtempSync(join(tmpdir(), 'rc-passwd-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[], password: string): Promise<string[]> {
  const lines: string[] = [];
  const program = new Command('ringcast').exitOverride();
  registerPasswdCommand(program, { readPassword: async () => password, out: (l) => lines.push(l) });
  await program.parseAsync(['node', 'ringcast', 'passwd', ...args]);
  return lines;
}

function login(file: string, user: string, password: string): string {
  const table = loadPasswordFile(file);
  const s = new PasswordServerAuth({ daemonName: 'd1', randomBytes, lookup: (u) => table.get(u), decoySecret: randomBytes(32) });
  const c = new PasswordClientAuth({
    user,
    password,
    randomBytes,
    scryptMinimum: { logN: 10, r: 8, p: 1 },
    deriveSync: (r) => saltedPasswordSync(r.password, r.salt, r.params),
  });
  pump(c, s);
  return s.result().status;
}

describe('ringcast passwd', () => {
  it('adds, updates and removes entries atomically with mode 0600; the result logs in', async () => {
    const file = join(dir, 'passwd');
    const fast = ['--scrypt-log-n', '10'];
    expect(await run(['--file', file, ...fast, 'alice'], 'first pw')).toEqual([`added alice in ${file} (scrypt-N10-r8-p1)`]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(login(file, 'alice', 'first pw')).toBe('accepted');

    await run(['--file', file, ...fast, 'bob'], 'bob pw');
    expect(await run(['--file', file, ...fast, 'alice'], 'second pw')).toEqual([`updated alice in ${file} (scrypt-N10-r8-p1)`]);
    expect(login(file, 'alice', 'first pw')).toBe('rejected');
    expect(login(file, 'alice', 'second pw')).toBe('accepted');
    expect(login(file, 'bob', 'bob pw')).toBe('accepted');
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n').filter((l) => l).map((l) => l.split(':')[0])).toEqual(['alice', 'bob']);
    expect(text).not.toContain('second pw');

    expect(await run(['--file', file, '--delete', 'bob'], '')).toEqual([`removed bob from ${file}`]);
    expect(login(file, 'bob', 'bob pw')).toBe('rejected');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('refuses to rewrite a broken file, bad user names, weak parameters and an empty password', async () => {
    const file = join(dir, 'broken');
    writeFileSync(file, 'not an entry\n', { mode: 0o600 });
    await expect(run(['--file', file, '--scrypt-log-n', '10', 'alice'], 'pw')).rejects.toThrow(/broken:1:/);
    expect(readFileSync(file, 'utf8')).toBe('not an entry\n');
    await expect(run(['--file', join(dir, 'x'), 'bad:name'], 'pw')).rejects.toThrow(/not a valid user name/);
    await expect(run(['--file', join(dir, 'x'), '--scrypt-log-n', '4', 'alice'], 'pw')).rejects.toThrow(/--scrypt-log-n must be/);
    await expect(run(['--file', join(dir, 'x'), '--scrypt-log-n', '10', 'alice'], '')).rejects.toThrow(/empty password/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  it('reads the password from standard input when it is not a terminal, and never prints it', () => {
    const file = join(dir, 'stdin-passwd');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'passwd-main.ts'), 'passwd', '--file', file, '--scrypt-log-n', '10', 'carol'], {
      cwd: join(here, '..', '..'),
      input: 'pipe pässword\nignored second line\n',
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('added carol');
    expect(r.stdout).not.toContain('pässword');
    expect(login(file, 'carol', 'pipe pässword')).toBe('accepted');
  });
});
