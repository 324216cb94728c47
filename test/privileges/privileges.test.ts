import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chrootAvailable, dropPrivileges, prepareRuntimeDir, PrivilegeError } from '../../src/daemon/privileges.js';

const here = dirname(fileURLToPath(import.meta.url));
const isRoot = process.geteuid?.() === 0;
const USER = 'ringcast-test';

interface Child {
  proc: ChildProcess;
  report: Record<string, any>;
}

const children: ChildProcess[] = [];

function runChild(options: Record<string, unknown>, spawnAs?: { uid: number; gid: number }): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(here, 'drop-child.ts')], {
    cwd: join(here, '..', '..'),
    env: { ...process.env, RC_DROP_OPTIONS: JSON.stringify(options) },
    stdio: ['pipe', 'pipe', 'inherit'],
    ...(spawnAs ?? {}),
  });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('child did not report')), 30_000);
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ proc, report: JSON.parse(out.slice(0, nl)) });
      }
    });
    proc.on('exit', (code) => reject(new Error(`child exited with ${code} before reporting: ${out}`)));
  });
}

function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

async function fetchBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.on('data', (c) => (data += c.toString()));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
}

let uid = -1;
let gid = -1;
let base = '';
const cwdAtStart = process.cwd();

beforeAll(() => {
  if (!isRoot) return;
  try {
    execFileSync('getent', ['passwd', USER]);
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  }
  uid = Number(execFileSync('id', ['-u', USER]).toString());
  gid = Number(execFileSync('id', ['-g', USER]).toString());
  base = mkdtempSync(join(tmpdir(), 'rc-priv-'));
});

afterAll(() => {
  for (const c of children) {
    c.stdin?.end();
    if (c.exitCode === null) c.kill();
  }
  if (base) rmSync(base, { recursive: true, force: true });
});

describe.runIf(isRoot)('dropPrivileges as root', () => {
  it('drops to the daemon user and group, no supplementary groups, no capabilities, root not regainable', async () => {
    const runtimeDir = join(base, 'run-a');
    const { proc, report } = await runChild({ runtimeDir, user: USER, group: USER, chroot: chrootAvailable() ? 'required' : 'if-available', extraGroups: [0, 4, 27] });
    expect(report.ok).toBe(true);
    expect(report.result.kind).toBe('dropped');
    expect(report.sodiumWorks).toBe(true);
    const st = status(proc.pid!);
    expect(st.Uid!.split(/\s+/).map(Number)).toEqual([uid, uid, uid, uid]);
    expect(st.Gid!.split(/\s+/).map(Number)).toEqual([gid, gid, gid, gid]);
    expect(st.Groups).toBe('');
    expect(/^0+$/.test(st.CapEff!)).toBe(true);
    // The listening socket opened before the drop still serves.
    expect(await fetchBanner(report.port)).toBe('still serving\n');
    if (chrootAvailable()) {
      // RuntimeDir was created root:<group> 0750.
      const dst = statSync(runtimeDir);
      expect([dst.uid, dst.gid, dst.mode & 0o777]).toEqual([0, gid, 0o750]);
      expect(readlinkSync(`/proc/${proc.pid}/root`)).toBe(runtimeDir);
      expect(report.result.chrootDir).toBe(runtimeDir);
      expect(report.cwd).toBe('/');
    } else {
      expect(readlinkSync(`/proc/${proc.pid}/root`)).toBe('/');
      expect(report.result.chrootDir).toBeUndefined();
      expect(report.result.warnings.join(' ')).toContain('koffi');
    }
  });

  it.runIf(!chrootAvailable())('refuses to start when chroot is required but unavailable, still root and unchanged', async () => {
    const runtimeDir = join(base, 'run-b');
    const { proc, report } = await runChild({ runtimeDir, user: USER, group: USER });
    expect(report).toMatchObject({ ok: false, code: 'CHROOT_UNAVAILABLE', euid: 0 });
    expect(status(proc.pid!).Uid).toMatch(/^0\s+0\s+0\s+0$/);
    expect(existsSync(runtimeDir)).toBe(false);
  });

  it('refuses to continue as root when the user does not exist, unless explicitly allowed', () => {
    const runtimeDir = join(base, 'run-c');
    let err: unknown;
    try {
      dropPrivileges({ runtimeDir, user: 'ringcast-no-such-user', group: USER });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PrivilegeError);
    expect((err as PrivilegeError).code).toBe('PRIVILEGE_DROP_FAILED');
    expect((err as Error).message).toContain('refusing to run as root');
    expect(process.geteuid!()).toBe(0);
    const r = dropPrivileges({ runtimeDir, user: 'ringcast-no-such-user', group: USER, allowRunAsRoot: true });
    expect(r.kind).toBe('stayed-root');
    expect(process.geteuid!()).toBe(0);
  });

  it('refuses a root target account and an unsafe RuntimeDir before changing anything', () => {
    expect(() => dropPrivileges({ runtimeDir: join(base, 'run-d'), user: 'root', group: USER })).toThrow(/uid 0; refusing to run as root/);
    const neverCalled = (): void => {
      throw new Error('chroot must not be reached');
    };
    const unsafe = join(base, 'unsafe');
    execFileSync('mkdir', ['-m', '0777', unsafe]);
    expect(() => dropPrivileges({ runtimeDir: unsafe, user: USER, group: USER, chrootFn: neverCalled })).toThrow(/writable by group or others/);
    const link = join(base, 'link');
    execFileSync('ln', ['-s', base, link]);
    expect(() => dropPrivileges({ runtimeDir: link, user: USER, group: USER, chrootFn: neverCalled })).toThrow(/not a directory/);
    const owned = join(base, 'owned');
    execFileSync('mkdir', ['-m', '0750', owned]);
    execFileSync('chown', [String(uid), owned]);
    let err: unknown;
    try {
      dropPrivileges({ runtimeDir: owned, user: USER, group: USER, chrootFn: neverCalled });
    } catch (e) {
      err = e;
    }
    expect((err as PrivilegeError).code).toBe('RUNTIME_DIR_UNSAFE');
    expect(process.geteuid!()).toBe(0);
    expect(process.cwd()).toBe(cwdAtStart);
  });

  it('creates a missing RuntimeDir as root:<group> 0750 and accepts it afterwards', () => {
    const dir = join(base, 'fresh');
    expect(prepareRuntimeDir(dir, gid)).toBe(true);
    const st = statSync(dir);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([0, gid, 0o750]);
    expect(prepareRuntimeDir(dir, gid)).toBe(false);
  });

  it('does nothing but warn when not started as root', async () => {
    const { report } = await runChild({ runtimeDir: join(base, 'run-e'), user: USER, group: USER }, { uid, gid });
    expect(report.ok).toBe(true);
    expect(report.result).toMatchObject({ kind: 'not-root', uid });
    expect(report.result.warning).toContain('not root');
  });
});

describe.runIf(!isRoot)('dropPrivileges as an ordinary user', () => {
  it('changes nothing and says why', () => {
    const r = dropPrivileges({ runtimeDir: '/nonexistent', user: 'nobody', group: 'nogroup' });
    expect(r.kind).toBe('not-root');
  });
});
