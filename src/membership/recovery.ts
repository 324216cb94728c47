/**
 * Totem §4.4 recovery and the EVS delivery cut, computed from the completed commit token.
 *
 * The members that come from my old ring (the transitional configuration, EVS) exchange the
 * old-ring messages some of them lack, as new-ring messages. Which old seqs to rebroadcast: every
 * seq above the lowest old aru among them, up to the highest seq any of them received; a seq is
 * rebroadcast by the lowest-id member whose aru covers it (it certainly has it), or, when no
 * member's aru covers it, by every member that has it.
 */
import { ringIdEquals, type DaemonId, type RingId } from '../util/ids.js';
import type { RingLog } from '../ring/log.js';
import type { CommitToken } from './wire.js';

export interface RecoveryPlan {
  oldRing: RingId;
  /** EVS transitional configuration: members of my old ring that move with me, ascending. */
  transMembers: DaemonId[];
  /** Lowest old aru among them: every one of them has every seq up to it. */
  lowAru: number;
  /** Highest old seq any of them received: nothing above it is delivered in the old ring. */
  highMax: number;
  /**
   * Highest safe line any of them reached on the old ring: a SAFE message up to it may have been
   * delivered in the old regular configuration by one of them, so all deliver it there.
   */
  safeMax: number;
  /** Old seqs this processor rebroadcasts, ascending. */
  retransmit: number[];
}

/** The plan, or undefined when the token's entry for this processor is not the one it filled in (a damaged or forged token). */
export function planRecovery(c: CommitToken, self: DaemonId, log: RingLog): RecoveryPlan | undefined {
  const trans = c.members.filter((e) => ringIdEquals(e.oldRing, log.ring));
  const me = trans.find((e) => e.id === self);
  if (!me) return undefined;
  let lowAru = Infinity;
  let highMax = 0;
  let safeMax = 0;
  for (const e of trans) {
    lowAru = Math.min(lowAru, e.oldAru);
    highMax = Math.max(highMax, e.oldHigh);
    safeMax = Math.max(safeMax, e.oldSafe);
  }
  const retransmit: number[] = [];
  if (trans.length > 1) {
    // (Nothing above what this log stored can be rebroadcast: the bound is not a token's number.)
    const last = Math.min(highMax, log.highestStored);
    for (let s = lowAru + 1; s <= last; s++) {
      if (!log.get(s)) continue;
      // Entries are in ascending id order (checked on decode).
      const holder = trans.find((e) => e.oldAru >= s);
      if (holder === undefined || holder.id === self) retransmit.push(s);
    }
  }
  return {
    oldRing: log.ring,
    transMembers: trans.map((e) => e.id),
    lowAru,
    highMax,
    safeMax,
    retransmit,
  };
}
