/**
 * The rules a token holder applies to the regular token (Totem §3.2 and §3.3), as pure functions
 * over the token so they can be tested one by one.
 */
import type { DaemonId } from '../util/ids.js';
import type { RegularToken } from './wire.js';

/**
 * Totem §3.2 token processing: update aru. Lower it to my_aru if mine is lower; if I set it last
 * (or nobody holds it) it follows my_aru, which may raise it. The setter is cleared once aru
 * catches up with seq.
 */
export function updateTokenAru(t: RegularToken, self: DaemonId, myAru: number): void {
  if (myAru < t.aru || t.aruId === self || t.aruId === undefined) {
    t.aru = Math.min(myAru, t.seq);
    t.aruId = t.aru === t.seq ? undefined : self;
  }
  if (t.aru > t.seq) throw new Error(`token invariant broken: aru ${t.aru} > seq ${t.seq}`);
}

/**
 * Totem §3.2: answer retransmission requests. Removes from the token every request `have`
 * can serve and returns those seqs (the caller rebroadcasts them), at most `max`.
 */
export function takeServableRtr(t: RegularToken, have: (seq: number) => boolean, max: number): number[] {
  if (t.rtr.length === 0) return [];
  const served: number[] = [];
  const kept: number[] = [];
  for (const s of t.rtr) {
    if (served.length < max && have(s)) served.push(s);
    else kept.push(s);
  }
  t.rtr = kept;
  return served;
}

/** Totem §3.2: add my missing seqs to the request list, without duplicates, up to `max` entries. */
export function addRtr(t: RegularToken, missing: readonly number[], max: number): void {
  if (missing.length === 0 || t.rtr.length >= max) return;
  const present = new Set(t.rtr);
  for (const s of missing) {
    if (t.rtr.length >= max) break;
    if (!present.has(s)) {
      t.rtr.push(s);
      present.add(s);
    }
  }
}

export interface FlowInput {
  /** The token's fcc on arrival: packets broadcast during the last rotation, mine included. */
  tokenFcc: number;
  /** What I added to fcc on my previous visit. */
  myPreviousFcc: number;
  /** Packets I rebroadcast on this visit (they count against the window). */
  retransmitted: number;
  /** Token backlog on arrival and my contribution to it on my previous visit. */
  tokenBacklog: number;
  myPreviousBacklog: number;
  /** Messages waiting here now. */
  myBacklog: number;
  windowPacketsMax: number;
  personalWindowPacketsMax: number;
  /** Token seq and aru: new packets never run more than `outstandingPacketsMax` past aru. */
  seq: number;
  aru: number;
  outstandingPacketsMax: number;
}

/**
 * Totem §3.3 flow control: the number of new packets the holder may broadcast on this visit.
 * At most the personal window; the whole rotation within the window (fcc counts the packets
 * sent in the last rotation); the window shared in proportion to the backlogs when it is
 * contended; and never more than a bound beyond the aru, so that retransmission buffers stay bounded.
 */
export function allowedNewPackets(f: FlowInput): number {
  if (f.myBacklog === 0) return 0;
  const others = Math.max(0, f.tokenFcc - f.myPreviousFcc);
  let allowed = Math.min(f.personalWindowPacketsMax, f.windowPacketsMax - others - f.retransmitted);
  const othersBacklog = Math.max(0, f.tokenBacklog - f.myPreviousBacklog);
  const totalBacklog = othersBacklog + f.myBacklog;
  if (totalBacklog > f.windowPacketsMax) {
    const share = Math.ceil((f.windowPacketsMax * f.myBacklog) / totalBacklog);
    allowed = Math.min(allowed, share);
  }
  allowed = Math.min(allowed, f.aru + f.outstandingPacketsMax - f.seq);
  return Math.max(0, allowed);
}
