/**
 * `ringcast flood`: a bounded throughput and latency test in the manner of Spread's spflooder.
 * The sender stamps every payload with a run id, a sequence number and its send time; the
 * receiver measures delivery rate and latency from those stamps. By default one process does
 * both over two connections, with a window on messages in flight so that the receiving session
 * never falls far behind (a daemon drops sessions that stop reading). With --sender or
 * --receiver alone, run each side in its own process; latency then compares the two hosts'
 * clocks, so use it on one host or with synchronised clocks.
 *
 * The receiver also checks the sequence numbers of each sending run: with FIFO or stronger
 * service every message arrives once and in order, and with RELIABLE or stronger none is lost.
 * A breach is reported, and makes the exit status 3.
 */
import { performance } from 'node:perf_hooks';
import { randomInt } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { connect, type ClientAuthMethod, type SpreadConnection } from '../client/index.js';
import { addAuthOptions, authMethodsFrom, type AuthCliOptions } from './auth-options.js';
import { SpreadLimits } from '../session/protocol.js';
import { parseServiceName, SERVICE_NAMES, type ServiceLevel } from '../util/service.js';

/** magic, run id, sequence number (u32 each), send time (f64 ms since the epoch). */
export const FLOOD_HEADER_BYTES = 20;
const FLOOD_MAGIC = 0x52434631; // "RCF1"
export const FLOOD_MESSAGES_MAX = 10_000_000;
export const FLOOD_GROUPS_MAX = 100;
/** Multicasts handed to the socket but not yet written, per sender. */
const SEND_PIPELINE_MESSAGES_MAX = 64;

export interface FloodOptions {
  address: string;
  messages: number;
  size: number;
  service: ServiceLevel;
  groups: string[];
  sender: boolean;
  receiver: boolean;
  timeoutMs: number;
  /** Sent but not yet delivered messages allowed when this process also receives. */
  windowMessages: number;
  /** Called with progress notes meant for stderr. */
  note?: (s: string) => void;
  /** Authentication methods for both connections (default NULL). */
  authMethods?: (string | ClientAuthMethod)[];
}

export interface RateReport {
  messages: number;
  elapsedMs: number;
  messagesPerSec: number;
  mbPerSec: number;
}

/** What the receiver saw of the sequence numbers, over every sending run. */
export interface OrderReport {
  /** Messages never received, below the highest received (or below --messages when finished). */
  missing: number;
  /** Messages received more than once. */
  duplicated: number;
  /** Messages that arrived after a higher sequence number of the same run. */
  outOfOrder: number;
  /** Whether the service promises what was breached (RELIABLE: no loss; FIFO and up: order too). */
  breached: boolean;
}

/** Sending runs a receiver tracks at once (several --sender processes to one --receiver). */
const RUNS_TRACKED_MAX = 16;

interface RunOrder {
  seen: Uint8Array;
  highest: number;
  distinct: number;
}

/** Sequence-number accounting of the receiver: per sending run, a bitmap of what arrived. */
export class SequenceCheck {
  private readonly runs = new Map<number, RunOrder>();
  private duplicated = 0;
  private outOfOrder = 0;

  constructor(private readonly messages: number) {}

  /** Notes one message; false if it is a duplicate (not to be counted as received). */
  note(run: number, seq: number): boolean {
    if (seq >= this.messages) return true;
    let r = this.runs.get(run);
    if (!r) {
      if (this.runs.size >= RUNS_TRACKED_MAX) return true;
      this.runs.set(run, (r = { seen: new Uint8Array(Math.ceil(this.messages / 8)), highest: -1, distinct: 0 }));
    }
    const bit = 1 << (seq & 7);
    if (r.seen[seq >>> 3]! & bit) {
      this.duplicated++;
      return false;
    }
    r.seen[seq >>> 3]! |= bit;
    r.distinct++;
    if (seq < r.highest) this.outOfOrder++;
    else r.highest = seq;
    return true;
  }

  /** `complete`: one run was expected to deliver all --messages (finished, one sender). */
  report(complete: boolean, service: ServiceLevel): OrderReport {
    let missing = 0;
    const whole = complete && this.runs.size === 1;
    for (const r of this.runs.values()) missing += (whole ? this.messages : r.highest + 1) - r.distinct;
    const reliable = service >= 0x02;
    const ordered = service >= 0x04;
    return {
      missing,
      duplicated: this.duplicated,
      outOfOrder: this.outOfOrder,
      breached: (reliable && (missing > 0 || this.duplicated > 0)) || (ordered && this.outOfOrder > 0),
    };
  }
}

export interface FloodReport {
  messages: number;
  size: number;
  service: string;
  groups: string[];
  sent?: RateReport;
  received?: RateReport & { latencyMs: { p50: number; p99: number; max: number } | null; order: OrderReport };
  timedOut: boolean;
}

const now = (): number => performance.timeOrigin + performance.now();

