/**
 * The engine's side of per-configuration keys (FormationKeys), with stand-in schedules: who is
 * asked for what in the commit token's rotations, and what happens when a member or the
 * representative cannot take part.
 */
import { describe, expect, it } from 'vitest';
import type { FormationKeys, RingEvent } from '../../src/ring/types.js';
import type { DaemonId, RingId } from '../../src/util/ids.js';
import { Harness } from './harness.js';

/** A stand-in schedule: one-byte fields; a sealed field opens when it is [7]. */
function stubKeys(log: string[], self: DaemonId): FormationKeys {
  return {
    recoveredOverheadBytes: 0,
    contribute: () => new Uint8Array([self]),
    distribute: (_now, _ring, members) => ({ ok: true, sealed: new Map(members.filter((m) => m.id !== self).map((m) => [m.id, new Uint8Array([7])])) }),
    accept: (_now, ring: RingId, _members, _fields, sealed) => {
      const ok = ring.rep === self || (sealed.length === 1 && sealed[0] === 7);
      log.push(`${self} ${ok ? 'accepts' : 'refuses'} ${ring.rep}.${ring.seq}`);
      return ok;
    },
    abandon: () => undefined,
    installed: () => undefined,
    tokenGeneration: () => undefined,
    rekeyDue: () => false,
    sealRecovered: (_r, plain) => plain,
    openRecovered: (_r, _s, sealed) => sealed,
  };
}

function lastRegular(h: Harness, id: DaemonId): Extract<RingEvent, { type: 'regular' }> | undefined {
  const evs = (h.events.get(id) ?? []).filter((e): e is Extract<RingEvent, { type: 'regular' }> => e.type === 'regular');
  return evs[evs.length - 1];
}

describe('formation keys in the Totem engine', () => {
  it('every member accepts the forming ring before the ring carries traffic', () => {
    const log: string[] = [];
    const h = new Harness({ ids: [1, 2, 3], seed: 5, perNode: (id) => ({ formationKeys: stubKeys(log, id) }) });
    h.startAll();
    h.run(600);
    for (const id of [1, 2, 3]) expect(lastRegular(h, id)?.members).toEqual([1, 2, 3]);
    expect(log.filter((l) => l.includes('refuses'))).toEqual([]);
    expect(log.filter((l) => l.endsWith(`${lastRegular(h, 1)!.ring.rep}.${lastRegular(h, 1)!.ring.seq}`)).length).toBe(3);
  });

  it('a representative whose sealed fields nobody can open is left out at once, not followed round after round', () => {
    const log: string[] = [];
    // Daemon 1 (the lowest id, so the representative of any ring with it) runs no key schedule.
    const h = new Harness({ ids: [1, 2, 3], seed: 5, perNode: (id) => (id === 1 ? {} : { formationKeys: stubKeys(log, id) }) });
    h.startAll();
    h.run(1500);
    for (const id of [2, 3]) expect(lastRegular(h, id)?.members).toEqual([2, 3]);
    // Each of 2 and 3 refused daemon 1's formation, then gathered without it; a later merge
    // attempt may be refused again, but not one refusal per consensus timeout.
    const refusals = log.filter((l) => l.includes('refuses'));
    expect(refusals.length).toBeGreaterThan(0);
    expect(h.node(2).stats().formationsRefused).toBeLessThanOrEqual(3);
  });
});
