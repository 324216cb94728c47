/**
 * Membership packet formats (Totem §4): join messages (gather), merge probes (foreign message
 * detection between partitioned rings) and the commit token. Same header, reader and writer as
 * the ring packets (src/ring/wire.ts); the same strictness: undefined on anything malformed.
 *
 * Layouts (after the 16-byte header; ring = rep u32 + seq u53):
 *   JOIN    ring (sender's regular ring) | ringSeqMax u53 | flags u8 (1 = leave)
 *           | proc count u16 | (id u32, incarnation u53)* | fail count u16 | id u32*
 *   PROBE   ring
 *   COMMIT  new ring | tokenSeq u53 | rotation u8 (1|2) | member count u16 | per member, ids
 *           strictly ascending: id u32 | incarnation u53 | filled u8 | old ring | old aru u53
 *           | old high u53 | old safe u53 | old delivered u53 | form length u16 (≤ 1024) | form
 *           | sealed length u16 (≤ 1024) | sealed (written by the representative for the
 *           second rotation: the member's copy of the new epoch secret; empty otherwise)
 */
import type { DaemonId, RingId } from '../util/ids.js';
import { FORM_FIELD_BYTES_MAX } from '../ring/types.js';
import { HEADER_BYTES, PacketType, Reader, Writer } from '../ring/wire.js';

/** Bound on processors named in one membership packet. */
export const MEMBERS_MAX = 1024;

export const JOIN_FLAG_LEAVE = 1;

/** Totem §4.2 join message. */
export interface JoinMessage {
  /** The sender's current regular ring. */
  ring: RingId;
  /** Highest ring seq the sender knows of: the new ring's seq exceeds every member's. */
  ringSeqMax: number;
  /** The sender announces its own departure (it is in its fail set). */
  leave: boolean;
  /** Proc set: processor id → incarnation. */
  procs: Map<DaemonId, number>;
  fails: Set<DaemonId>;
}

/** Per-member field of the commit token (Totem §4.3). */
export interface CommitEntry {
  id: DaemonId;
  incarnation: number;
  filled: boolean;
  oldRing: RingId;
  /** my_aru on the old ring when the member filled its entry. */
  oldAru: number;
  /** Highest old-ring seq the member had received. */
  oldHigh: number;
  /** The member's safe line on the old ring. */
  oldSafe: number;
  /** Highest old-ring seq the member had delivered. */
  oldDelivered: number;
  form: Uint8Array;
  /** The representative's second-rotation field for this member (FormationKeys.distribute). */
  sealed: Uint8Array;
}

/** Totem §4.3 commit token. */
export interface CommitToken {
  ring: RingId;
  /** Hop counter, for duplicate detection; the first regular token continues it. */
  tokenSeq: number;
  /** 1: members fill their entries; 2: every member learns all entries. */
  rotation: number;
  members: CommitEntry[];
}

export function encodeJoin(j: JoinMessage, sender: DaemonId, incarnation: number): Uint8Array {
  const w = new Writer(HEADER_BYTES + 12 + 8 + 1 + 2 + j.procs.size * 12 + 2 + j.fails.size * 4);
  w.header(PacketType.JOIN, sender, incarnation);
  w.ring(j.ring);
  w.u53(j.ringSeqMax);
  w.u8(j.leave ? JOIN_FLAG_LEAVE : 0);
  w.u16(j.procs.size);
  for (const [id, inc] of j.procs) {
    w.u32(id);
    w.u53(inc);
  }
  w.u16(j.fails.size);
  for (const id of j.fails) w.u32(id);
  return w.done();
}