function rate(messages: number, size: number, elapsedMs: number): RateReport {
  const secs = Math.max(elapsedMs, 1e-3) / 1000;
  return { messages, elapsedMs: round(elapsedMs), messagesPerSec: round(messages / secs), mbPerSec: round((messages * size) / secs / 1e6) };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

/** Joins every group and waits until this session's own join of each has been delivered. */
async function joinAll(conn: SpreadConnection, groups: readonly string[], signal: AbortSignal): Promise<void> {
  const pending = new Set(groups);
  for (const g of groups) await conn.join(g);
  while (pending.size > 0) {
    const m = await conn.receive({ signal });
    if (m.kind === 'membership' && m.reason === 'join' && m.changed === conn.privateGroup) pending.delete(m.group);
  }
}

export async function runFlood(o: FloodOptions): Promise<FloodReport> {
  if (!o.sender && !o.receiver) throw new InvalidArgumentError('nothing to do: enable the sender, the receiver or both');
  const report: FloodReport = { messages: o.messages, size: o.size, service: SERVICE_NAMES[o.service], groups: o.groups, timedOut: false };
  const runId = randomInt(0, 0xffffffff);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`flood did not finish within ${o.timeoutMs} ms`)), o.timeoutMs);
  // Wakes a sender waiting for the window to open, so that it sees the abort.
  ac.signal.addEventListener('abort', () => progress?.(), { once: true });
  const connections: SpreadConnection[] = [];

  let received = 0;
  const sequence = new SequenceCheck(o.messages);
  let progress: (() => void) | undefined;
  let receiveError: unknown;
  const latencies = new Float64Array(o.receiver ? o.messages : 0);
  let firstSendStamp = Infinity;
  let lastReceive = 0;
  let sendStart = 0;
  let sendEnd = 0;
  let sent = 0;

  try {
    let receiving: Promise<void> | undefined;
    if (o.receiver) {
      const rx = await connect(o.address, { signal: ac.signal, authMethods: o.authMethods });
      connections.push(rx);
      await joinAll(rx, o.groups, ac.signal);
      o.note?.(`receiver ${rx.privateGroup} ready on ${o.groups.length} group(s)`);
      receiving = (async () => {
        while (received < o.messages) {
          const m = await rx.receive({ signal: ac.signal });
          if (m.kind !== 'data' || m.data.length < FLOOD_HEADER_BYTES) continue;
          const dv = new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength);
          if (dv.getUint32(0, true) !== FLOOD_MAGIC) continue;
          if (o.sender && dv.getUint32(4, true) !== runId) continue;
          if (!sequence.note(dv.getUint32(4, true), dv.getUint32(8, true))) continue;
          const stamp = dv.getFloat64(12, true);
          const t = now();
          latencies[received] = t - stamp;
          received++;
          if (stamp < firstSendStamp) firstSendStamp = stamp;
          lastReceive = t;
          progress?.();
        }
      })();
      receiving.catch((e: unknown) => {
        receiveError = e;
        progress?.();
      });
    }
    if (o.sender) {
      const tx = await connect(o.address, { membership: false, signal: ac.signal, authMethods: o.authMethods });
      connections.push(tx);
      const payload = Buffer.alloc(o.size, 0x2e);
      payload.writeUInt32LE(FLOOD_MAGIC, 0);
      payload.writeUInt32LE(runId, 4);
      const inFlight: Promise<void>[] = [];
      sendStart = now();
      for (let i = 0; i < o.messages; i++) {
        while (o.receiver && i - received >= o.windowMessages) {
          ac.signal.throwIfAborted();
          if (receiveError !== undefined) throw receiveError;
          await new Promise<void>((resolve) => (progress = resolve));
          progress = undefined;
        }
        ac.signal.throwIfAborted();
        payload.writeUInt32LE(i, 8);
        payload.writeDoubleLE(now(), 12);
        // multicast encodes the payload before returning, so the buffer can be reused at once.
        inFlight.push(tx.multicast(o.service, o.groups[i % o.groups.length]!, payload));
        if (inFlight.length >= SEND_PIPELINE_MESSAGES_MAX) await inFlight.shift();
        sent = i + 1;
      }
      await Promise.all(inFlight);
      sendEnd = now();
    }
    if (receiving) await receiving;
  } catch (e) {
    if (!ac.signal.aborted) throw e;
    report.timedOut = true;
  } finally {
    clearTimeout(timer);
    await Promise.all(connections.map((c) => c.disconnect()));
  }
  if (o.sender) report.sent = rate(sent, o.size, (sendEnd || now()) - sendStart);
  if (o.receiver) {
    const lat = latencies.subarray(0, received).slice().sort();
    report.received = {
      ...rate(received, o.size, received > 0 ? lastReceive - firstSendStamp : 0),
      latencyMs: received > 0 ? { p50: round(percentile(lat, 50)), p99: round(percentile(lat, 99)), max: round(lat[lat.length - 1] ?? NaN) } : null,
      // One finished run sent exactly --messages; otherwise each run is judged up to its highest.
      order: sequence.report(!report.timedOut, o.service),
    };
  }
  return report;
}

