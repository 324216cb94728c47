/**
 * An attacker on the simulated network. It sees a copy of every packet a daemon receives (as it
 * would on a shared segment), records them, and at a high rate sends:
 * - replays of recorded packets, later, to the daemon that received them (and, with
 *   `misdirectReplays`, to daemons that did not: see below);
 * - bit-flipped copies (one to three bits anywhere, header included);
 * - truncated and extended copies;
 * - forgeries: a well-formed protection header claiming a configured sender, epoch 0 and a
 *   counter near the ones it saw, with random bytes after it.
 *
 * Two variants: an `outsider` whose packets come from its own id, which is not in the
 * configuration, and an `impersonator` that spoofs the source of a configured daemon (the one its
 * packet claims to come from). As the UDP transport does, a packet attributed to the receiving
 * daemon itself is never handed to it.
 *
 * A replay to a daemon that already accepted the packet must be refused by its protection. A
 * replay to a daemon that never received the packet cannot be told from a late packet by the
 * protection (the header names the sender, not the recipient): a broadcast the network lost is
 * then delivered late, and a unicast (a token) reaches a daemon it was not addressed to. Those are
 * the `misdirectReplays` runs, kept apart from the runs that must change nothing. Likewise a
 * restarted daemon's new protection starts with empty replay windows, so what its earlier
 * incarnation received is fresh to it: the `replayAcrossRestarts` runs.
 *
 * The attacker draws only from its own PRNG (forked from the seed under its own label), and its
 * packets wait in its own agenda, which the simulator drains before each event of the main one:
 * legit packets, timers and clients are scheduled exactly as in the same seed without it. Only
 * what its packets do at the receivers can change the run, which is what the tests look for.
 */
import { HEADER_BYTES } from '../../crypto/index.js';
import type { DaemonId } from '../util/ids.js';
import { EventQueue } from './event-queue.js';
import { Prng } from './prng.js';

export type AttackerVariant = 'outsider' | 'impersonator';

export const ATTACKER_VARIANTS: readonly AttackerVariant[] = ['outsider', 'impersonator'];

export type AttackKind = 'replay' | 'bitflip' | 'truncate' | 'extend' | 'forge';

export const ATTACK_KINDS: readonly AttackKind[] = ['replay', 'bitflip', 'truncate', 'extend', 'forge'];

export interface AttackerOptions {
  variant: AttackerVariant;
  /** Mean attack packets sent per packet observed. */
  packetsPerObserved: number;
  /** Packets kept for replays (the most recent ones, plus a sample of older ones). */
  recordedPacketsMax: number;
  /** Attack packets go out up to this long after the packet that prompted them, ms. */
  delayMaxMs: number;
  /** Bound on attack packets waiting in the attacker's agenda; beyond it new ones are not sent. */
  queuedPacketsMax: number;
  /**
   * Replay packets to daemons that were not among their recipients (a unicast token to another
   * member, say). Without it, replays go to the original recipients only.
   */
  misdirectReplays: boolean;
  /**
   * Replay packets to a later incarnation of the daemon that received them (it restarted since):
   * its new protection has an empty replay window. Without it such replays are withheld.
   */
  replayAcrossRestarts: boolean;
}

export function defaultAttackerOptions(variant: AttackerVariant): AttackerOptions {
  return { variant, packetsPerObserved: 2, recordedPacketsMax: 512, delayMaxMs: 3000, queuedPacketsMax: 200_000, misdirectReplays: false, replayAcrossRestarts: false };
}

export interface AttackPacket {
  kind: AttackKind;
  /** Receiving daemon (slot index). */
  to: number;
  /** The daemon id the network attributes the packet to (its source address). */
  from: DaemonId;
  bytes: Uint8Array;
  /** A replay to a daemon that was not among the original recipients. */
  misdirected: boolean;
  /** Incarnation of the receiver that accepted the original (replays only). */
  recordedIncarnation: number;
}

export interface AttackStats {
  observed: number;
  /** Attack packets handed to a running daemon, by kind. */
  delivered: Record<AttackKind, number>;
  /** Of those, the ones that got past the receiver's protection to its engine. */
  accepted: Record<AttackKind, number>;
  /** Accepted replays that went to a daemon the original was not sent to. */
  acceptedMisdirected: number;
  /** Accepted replays that reached a later incarnation of the daemon that received the original. */
  acceptedAfterRestart: number;
  /** Replays withheld because the receiver restarted since (replayAcrossRestarts off). */
  withheld: number;
  /** Attack packets not sent because the agenda was full. */
  dropped: number;
}

