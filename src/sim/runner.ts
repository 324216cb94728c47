/**
 * Running seeds: options from a seed and a few user knobs, one checked run, a sweep over a seed
 * range. What the `ringcast sim` command and the sweep tests call.
 */
import { checkHistory, type CheckOptions, type CheckResult, type PropertyName } from './checker.js';
import { checkEpochKeys, type KeyCheckResult, type KeyPropertyName } from './key-checker.js';
import { Prng } from './prng.js';
import { DEFAULT_TIMEOUTS, defaultSimOptions, Simulation, type EngineFactory, type SimOptions, type SimRun } from './simulator.js';
import type { TotemTimeouts } from '../ring/types.js';

/**
 * Timeouts scaled to the ring: a token rotation takes about daemons × one-way delay, and the
 * token-loss timeout must stay well above it (as Spread's 1250 ms is above a LAN rotation), or
 * every ring breaks by itself. The defaults suit 5 daemons at up to 5 ms.
 */
export function scaledTimeouts(daemons: number, delayMaxMs: number, stretch = 1): TotemTimeouts {
  const ring = Math.max(1, (daemons * delayMaxMs) / 25) * stretch;
  const hop = Math.max(1, delayMaxMs / 5) * stretch;
  const t = DEFAULT_TIMEOUTS;
  return {
    tokenLossMs: Math.round(t.tokenLossMs * ring),
    tokenRetransmitMs: Math.round(t.tokenRetransmitMs * hop),
    joinMs: Math.round(t.joinMs * hop),
    consensusMs: Math.round(t.consensusMs * ring),
    formMs: Math.round(t.formMs * ring),
    mergeDetectMs: Math.round(t.mergeDetectMs * ring),
  };
}

/** User-level knobs. Any left undefined is drawn from the seed, so a sweep covers many mixes. */
export interface SimSpec {
  daemons?: number;
  steps?: number;
  /** Base packet loss during the faulty phase, 0..0.2 in the sweeps (bursts go higher). */
  lossRate?: number;
  partitions?: boolean;
  crashes?: boolean;
  /** Loss bursts; default: on when lossRate > 0. */
  lossBursts?: boolean;
  /** Client messages per second per daemon. */
  messagesPerSecond?: number;
  /** One-way network delay range, ms. */
  delayMs?: readonly [number, number];
  /** Damaged packets (see NetworkOptions.corruptionRate): then only engine errors fail a seed. */
  corruptionRate?: number;
  /**
   * Accelerated Ring window (packets sent after the token per visit); 0: plain Totem. Drawn from
   * the seed when undefined: on for about half the seeds, from its own stream so that the rest of
   * a seed's mix is what it was before the option existed.
   */
  acceleratedWindowPacketsMax?: number;
  /**
   * Reply-anticipating token holds with request/response clients (SimOptions.replies): the hold
   * in ms, 0 for none. Drawn from the seed when undefined: on for about half the seeds, from its
   * own stream.
   */
  replyHoldMs?: number;
  /** Anything else, applied last. */
  overrides?: Partial<SimOptions>;
}

export const LOSS_RATE_MAX = 0.2;

export function buildOptions(seed: number, spec: SimSpec, engineFactory: EngineFactory): SimOptions {
  const mix = new Prng(seed).fork('mix');
  const base = defaultSimOptions(seed, engineFactory);
  const daemons = spec.daemons ?? mix.range(3, 6);
  const lossRate = spec.lossRate ?? mix.pick([0, 0, 0.01, 0.05, 0.1, 0.2]);
  const partitions = spec.partitions ?? mix.chance(0.7);
  const crashes = spec.crashes ?? mix.chance(0.6);
  const lossBursts = spec.lossBursts ?? lossRate > 0;
  const steps = spec.steps ?? mix.range(3, 6);
  // Load and delay vary too: bursts of traffic stress flow control and back-pressure, wide
  // jitter reorders heavily and brings delays near the token retransmission timeout.
  const messagesPerSecond = spec.messagesPerSecond ?? mix.pick([20, 40, 40, 40, 150]);
  const [delayMinMs, delayMaxMs] = spec.delayMs ?? mix.pick<readonly [number, number]>([[1, 4], [1, 4], [0, 1], [1, 15]]);
  // All timeouts stretched together by one factor: different timings, the same proportions.
  const timeoutFactor = 0.75 + mix.float() * 1.25;
  const acceleratedWindowPacketsMax = spec.acceleratedWindowPacketsMax ?? drawAcceleratedWindow(seed, base.personalWindowPacketsMax);
  const o: SimOptions = {
    ...base,
    daemons,
    steps,
    faults: { partitions, crashes, lossBursts },
    network: { ...base.network, lossRate, delayMinMs, delayMaxMs, corruptionRate: spec.corruptionRate ?? 0 },
    timeouts: scaledTimeouts(daemons, delayMaxMs, timeoutFactor),
    clients: { ...base.clients, messagesPerSecond },
    acceleratedWindowPacketsMax: Math.min(acceleratedWindowPacketsMax, spec.overrides?.personalWindowPacketsMax ?? base.personalWindowPacketsMax),
    ...drawReplies(seed, spec.replyHoldMs),
    // A healthy run installs a few dozen configurations per daemon; far more is a storm.
    configurationInstallsMax: 300 * daemons,
    eventsMax: 40_000 + 8_000 * daemons * Math.max(1, steps),
    ...spec.overrides,
  };
  return o;
}

