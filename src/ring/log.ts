/**
 * The packets of one ring, keyed by sequence number, with the per-processor counters of Totem §3:
 * my_aru (every seq up to it received), the highest seq known, how far delivery has gone, and how
 * far every member is known to have received (the safe line). Packets are discarded once they
 * are delivered here and received by every member, which bounds the log together with the
 * window (a sender never runs more than a bounded distance ahead of the token's aru).
 */
import type { RingId } from '../util/ids.js';
import type { DataPacket } from './wire.js';

export interface StoredPacket {
  pkt: DataPacket;
  /** The packet as broadcast, for retransmission. */
  bytes: Uint8Array;
}

export class RingLog {
  private store = new Map<number, StoredPacket>();
  /** Totem my_aru: every seq ≤ aru has been received (or discarded after delivery by all). */
  aru = 0;
  /** Highest seq known to have been assigned on this ring. */
  high = 0;
  /** Highest seq whose packet has been through delivery. */
  delivered = 0;
  /** Every member has received every seq ≤ safe (Totem safe delivery line). */
  safe = 0;
  /** Every seq ≤ discarded has been dropped from the store. */
  private discarded = 0;
  /**
   * Highest seq ever stored. Unlike `high`, which tokens and commit tokens raise, it is bounded by
   * what was received: loops over seqs stop here, not at a number a damaged packet named.
   */
  highestStored = 0;

  constructor(
    readonly ring: RingId,
    /** Packets further than this beyond aru are refused (bounds the store against bad peers). */
    private readonly aheadPacketsMax: number,
  ) {}

  get size(): number {
    return this.store.size;
  }

  has(seq: number): boolean {
    return seq <= this.discarded || this.store.has(seq);
  }

  get(seq: number): StoredPacket | undefined {
    return this.store.get(seq);
  }

  /** Insert a received (or own) packet; false if duplicate or out of bounds. */
  insert(pkt: DataPacket, bytes: Uint8Array): boolean {
    const seq = pkt.seq;
    if (seq <= this.discarded || seq > this.aru + this.aheadPacketsMax) return false;
    if (this.store.has(seq)) return false;
    this.store.set(seq, { pkt, bytes });
    if (seq > this.high) this.high = seq;
    if (seq > this.highestStored) this.highestStored = seq;
    if (seq === this.aru + 1) {
      let a = seq;
      while (this.store.has(a + 1)) a++;
      this.aru = a;
    }
    return true;
  }

  noteHigh(seq: number): void {
    if (seq > this.high) this.high = seq;
  }

  /** Seqs in (aru, high] not received, at most `max` of them, ascending. */
  missing(max: number): number[] {
    const out: number[] = [];
    for (let s = this.aru + 1; s <= this.high && out.length < max; s++) {
      if (!this.store.has(s)) out.push(s);
    }
    return out;
  }

  /** Raise the safe line (it never goes down) and drop what is delivered and safe. */
  raiseSafe(safe: number): void {
    if (safe > this.safe) this.safe = Math.min(safe, this.aru);
    const limit = Math.min(this.safe, this.delivered);
    while (this.discarded < limit) {
      this.discarded++;
      this.store.delete(this.discarded);
    }
  }
}
