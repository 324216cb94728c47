/**
 * Single-daemon benchmark: one ringcastd process (a one-daemon ring) and, in this process, the
 * client sessions that load it:
 *   (a) SESSIONS_WANTED sessions connected at once (half TCP, half Unix socket); the daemon holds
 *       at most 997 (Spread's MAX_SESSIONS), so the rest are counted as REJECT_QUOTA;
 *   (b) GROUPS distinct groups joined, spread round-robin over the sessions;
 *   (c) a flood of 1 KB AGREED messages from SENDERS sender sessions, each to its own group of
 *       RECEIVERS_PER_GROUP receiver sessions, closed-loop (each sender keeps at most
 *       SENDER_WINDOW_MESSAGES of its own messages in flight), for a warm-up then a measured window.
 * Reports messages/s, delivered MB/s, delivery latency p50/p99 (the send time travels in the
 * payload; sender and receivers share this process's monotonic clock), and the daemon's peak RSS
 * (VmHWM) and CPU time per phase from /proc. Prints the machine, a one-line summary and a JSON
 * record. Runs in well under two minutes.
 *
 *   npx tsx bench/single-daemon.ts [--quick]
 */
import { pathToFileURL } from 'node:url';
import { MessageType, SpreadCode } from '../src/session/protocol.js';
import { machine, processFigures, startBenchDaemon, type BenchDaemon, type ProcessFigures } from './lib/daemon.js';
import { LeanSession } from './lib/lean-session.js';

const quick = process.argv.includes('--quick');
const AGREED = MessageType.AGREED_MESS;
const REJECT_QUOTA = SpreadCode.REJECT_QUOTA;
const SESSIONS_WANTED = 1000;
const GROUPS = 10_000;
const SENDERS = 10;
const RECEIVERS_PER_GROUP = 10;
const MESSAGE_BYTES = 1024;
const SENDER_WINDOW_MESSAGES = 64;
const WARMUP_MS = quick ? 500 : 2000;
const MEASURE_MS = quick ? 3000 : 15_000;
/** The light-load run: each sender has one message in flight, so latency is the daemon's path alone. */
const LIGHT_WINDOW_MESSAGES = 1;
const LIGHT_WARMUP_MS = 300;
const LIGHT_MEASURE_MS = quick ? 1000 : 3000;
/** Connects in flight at once while opening sessions. */
const CONNECT_CONCURRENCY = 100;
const DRAIN_TIMEOUT_MS = 15_000;

