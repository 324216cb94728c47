/**
 * The hardened daemon: started as root with RuntimeDir, DaemonUser and DaemonGroup, ringcastd
 * chroots and drops to the daemon account (checked from /proc/<pid>/status and /proc/<pid>/root)
 * and still serves clients and forms a ring; it refuses to stay root unless allowed; a key file
 * others can read stops it with a clear message.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeClusterKeyFile } from '../../keys/index.js';
import { connect } from '../../src/client/index.js';
import { freePort, startDaemonProcess, tempDir, writeConfig, type DaemonProcess } from '../helpers/daemons.js';
import { recordingClient, startRing, type Ring } from '../helpers/ring.js';
import { receiveMatching, roundTrip } from './helpers.js';

const isRoot = process.getuid?.() === 0;
const DAEMON_ACCOUNT = 'ringcast';

/** Creates the system account if it is missing; returns its uid and gid. */
function ensureAccount(name: string): { uid: number; gid: number } {
  try {
    execFileSync('getent', ['passwd', name], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { stdio: 'ignore' });
  }
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
  return { uid, gid };
}

interface ProcCredentials {
  uids: number[];
  gids: number[];
  groups: number[];
  root: string;
}

function procCredentials(pid: number): ProcCredentials {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number[] => {
    const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${name}`);
    const text = m[1]!.trim();
    return text === '' ? [] : text.split(/\s+/).map(Number);
  };
  return { uids: field('Uid'), gids: field('Gid'), groups: field('Groups'), root: readlinkSync(`/proc/${pid}/root`) };
}

function hardeningLines(runtimeDir: string): string {
  return [`RuntimeDir = ${runtimeDir}`, `DaemonUser = ${DAEMON_ACCOUNT}`, `DaemonGroup = ${DAEMON_ACCOUNT}`, 'Chroot = required'].join('\n');
}

describe.skipIf(!isRoot)('started as root', () => {
  let account: { uid: number; gid: number };
  let t: { dir: string; cleanup: () => void };
  const daemons: DaemonProcess[] = [];
  let ring: Ring | undefined;

  beforeAll(() => {
    account = ensureAccount(DAEMON_ACCOUNT);
    t = tempDir('ringcast-hardened-');
  });

  afterAll(async () => {
    for (const p of daemons) await p.stop();
    await ring?.close();
    t?.cleanup();
  });

  it('chroots to RuntimeDir, drops to DaemonUser/DaemonGroup with no supplementary groups, and still serves clients', async () => {
    const runtimeDir = path.join(t.dir, 'run');
    const port = await freePort();
    const config = writeConfig(t.dir, 'single.conf', `Spread_Segment 127.0.0.1:${port} {\n  d1 127.0.0.1\n}\n${hardeningLines(runtimeDir)}\n`);
    const socketPath = path.join(t.dir, 'd1.sock');
    const p = await startDaemonProcess(['-c', config, '-n', 'd1', '--unix-socket', socketPath], { name: 'd1', allowRunAsRoot: false });
    daemons.push(p);

    const cred = procCredentials(p.pid);
    expect(cred.uids).toEqual([account.uid, account.uid, account.uid, account.uid]);
    expect(cred.gids).toEqual([account.gid, account.gid, account.gid, account.gid]);
    expect(cred.groups).toEqual([]);
    expect(cred.root).toBe(realpathSync(runtimeDir));
    expect(p.output()).toMatch(/privileges: chrooted to .*running as ringcast \(uid \d+\), group ringcast/);

    // Sockets were bound before the drop: TCP and Unix sessions work, messages flow.
    const a = await connect(`${port}@127.0.0.1`, { name: 'a' });
    const b = await connect(socketPath, { name: 'b' });
    await a.join('g');
    await b.join('g');
    await receiveMatching(a, (m) => m.kind === 'membership' && m.group === 'g' && m.members.length === 2);
    await a.multicast('SAFE', 'g', 'after the drop');
    await receiveMatching(b, (m) => m.kind === 'data' && Buffer.from(m.data).toString() === 'after the drop');
    await roundTrip(b, 'g', 'and back');
    await a.disconnect();
    await b.disconnect();
  });

  it('a three-daemon ring (127.0.0.1/2/3) with every daemon dropped forms and delivers', async () => {
    const runtimeDir = path.join(t.dir, 'ring-run');
    mkdirSync(runtimeDir, { mode: 0o750 });
    chownSync(runtimeDir, 0, account.gid);
    chmodSync(runtimeDir, 0o750);
    ring = await startRing({ size: 3, extraConfig: hardeningLines(runtimeDir) });
    for (const name of ring.names) {
      const cred = procCredentials(ring.daemon(name).pid);
      expect(cred.uids.every((u) => u === account.uid)).toBe(true);
      expect(cred.gids.every((g) => g === account.gid)).toBe(true);
      expect(cred.groups).toEqual([]);
      expect(cred.root).toBe(realpathSync(runtimeDir));
    }
    const c1 = await recordingClient(ring, 'd1', 'c1');
    const c3 = await recordingClient(ring, 'd3', 'c3');
    await c1.joinAndWait('ring-g');
    await c3.joinAndWait('ring-g');
    await c1.conn.multicast('AGREED', 'ring-g', 'across the dropped ring');
    await c3.until((l) => l.some((m) => m.kind === 'data' && Buffer.from(m.data).toString() === 'across the dropped ring'), 10_000, 'delivery at d3');
    await c1.conn.disconnect();
    await c3.conn.disconnect();
  });

  it('refuses to stay root when DaemonUser does not exist and running as root is not allowed', async () => {
    const port = await freePort();
    const config = writeConfig(t.dir, 'nouser.conf', `Spread_Segment 127.0.0.1:${port} {\n  d1 127.0.0.1\n}\nDaemonUser = rc-no-such-user\nRuntimeDir = ${path.join(t.dir, 'nouser-run')}\n`);
    await expect(startDaemonProcess(['-c', config, '-n', 'd1', '--unix-socket', path.join(t.dir, 'nouser.sock')], { allowRunAsRoot: false })).rejects.toThrow(
      /exited with 1[\s\S]*DaemonUser rc-no-such-user does not exist; refusing to run as root/,
    );
  });
});

describe('key files others can read', () => {
  let t: { dir: string; cleanup: () => void };
  beforeAll(() => {
    t = tempDir('ringcast-keyfile-');
  });
  afterAll(() => t?.cleanup());

  it('a cluster key file with mode 0644 stops ringcastd with a clear message and a non-zero status', async () => {
    const keyFile = path.join(t.dir, 'cluster.key');
    writeClusterKeyFile(keyFile);
    chmodSync(keyFile, 0o644);
    const port = await freePort();
    const config = writeConfig(t.dir, 'key.conf', `Spread_Segment 127.0.0.1:${port} {\n  d1 127.0.0.1\n}\nCrypto = encrypt\nClusterKeyFile = ${keyFile}\n`);
    await expect(startDaemonProcess(['-c', config, '-n', 'd1', '--unix-socket', path.join(t.dir, 'k.sock')])).rejects.toThrow(
      new RegExp(`exited with 1[\\s\\S]*cluster key file ${keyFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} has mode 0644[\\s\\S]*chmod 0400`),
    );
  });

  it('a password verifier file readable by others stops ringcastd the same way', async () => {
    const pw = path.join(t.dir, 'passwd');
    writeFileSync(pw, '', { mode: 0o644 });
    chmodSync(pw, 0o644);
    const port = await freePort();
    const config = writeConfig(t.dir, 'pw.conf', `Spread_Segment 127.0.0.1:${port} {\n  d1 127.0.0.1\n}\nAllowedAuthMethods = "RC-PASSWORD"\nPasswordFile = ${pw}\n`);
    await expect(startDaemonProcess(['-c', config, '-n', 'd1', '--unix-socket', path.join(t.dir, 'p.sock')])).rejects.toThrow(/exited with 1[\s\S]*password verifier file .* has mode 0644; run: chmod 0600/);
  });
});
