/**
 * A ring of real ringcastd processes on one host: one segment listing 127.0.0.1, .2, .3 ... with a
 * common port (each daemon binds its own loopback address), DangerousMonitor on so that tests can
 * partition it, and short membership timeouts so that faults resolve quickly. Every daemon is a
 * separate process, started and stopped by PID; Unix sockets live in a private temporary
 * directory. Clients reach daemon `name` over TCP at `tcpAddress(name)`.
 */
import path from 'node:path';
import type { MembershipTimeouts } from '../../src/config/index.js';
import { TIMEOUT_KEYWORDS } from '../../src/config/limits.js';
import { connect, type ConnectOptions, type Received, type SpreadConnection } from '../../src/client/index.js';
import { freePort, runCli, startDaemonProcess, tempDir, writeConfig, type DaemonProcess } from './daemons.js';

/** Short timeouts: a lost token is noticed in 300 ms, a new configuration forms within about a second. */
export const FAST_TIMEOUTS: MembershipTimeouts = {
  tokenMs: 300,
  hurryMs: 100,
  aliveMs: 50,
  joinMs: 50,
  repMs: 150,
  segMs: 100,
  gatherMs: 300,
  formMs: 300,
  lookupMs: 5000,
};

export interface RingOptions {
  /** Number of daemons d1..dN on 127.0.0.1..127.0.0.N (default 3). */
  size?: number;
  timeouts?: MembershipTimeouts;
  /** Extra configuration lines. */
  extraConfig?: string;
  /** Start the daemons and wait until they form one ring (default true). */
  start?: boolean;
  /** Bound on the first ring forming (default 20000 ms). */
  formTimeoutMs?: number;
}

export interface Ring {
  port: number;
  configFile: string;
  names: string[];
  address(name: string): string;
  /** `PORT@ADDRESS` of daemon `name`, the client library's TCP address. */
  tcpAddress(name: string): string;
  /** The running process of daemon `name` (throws if it is not running). */
  daemon(name: string): DaemonProcess;
  isRunning(name: string): boolean;
  start(name: string): Promise<DaemonProcess>;
  /** kill -9 */
  crash(name: string): Promise<void>;
  /** SIGTERM, bounded, then SIGKILL. */
  stop(name: string): Promise<void>;
  /** Waits (bounded) until every named running daemon logs a regular configuration of exactly `members`. */
  waitForRegular(members: string[], on?: string[], timeoutMs?: number): Promise<void>;
  /** Runs `ringcast monitor -c FILE ...args`. */
  monitor(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Every daemon's output, for failure messages. */
  logs(): string;
  /** Stops every daemon still running and removes the temporary directory. */
  close(): Promise<void>;
}

export function ringConfigText(port: number, names: string[], timeouts: MembershipTimeouts, extra = ''): string {
  const lines = [`Spread_Segment 127.255.255.255:${port} {`];
  names.forEach((n, i) => lines.push(`  ${n} 127.0.0.${i + 1}`));
  lines.push('}', 'DangerousMonitor = true');
  for (const [kw, field] of TIMEOUT_KEYWORDS) lines.push(`${kw} = ${timeouts[field]}`);
  if (extra) lines.push(extra);
  return `${lines.join('\n')}\n`;
}

/** The regular configuration lines a daemon logged, as member-name lists, oldest first. */
export function regularConfigurations(output: string): string[][] {
  const out: string[][] = [];
  for (const m of output.matchAll(/regular configuration \S+: \{ ([^}]*) \}/g)) out.push(m[1]!.trim().split(/\s+/).filter(Boolean));
  return out;
}

