/**
 * Multi-daemon benchmark: real ringcastd processes on loopback (one segment, 127.0.0.1..N, one
 * port), a sender on the first daemon and a receiver on the last, 1 KB messages.
 *
 * For each ring size (1 and 3 daemons) and each service (AGREED, SAFE):
 * - light load: a ping-pong, as Spread's spping does: client A multicasts to a group that client B
 *   (on another daemon) joined, B answers to a group A joined; the round trip time is measured;
 * - saturating load: a flood from one sender to one receiver with a window of messages in flight
 *   (so that the daemon never drops the receiver for not reading): delivered messages/s, MB/s,
 *   and delivery latency (send stamp to delivery, one clock since both clients live here);
 * - each daemon's CPU time over the flood (from /proc/<pid>/stat), its CPU while idle (token
 *   rotation with nothing to send), peak RSS (VmHWM), and for Totem rings the packets sent per
 *   token rotation (from the daemon's monitor status).
 *
 * Run: `npx tsx bench/ring.ts` (about a minute). Options: `--quick` (shorter, noisier),
 * `--daemons 1,3`, `--messages N` (flood size), `--window N` / `--personal-window N` (Totem flow
 * control), `--packet-bytes N` (MaxPacketBytes: how many 1 KB messages share a datagram), `--profile DIR` (daemons write CPU profiles there on exit), `--json FILE` (also write
 * the JSON record), `--ping-only` (the ping-pong alone: no idle phase, no flood), `--rounds N`
 * (ping-pong rounds), `--service AGREED,SAFE` (which services to measure), `--config 'LINE'`
 * (one more daemon configuration line, e.g. `--config 'SegmentBroadcast = true'`; repeatable). Prints the machine, one line per variant, then the JSON record.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { connect, type SpreadConnection } from '../src/client/index.js';
import { LAN_TIMEOUTS } from '../src/config/limits.js';
import { loadConfig } from '../src/config/index.js';
import { sendMonitorRequest } from '../src/monitor/control.js';
import { stopAll, tempDir } from '../test/helpers/daemons.js';
import { writeClusterKeyFile } from '../keys/index.js';
import { startRing, type Ring } from '../test/helpers/ring.js';

const MESSAGE_BYTES = 1024;
const STAMP_MAGIC = 0x52424e31; // "RBN1"
/** Sent but not yet delivered messages the flood allows (the daemon drops a session 1000 behind). */
const FLOOD_WINDOW_MESSAGES = 600;
/** Multicasts handed to the client socket but not yet written. */
const SEND_PIPELINE_MESSAGES_MAX = 64;
const CLOCK_TICKS_PER_SEC = 100;

const PROFILE_PRELOAD = `import inspector from 'node:inspector';
import { writeFileSync } from 'node:fs';
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.start');
process.on('exit', () => {
  // The in-process inspector session answers synchronously, so this completes before exit.
  session.post('Profiler.stop', (err, res) => {
    if (!err) writeFileSync(%DIR% + '/' + process.pid + '.cpuprofile', JSON.stringify(res.profile));
  });
});
`;

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export interface DaemonUsage {
  name: string;
  /** CPU time over the phase as a share of one core (1 = 100 %). */
  cpu: number;
  /** Peak resident set size, KiB. */
  peakRssKiB: number;
}

export interface VariantResult {
  daemons: number;
  /** Packet protection between the daemons (Crypto option). */
  crypto: 'none' | 'integrity' | 'encrypt';
  service: 'AGREED' | 'SAFE';
  pingPong: { rounds: number; roundTripUs: Percentiles };
  flood: {
    messages: number;
    seconds: number;
    messagesPerSec: number;
    mbPerSec: number;
    latencyUs: Percentiles;
    daemons: DaemonUsage[];
    /** Daemon CPU µs per delivered message, summed over daemons. */
    daemonCpuUsPerMessage: number;
    /** This benchmark process (both clients) as a share of one core. */
    clientCpu: number;
    packetsPerTokenRound?: number;
    tokenRoundsPerSec?: number;
  };
}

export interface BenchRecord {
  machine: { cpu: string; cores: number; node: string; loadAverage: number[] };
  messageBytes: number;
  /** Daemon configuration lines beyond the segment and Spread's LAN timeouts. */
  configuration: string[];
  idle: { daemons: number; cpu: number[]; tokenRoundsPerSec?: number; packetsPerSec?: number }[];
  variants: VariantResult[];
}

const nowUs = (): number => performance.now() * 1000;

