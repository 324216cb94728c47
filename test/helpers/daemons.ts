/**
 * Starts real `ringcastd` processes for tests, on loopback only, with unique ports, bounded
 * start-up time, and a registry of every PID started so that each is stopped at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../..');
const DAEMON_ENTRY = path.join(REPO_ROOT, 'src/cli/ringcastd.ts');
const CLI_ENTRY = path.join(REPO_ROOT, 'src/cli/ringcast.ts');

const started = new Set<ChildProcess>();

function killAll(): void {
  for (const p of started) {
    if (p.exitCode === null && p.pid !== undefined) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
process.on('exit', killAll);

async function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

async function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, host, () => s.close(() => resolve(true)));
  });
}

/**
 * A port p such that TCP p and UDP p, p+1 are free on every given host. Ports are drawn from a
 * range keyed by the test worker's pid so that parallel workers rarely collide.
 */
export async function freePort(hosts: string[] = ['127.0.0.1']): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (const h of hosts) {
      if (!(await tcpFree(port, h)) || !(await udpFree(port, h)) || !(await udpFree(port + 1, h))) {
        ok = false;
        break;
      }
    }
    if (ok) return port;
  }
  throw new Error('no free port found');
}

export interface DaemonProcess {
  name: string;
  pid: number;
  proc: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for exit (bounded), then SIGKILL. */
  stop(): Promise<void>;
  /** kill -9 */
  crash(): Promise<void>;
  exited: Promise<number | null>;
}

export function tempDir(prefix = 'ringcast-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeConfig(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Spawns ringcastd with the given arguments and waits (bounded) until it serves clients. */
export async function startDaemonProcess(
  args: string[],
  opts: { name?: string; readyTimeoutMs?: number; cwd?: string; /** Pass --allow-run-as-root (default true: tests run as root without a daemon account). */ allowRunAsRoot?: boolean } = {},
): Promise<DaemonProcess> {
  const rootArgs = opts.allowRunAsRoot === false ? [] : ['--allow-run-as-root'];
  const proc = spawn(process.execPath, ['--import', 'tsx', DAEMON_ENTRY, ...rootArgs, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  started.add(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      if (out.includes('serving clients')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before serving clients:\n${out}`));
    });
  });
  const pid = proc.pid!;
  const waitExit = async (ms: number) =>
    Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
  return {
    name: opts.name ?? 'daemon',
    pid,
    proc,
    output: () => out,
    exited,
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      if ((await waitExit(5000)) === 'timeout') proc.kill('SIGKILL');
      await exited;
      started.delete(proc);
    },
    async crash() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
      started.delete(proc);
    },
  };
}

/** Runs the `ringcast` CLI to completion (bounded), returning its output and exit code. */
export async function runCli(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  started.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  if (opts.input !== undefined) proc.stdin.end(opts.input);
  else proc.stdin.end();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  started.delete(proc);
  return { code, stdout, stderr };
}

export function stopAll(): void {
  killAll();
  started.clear();
}
