/**
 * A ringcastd process for benchmarks: spawned from the sources on a free loopback port with its
 * own configuration and Unix socket, stopped by PID; plus the process figures Linux keeps for it
 * (/proc/<pid>/status and /proc/<pid>/stat).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(here, '../..');
const DAEMON_ENTRY = path.join(REPO_ROOT, 'src/cli/ringcastd.ts');
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5000;

export interface BenchDaemon {
  pid: number;
  port: number;
  socketPath: string;
  /** `PORT@127.0.0.1` */
  tcpAddress: string;
  output(): string;
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  const tcp = new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  const udp = (p: number): Promise<boolean> =>
    new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  return Promise.all([tcp, udp(port), udp(port + 1)]).then((r) => r.every(Boolean));
}

async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if (await portFree(p)) return p;
  }
  throw new Error('no free port for the benchmark daemon');
}

/** Starts a one-daemon ring named `name` with `extraConfig` appended to its configuration. */
export async function startBenchDaemon(name: string, extraConfig: string): Promise<BenchDaemon> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcast-bench-'));
  const port = await freePort();
  const conf = path.join(dir, 'ringcast.conf');
  // Benchmarks may run as root where no DaemonUser account exists: the daemon then stays root.
  const rootLine = process.getuid?.() === 0 ? 'AllowRunAsRoot = true\n' : '';
  writeFileSync(conf, `Spread_Segment 127.0.0.1:${port} {\n  ${name} 127.0.0.1\n}\n${rootLine}${extraConfig}\n`);
  const socketPath = path.join(dir, 'client.sock');
  // e.g. RINGCAST_BENCH_DAEMON_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the daemon.
  const nodeArgs = (process.env.RINGCAST_BENCH_DAEMON_NODE_ARGS ?? '').split(/\s+/).filter((a) => a.length > 0);
  const proc: ChildProcess = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', DAEMON_ENTRY, '-c', conf, '-n', name, '--unix-socket', socketPath], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  const kill = (): void => {
    if (proc.exitCode === null && proc.pid !== undefined) proc.kill('SIGKILL');
  };
  process.once('exit', kill);
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ringcastd did not start within ${READY_TIMEOUT_MS} ms:\n${out}`)), READY_TIMEOUT_MS);
      const check = (): void => {
        if (out.includes('serving clients')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', check);
      proc.stderr!.on('data', check);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`ringcastd exited before serving clients:\n${out}`));
      });
    });
  } catch (e) {
    kill();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    pid: proc.pid!,
    port,
    socketPath,
    tcpAddress: `${port}@127.0.0.1`,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(kill, STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(t);
      }
      process.off('exit', kill);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ProcessFigures {
  /** Peak resident set size (VmHWM), KiB. */
  rssPeakKiB: number;
  /** Current resident set size (VmRSS), KiB. */
  rssKiB: number;
  /** User + system CPU time since the process started, ms. */
  cpuMs: number;
}

/** Linux only: reads /proc/<pid>/status and /proc/<pid>/stat. */
export function processFigures(pid: number): ProcessFigures {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  // USER_HZ is 100 on every Linux architecture Node supports.
  return { rssPeakKiB: kib('VmHWM'), rssKiB: kib('VmRSS'), cpuMs: ticks * 10 };
}

export function machine(): { cpu: string; cores: number; node: string; platform: string } {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, node: process.version, platform: `${os.platform()} ${os.release()} ${os.arch()}` };
}