export function formatFloodReport(r: FloodReport): string {
  const lines = [`flood: ${r.messages} messages of ${r.size} bytes, ${r.service}, ${r.groups.length} group(s)${r.timedOut ? ' (timed out)' : ''}`];
  const line = (label: string, x: RateReport): string =>
    `${label.padEnd(9)} ${x.messages} in ${(x.elapsedMs / 1000).toFixed(3)} s: ${Math.round(x.messagesPerSec)} msg/s, ${x.mbPerSec.toFixed(2)} MB/s`;
  if (r.sent) lines.push(line('sent', r.sent));
  if (r.received) {
    lines.push(line('received', r.received));
    const l = r.received.latencyMs;
    if (l) lines.push(`latency   p50 ${l.p50.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms, max ${l.max.toFixed(3)} ms`);
    const ord = r.received.order;
    lines.push(`order     ${ord.missing} missing, ${ord.duplicated} duplicated, ${ord.outOfOrder} out of order${ord.breached ? `: the ${r.service} service was breached` : ''}`);
  }
  return lines.join('\n');
}

function intIn(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer ${min}..${max}, got "${v}"`);
    return n;
  };
}

function serviceArg(v: string): ServiceLevel {
  const s = parseServiceName(v);
  if (s === undefined) throw new InvalidArgumentError('expected UNRELIABLE, RELIABLE, FIFO, CAUSAL, AGREED or SAFE');
  return s;
}

export function registerFloodCommand(program: Command): void {
  const cmd = program
    .command('flood')
    .description('bounded throughput and latency test in the manner of spflooder; sends and receives by default')
    .option('-s, --spread <address>', 'daemon: PORT (Unix socket /tmp/PORT), PORT@HOST (TCP) or a socket path', '4803')
    .option('--messages <n>', `messages to send, or to wait for as a receiver (1..${FLOOD_MESSAGES_MAX})`, intIn(1, FLOOD_MESSAGES_MAX), 10_000)
    .option('--size <bytes>', `payload bytes per message (${FLOOD_HEADER_BYTES}..${SpreadLimits.MESSAGE_BODY_BYTES_MAX - SpreadLimits.GROUP_NAME_BYTES})`, intIn(FLOOD_HEADER_BYTES, SpreadLimits.MESSAGE_BODY_BYTES_MAX - SpreadLimits.GROUP_NAME_BYTES), 1000)
    .addOption(new Option('--service <level>', 'UNRELIABLE, RELIABLE, FIFO, CAUSAL, AGREED or SAFE').argParser(serviceArg).default(0x10, 'AGREED'))
    .option('--group <name>', 'group name; with --groups N, the prefix of NAME-0 .. NAME-(N-1)', 'flood')
    .option('--groups <n>', `spread messages round-robin over N groups (1..${FLOOD_GROUPS_MAX})`, intIn(1, FLOOD_GROUPS_MAX), 1)
    .option('--sender', 'only send')
    .option('--receiver', 'only receive (start it before the sender)')
    .option('--window <n>', 'messages in flight when sending and receiving in one process', intIn(1, 1000), 200)
    .option('--timeout <ms>', 'stop after this long even if unfinished (exit status 2; 3 if messages were lost, repeated or reordered against the service)', intIn(1, 24 * 3600 * 1000), 60_000)
    .addOption(new Option('--json', 'print the report as JSON'));
  addAuthOptions(cmd).action(
    async (opts: { spread: string; messages: number; size: number; service: ServiceLevel; group: string; groups: number; sender?: boolean; receiver?: boolean; window: number; timeout: number; json?: boolean } & AuthCliOptions) => {
      const both = !opts.sender && !opts.receiver;
      const groups = opts.groups === 1 ? [opts.group] : Array.from({ length: opts.groups }, (_, i) => `${opts.group}-${i}`);
      try {
        const authMethods = await authMethodsFrom(opts);
        const report = await runFlood({
          authMethods,
          address: opts.spread,
          messages: opts.messages,
          size: opts.size,
          service: opts.service,
          groups,
          sender: both || opts.sender === true,
          receiver: both || opts.receiver === true,
          timeoutMs: opts.timeout,
          windowMessages: opts.window,
          note: (s) => process.stderr.write(`ringcast flood: ${s}\n`),
        });
        process.stdout.write(`${opts.json ? JSON.stringify(report) : formatFloodReport(report)}\n`);
        process.exitCode = report.received?.order.breached ? 3 : report.timedOut ? 2 : 0;
      } catch (e) {
        process.stderr.write(`ringcast flood: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = 1;
      }
    },
  );
}
