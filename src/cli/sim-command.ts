/**
 * `ringcast sim`: run the deterministic simulator on one seed or sweep a seed range, check the
 * extended virtual synchrony properties, and print a summary or a minimal failing trace.
 *
 *   ringcast sim --seed 42 --partitions --crashes --loss 0.1
 *   ringcast sim --seeds 0..9999          (fault mix and size drawn from each seed)
 */
import { Command, InvalidArgumentError } from 'commander';
import {
  formatReport,
  parseSeedRange,
  prettify,
  runSeed,
  shrinkFailure,
  sweep,
  buildOptions,
  LOSS_RATE_MAX,
  type EngineFactory,
  type SeedResult,
  type SimSpec,
  type Violation,
} from '../sim/index.js';
import { totemEngineFactory } from '../sim/engine.js';
import { ATTACKER_VARIANTS, SIM_CRYPTO_MODES, type AttackerVariant, type SimCryptoMode } from '../sim/index.js';
import { initCrypto } from '../../crypto/index.js';
import { runExtended, type ExtendedFlags } from './sim-extended.js';

interface SimFlags extends ExtendedFlags {
  seed?: number;
  seeds?: { from: number; to: number };
  daemons?: number;
  steps?: number;
  loss?: number;
  partitions?: boolean;
  crashes?: boolean;
  messagesPerSecond?: number;
  corrupt?: number;
  epochKeys?: boolean;
  rekeyMs?: number;
  accelerated?: number;
  replyHold?: number;
  json?: boolean;
  shrink: boolean;
  traceLines: number;
}

/** Simulated runs last seconds: a short rekey age makes every run move through generations. */
const SIM_REKEY_MS_DEFAULT = 250;

function parseReplyHold(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError(`reply hold must be 0..100 ms, got "${v}"`);
  return n;
}

function intIn(lo: number, hi: number, what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new InvalidArgumentError(`${what} must be an integer ${lo}..${hi}, got "${v}"`);
    return n;
  };
}

function parseLoss(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > LOSS_RATE_MAX) throw new InvalidArgumentError(`loss and corruption must be probabilities 0..${LOSS_RATE_MAX}, got "${v}"`);
  return n;
}

function parseCrypto(v: string): SimCryptoMode {
  if (!(SIM_CRYPTO_MODES as readonly string[]).includes(v)) throw new InvalidArgumentError(`crypto must be one of ${SIM_CRYPTO_MODES.join(', ')}, got "${v}"`);
  return v as SimCryptoMode;
}

function parseVariant(v: string): AttackerVariant {
  if (!(ATTACKER_VARIANTS as readonly string[]).includes(v)) throw new InvalidArgumentError(`attacker must be one of ${ATTACKER_VARIANTS.join(', ')}, got "${v}"`);
  return v as AttackerVariant;
}

function parseRange(v: string): { from: number; to: number } {
  const r = parseSeedRange(v);
  if (r === undefined) throw new InvalidArgumentError(`seeds must be A..B with 0 <= A <= B <= 4294967295, got "${v}"`);
  return r;
}

/** The fault mix: the flags given, or (no fault flag at all) drawn from each seed. */
function specOf(f: SimFlags): SimSpec {
  const explicit = f.loss !== undefined || f.partitions === true || f.crashes === true;
  const spec: SimSpec = {};
  if (f.daemons !== undefined) spec.daemons = f.daemons;
  if (f.steps !== undefined) spec.steps = f.steps;
  if (f.messagesPerSecond !== undefined) spec.messagesPerSecond = f.messagesPerSecond;
  if (f.corrupt !== undefined) spec.corruptionRate = f.corrupt;
  if (f.accelerated !== undefined) spec.acceleratedWindowPacketsMax = f.accelerated;
  if (f.replyHold !== undefined) spec.replyHoldMs = f.replyHold;
  if (f.crypto !== undefined) spec.overrides = { ...spec.overrides, crypto: f.crypto };
  if (f.epochKeys === true) {
    spec.overrides = { ...spec.overrides, crypto: f.crypto ?? 'encrypt', epochKeys: { rekeyMs: f.rekeyMs ?? SIM_REKEY_MS_DEFAULT, rekeyPackets: 1_000_000 } };
  }
  if (explicit) {
    spec.lossRate = f.loss ?? 0;
    spec.partitions = f.partitions === true;
    spec.crashes = f.crashes === true;
  }
  return spec;
}