function percentiles(values: Float64Array): Percentiles {
  const s = values.slice().sort();
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
  return { p50: Math.round(at(50)), p99: Math.round(at(99)), max: Math.round(s[s.length - 1] ?? NaN) };
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS_PER_SEC;
}

function peakRssKiB(pid: number): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function joinAndWait(c: SpreadConnection, group: string): Promise<void> {
  await c.join(group);
  for (;;) {
    const m = await c.receive();
    if (m.kind === 'membership' && m.reason === 'join' && m.changed === c.privateGroup && m.group === group) return;
  }
}

interface RingCounters {
  tokenRounds: number;
  sent: number;
  /** Over every daemon: token visits held for a local client's reply, and those the reply ended. */
  replyHolds: number;
  replyHoldHits: number;
}

async function ringCounters(ring: Ring): Promise<RingCounters | undefined> {
  if (ring.names.length < 2) return undefined;
  const cfg = loadConfig(ring.configFile);
  const out: RingCounters = { tokenRounds: 0, sent: 0, replyHolds: 0, replyHoldHits: 0 };
  for (const [i, d] of cfg.daemons.entries()) {
    const reply = await sendMonitorRequest(cfg, d, { command: 'status' });
    if (!reply.ok) return undefined;
    const st = reply.status as { ring?: { tokenRounds?: number; replyHolds?: number; replyHoldHits?: number }; transport?: { sent?: number } };
    if (i === 0) {
      out.tokenRounds = st.ring?.tokenRounds ?? 0;
      out.sent = st.transport?.sent ?? 0;
    }
    out.replyHolds += st.ring?.replyHolds ?? 0;
    out.replyHoldHits += st.ring?.replyHoldHits ?? 0;
  }
  return out;
}

/** Round trips of one message A → group "ping" (B) → group "pong" (A). */
async function pingPong(a: SpreadConnection, b: SpreadConnection, service: 'AGREED' | 'SAFE', rounds: number, warmup: number): Promise<Float64Array> {
  const body = Buffer.alloc(MESSAGE_BYTES, 0x2e);
  b.on('message', (m) => {
    if (m.kind === 'data' && m.groups[0] === 'ping') void b.multicast(service, 'pong', m.data).catch(() => {});
  });
  const rtt = new Float64Array(rounds);
  let waiting: (() => void) | undefined;
  a.on('message', (m) => {
    if (m.kind === 'data' && m.groups[0] === 'pong') waiting?.();
  });
  for (let i = -warmup; i < rounds; i++) {
    const got = new Promise<void>((r) => (waiting = r));
    const t0 = nowUs();
    await a.multicast(service, 'ping', body);
    await got;
    if (i >= 0) rtt[i] = nowUs() - t0;
  }
  a.removeAllListeners('message');
  b.removeAllListeners('message');
  return rtt;
}

interface FloodOutcome {
  messages: number;
  seconds: number;
  latencies: Float64Array;
}

async function floodOnce(tx: SpreadConnection, rx: SpreadConnection, service: 'AGREED' | 'SAFE', messages: number, group: string): Promise<FloodOutcome> {
  const latencies = new Float64Array(messages);
  let received = 0;
  let wake: (() => void) | undefined;
  let firstSend = 0;
  let lastReceive = 0;
  const allIn = new Promise<void>((resolve) => {
    rx.on('message', (m) => {
      if (m.kind !== 'data' || m.data.length < 16) return;
      const dv = new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength);
      if (dv.getUint32(0, true) !== STAMP_MAGIC) return;
      const t = nowUs();
      latencies[received++] = t - dv.getFloat64(8, true);
      lastReceive = t;
      wake?.();
      if (received === messages) resolve();
    });
  });
  const body = Buffer.alloc(MESSAGE_BYTES, 0x2e);
  body.writeUInt32LE(STAMP_MAGIC, 0);
  const inFlight: Promise<void>[] = [];
  firstSend = nowUs();
  for (let i = 0; i < messages; i++) {
    while (i - received >= FLOOD_WINDOW_MESSAGES) {
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    body.writeUInt32LE(i, 4);
    body.writeDoubleLE(nowUs(), 8);
    inFlight.push(tx.multicast(service, group, body));
    if (inFlight.length >= SEND_PIPELINE_MESSAGES_MAX) await inFlight.shift();
  }
  await Promise.all(inFlight);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`flood: ${received} of ${messages} delivered within 60 s`)), 60_000);
  });
  try {
    await Promise.race([allIn, late]);
  } finally {
    clearTimeout(timer);
  }
  rx.removeAllListeners('message');
  return { messages, seconds: (lastReceive - firstSend) / 1e6, latencies };
}