interface Recorded {
  /** Sender and receiver slots. */
  from: number;
  to: number;
  /** The receiver's incarnation when it accepted the packet. */
  incarnation: number;
  bytes: Uint8Array;
}

const KIND_WEIGHTS: readonly [AttackKind, number][] = [
  ['replay', 4],
  ['bitflip', 2],
  ['truncate', 1],
  ['extend', 1],
  ['forge', 2],
];
const EXTEND_BYTES_MAX = 64;
const FORGED_BODY_BYTES_MAX = 1400;

function zeroByKind(): Record<AttackKind, number> {
  return { replay: 0, bitflip: 0, truncate: 0, extend: 0, forge: 0 };
}

export class Attacker {
  readonly options: AttackerOptions;
  /** The outsider's own id (never a configured daemon's). */
  readonly id: DaemonId;
  private readonly daemons: readonly DaemonId[];
  private readonly rng: Prng;
  private readonly agenda: EventQueue<AttackPacket>;
  private readonly recent: Recorded[] = [];
  private recentNext = 0;
  /** A reservoir sample of everything seen, for replays long after the fact. */
  private readonly old: Recorded[] = [];
  readonly stats: AttackStats = { observed: 0, delivered: zeroByKind(), accepted: zeroByKind(), acceptedMisdirected: 0, acceptedAfterRestart: 0, withheld: 0, dropped: 0 };

  constructor(seed: number, daemons: readonly DaemonId[], options: AttackerOptions) {
    if (!(options.packetsPerObserved >= 0) || !(options.delayMaxMs >= 0) || !(options.recordedPacketsMax >= 1)) {
      throw new RangeError('attacker rate, delay and recording bound must be non-negative (recording at least 1)');
    }
    if (daemons.length < 1) throw new RangeError('an attacker needs a configuration to attack');
    this.options = options;
    this.daemons = daemons;
    this.rng = new Prng(seed).fork('attacker');
    let id = this.rng.nextU32();
    while (daemons.includes(id) || id === 0) id = this.rng.nextU32();
    this.id = id;
    this.agenda = new EventQueue<AttackPacket>(options.queuedPacketsMax);
  }

  /** Time of the next attack packet, if any. */
  nextAt(): number | undefined {
    return this.agenda.peekTime();
  }

  /** The next attack packet due at or before `atMs`. */
  popDue(atMs: number): { atMs: number; packet: AttackPacket } | undefined {
    const t = this.agenda.peekTime();
    if (t === undefined || t > atMs) return undefined;
    const next = this.agenda.pop()!;
    return { atMs: next.atMs, packet: next.item };
  }

  /** Whether to hand a due packet to the receiver, now running `incarnation`. */
  admit(p: AttackPacket, incarnation: number): boolean {
    if (p.kind !== 'replay' || p.misdirected || this.options.replayAcrossRestarts || incarnation === p.recordedIncarnation) return true;
    this.stats.withheld++;
    return false;
  }

  /** Records what the receiver (running `incarnation`) did with an attack packet. */
  noteDelivered(p: AttackPacket, incarnation: number, accepted: boolean): void {
    this.stats.delivered[p.kind]++;
    if (accepted) this.stats.accepted[p.kind]++;
    if (accepted && p.misdirected) this.stats.acceptedMisdirected++;
    if (accepted && p.kind === 'replay' && !p.misdirected && incarnation !== p.recordedIncarnation) this.stats.acceptedAfterRestart++;
  }

  /** Daemon slot `to`, running `incarnation`, accepted `bytes` (as on the wire) from slot `from` at `nowMs`. */
  observe(nowMs: number, from: number, to: number, incarnation: number, bytes: Uint8Array): void {
    this.stats.observed++;
    const rec: Recorded = { from, to, incarnation, bytes: bytes.slice() };
    this.record(rec);
    const rate = this.options.packetsPerObserved;
    let n = Math.floor(rate);
    if (this.rng.chance(rate - n)) n++;
    for (let i = 0; i < n; i++) this.attack(nowMs, rec);
  }

  private record(rec: Recorded): void {
    const max = this.options.recordedPacketsMax;
    if (this.recent.length < max) this.recent.push(rec);
    else this.recent[this.recentNext] = rec;
    this.recentNext = (this.recentNext + 1) % max;
    // Reservoir sampling over every packet seen: old packets stay replayable for the whole run.
    if (this.old.length < max) this.old.push(rec);
    else {
      const j = this.rng.int(this.stats.observed);
      if (j < max) this.old[j] = rec;
    }
  }

