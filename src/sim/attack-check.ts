/**
 * Does an attacker change what clients receive? The same seed runs twice, without and with the
 * attacker; the attacker never perturbs the legit schedule (attacker.ts), so any difference in
 * what a daemon delivered, installed or accepted from its clients is the attack's doing.
 */
import { checkHistory, type CheckOptions, type CheckResult } from './checker.js';
import type { History, IncarnationEvent } from './history.js';
import { buildOptions, type SimSpec } from './runner.js';
import { Simulation, type EngineFactory, type SimRun } from './simulator.js';
import type { AttackerOptions } from './attacker.js';
import { ringIdKey } from '../util/ids.js';
import type { GroupHistory } from './group-views.js';

function eventText(e: IncarnationEvent): string {
  switch (e.kind) {
    case 'config':
      return `${e.atMs} ${e.type} ${ringIdKey(e.ring)}${e.previous ? `<${ringIdKey(e.previous)}` : ''} {${e.members.map((m) => m >>> 0).join(',')}}` +
        (e.previousRings ? ` from ${e.previousRings.map((p) => `${p.daemon >>> 0}:${ringIdKey(p.ring)}`).join(',')}` : '');
    case 'deliver':
      return `${e.atMs} deliver ${e.messageId} in ${ringIdKey(e.ring)} seq ${e.seq} from ${e.sender >>> 0}/${e.stream} service ${e.service}${e.payloadProblem ? ` (${e.payloadProblem})` : ''}`;
    case 'submit':
      return `${e.atMs} submit ${e.messageId} service ${e.service} after ${e.deliveredBefore}`;
  }
}

/**
 * The first difference between two histories of the same seed, in words, or undefined if every
 * daemon incarnation installed the same configurations and delivered the same messages at the
 * same times and in the same order.
 */
export function historyDifference(a: History, b: History): string | undefined {
  const n = Math.max(a.incarnations.length, b.incarnations.length);
  for (let i = 0; i < n; i++) {
    const x = a.incarnations[i];
    const y = b.incarnations[i];
    if (x === undefined || y === undefined) return `incarnation ${i} exists in only one run`;
    const who = `${x.daemon >>> 0}#${x.incarnation}`;
    if (x.daemon !== y.daemon || x.incarnation !== y.incarnation) return `incarnation ${i}: ${who} vs ${y.daemon >>> 0}#${y.incarnation}`;
    if (x.endedAtMs !== y.endedAtMs || x.end !== y.end) return `${who} ended ${x.end ?? 'never'} at ${x.endedAtMs ?? '-'} vs ${y.end ?? 'never'} at ${y.endedAtMs ?? '-'}`;
    const m = Math.max(x.events.length, y.events.length);
    for (let j = 0; j < m; j++) {
      const ex = x.events[j];
      const ey = y.events[j];
      const tx = ex === undefined ? '(nothing)' : eventText(ex);
      const ty = ey === undefined ? '(nothing)' : eventText(ey);
      if (tx !== ty) return `${who} event ${j}: ${tx} vs ${ty}`;
    }
  }
  if (a.engineErrors.length !== b.engineErrors.length) return `engine errors: ${a.engineErrors.length} vs ${b.engineErrors.length}`;
  if ((a.aborted ?? '') !== (b.aborted ?? '')) return `aborted: ${a.aborted ?? 'no'} vs ${b.aborted ?? 'no'}`;
  return undefined;
}

/**
 * The first difference between two group histories of the same seed (what every client session
 * received and asked for), or undefined if they are the same.
 */
export function groupHistoryDifference(a: GroupHistory, b: GroupHistory): string | undefined {
  const n = Math.max(a.sessions.length, b.sessions.length);
  for (let i = 0; i < n; i++) {
    const x = a.sessions[i];
    const y = b.sessions[i];
    if (x === undefined || y === undefined) return `session ${i} exists in only one run`;
    if (x.name !== y.name || x.closedAtMs !== y.closedAtMs || x.end !== y.end) return `session ${i}: ${x.name} vs ${y.name} (or it ended differently)`;
    const m = Math.max(x.events.length, y.events.length);
    for (let j = 0; j < m; j++) {
      const tx = JSON.stringify(x.events[j] ?? null);
      const ty = JSON.stringify(y.events[j] ?? null);
      if (tx !== ty) return `${x.name} event ${j}: ${tx} vs ${ty}`;
    }
  }
  if (a.undecodable.length !== b.undecodable.length) return `undecodable frames: ${a.undecodable.length} vs ${b.undecodable.length}`;
  return undefined;
}

export interface CheckedRun {
  run: SimRun;
  check: CheckResult;
}

export interface AttackComparison {
  seed: number;
  base: CheckedRun;
  attacked: CheckedRun;
  /** First difference the attack made in the history, if any. */
  difference: string | undefined;
  /** Attack packets handed to a running daemon, and how many of them reached its engine. */
  attackDelivered: number;
  attackAccepted: number;
  /** Packets the protectors rejected in the attacked run. */
  rejected: number;
}

function total(r: Record<string, number>): number {
  return Object.values(r).reduce((s, x) => s + x, 0);
}

export function compareWithAttacker(seed: number, spec: SimSpec, engineFactory: EngineFactory, attacker: AttackerOptions, check?: CheckOptions): AttackComparison {
  const plainOptions = buildOptions(seed, spec, engineFactory);
  const baseRun = new Simulation(plainOptions).run();
  const attackedRun = new Simulation({ ...buildOptions(seed, spec, engineFactory), attacker }).run();
  const base: CheckedRun = { run: baseRun, check: checkHistory(baseRun.history, check) };
  const attacked: CheckedRun = { run: attackedRun, check: checkHistory(attackedRun.history, check) };
  const stats = attackedRun.attack!;
  return {
    seed,
    base,
    attacked,
    difference:
      historyDifference(baseRun.history, attackedRun.history) ??
      (baseRun.groups !== undefined && attackedRun.groups !== undefined ? groupHistoryDifference(baseRun.groups, attackedRun.groups) : undefined),
    attackDelivered: total(stats.delivered),
    attackAccepted: total(stats.accepted),
    rejected: attackedRun.protection === undefined ? 0 : total(attackedRun.protection.rejected),
  };
}