/** Half the seeds accelerate, with a window from 1 packet to the whole personal window. */
export function drawAcceleratedWindow(seed: number, personalWindowPacketsMax: number): number {
  const r = new Prng(seed).fork('accelerated');
  if (!r.chance(0.5)) return 0;
  return Math.min(personalWindowPacketsMax, r.pick([1, 5, 15, 15, personalWindowPacketsMax]));
}

/** Half the seeds run request/response clients with reply holds (a hold from 0.5 to 5 ms). */
export function drawReplies(seed: number, replyHoldMs: number | undefined): Pick<SimOptions, 'replies'> {
  const r = new Prng(seed).fork('replies');
  const on = replyHoldMs !== undefined ? replyHoldMs > 0 : r.chance(0.5);
  if (!on) return {};
  return { replies: { replyHoldMs: replyHoldMs ?? r.pick([0.5, 1, 1, 2, 5]), chance: r.pick([0.2, 0.5, 1]) } };
}

export interface SeedResult {
  run: SimRun;
  check: CheckResult;
  /** With epoch keys: the key schedule's checks (key-checker.ts). */
  keys?: KeyCheckResult;
  /** The seed fails: any violation, or with damaged packets an engine error only. */
  failed: boolean;
}

export function runSeed(seed: number, spec: SimSpec, engineFactory: EngineFactory, check?: CheckOptions): SeedResult {
  const run = new Simulation(buildOptions(seed, spec, engineFactory)).run();
  const result = checkHistory(run.history, check);
  const keys = run.epochKeys === undefined ? undefined : checkEpochKeys(run.epochKeys, (id) => run.names.get(id) ?? String(id >>> 0));
  const failed = (spec.corruptionRate ?? 0) > 0 ? result.violated.includes('engine-error') : !result.ok || (keys !== undefined && !keys.ok);
  return { run, check: result, ...(keys ? { keys } : {}), failed };
}

/** Parse `A..B` (inclusive) or a single seed. */
export function parseSeedRange(text: string): { from: number; to: number } | undefined {
  const m = /^\s*(\d+)\s*(?:\.\.\s*(\d+))?\s*$/.exec(text);
  if (m === null) return undefined;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to < from || to > 0xffffffff) return undefined;
  return { from, to };
}

export interface SweepFailure {
  seed: number;
  violated: (PropertyName | KeyPropertyName)[];
  /** First violation's description. */
  first: string;
}

export interface SweepSummary {
  seeds: number;
  failures: SweepFailure[];
  settled: number;
  messages: number;
  deliveries: number;
  configurations: number;
  events: number;
  simulatedMs: number;
  /** Token visits held for a request/response client's answer, and those the answer ended. */
  replyHolds: number;
  replyHoldHits: number;
}

export function sweep(
  from: number,
  to: number,
  spec: SimSpec,
  engineFactory: EngineFactory,
  o: { check?: CheckOptions; onResult?: (seed: number, r: SeedResult) => void } = {},
): SweepSummary {
  const summary: SweepSummary = { seeds: 0, failures: [], settled: 0, messages: 0, deliveries: 0, configurations: 0, events: 0, simulatedMs: 0, replyHolds: 0, replyHoldHits: 0 };
  for (let seed = from; seed <= to; seed++) {
    const r = runSeed(seed, spec, engineFactory, o.check);
    summary.seeds++;
    if (r.run.history.quiescent) summary.settled++;
    summary.messages += r.check.stats.submitted;
    summary.deliveries += r.check.stats.deliveries;
    summary.configurations += r.check.stats.configurations;
    summary.events += r.run.eventsProcessed;
    summary.simulatedMs += r.run.history.endAtMs;
    summary.replyHolds += r.run.replyHolds?.holds ?? 0;
    summary.replyHoldHits += r.run.replyHolds?.hits ?? 0;
    if (r.failed) {
      const first = (spec.corruptionRate ?? 0) > 0 ? r.check.violations.find((v) => v.property === 'engine-error') : (r.check.violations[0] ?? r.keys?.violations[0]);
      summary.failures.push({ seed, violated: [...r.check.violated, ...(r.keys?.violated ?? [])], first: first?.description ?? '' });
    }
    o.onResult?.(seed, r);
  }
  return summary;
}