interface BenchOptions {
  floodMessages: number;
  pingRounds: number;
  /** Extra daemon configuration lines (e.g. Window, PersonalWindow). */
  extraConfig: string;
  crypto: VariantResult['crypto'];
  /** Services to measure (default AGREED then SAFE). */
  services: VariantResult['service'][];
  /** Measure the ping-pong only: no idle phase, no flood. */
  pingOnly: boolean;
}

async function benchRing(size: number, opts: BenchOptions, record: BenchRecord, print: (s: string) => void): Promise<void> {
  const ring = await startRing({ size, timeouts: { ...LAN_TIMEOUTS }, extraConfig: [opts.extraConfig, cryptoLines(opts.crypto)].filter(Boolean).join('\n') });
  const conns: SpreadConnection[] = [];
  try {
    const pids = ring.names.map((n) => ring.daemon(n).pid);
    const first = ring.names[0]!;
    const last = ring.names[ring.names.length - 1]!;
    const open = async (daemon: string, name: string): Promise<SpreadConnection> => {
      const c = await connect(ring.tcpAddress(daemon), { name, receiveQueueMessagesMax: 10_000 });
      conns.push(c);
      return c;
    };
    if (opts.pingOnly) {
      await pingOnlyRing(ring, opts, open, first, last, size, print);
      return;
    }
    // Idle: nothing to send, the token still circulates.
    await sleep(500);
    const idleCpu0 = pids.map(cpuSeconds);
    const idleCounters0 = await ringCounters(ring);
    const idleT0 = performance.now();
    await sleep(2000);
    const idleSecs = (performance.now() - idleT0) / 1000;
    const idleCounters1 = await ringCounters(ring);
    const idle: BenchRecord['idle'][number] = { daemons: size, cpu: pids.map((p, i) => round3((cpuSeconds(p) - idleCpu0[i]!) / idleSecs)) };
    if (idleCounters0 && idleCounters1) {
      idle.tokenRoundsPerSec = Math.round((idleCounters1.tokenRounds - idleCounters0.tokenRounds) / idleSecs);
      idle.packetsPerSec = Math.round((idleCounters1.sent - idleCounters0.sent) / idleSecs);
    }
    record.idle.push(idle);
    print(`idle, ${size} daemon(s): daemon CPU ${idle.cpu.map(pct).join(' / ')}${idle.tokenRoundsPerSec !== undefined ? `, ${idle.tokenRoundsPerSec} token rounds/s, ${idle.packetsPerSec} packets/s sent by ${first}` : ''}`);

    const a = await open(first, 'pinger');
    const b = await open(last, 'ponger');
    await joinAndWait(a, 'pong');
    await joinAndWait(b, 'ping');
    const tx = await open(first, 'sender');
    const rx = await open(last, 'receiver');
    await joinAndWait(rx, 'flood');

    for (const service of opts.services) {
      const rtt = pingPong(a, b, service, opts.pingRounds, Math.min(200, opts.pingRounds));
      const rt = percentiles(await rtt);

      const cpu0 = pids.map(cpuSeconds);
      const client0 = process.cpuUsage();
      const c0 = await ringCounters(ring);
      const t0 = performance.now();
      const f = await floodOnce(tx, rx, service, opts.floodMessages, 'flood');
      const wall = (performance.now() - t0) / 1000;
      const c1 = await ringCounters(ring);
      const clientCpu = process.cpuUsage(client0);
      const daemonCpuSecs = pids.map((p, i) => cpuSeconds(p) - cpu0[i]!);
      const usage: DaemonUsage[] = ring.names.map((name, i) => ({ name, cpu: round3(daemonCpuSecs[i]! / wall), peakRssKiB: peakRssKiB(pids[i]!) }));
      const result: VariantResult = {
        crypto: opts.crypto,
        daemons: size,
        service,
        pingPong: { rounds: opts.pingRounds, roundTripUs: rt },
        flood: {
          messages: f.messages,
          seconds: round3(f.seconds),
          messagesPerSec: Math.round(f.messages / f.seconds),
          mbPerSec: round3((f.messages * MESSAGE_BYTES) / f.seconds / 1e6),
          latencyUs: percentiles(f.latencies),
          daemons: usage,
          daemonCpuUsPerMessage: Math.round((daemonCpuSecs.reduce((x, y) => x + y, 0) * 1e6) / f.messages),
          clientCpu: round3((clientCpu.user + clientCpu.system) / 1e6 / wall),
        },
      };
      if (c0 && c1 && c1.tokenRounds > c0.tokenRounds) {
        result.flood.packetsPerTokenRound = round3((c1.sent - c0.sent) / (c1.tokenRounds - c0.tokenRounds));
        result.flood.tokenRoundsPerSec = Math.round((c1.tokenRounds - c0.tokenRounds) / wall);
      }
      record.variants.push(result);
      print(summary(result));
    }
  } finally {
    await Promise.all(conns.map((c) => c.disconnect().catch(() => {})));
    await ring.close();
  }
}

