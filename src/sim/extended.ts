/**
 * Runs with the simulator's extensions, for `ringcast sim --crypto/--groups/--attacker`: packet
 * protection, process groups with the group view checker, and the with/without attacker
 * comparison. One seed gives one verdict and a few lines that say why.
 */
import type { AttackerOptions } from './attacker.js';
import { compareWithAttacker } from './attack-check.js';
import { checkHistory, type CheckResult } from './checker.js';
import { checkGroupHistory, type GroupCheckResult, type GroupPropertyName } from './group-checker.js';
import { defaultGroupClientOptions } from './group-views.js';
import { checkEpochKeys, type KeyCheckResult } from './key-checker.js';
import type { SimCryptoMode } from './protected-network.js';
import { buildOptions, type SimSpec } from './runner.js';
import { Simulation, type EngineFactory, type SimRun } from './simulator.js';

export interface ExtendedSpec {
  crypto?: SimCryptoMode;
  groups: boolean;
  attacker?: AttackerOptions;
  /** Group properties not judged (known faults). */
  groupIgnore?: readonly GroupPropertyName[];
}

export interface ExtendedResult {
  seed: number;
  ok: boolean;
  run: SimRun;
  check: CheckResult;
  groups?: GroupCheckResult;
  /** With epoch keys: the key schedule's checks. */
  keys?: KeyCheckResult;
  /** With an attacker: the first difference it made, and what reached the engines. */
  attack?: { difference: string | undefined; delivered: number; accepted: number; rejected: number };
  /** Why the seed failed, one line each. */
  problems: string[];
}

/** The spec with the extensions as overrides (buildOptions applies them last). */
export function extendSpec(spec: SimSpec, x: ExtendedSpec): SimSpec {
  return {
    ...spec,
    overrides: {
      ...spec.overrides,
      ...(x.crypto === undefined ? {} : { crypto: x.crypto }),
      ...(x.groups ? { groups: defaultGroupClientOptions() } : {}),
    },
  };
}

export function runExtendedSeed(seed: number, spec: SimSpec, x: ExtendedSpec, engineFactory: EngineFactory): ExtendedResult {
  const full = extendSpec(spec, x);
  const problems: string[] = [];
  let run: SimRun;
  let check: CheckResult;
  let attack: ExtendedResult['attack'];
  if (x.attacker !== undefined) {
    const c = compareWithAttacker(seed, full, engineFactory, x.attacker);
    run = c.attacked.run;
    check = c.attacked.check;
    attack = { difference: c.difference, delivered: c.attackDelivered, accepted: c.attackAccepted, rejected: c.rejected };
    if (!c.base.check.ok) problems.push(`without the attacker: ${c.base.check.violated.join(', ')}: ${c.base.check.violations[0]?.description ?? ''}`);
    if (c.difference !== undefined) problems.push(`the attacker changed what the daemons delivered: ${c.difference}`);
    if (c.attackAccepted > 0) problems.push(`${c.attackAccepted} of ${c.attackDelivered} attack packets reached an engine`);
  } else {
    run = new Simulation(buildOptions(seed, full, engineFactory)).run();
    check = checkHistory(run.history);
  }
  if (!check.ok) problems.push(`${check.violated.join(', ')}: ${check.violations[0]?.description ?? ''}`);
  let groups: GroupCheckResult | undefined;
  if (run.groups !== undefined) {
    groups = checkGroupHistory(run.groups, { ignore: x.groupIgnore ?? [] });
    if (!groups.ok) problems.push(`groups ${groups.violated.join(', ')}: ${groups.violations[0]?.description ?? ''}`);
  }
  let keys: KeyCheckResult | undefined;
  if (run.epochKeys !== undefined) {
    keys = checkEpochKeys(run.epochKeys, (id) => run.names.get(id) ?? String(id >>> 0));
    if (!keys.ok) problems.push(`keys ${keys.violated.join(', ')}: ${keys.violations[0]?.description ?? ''}`);
  }
  return { seed, ok: problems.length === 0, run, check, ...(groups === undefined ? {} : { groups }), ...(keys === undefined ? {} : { keys }), ...(attack === undefined ? {} : { attack }), problems };
}
