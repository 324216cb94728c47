/**
 * Identifiers shared by the ring, membership, group and simulator cores.
 *
 * A daemon is named by a 32-bit id that every daemon derives identically from the configuration
 * (see src/config). For IPv4 daemons with distinct addresses it is the address as an unsigned
 * integer, as Spread's proc_id is; otherwise a stable hash of the daemon's name. It is what the
 * Spread group_id carries as `memb_id.proc_id`.
 */
export type DaemonId = number;

/**
 * A ring (configuration) identifier, Totem's ring_id: the representative (lowest id of the
 * members) and a ring sequence number strictly greater than any ring id either knew before.
 * For Spread's group_id the pair maps to memb_id = { proc_id: rep, time: seq }.
 */
export interface RingId {
  readonly rep: DaemonId;
  readonly seq: number;
}

export function ringIdEquals(a: RingId, b: RingId): boolean {
  return a.rep === b.rep && a.seq === b.seq;
}

/** Total order on ring ids: seq first, then rep (both unsigned). */
export function compareRingId(a: RingId, b: RingId): number {
  return a.seq !== b.seq ? a.seq - b.seq : a.rep - b.rep;
}

export function ringIdKey(r: RingId): string {
  return `${r.rep >>> 0}.${r.seq}`;
}
