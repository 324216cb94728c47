import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { initCrypto } from '../../crypto/index.js';
import { checkDaemonIdentity, daemonKeyFingerprint, readDaemonIdentityFile } from '../../keys/index.js';
import { parseConfig } from '../../src/config/index.js';
import { registerKeygenCommand } from '../../src/cli/keygen-command.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let dir: string;
let cwd: string;

beforeAll(async () => {
  await initCrypto();
});

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-keygen-id-'));
  cwd = process.cwd();
});

afterEach(() => {
  process.chdir(cwd);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs `ringcast keygen …` in this process and returns what it printed and its exit code. */
async function keygen(args: string[]): Promise<{ out: string; err: string; code: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    const program = new Command().exitOverride();
    registerKeygenCommand(program);
    await program.parseAsync(['node', 'ringcast', 'keygen', ...args]);
    return { out: out.join(''), err: err.join(''), code: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = before;
    so.mockRestore();
    se.mockRestore();
  }
}

/** The `DaemonPublicKey = …` line that keygen printed. */
function printedLine(out: string): string {
  const lines = out.split('\n').filter((l) => l.startsWith('DaemonPublicKey = '));
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('ringcast keygen --identity', () => {
  it('writes ./ringcast-daemon.key (0400) by default and prints a line the configuration accepts', async () => {
    process.chdir(dir);
    const r = await keygen(['--identity', '--name', 'beta']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const file = path.join(dir, 'ringcast-daemon.key');
    expect(fs.statSync(file).mode & 0o777).toBe(0o400);
    // The cluster key's default path is not used.
    expect(fs.existsSync(path.join(dir, 'ringcast.key'))).toBe(false);
    const id = readDaemonIdentityFile(file);
    expect(r.out).toContain(`fingerprint ${daemonKeyFingerprint(id.publicKey)}`);
    const line = printedLine(r.out);
    const cfg = parseConfig(
      `Spread_Segment 10.0.0.255:4803 {\n alpha 10.0.0.1\n beta 10.0.0.2\n}\nCrypto = encrypt\nClusterKeyFile = c.key\nDaemonIdentityFile = ${file}\n${line}\n`,
      'k.conf',
    );
    expect(() => checkDaemonIdentity(cfg, 'beta', id)).not.toThrow();
  });

  it('writes to --out and uses a stand-in name, which it says to replace, without --name', async () => {
    const file = path.join(dir, 'd.key');
    const r = await keygen(['--identity', '--out', file]);
    expect(r.code).toBe(0);
    const line = printedLine(r.out);
    expect(line).toMatch(/^DaemonPublicKey = <daemon-name> rcd1:[A-Za-z0-9_-]{86}$/);
    expect(r.out).toContain('replace <daemon-name>');
    // Pasted unchanged, the stand-in is refused by the configuration.
    expect(() => parseConfig(`Spread_Segment 10.0.0.255:4803 {\n alpha 10.0.0.1\n}\nCrypto = encrypt\nClusterKeyFile = c.key\n${line}\n`, 'k.conf')).toThrow(
      /not a configured daemon; the daemons are: alpha/,
    );
    expect(readDaemonIdentityFile(file).x25519Secret).toHaveLength(32);
  });

  it('never overwrites an existing file', async () => {
    const file = path.join(dir, 'd.key');
    expect((await keygen(['--identity', '-o', file])).code).toBe(0);
    const before = fs.readFileSync(file, 'utf8');
    const r = await keygen(['--identity', '-o', file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('already exists and was left untouched');
    expect(r.out).toBe('');
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  it('makes a different identity each time', async () => {
    const a = path.join(dir, 'a.key');
    const b = path.join(dir, 'b.key');
    const ra = await keygen(['--identity', '-o', a]);
    const rb = await keygen(['--identity', '-o', b]);
    expect(printedLine(ra.out)).not.toBe(printedLine(rb.out));
  });

  it('refuses misplaced options with advice', async () => {
    const file = path.join(dir, 'x.key');
    const named = await keygen(['--identity', 'alpha', '-o', file]);
    expect(named.code).toBe(1);
    expect(named.err).toContain('--identity --name alpha');
    const badName = await keygen(['--identity', '--name', 'has space', '-o', file]);
    expect(badName.code).toBe(1);
    expect(badName.err).toContain('not a daemon name');
    const nameAlone = await keygen(['--name', 'alpha', '-o', file]);
    expect(nameAlone.code).toBe(1);
    expect(nameAlone.err).toContain('add --identity');
    const comment = await keygen(['--identity', '--comment', 'c', '-o', file]);
    expect(comment.code).toBe(1);
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('ringcast keygen --client --identity NAME is unchanged', () => {
  it('still writes a client key pair', async () => {
    const file = path.join(dir, 'client.key');
    const r = await keygen(['--client', '--identity', 'ops', '--out', file]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('key:ops');
    expect(fs.statSync(file).mode & 0o777).toBe(0o400);
    expect(fs.readFileSync(`${file}.pub`, 'utf8')).toMatch(/^ops [A-Za-z0-9+/=]+/);
  });

  it('still needs a name after --identity', async () => {
    const r = await keygen(['--client', '--identity', '--out', path.join(dir, 'c.key')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('--client needs --identity NAME');
  });

  it('refuses --name with --client', async () => {
    const r = await keygen(['--client', '--identity', 'ops', '--name', 'alpha', '--out', path.join(dir, 'c.key')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('--name applies to daemon identities');
  });
});

describe('the ringcast program', () => {
  it('writes the default identity file in its working directory and exits 0, then 1 when it exists', async () => {
    const tsx = pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/esm/index.mjs')).href;
    const run = (): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const proc = spawn(process.execPath, ['--import', tsx, path.join(REPO_ROOT, 'src/cli/ringcast.ts'), 'keygen', '--identity', '--name', 'alpha'], {
          cwd: dir,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NODE_NO_WARNINGS: '1' },
        });
        let stdout = '';
        let stderr = '';
        proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
        proc.once('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    const first = await run();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(printedLine(first.stdout)).toMatch(/^DaemonPublicKey = alpha rcd1:/);
    expect(fs.statSync(path.join(dir, 'ringcast-daemon.key')).mode & 0o777).toBe(0o400);
    const second = await run();
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('already exists');
  });
});