function resultJson(r: SeedResult, wallMs: number): Record<string, unknown> {
  const o = r.run.options;
  return {
    seed: r.run.seed,
    ok: !r.failed,
    violated: [...r.check.violated, ...(r.keys?.violated ?? [])],
    violations: r.check.violations,
    ...(r.keys ? { keyViolations: r.keys.violations, keyStats: r.keys.stats } : {}),
    daemons: Object.fromEntries([...r.run.names].map(([id, n]) => [n, id >>> 0])),
    mix: { partitions: o.faults.partitions, crashes: o.faults.crashes, lossBursts: o.faults.lossBursts, loss: o.network.lossRate, steps: o.steps, accelerated: o.acceleratedWindowPacketsMax ?? 0, replyHoldMs: o.replies?.replyHoldMs ?? 0 },
    schedule: r.run.schedule,
    stats: r.check.stats,
    settled: r.run.history.quiescent,
    simulatedMs: r.run.history.endAtMs,
    events: r.run.eventsProcessed,
    packets: r.run.packets,
    logHash: r.run.logHash,
    wallMs: Math.round(wallMs),
  };
}

export function registerSimCommand(program: Command, engineFactory: EngineFactory = totemEngineFactory): Command {
  return program
    .command('sim')
    .description(
      'Deterministic fault simulation of the Totem engine with an extended virtual synchrony checker. ' +
        'Without --loss/--partitions/--crashes, each seed draws its own fault mix and size.',
    )
    .option('--seed <n>', 'run one seed', intIn(0, 0xffffffff, 'seed'))
    .option('--seeds <A..B>', 'sweep seeds A to B inclusive; exit status 1 if any fails', parseRange)
    .option('--daemons <n>', 'number of daemons (3..12)', intIn(3, 12, 'daemons'))
    .option('--steps <k>', 'fault steps in the faulty phase (0..200)', intIn(0, 200, 'steps'))
    .option('--loss <p>', `base packet loss 0..${LOSS_RATE_MAX}, with loss bursts`, parseLoss)
    .option('--partitions', 'partitions into components, merges and heals')
    .option('--crashes', 'crashes, clean leaves and restarts')
    .option('--messages-per-second <n>', 'client messages per second per daemon (0..2000)', intIn(0, 2000, 'messages per second'))
    .option('--corrupt <p>', 'damage packets with probability p (0..0.2); then only engine errors fail a seed, as crypto would drop them', parseLoss)
    .option('--crypto <mode>', `protect every packet between the daemons: ${SIM_CRYPTO_MODES.join('|')}`, parseCrypto)
    .option('--epoch-keys', 'per-configuration epoch keys on every daemon (implies --crypto encrypt unless given); the key checker judges who held which secret')
    .option('--rekey-ms <n>', `with --epoch-keys: rekey age in simulated ms (default ${SIM_REKEY_MS_DEFAULT})`, intIn(10, 1_000_000, 'rekey ms'))
    .option('--groups', 'process groups: client sessions join, leave and send; the group view checker judges what they received')
    .option('--attacker <variant>', `run each seed without and with an attacker (${ATTACKER_VARIANTS.join('|')}) that must change nothing`, parseVariant)
    .option('--attack-misdirect', 'the attacker also replays packets to daemons that never received them')
    .option('--attack-across-restarts', 'the attacker also replays to a restarted daemon what its earlier incarnation received')
    .option('--accelerated <n>', 'Accelerated Ring window: packets sent after the token per visit (0: plain Totem; default: drawn from each seed)', intIn(0, 20, 'accelerated window'))
    .option('--reply-hold <ms>', 'request/response clients with reply-anticipating token holds of this many simulated ms (0: none; default: drawn from each seed)', parseReplyHold)
    .option('--json', 'print JSON')
    .option('--no-shrink', 'do not shrink a failing single-seed run')
    .option('--trace-lines <n>', 'longest trace printed per violation', intIn(10, 100_000, 'trace lines'), 150)
    .action(async (flags: SimFlags) => {
      const spec = specOf(flags);
      if ((flags.crypto !== undefined && flags.crypto !== 'none') || flags.epochKeys === true) await initCrypto();
      if (flags.groups === true || flags.attacker !== undefined) {
        const range = flags.seeds ?? { from: flags.seed ?? 1, to: flags.seed ?? 1 };
        runExtended(range.from, range.to, spec, flags, engineFactory, flagsText(flags));
      } else if (flags.seeds !== undefined) {
        runSweep(flags, spec, engineFactory);
      } else {
        runOne(flags.seed ?? 1, flags, spec, engineFactory);
      }
    });
}