export interface SingleDaemonBenchResult {
  machine: ReturnType<typeof machine>;
  sessions: { wanted: number; connected: number; rejectedQuota: number; otherFailures: number; connectMs: number; perSecond: number };
  groups: { joined: number; joinMs: number; joinsPerSecond: number; daemonRssAfterJoinsKiB: number };
  flood: {
    senders: number;
    receiversPerGroup: number;
    messageBytes: number;
    windowMessages: number;
    measureMs: number;
    messagesSent: number;
    messagesPerSecond: number;
    deliveriesPerSecond: number;
    deliveredMBPerSecond: number;
    latencyMs: { p50: number; p90: number; p99: number; max: number; samples: number };
    lost: number;
  };
  /** The same flood with one message in flight per sender. */
  lightLoad: { windowMessages: number; messagesPerSecond: number; latencyMs: { p50: number; p99: number; samples: number }; lost: number };
  daemon: {
    rssPeakKiB: number;
    /** Per phase; `flood` covers joining the flood groups, warm-up, measurement and drain of the loaded run. */
    cpuMs: { connect: number; join: number; flood: number; total: number };
    cpuPercentDuringFlood: number;
  };
  /** CPU time of this load-generating process during the flood (it shares the machine with the daemon). */
  loadGeneratorCpuMs: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function openSessions(d: BenchDaemon): Promise<{ sessions: LeanSession[]; rejectedQuota: number; otherFailures: number; ms: number }> {
  const sessions: LeanSession[] = [];
  let rejectedQuota = 0;
  let otherFailures = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < SESSIONS_WANTED) {
      const i = next++;
      try {
        sessions.push(await LeanSession.open(i % 2 ? { path: d.socketPath } : { port: d.port }, `s${i}`));
      } catch (e) {
        if ((e as { spreadCode?: number }).spreadCode === REJECT_QUOTA) rejectedQuota++;
        else otherFailures++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  return { sessions, rejectedQuota, otherFailures, ms: performance.now() - t0 };
}

/**
 * Sends `s` a note to itself and resolves when it comes back: everything `s` wrote before (joins)
 * has then been ordered. Sessions here have no membership flag, so the note is the only frame.
 */
function roundTrip(s: LeanSession, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${s.privateGroup}: no note back within ${ms} ms`)), ms);
    s.onFrame = () => {
      clearTimeout(t);
      s.onFrame = () => undefined;
      resolve();
    };
    s.write(s.frame(AGREED, [s.privateGroup], Buffer.from('n')));
  });
}

async function joinGroups(sessions: LeanSession[]): Promise<number> {
  const t0 = performance.now();
  const perSession = new Map<LeanSession, string[]>();
  for (let g = 0; g < GROUPS; g++) {
    const s = sessions[g % sessions.length]!;
    let list = perSession.get(s);
    if (!list) perSession.set(s, (list = []));
    list.push(`grp-${g}`);
  }
  await Promise.all(
    [...perSession].map(async ([s, groups]) => {
      for (const g of groups) s.join(g);
      await roundTrip(s, 60_000);
    }),
  );
  return performance.now() - t0;
}

interface FloodOutcome {
  sent: number;
  deliveries: number;
  lost: number;
  latencies: Float64Array;
  measureMs: number;
  /** This (load-generating) process's CPU time over warm-up, measurement and drain. */
  clientCpuMs: number;
}

async function flood(sessions: LeanSession[], windowMessages: number, warmupMs: number, measureMs: number, tag: string): Promise<FloodOutcome> {
  const senders = sessions.slice(0, SENDERS);
  const receivers = sessions.slice(SENDERS, SENDERS + SENDERS * RECEIVERS_PER_GROUP);
  if (receivers.length < SENDERS * RECEIVERS_PER_GROUP) throw new Error(`need ${SENDERS * (RECEIVERS_PER_GROUP + 1)} sessions, have ${sessions.length}`);
  // Receivers join their sender's group, and each sender its own group: its copy closes the loop.
  await Promise.all(
    senders.map(async (s, k) => {
      const members = [s, ...receivers.slice(k * RECEIVERS_PER_GROUP, (k + 1) * RECEIVERS_PER_GROUP)];
      await Promise.all(
        members.map(async (m) => {
          m.join(`${tag}-${k}`);
          await roundTrip(m, 30_000);
        }),
      );
    }),
  );

  let phase: 'warmup' | 'measure' | 'drain' = 'warmup';
  let measureStart = Infinity;
  let measureEnd = Infinity;
  let sent = 0;
  let deliveries = 0;
  let expected = 0;
  const samplesMax = 4_000_000;
  const latencies = new Float64Array(samplesMax);
  let samples = 0;
  const templates = senders.map((s, k) => s.frame(AGREED, [`${tag}-${k}`], Buffer.alloc(MESSAGE_BYTES, 0x61)));
  const stampAt = 48 + 32;
  const inflight = senders.map(() => 0);
  let drained: (() => void) | undefined;
  const checkDrained = (): void => {
    if (phase === 'drain' && drained && inflight.every((n) => n === 0) && deliveries >= expected) drained();
  };

  const topUp = (k: number): void => {
    const s = senders[k]!;
    while (phase !== 'drain' && inflight[k]! < windowMessages) {
      inflight[k]!++;
      const at = performance.now();
      if (at >= measureStart) {
        sent++;
        expected += RECEIVERS_PER_GROUP;
      }
      const f = Buffer.from(templates[k]!);
      f.writeDoubleLE(at, stampAt);
      s.write(f);
    }
  };
  senders.forEach((s, k) => {
    s.onFrame = () => {
      inflight[k]!--;
      topUp(k);
      checkDrained();
    };
  });
  for (const r of receivers) {
    r.onFrame = (buf, _frame, dataOffset, dataLen) => {
      if (dataLen < 8) return;
      const t = buf.readDoubleLE(dataOffset);
      if (t < measureStart || t >= measureEnd) return;
      deliveries++;
      if (samples < samplesMax) latencies[samples++] = performance.now() - t;
      checkDrained();
    };
  }
  const cpu0 = process.cpuUsage();
  senders.forEach((_, k) => topUp(k));
  await new Promise((r) => setTimeout(r, warmupMs));
  measureStart = performance.now();
  phase = 'measure';
  await new Promise((r) => setTimeout(r, measureMs));
  measureEnd = performance.now();
  phase = 'drain';
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, DRAIN_TIMEOUT_MS);
    drained = () => {
      clearTimeout(t);
      drained = undefined;
      resolve();
    };
    checkDrained();
  });
  const cpu = process.cpuUsage(cpu0);
  for (const s of [...senders, ...receivers]) s.onFrame = () => undefined;
  const sorted = latencies.slice(0, samples).sort();
  return {
    sent,
    deliveries,
    lost: Math.max(0, expected - deliveries),
    latencies: sorted,
    measureMs: measureEnd - measureStart,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

export async function main(): Promise<SingleDaemonBenchResult> {
  const m = machine();
  console.log(`machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform}`);
  console.log(`single-daemon benchmark${quick ? ' (quick)' : ''}: ${SESSIONS_WANTED} sessions, ${GROUPS} groups, flood of ${MESSAGE_BYTES}-byte AGREED messages from ${SENDERS} senders to ${RECEIVERS_PER_GROUP} receivers each`);
  const d = await startBenchDaemon('d1', 'EventPriority = INFO\n');
  const cpu0 = processFigures(d.pid);
  let sessions: LeanSession[] = [];
  try {
    const opened = await openSessions(d);
    sessions = opened.sessions;
    const cpu1 = processFigures(d.pid);
    console.log(`(a) ${sessions.length} sessions connected in ${round(opened.ms)} ms (${opened.rejectedQuota} REJECT_QUOTA, ${opened.otherFailures} other failures)`);

    const joinMs = await joinGroups(sessions);
    const cpu2 = processFigures(d.pid);
    console.log(`(b) ${GROUPS} groups joined in ${round(joinMs)} ms; daemon RSS ${Math.round(cpu2.rssKiB / 1024)} MiB`);

    const f = await flood(sessions, SENDER_WINDOW_MESSAGES, WARMUP_MS, MEASURE_MS, 'flood');
    const cpu3: ProcessFigures = processFigures(d.pid);
    const light = await flood(sessions, LIGHT_WINDOW_MESSAGES, LIGHT_WARMUP_MS, LIGHT_MEASURE_MS, 'light');
    const cpu4: ProcessFigures = processFigures(d.pid);
    const seconds = f.measureMs / 1000;
    const result: SingleDaemonBenchResult = {
      machine: m,
      sessions: {
        wanted: SESSIONS_WANTED,
        connected: sessions.length,
        rejectedQuota: opened.rejectedQuota,
        otherFailures: opened.otherFailures,
        connectMs: round(opened.ms),
        perSecond: round(sessions.length / (opened.ms / 1000)),
      },
      groups: { joined: GROUPS, joinMs: round(joinMs), joinsPerSecond: round(GROUPS / (joinMs / 1000)), daemonRssAfterJoinsKiB: cpu2.rssKiB },
      flood: {
        senders: SENDERS,
        receiversPerGroup: RECEIVERS_PER_GROUP,
        messageBytes: MESSAGE_BYTES,
        windowMessages: SENDER_WINDOW_MESSAGES,
        measureMs: round(f.measureMs),
        messagesSent: f.sent,
        messagesPerSecond: round(f.sent / seconds),
        deliveriesPerSecond: round(f.deliveries / seconds),
        deliveredMBPerSecond: round((f.deliveries * MESSAGE_BYTES) / seconds / 1e6, 2),
        latencyMs: {
          p50: round(percentile(f.latencies, 50), 2),
          p90: round(percentile(f.latencies, 90), 2),
          p99: round(percentile(f.latencies, 99), 2),
          max: round(percentile(f.latencies, 100), 2),
          samples: f.latencies.length,
        },
        lost: f.lost,
      },
      lightLoad: {
        windowMessages: LIGHT_WINDOW_MESSAGES,
        messagesPerSecond: round(light.sent / (light.measureMs / 1000)),
        latencyMs: { p50: round(percentile(light.latencies, 50), 3), p99: round(percentile(light.latencies, 99), 3), samples: light.latencies.length },
        lost: light.lost,
      },
      daemon: {
        rssPeakKiB: cpu4.rssPeakKiB,
        cpuMs: { connect: cpu1.cpuMs - cpu0.cpuMs, join: cpu2.cpuMs - cpu1.cpuMs, flood: cpu3.cpuMs - cpu2.cpuMs, total: cpu4.cpuMs },
        cpuPercentDuringFlood: 0,
      },
      loadGeneratorCpuMs: round(f.clientCpuMs),
    };
    // The flood phase includes joining the flood groups, warm-up and drain; the share is over that span.
    result.daemon.cpuPercentDuringFlood = round((result.daemon.cpuMs.flood / (WARMUP_MS + f.measureMs)) * 100);
    const fl = result.flood;
    console.log(`(c) ${fl.messagesSent} messages in ${round(seconds, 2)} s`);
    console.log(
      `summary: ${result.sessions.connected}/${SESSIONS_WANTED} sessions (${result.sessions.rejectedQuota} REJECT_QUOTA: 997 is the session limit), ${GROUPS} groups; ${fl.messagesPerSecond} msg/s sent, ${fl.deliveriesPerSecond} deliveries/s, ` +
        `${fl.deliveredMBPerSecond} MB/s delivered; latency p50 ${fl.latencyMs.p50} ms, p99 ${fl.latencyMs.p99} ms ` +
        `(light load: p50 ${result.lightLoad.latencyMs.p50} ms, p99 ${result.lightLoad.latencyMs.p99} ms); ` +
        `daemon peak RSS ${Math.round(result.daemon.rssPeakKiB / 1024)} MiB, CPU ${result.daemon.cpuMs.total} ms (${result.daemon.cpuPercentDuringFlood}% of a core during the flood; load generator ${result.loadGeneratorCpuMs} ms); lost ${fl.lost}`,
    );
    console.log(JSON.stringify({ bench: 'single-daemon', ...result }));
    return result;
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
    await d.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
      process.exit(1);
    },
  );
}