export async function startRing(opts: RingOptions = {}): Promise<Ring> {
  const size = opts.size ?? 3;
  const names = Array.from({ length: size }, (_, i) => `d${i + 1}`);
  const addresses = names.map((_, i) => `127.0.0.${i + 1}`);
  const t = tempDir('ringcast-ring-');
  const port = await freePort(addresses);
  const configFile = writeConfig(t.dir, 'ringcast.conf', ringConfigText(port, names, opts.timeouts ?? FAST_TIMEOUTS, opts.extraConfig));
  const procs = new Map<string, DaemonProcess>();
  const previousOutput = new Map<string, string>();
  const addressOf = (name: string): string => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`no daemon ${name} in this ring`);
    return addresses[i]!;
  };
  const running = (name: string): boolean => {
    const p = procs.get(name);
    return p !== undefined && p.proc.exitCode === null && p.proc.signalCode === null;
  };
  const ring: Ring = {
    port,
    configFile,
    names,
    address: addressOf,
    tcpAddress: (name) => `${port}@${addressOf(name)}`,
    daemon(name) {
      const p = procs.get(name);
      if (!p) throw new Error(`daemon ${name} is not running`);
      return p;
    },
    isRunning: running,
    async start(name) {
      addressOf(name);
      if (running(name)) throw new Error(`daemon ${name} is already running`);
      const old = procs.get(name);
      if (old) previousOutput.set(name, (previousOutput.get(name) ?? '') + old.output());
      const p = await startDaemonProcess(['-c', configFile, '-n', name, '--unix-socket', path.join(t.dir, `${name}.sock`)], { name });
      procs.set(name, p);
      return p;
    },
    async crash(name) {
      await procs.get(name)?.crash();
    },
    async stop(name) {
      await procs.get(name)?.stop();
    },
    async waitForRegular(members, on, timeoutMs = 15_000) {
      const want = [...members].sort().join(' ');
      const targets = on ?? members;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const pending = targets.filter((n) => {
          const confs = regularConfigurations(procs.get(n)?.output() ?? '');
          const last = confs[confs.length - 1];
          return last === undefined || [...last].sort().join(' ') !== want;
        });
        if (pending.length === 0) return;
        if (Date.now() >= deadline) {
          throw new Error(`daemons ${pending.join(', ')} did not reach the regular configuration { ${want} } within ${timeoutMs} ms\n${ring.logs()}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    monitor: (args) => runCli(['monitor', '-c', configFile, ...args], { timeoutMs: 20_000 }),
    logs() {
      return names
        .map((n) => `----- ${n} -----\n${(previousOutput.get(n) ?? '') + (procs.get(n)?.output() ?? '')}`)
        .join('\n');
    },
    async close() {
      await Promise.all(names.map((n) => procs.get(n)?.stop()));
      t.cleanup();
    },
  };
  if (opts.start ?? true) {
    try {
      await Promise.all(names.map((n) => ring.start(n)));
      await ring.waitForRegular(names, names, opts.formTimeoutMs ?? 20_000);
    } catch (e) {
      await ring.close();
      throw e;
    }
  }
  return ring;
}

/**
 * A client connection that records everything it receives, in order, from the moment it is
 * connected. Tests read `log` and wait on conditions over it.
 */
export interface RecordingClient {
  conn: SpreadConnection;
  name: string;
  daemon: string;
  log: Received[];
  /** Set when the connection closed (daemon died, disconnect). */
  closed: boolean;
  /** Waits (bounded) until `predicate(log)` holds. */
  until(predicate: (log: Received[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Joins and waits until its own join of the group is delivered to it. */
  joinAndWait(group: string, timeoutMs?: number): Promise<void>;
}

export async function recordingClient(ring: Ring, daemon: string, name: string, opts: ConnectOptions = {}): Promise<RecordingClient> {
  const conn = await connect(ring.tcpAddress(daemon), { name, receiveQueueMessagesMax: 100_000, ...opts });
  const log: Received[] = [];
  const c: RecordingClient = {
    conn,
    name,
    daemon,
    log,
    closed: false,
    async until(predicate, timeoutMs = 10_000, what = 'condition') {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(log)) {
        if (Date.now() >= deadline) throw new Error(`client ${name}@${daemon}: ${what} not reached within ${timeoutMs} ms (received ${log.length} messages)`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async joinAndWait(group, timeoutMs = 10_000) {
      const from = log.length;
      await conn.join(group);
      await c.until(
        (l) => l.slice(from).some((m) => m.kind === 'membership' && m.reason === 'join' && m.group === group && m.changed === conn.privateGroup),
        timeoutMs,
        `own join of ${group}`,
      );
    },
  };
  conn.on('message', (m) => log.push(m));
  conn.on('membership', (m) => log.push(m));
  conn.on('close', () => (c.closed = true));
  conn.on('error', () => {});
  return c;
}

/** Waits (bounded) until process `p` logs a regular configuration of exactly `members` as its latest. */
export async function waitRegular(p: DaemonProcess, members: string[], timeoutMs = 20_000): Promise<void> {
  const want = [...members].sort().join(' ');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const confs = regularConfigurations(p.output());
    const last = confs[confs.length - 1];
    if (last && [...last].sort().join(' ') === want) return;
    if (Date.now() > deadline) throw new Error(`${p.name} did not reach { ${want} }:\n${p.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