/** The ping-pong alone, one line per service: a shorter run for comparing changes on the round trip. */
async function pingOnlyRing(
  ring: Ring,
  opts: BenchOptions,
  open: (daemon: string, name: string) => Promise<SpreadConnection>,
  first: string,
  last: string,
  size: number,
  print: (s: string) => void,
): Promise<void> {
  const a = await open(first, 'pinger');
  const b = await open(last, 'ponger');
  await joinAndWait(a, 'pong');
  await joinAndWait(b, 'ping');
  const pids = ring.names.map((n) => ring.daemon(n).pid);
  for (const service of opts.services) {
    const warmup = Math.min(200, opts.pingRounds);
    await pingPong(a, b, service, warmup, 0);
    const c0 = await ringCounters(ring);
    const cpu0 = pids.map(cpuSeconds);
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    const rt = percentiles(await pingPong(a, b, service, opts.pingRounds, 0));
    const wall = (performance.now() - t0) / 1000;
    const c1 = await ringCounters(ring);
    const client = process.cpuUsage(client0);
    const cpu = pids.map((p, i) => pct((cpuSeconds(p) - cpu0[i]!) / wall)).join('/');
    const holds = c0 && c1 ? c1.replyHolds - c0.replyHolds : 0;
    const rounds =
      c0 && c1
        ? `, ${Math.round((c1.tokenRounds - c0.tokenRounds) / wall)} token rounds/s` +
          `, ${(holds / opts.pingRounds).toFixed(2)} reply holds per round trip (${holds > 0 ? Math.round((100 * (c1.replyHoldHits - c0.replyHoldHits)) / holds) : 0}% ended by the reply)`
        : '';
    print(
      `${size} daemon(s) ${service.padEnd(6)} crypto ${opts.crypto} | ping-pong RTT p50 ${rt.p50} µs p99 ${rt.p99} µs max ${rt.max} µs (${opts.pingRounds} rounds)` +
        ` | daemon CPU ${cpu}, client CPU ${pct((client.user + client.system) / 1e6 / wall)}${rounds}`,
    );
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

let clusterKeyFile: string | undefined;

/** Configuration lines for a protection mode; one cluster key for the whole run. */
function cryptoLines(mode: VariantResult['crypto']): string {
  if (mode === 'none') return '';
  if (clusterKeyFile === undefined) {
    clusterKeyFile = path.join(tempDir('ringcast-bench-key-').dir, 'cluster.key');
    writeClusterKeyFile(clusterKeyFile);
  }
  return `Crypto = ${mode}\nClusterKeyFile = ${clusterKeyFile}`;
}

/** Throughput of each protection mode as a ratio to `none`, same daemons and service, same run. */
function printCryptoRatios(record: BenchRecord, print: (s: string) => void): void {
  for (const v of record.variants) {
    if (v.crypto === 'none') continue;
    const base = record.variants.find((b) => b.crypto === 'none' && b.daemons === v.daemons && b.service === v.service);
    if (!base) continue;
    const ratio = v.flood.messagesPerSec / base.flood.messagesPerSec;
    print(`ratio ${v.crypto}/none, ${v.daemons} daemon(s) ${v.service}: ${ratio.toFixed(2)}x throughput (${v.flood.messagesPerSec} vs ${base.flood.messagesPerSec} msg/s), ping-pong p50 ${v.pingPong.roundTripUs.p50} vs ${base.pingPong.roundTripUs.p50} µs`);
  }
}

function summary(r: VariantResult): string {
  const f = r.flood;
  return [
    `${r.daemons} daemon(s) ${r.service.padEnd(6)} crypto ${r.crypto}`,
    `ping-pong RTT p50 ${r.pingPong.roundTripUs.p50} µs p99 ${r.pingPong.roundTripUs.p99} µs`,
    `flood ${f.messagesPerSec} msg/s ${f.mbPerSec.toFixed(2)} MB/s latency p50 ${(f.latencyUs.p50 / 1000).toFixed(2)} ms p99 ${(f.latencyUs.p99 / 1000).toFixed(2)} ms`,
    `daemon CPU ${f.daemons.map((d) => pct(d.cpu)).join('/')} (${f.daemonCpuUsPerMessage} µs/msg) client CPU ${pct(f.clientCpu)}`,
    `peak RSS ${f.daemons.map((d) => `${Math.round(d.peakRssKiB / 1024)}`).join('/')} MiB`,
    f.packetsPerTokenRound !== undefined ? `${f.packetsPerTokenRound} packets/token round, ${f.tokenRoundsPerSec} rounds/s` : '',
  ]
    .filter(Boolean)
    .join(' | ');
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<BenchRecord> {
  const quick = argv.includes('--quick');
  const valueOf = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const extra: string[] = [];
  if (valueOf('--window') !== undefined) extra.push(`Window = ${Number(valueOf('--window'))}`);
  if (valueOf('--personal-window') !== undefined) extra.push(`PersonalWindow = ${Number(valueOf('--personal-window'))}`);
  if (valueOf('--packet-bytes') !== undefined) extra.push(`MaxPacketBytes = ${Number(valueOf('--packet-bytes'))}`);
  argv.forEach((a, i) => {
    if (a === '--config' && argv[i + 1] !== undefined) extra.push(argv[i + 1]!);
  });
  const profileDir = valueOf('--profile');
  if (profileDir !== undefined) {
    // --cpu-prof is refused in NODE_OPTIONS, --import is not: daemons inherit a preload that
    // profiles through the inspector and writes DIR/<pid>.cpuprofile when the daemon exits.
    mkdirSync(profileDir, { recursive: true });
    const preload = path.join(path.resolve(profileDir), 'profile-preload.mjs');
    writeFileSync(preload, PROFILE_PRELOAD.replace('%DIR%', JSON.stringify(path.resolve(profileDir))));
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(preload).href}`.trim();
  }
  const opts: BenchOptions = {
    floodMessages: Number(valueOf('--messages') ?? (quick ? 10_000 : 40_000)),
    pingRounds: Number(valueOf('--rounds') ?? (quick ? 500 : 2000)),
    extraConfig: extra.join('\n'),
    crypto: 'none',
    services: (valueOf('--service') ?? 'AGREED,SAFE').split(',') as VariantResult['service'][],
    pingOnly: argv.includes('--ping-only'),
  };
  for (const s of opts.services) {
    if (s !== 'AGREED' && s !== 'SAFE') throw new Error(`--service takes AGREED and/or SAFE, not "${s}"`);
  }
  const record: BenchRecord = {
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, loadAverage: os.loadavg().map(round3) },
    messageBytes: MESSAGE_BYTES,
    configuration: extra,
    idle: [],
    variants: [],
  };
  const jsonFile = valueOf('--json');
  const sizes = (valueOf('--daemons') ?? '1,3').split(',').map(Number);
  const print = (s: string): void => void process.stdout.write(`${s}\n`);
  print(`machine: ${record.machine.cpu}, ${record.machine.cores} logical cores, Node ${record.machine.node}, load average ${record.machine.loadAverage.join(' ')}`);
  if (opts.extraConfig) print(`configuration: ${extra.join(', ')}`);
  print(`messages: ${MESSAGE_BYTES} B, flood of ${opts.floodMessages} (window ${FLOOD_WINDOW_MESSAGES}), ping-pong ${opts.pingRounds} rounds; sender/pinger on the first daemon, receiver/ponger on the last`);
  const modes = (valueOf('--crypto') ?? 'none').split(',') as VariantResult['crypto'][];
  for (const m of modes) {
    if (m !== 'none' && m !== 'integrity' && m !== 'encrypt') throw new Error(`--crypto takes none, integrity or encrypt, not "${m}"`);
  }
  for (const crypto of modes) {
    if (modes.length > 1) print(`--- packet protection: ${crypto}`);
    for (const size of sizes) await benchRing(size, { ...opts, crypto }, record, print);
  }
  if (modes.length > 1) printCryptoRatios(record, print);
  print(JSON.stringify(record));
  if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopAll();
      process.exit(130);
    });
  }
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench/ring: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