  private pickKind(): AttackKind {
    const total = KIND_WEIGHTS.reduce((s, [, w]) => s + w, 0);
    let r = this.rng.int(total);
    for (const [k, w] of KIND_WEIGHTS) {
      if (r < w) return k;
      r -= w;
    }
    return 'replay';
  }

  private pickRecorded(current: Recorded): Recorded {
    const roll = this.rng.float();
    if (roll < 0.4) return current;
    const pool = roll < 0.7 ? this.recent : this.old;
    return pool.length > 0 ? this.rng.pick(pool) : current;
  }

  /** The daemon a recorded packet came from: the source an impersonator spoofs for its copies. */
  private claimedSender(rec: Recorded): DaemonId {
    return this.daemons[rec.from] ?? this.id;
  }

  private attack(nowMs: number, current: Recorded): void {
    const kind = this.pickKind();
    const source = this.pickRecorded(current);
    let bytes: Uint8Array;
    let claimed = this.claimedSender(source);
    switch (kind) {
      case 'replay':
        bytes = source.bytes.slice();
        break;
      case 'bitflip': {
        bytes = source.bytes.slice();
        if (bytes.length === 0) return;
        // Distinct bits, so that the copy always differs from the original.
        const flips = Math.min(this.rng.range(1, 3), bytes.length * 8);
        const bits = new Set<number>();
        while (bits.size < flips) bits.add(this.rng.int(bytes.length * 8));
        for (const b of bits) bytes[b >>> 3]! ^= 1 << (b & 7);
        break;
      }
      case 'truncate':
        if (source.bytes.length === 0) return;
        bytes = source.bytes.slice(0, this.rng.int(source.bytes.length));
        break;
      case 'extend': {
        const extra = this.rng.range(1, EXTEND_BYTES_MAX);
        bytes = new Uint8Array(source.bytes.length + extra);
        bytes.set(source.bytes);
        for (let i = source.bytes.length; i < bytes.length; i++) bytes[i] = this.rng.nextU32() & 0xff;
        break;
      }
      case 'forge': {
        claimed = this.rng.pick(this.daemons);
        bytes = this.forge(source.bytes, claimed);
        break;
      }
    }
    // Replays go to anyone (mostly to daemons that were not the recipients), the others anywhere.
    const candidates = this.daemons.map((_, i) => i);
    let to = this.rng.pick(candidates);
    if (kind === 'replay') {
      const others = candidates.filter((i) => i !== source.from && i !== source.to);
      to = this.options.misdirectReplays && others.length > 0 && this.rng.chance(0.75) ? this.rng.pick(others) : source.to;
    }
    const misdirected = kind === 'replay' && to !== source.to;
    const from = this.options.variant === 'outsider' ? this.id : claimed;
    // The transport never hands a daemon a packet attributed to itself.
    if (this.daemons[to] === from) return;
    const late = this.rng.chance(0.3);
    const delay = late ? this.rng.float() * this.options.delayMaxMs : this.rng.float() * 20;
    const atMs = Math.round((nowMs + delay) * 1000) / 1000;
    if (this.agenda.size >= this.options.queuedPacketsMax) {
      this.stats.dropped++;
      return;
    }
    this.agenda.push(atMs, { kind, to, from, bytes, misdirected, recordedIncarnation: source.incarnation });
  }

  /**
   * A forgery: the observed packet's first header bytes (version, mode, suite, epoch), the claimed
   * sender, a counter a little above the observed one (the replay window would take it), and
   * random bytes of a plausible length.
   */
  private forge(model: Uint8Array, sender: DaemonId): Uint8Array {
    const length = Math.max(HEADER_BYTES, this.rng.range(HEADER_BYTES, HEADER_BYTES + FORGED_BODY_BYTES_MAX));
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.rng.nextU32() & 0xff;
    if (model.length >= HEADER_BYTES) {
      out.set(model.subarray(0, 4), 0);
      const view = new DataView(out.buffer);
      view.setUint32(4, sender >>> 0);
      const seen = new DataView(model.buffer, model.byteOffset, HEADER_BYTES).getBigUint64(8);
      view.setBigUint64(8, seen + BigInt(this.rng.range(1, 5000)));
    }
    return out;
  }
}