export function decodeJoin(bytes: Uint8Array): JoinMessage | undefined {
  const r = new Reader(bytes, HEADER_BYTES);
  const ring = r.ring();
  const ringSeqMax = r.u53();
  const flags = r.u8();
  const np = r.u16();
  if (!r.ok || (flags & ~JOIN_FLAG_LEAVE) !== 0 || np > MEMBERS_MAX || np * 12 > r.remaining) return undefined;
  const procs = new Map<DaemonId, number>();
  for (let i = 0; i < np; i++) {
    const id = r.u32();
    const inc = r.u53();
    if (!r.ok || procs.has(id)) return undefined;
    procs.set(id, inc);
  }
  const nf = r.u16();
  if (!r.ok || nf > MEMBERS_MAX || nf * 4 !== r.remaining) return undefined;
  const fails = new Set<DaemonId>();
  for (let i = 0; i < nf; i++) fails.add(r.u32());
  if (!r.ok || fails.size !== nf) return undefined;
  return { ring, ringSeqMax, leave: (flags & JOIN_FLAG_LEAVE) !== 0, procs, fails };
}

export function encodeProbe(ring: RingId, sender: DaemonId, incarnation: number): Uint8Array {
  const w = new Writer(HEADER_BYTES + 12);
  w.header(PacketType.PROBE, sender, incarnation);
  w.ring(ring);
  return w.done();
}

export function decodeProbe(bytes: Uint8Array): RingId | undefined {
  const r = new Reader(bytes, HEADER_BYTES);
  const ring = r.ring();
  if (!r.ok || r.remaining !== 0) return undefined;
  return ring;
}

const ENTRY_FIXED_BYTES = 4 + 8 + 1 + 12 + 8 * 4 + 2 + 2;

/** Size of an encoded commit token of `members` members whose fields take the given bytes. */
export function commitTokenBytes(members: number, formBytes: number, sealedBytes: number): number {
  return HEADER_BYTES + 12 + 8 + 1 + 2 + members * (ENTRY_FIXED_BYTES + formBytes + sealedBytes);
}

export function encodeCommit(c: CommitToken, sender: DaemonId, incarnation: number): Uint8Array {
  let size = HEADER_BYTES + 12 + 8 + 1 + 2;
  for (const m of c.members) size += ENTRY_FIXED_BYTES + m.form.length + m.sealed.length;
  const w = new Writer(size);
  w.header(PacketType.COMMIT, sender, incarnation);
  w.ring(c.ring);
  w.u53(c.tokenSeq);
  w.u8(c.rotation);
  w.u16(c.members.length);
  for (const m of c.members) {
    w.u32(m.id);
    w.u53(m.incarnation);
    w.u8(m.filled ? 1 : 0);
    w.ring(m.oldRing);
    w.u53(m.oldAru);
    w.u53(m.oldHigh);
    w.u53(m.oldSafe);
    w.u53(m.oldDelivered);
    w.u16(m.form.length);
    w.bytes(m.form);
    w.u16(m.sealed.length);
    w.bytes(m.sealed);
  }
  return w.done();
}

export function decodeCommit(bytes: Uint8Array): CommitToken | undefined {
  const r = new Reader(bytes, HEADER_BYTES);
  const ring = r.ring();
  const tokenSeq = r.u53();
  const rotation = r.u8();
  const n = r.u16();
  if (!r.ok || (rotation !== 1 && rotation !== 2) || n === 0 || n > MEMBERS_MAX) return undefined;
  if (n * ENTRY_FIXED_BYTES > r.remaining) return undefined;
  const members: CommitEntry[] = [];
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const id = r.u32();
    const incarnation = r.u53();
    const filled = r.u8();
    const oldRing = r.ring();
    const oldAru = r.u53();
    const oldHigh = r.u53();
    const oldSafe = r.u53();
    const oldDelivered = r.u53();
    const formLen = r.u16();
    if (!r.ok || filled > 1 || formLen > FORM_FIELD_BYTES_MAX || id <= prev) return undefined;
    if (oldAru > oldHigh || oldSafe > oldAru || oldDelivered > oldHigh) return undefined;
    const form = r.bytes(formLen).slice();
    const sealedLen = r.u16();
    if (!r.ok || sealedLen > FORM_FIELD_BYTES_MAX) return undefined;
    const sealed = r.bytes(sealedLen).slice();
    if (!r.ok) return undefined;
    prev = id;
    members.push({ id, incarnation, filled: filled === 1, oldRing, oldAru, oldHigh, oldSafe, oldDelivered, form, sealed });
  }
  if (r.remaining !== 0) return undefined;
  return { ring, tokenSeq, rotation, members };
}