function runOne(seed: number, flags: SimFlags, spec: SimSpec, engineFactory: EngineFactory): void {
  const started = performance.now();
  const r = runSeed(seed, spec, engineFactory);
  const wallMs = performance.now() - started;
  let shrunk: SeedResult | undefined;
  let shrinkNote = '';
  const firstViolation = mainViolation(r, spec);
  if (r.failed && flags.shrink && firstViolation !== undefined && r.run.schedule.length > 1) {
    const s = shrinkFailure(buildOptions(seed, spec, engineFactory), firstViolation.property, r.run.schedule);
    if (s !== undefined && s.actions.length < s.originalActions) {
      shrunk = { run: s.run, check: s.check, failed: true };
      shrinkNote = `shrunk: ${firstViolation.property} still fails with ${s.actions.length} of ${s.originalActions} fault actions (${s.reruns} re-runs)`;
    }
  }
  if (flags.json === true) {
    const out: Record<string, unknown> = resultJson(r, wallMs);
    if (shrunk !== undefined) out['shrunk'] = resultJson(shrunk, 0);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatReport(r.run, r.check, { linesMax: flags.traceLines })}\n`);
    process.stdout.write(`  wall time ${(wallMs / 1000).toFixed(3)} s\n`);
    if (shrunk !== undefined) {
      process.stdout.write(`\n${shrinkNote}\n${formatReport(shrunk.run, shrunk.check, { linesMax: flags.traceLines })}\n`);
    }
  }
  if (r.failed) process.exitCode = 1;
}

function runSweep(flags: SimFlags, spec: SimSpec, engineFactory: EngineFactory): void {
  const { from, to } = flags.seeds!;
  const total = to - from + 1;
  const started = performance.now();
  let done = 0;
  const progressEvery = Math.max(1, Math.min(100, Math.floor(total / 20)));
  const summary = sweep(from, to, spec, engineFactory, {
    onResult: (seed, r) => {
      done++;
      if (r.failed && flags.json !== true) {
        const first = prettify(mainViolation(r, spec)?.description ?? '', r.run.names);
        process.stdout.write(`seed ${seed}: VIOLATED ${r.check.violated.join(', ')}: ${first}\n`);
        process.stdout.write(`  reproduce: ringcast sim --seed ${seed}${flagsText(flags)}\n`);
      }
      if (done % progressEvery === 0 || done === total) {
        const elapsed = (performance.now() - started) / 1000;
        process.stderr.write(`  ${done}/${total} seeds, ${elapsed.toFixed(1)} s, ${(elapsed / done).toFixed(3)} s/seed\n`);
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  if (flags.json === true) {
    process.stdout.write(`${JSON.stringify({ from, to, ...summary, wallSeconds: seconds, secondsPerSeed: seconds / summary.seeds }, null, 2)}\n`);
  } else {
    process.stdout.write(
      `seeds ${from}..${to}: ${summary.seeds - summary.failures.length} passed, ${summary.failures.length} failed; ` +
        `${summary.settled} settled; ${summary.messages} messages, ${summary.deliveries} deliveries, ${summary.configurations} configurations; ` +
        (summary.replyHolds > 0 ? `${summary.replyHolds} reply holds (${summary.replyHoldHits} ended by the answer); ` : '') +
        `${(seconds).toFixed(1)} s (${(seconds / summary.seeds).toFixed(3)} s/seed)\n`,
    );
    if (summary.failures.length > 0) {
      process.stdout.write(`failing seeds: ${summary.failures.map((f) => `${f.seed} (${f.violated.join(',')})`).join(' ')}\n`);
    }
  }
  if (summary.failures.length > 0) process.exitCode = 1;
}

/** The violation that fails the seed: with damaged packets only an engine error does. */
function mainViolation(r: SeedResult, spec: SimSpec): Violation | undefined {
  if ((spec.corruptionRate ?? 0) > 0) return r.check.violations.find((v) => v.property === 'engine-error');
  return r.check.violations[0];
}

function flagsText(f: SimFlags): string {
  const parts: string[] = [];
  if (f.daemons !== undefined) parts.push(`--daemons ${f.daemons}`);
  if (f.steps !== undefined) parts.push(`--steps ${f.steps}`);
  if (f.loss !== undefined) parts.push(`--loss ${f.loss}`);
  if (f.partitions === true) parts.push('--partitions');
  if (f.crashes === true) parts.push('--crashes');
  if (f.messagesPerSecond !== undefined) parts.push(`--messages-per-second ${f.messagesPerSecond}`);
  if (f.corrupt !== undefined) parts.push(`--corrupt ${f.corrupt}`);
  if (f.crypto !== undefined) parts.push(`--crypto ${f.crypto}`);
  if (f.epochKeys === true) parts.push('--epoch-keys');
  if (f.rekeyMs !== undefined) parts.push(`--rekey-ms ${f.rekeyMs}`);
  if (f.accelerated !== undefined) parts.push(`--accelerated ${f.accelerated}`);
  if (f.replyHold !== undefined) parts.push(`--reply-hold ${f.replyHold}`);
  if (f.groups === true) parts.push('--groups');
  if (f.attacker !== undefined) parts.push(`--attacker ${f.attacker}`);
  if (f.attackMisdirect === true) parts.push('--attack-misdirect');
  if (f.attackAcrossRestarts === true) parts.push('--attack-across-restarts');
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}
