/**
 * `ringcast sim --groups` and `--attacker`: runs with the simulator's extensions (see
 * src/sim/extended.ts), one line per failing seed and a summary, or JSON.
 */
import { defaultAttackerOptions, type AttackerVariant, type EngineFactory, type SimCryptoMode, type SimSpec } from '../sim/index.js';
import { runExtendedSeed, type ExtendedResult, type ExtendedSpec } from '../sim/extended.js';

export interface ExtendedFlags {
  crypto?: SimCryptoMode;
  groups?: boolean;
  attacker?: AttackerVariant;
  /** Attacker replays to daemons that never received the packet. */
  attackMisdirect?: boolean;
  /** Attacker replays to a restarted daemon what its earlier incarnation received. */
  attackAcrossRestarts?: boolean;
  json?: boolean;
}

export function extendedSpecOf(f: ExtendedFlags): ExtendedSpec {
  const x: ExtendedSpec = { groups: f.groups === true };
  if (f.crypto !== undefined) x.crypto = f.crypto;
  if (f.attacker !== undefined) {
    x.attacker = { ...defaultAttackerOptions(f.attacker), misdirectReplays: f.attackMisdirect === true, replayAcrossRestarts: f.attackAcrossRestarts === true };
  }
  return x;
}

function resultJson(r: ExtendedResult, wallMs: number): Record<string, unknown> {
  return {
    seed: r.seed,
    ok: r.ok,
    problems: r.problems,
    violated: r.check.violated,
    settled: r.run.history.quiescent,
    stats: r.check.stats,
    ...(r.groups === undefined ? {} : { groups: { violated: r.groups.violated, ignored: r.groups.ignored, stats: r.groups.stats, violations: r.groups.violations.slice(0, 10) } }),
    ...(r.run.protection === undefined ? {} : { protection: r.run.protection }),
    ...(r.keys === undefined ? {} : { keys: { violated: r.keys.violated, stats: r.keys.stats, violations: r.keys.violations } }),
    ...(r.attack === undefined ? {} : { attack: { ...r.attack, byKind: r.run.attack } }),
    wallMs: Math.round(wallMs),
  };
}

/** Runs seeds from..to; sets the exit status to 1 if any fails. */
export function runExtended(from: number, to: number, spec: SimSpec, flags: ExtendedFlags, engineFactory: EngineFactory, reproduce: string): void {
  const x = extendedSpecOf(flags);
  const started = performance.now();
  let failed = 0;
  const results: Record<string, unknown>[] = [];
  for (let seed = from; seed <= to; seed++) {
    const t = performance.now();
    const r = runExtendedSeed(seed, spec, x, engineFactory);
    if (!r.ok) failed++;
    if (flags.json === true) results.push(resultJson(r, performance.now() - t));
    else if (!r.ok || from === to) {
      process.stdout.write(`seed ${seed}: ${r.ok ? 'ok' : 'FAILED'}\n`);
      for (const p of r.problems) process.stdout.write(`  ${p}\n`);
      if (r.groups !== undefined) {
        const g = r.groups.stats;
        process.stdout.write(`  groups: ${g.sessions} sessions, ${g.views} views, ${g.dataDeliveries} data deliveries, ${g.comparedViewPairs} view steps compared, ${g.reusedViewIds} reused view ids\n`);
      }
      if (r.attack !== undefined) {
        process.stdout.write(`  attacker: ${r.attack.delivered} packets delivered, ${r.attack.accepted} reached an engine; protection rejected ${r.attack.rejected} packets\n`);
      }
      if (!r.ok) process.stdout.write(`  reproduce: ringcast sim --seed ${seed}${reproduce}\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const seeds = to - from + 1;
  if (flags.json === true) {
    process.stdout.write(`${JSON.stringify(from === to ? results[0] : { from, to, seeds, failed, wallSeconds: seconds, results }, null, 2)}\n`);
  } else {
    process.stdout.write(`seeds ${from}..${to}: ${seeds - failed} passed, ${failed} failed; ${seconds.toFixed(1)} s (${(seconds / seeds).toFixed(3)} s/seed)\n`);
  }
  if (failed > 0) process.exitCode = 1;
}
