/**
 * Minimal failing traces: the run's log cut down to what concerns a violation (its daemons, its
 * messages, the faults), with daemon ids shown by their short names.
 */
import type { DaemonId } from '../util/ids.js';
import type { CheckResult, Violation } from './checker.js';
import { describeFault } from './faults.js';
import { INCARNATION_EPOCH_MS, type LogEntry, type SimRun } from './simulator.js';

/**
 * Shorten a text for people: raw daemon ids (8 to 10 digits, as drawn by the simulator) become
 * their names, and numbers counted from the incarnation epoch (incarnations, and ring seqs that
 * engines start from them) become `e+N`.
 */
export function prettify(text: string, names: ReadonlyMap<DaemonId, string>): string {
  return text
    .replace(/(?<!\d)\d{13}(?!\d)/g, (m) => {
      const n = Number(m) - INCARNATION_EPOCH_MS;
      return n >= 0 && n < 1e9 ? `e+${n}` : m;
    })
    .replace(/(?<!\d)\d{8,10}(?!\d)/g, (m) => names.get(Number(m)) ?? m);
}

export interface TraceOptions {
  /** Keep at most this many lines (the latest ones). Default 150. */
  linesMax?: number;
}

/** The log entries relevant to one violation, oldest first. */
export function relevantEntries(run: SimRun, v: Violation): LogEntry[] {
  const daemons = new Set(v.daemons.map((d) => d >>> 0));
  const messages = new Set(v.messages);
  const untilMs = v.atMs ?? Infinity;
  return run.log.filter((e) => {
    if (e.atMs > untilMs) return false;
    const atInvolved = e.daemon !== undefined && daemons.has(e.daemon >>> 0);
    switch (e.kind) {
      case 'fault':
      case 'error':
        return true;
      case 'phase':
        return e.daemon === undefined || atInvolved;
      case 'config':
        return atInvolved || daemons.size === 0;
      case 'deliver':
      case 'submit':
        return (e.messages ?? []).some((m) => messages.has(m)) && (atInvolved || e.kind === 'submit');
      case 'packet':
        return atInvolved;
    }
  });
}

export function formatTrace(run: SimRun, v: Violation, o: TraceOptions = {}): string[] {
  const linesMax = o.linesMax ?? 150;
  const entries = relevantEntries(run, v);
  const lines = entries.map((e) => `${e.atMs.toFixed(3).padStart(10)} ms  ${prettify(e.text, run.names)}`);
  if (lines.length > linesMax) {
    const omitted = lines.length - linesMax;
    return [`  (${omitted} earlier lines omitted)`, ...lines.slice(omitted)];
  }
  return lines;
}

/** A readable report of a checked run: seed, verdict, and for each violation its trace. */
export function formatReport(run: SimRun, check: CheckResult, o: TraceOptions = {}): string {
  const out: string[] = [];
  const h = run.history;
  const opt = run.options;
  out.push(
    `seed ${run.seed}: ${check.ok ? 'ok' : `VIOLATED ${check.violated.join(', ')}`}`,
    `  daemons ${opt.daemons} (${[...run.names].map(([id, n]) => `${n}=${id >>> 0}`).join(' ')}); e = ${INCARNATION_EPOCH_MS} ms, the simulated wall clock at time 0`,
    `  faults: partitions=${opt.faults.partitions} crashes=${opt.faults.crashes} lossBursts=${opt.faults.lossBursts} loss=${opt.network.lossRate} steps=${opt.steps}`,
    `  simulated ${h.endAtMs.toFixed(0)} ms, healed at ${h.healAtMs ?? '-'} ms, ${h.quiescent ? 'settled' : 'did not settle'}; ${run.eventsProcessed} events, ${run.packets.sent} packets sent, ${run.packets.dropped} dropped`,
    `  ${check.stats.submitted} messages submitted, ${check.stats.deliveries} deliveries, ${check.stats.configurations} configurations, ${check.stats.incarnations} incarnations; log hash ${run.logHash}`,
  );
  if (run.schedule.length > 0) {
    out.push(`  schedule:`);
    const name = (i: number): string => `d${i}`;
    for (const a of run.schedule) out.push(`    ${a.atMs.toFixed(0).padStart(6)} ms  ${describeFault(a, name)}`);
  }
  for (const v of check.violations) {
    out.push('', `VIOLATION ${v.property}: ${prettify(v.description, run.names)}`);
    if (v.messages.length > 0) out.push(`  messages: ${v.messages.map((m) => prettify(m, run.names)).join(' ')}`);
    if (v.configurations.length > 0) out.push(`  configurations: ${v.configurations.map((c) => prettify(c, run.names)).join(' ')}`);
    out.push(`  trace (faults, and configurations and deliveries of the daemons and messages involved):`);
    out.push(...formatTrace(run, v, o).map((l) => `  ${l}`));
  }
  return out.join('\n');
}
