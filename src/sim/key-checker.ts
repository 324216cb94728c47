/**
 * Checks of the key schedule over a simulated run (keys/epoch-schedule.ts), alongside the EVS
 * checker: epoch secrets go only to the members of their configuration, every member holds the
 * same one, daemons outside a configuration cannot open its packets, and old secrets are erased
 * on schedule.
 *
 * - epoch-secret-confined: a daemon holds a configuration's epoch secret only if the
 *   representative sealed that configuration's secret to it (it is a member).
 * - epoch-secret-agreement: every holder of a configuration's generation has the same secret
 *   (by fingerprint), and generation 0 is the one the representative distributed.
 * - epoch-outsider-unreadable: packets sealed under a configuration's epoch, offered to every
 *   running daemon outside it, open at none of them.
 * - epoch-erasure: a daemon never holds keys of more than two configurations at once (the one
 *   it has installed and the one forming); older ones were erased when recovery completed.
 */
import type { EpochKeyHistory } from './protected-network.js';
import type { DaemonId } from '../util/ids.js';

export const KEY_PROPERTIES = ['epoch-secret-confined', 'epoch-secret-agreement', 'epoch-outsider-unreadable', 'epoch-erasure'] as const;
export type KeyPropertyName = (typeof KEY_PROPERTIES)[number];

export interface KeyViolation {
  property: KeyPropertyName;
  description: string;
  atMs: number;
}

export interface KeyCheckResult {
  ok: boolean;
  violated: KeyPropertyName[];
  violations: KeyViolation[];
  stats: { configurationsKeyed: number; secretsHeld: number; outsiderProbes: number; sealRefused: number };
}

const VIOLATIONS_PER_PROPERTY_MAX = 5;

function ringText(r: { rep: number; seq: number }): string {
  return `${r.rep >>> 0}.${r.seq}`;
}

export function checkEpochKeys(h: EpochKeyHistory, nameOf: (id: DaemonId) => string = (id) => String(id >>> 0)): KeyCheckResult {
  const violations: KeyViolation[] = [];
  const count = new Map<KeyPropertyName, number>();
  const report = (property: KeyPropertyName, atMs: number, description: string): void => {
    const n = count.get(property) ?? 0;
    count.set(property, n + 1);
    if (n < VIOLATIONS_PER_PROPERTY_MAX) violations.push({ property, atMs, description });
  };

  // Per (daemon incarnation): configurations held now; per (ring, generation): the fingerprint seen first.
  const holding = new Map<string, Map<string, number>>();
  const fingerprintOf = new Map<string, string>();
  let secretsHeld = 0;
  for (const e of h.events) {
    const who = `${e.daemon >>> 0}#${e.incarnation}`;
    const ring = ringText(e.ring);
    let held = holding.get(who);
    if (!held) holding.set(who, (held = new Map()));
    if (e.kind === 'erase') {
      const n = (held.get(ring) ?? 1) - 1;
      if (n <= 0) held.delete(ring);
      else held.set(ring, n);
      continue;
    }
    secretsHeld++;
    held.set(ring, (held.get(ring) ?? 0) + 1);
    const d = h.distributed.get(ring);
    if (!d) report('epoch-secret-confined', e.atMs, `${nameOf(e.daemon)} holds a secret of configuration ${ring}, which no representative keyed`);
    else if (!d.members.some((m) => m >>> 0 === e.daemon >>> 0)) report('epoch-secret-confined', e.atMs, `${nameOf(e.daemon)} holds generation ${e.generation} of configuration ${ring}, whose members are ${d.members.map(nameOf).join(', ')}`);
    if (d && e.generation === 0 && d.fingerprint !== e.fingerprint) report('epoch-secret-agreement', e.atMs, `${nameOf(e.daemon)} holds ${e.fingerprint} as generation 0 of ${ring}; its representative distributed ${d.fingerprint}`);
    const key = `${ring}/${e.generation}`;
    const first = fingerprintOf.get(key);
    if (first === undefined) fingerprintOf.set(key, e.fingerprint);
    else if (first !== e.fingerprint) report('epoch-secret-agreement', e.atMs, `${nameOf(e.daemon)} holds ${e.fingerprint} as generation ${e.generation} of ${ring}; another member holds ${first}`);
    if (held.size > 2) report('epoch-erasure', e.atMs, `${nameOf(e.daemon)} holds keys of ${held.size} configurations at once: ${[...held.keys()].join(', ')}`);
  }
  for (const o of h.outsiderOpened) {
    report('epoch-outsider-unreadable', o.atMs, `${nameOf(o.daemon)}, outside configuration ${ringText(o.ring)}, opened a packet of its generation ${o.generation}`);
  }
  const violated = [...count.keys()].sort();
  return {
    ok: violated.length === 0,
    violated,
    violations,
    stats: { configurationsKeyed: h.distributed.size, secretsHeld, outsiderProbes: h.outsiderProbes, sealRefused: h.sealRefused },
  };
}
