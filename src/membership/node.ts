/**
 * TotemNode: the sans-IO Totem single-ring ordering and membership protocol (Amir, Moser,
 * Melliar-Smith, Agarwal, Ciarfella, ACM TOCS 1995), delivering with Extended Virtual Synchrony
 * (Moser, Amir, Melliar-Smith, Agarwal, ICDCS 1994).
 *
 * States (Totem §4): operational (token circulates on the installed ring), gather (join
 * messages until consensus on a membership), commit (commit token, two rotations), recovery
 * (the new ring's token circulates while old-ring messages are exchanged; installation then
 * delivers the old ring's remaining messages, the transitional and the regular configuration).
 *
 * Ordering machinery lives in src/ring (log, token rules, packing, reassembly, wire).
 */
import { compareRingId, ringIdEquals, type DaemonId, type RingId } from '../util/ids.js';
import { RingcastError } from '../util/errors.js';
import {
  FORM_FIELD_BYTES_MAX,
  type FormingMember,
  type RingEvent,
  type SubmittedMessage,
  type TotemEngine,
  type TotemOptions,
  type TotemStatus,
  type Transmit,
  type TransmitEpoch,
} from '../ring/types.js';
import { RingLog } from '../ring/log.js';
import { MESSAGE_BYTES_MAX, Packer } from '../ring/packer.js';
import { Reassembler } from '../ring/reassembly.js';
import { addRtr, allowedNewPackets, takeServableRtr, updateTokenAru } from '../ring/token.js';
import {
  DATA_FIXED_BYTES,
  PacketType,
  RECOVERY_EXTRA_BYTES,
  SEALED_CARRIER_EXTRA_BYTES,
  decodeData,
  decodeItems,
  decodeHeader,
  decodeToken,
  encodeData,
  encodeItems,
  encodeToken,
  rtrMaxFor,
  type DataPacket,
  type PacketHeader,
  type RegularToken,
} from '../ring/wire.js';
import { CommitReassembler, commitPackets } from './commit-parts.js';
import { Gather } from './gather.js';
import { planRecovery, type RecoveryPlan } from './recovery.js';
import {
  decodeCommit,
  decodeJoin,
  decodeProbe,
  encodeCommit,
  encodeJoin,
  encodeProbe,
  type CommitEntry,
  type CommitToken,
  type JoinMessage,
} from './wire.js';

type State = TotemStatus['state'];

/** Counters beyond TotemStatus, for monitoring and tests. */
export interface TotemStats {
  packetsReceived: number;
  /** Malformed, truncated, oversized or mis-attributed packets, dropped. */
  packetsMalformed: number;
  /** Packets from an older incarnation of their sender, dropped. */
  packetsStale: number;
  /** Packets that led to foreign-message detection. */
  foreignDetections: number;
  tokensReceived: number;
  tokensDuplicate: number;
  /** Token visits held for a local client's reply (anticipateReply). */
  replyHolds: number;
  /** Of those, holds that the reply ended (the rest ended at replyHoldMs and back off). */
  replyHoldHits: number;
  tokenRetransmits: number;
  /** Data packets rebroadcast on retransmission requests. */
  retransmissions: number;
  /** Old-ring packets rebroadcast during recovery. */
  recoveryRetransmissions: number;
  tokenLosses: number;
  gathers: number;
  membershipChanges: number;
  /** formContribution results longer than FORM_FIELD_BYTES_MAX (replaced by an empty field). */
  formFieldsOversized: number;
  /** Forming rings given up because the key schedule refused a commit token (FormationKeys). */
  formationsRefused: number;
  /** Sealed recovery carriers this daemon could not open although it belongs to their old ring. */
  recoveredUnreadable: number;
  /** Key generations this daemon started as representative (rekeys). */
  rekeys: number;
  /** Commit tokens that needed more than COMMIT_PARTS_MAX parts (not sent). */
  commitTokensTooLarge: number;
  messagesDelivered: number;
}

/** Copies of the leave announcement sent, so that one lost datagram does not matter. */
const LEAVE_COPIES = 3;
const EMPTY = new Uint8Array(0);
const NULL_RING_SEQ = 0;
/** Upper bound of the idle token hold per visit. */
const TOKEN_HOLD_MS_MAX = 2;
/**
 * How long the ring must have been idle (as seen at this daemon) before it starts holding the
 * token. Request/response traffic leaves the ring idle for a millisecond or so between messages;
 * holding then would add a timer's worth of latency to every reply. Idle this long, it is idle.
 */
const IDLE_MS_BEFORE_HOLD = 50;
/**
 * Reply anticipation (anticipateReply) backs off after a hold that no reply ended: first for this
 * long, doubling on every further miss up to REPLY_HOLD_BACKOFF_MS_MAX, reset by a hit.
 */
const REPLY_HOLD_BACKOFF_MS_MIN = 5;
/** More messages than this handed to local clients between two token visits are a stream, not requests awaiting answers. */
const REPLY_HOLD_REQUESTS_MAX = 4;
const REPLY_HOLD_BACKOFF_MS_MAX = 2000;
/** Least time a processor refused by the key schedule stays out of gathers (see keyRefused). */
const KEY_REFUSAL_BACKOFF_MS_MIN = 1000;

/** The prefix of `missing` (ascending) at or below `seqMax`. */
function missingUpTo(missing: number[], seqMax: number): number[] {
  let n = 0;
  while (n < missing.length && (missing[n] as number) <= seqMax) n++;
  return n === missing.length ? missing : missing.slice(0, n);
}

interface TokenSent {
  bytes: Uint8Array;
  to: DaemonId;
  /** Data from the successor above this seq proves it got the token. */
  seqAtSend: number;
  deadline: number;
  epoch: TransmitEpoch | undefined;
  /** Further parts of a commit token sent in parts (commit-parts.ts), resent with it. */
  parts?: Uint8Array[];
}

export class TotemNode implements TotemEngine {
  private readonly o: TotemOptions;
  private readonly self: DaemonId;
  private readonly inc: number;
  private readonly rtrMax: number;
  private readonly aheadPacketsMax: number;
  private readonly outstandingPacketsMax: number;
  /** Accelerated Ring: new packets of a visit broadcast after the token (0: none, plain Totem). */
  private readonly acceleratedPacketsMax: number;

  private started = false;
  private left = false;
  private state: State = 'gather';

  /** Installed regular configuration. */
  private ring: RingId;
  private members: DaemonId[];
  private memberInc = new Map<DaemonId, number>();
  private log: RingLog;
  private readonly reasm = new Reassembler();
  private ringSeqMax: number;
  /** Highest incarnation seen of every daemon. */
  private readonly incarnations = new Map<DaemonId, number>();
  private readonly packer: Packer;
  private readonly commitParts = new CommitReassembler();
  /**
   * Processors whose part in a formation the key schedule refused (an untrusted or mismatched
   * identity, a representative whose sealed fields do not open), by incarnation: left out of
   * gathers for a while instead of being merged with, and refused, again at every probe.
   */
  private readonly keyRefused = new Map<DaemonId, { incarnation: number; untilMs: number }>();
  /** Only configured daemons take part; packets naming anyone else are dropped. */
  private readonly configured: ReadonlySet<DaemonId>;

  // The ring whose token circulates (installed ring when operational, forming ring in recovery).
  private tokenSeqSeen = 0;
  private myPreviousFcc = 0;
  private myPreviousBacklog = 0;
  private previousAruOut = 0;
  /**
   * The token's seq as it arrived on this daemon's previous visit (Accelerated Ring: every packet
   * up to it was sent at least one rotation ago, so a gap below it is a loss, not a packet in flight).
   */
  private previousVisitSeq = 0;
  private tokenSent: TokenSent | undefined;
  private tokenLossAt: number | undefined;
  private rotations = 0;

  // Gather.
  private gather: Gather | undefined;
  private awaitingCommit = false;
  private joinAt: number | undefined;
  private consensusAt: number | undefined;

  // Commit and recovery.
  private commit: CommitToken | undefined;
  /** The gather whose consensus the commit token was built on (stale-join filter). */
  private committedGather: Gather | undefined;
  /**
   * Form timeout (Totem §4.3/§4.4): commit and recovery must progress (a commit token or a token
   * of the forming ring) within formMs, and finish within formHardAt, else back to gather.
   */
  private formAt: number | undefined;
  private formHardAt: number | undefined;
  private next: RingLog | undefined;
  private nextMembers: DaemonId[] = [];
  private nextInc = new Map<DaemonId, number>();
  private plan: RecoveryPlan | undefined;
  private recoveryQueue: number[] = [];
  private recoveryHead = 0;

  private probeAt: number | undefined;
  /** An idle token held back for a moment (see idleVisit). */
  private heldToken: RegularToken | undefined;
  /** Key generation of the ring the token circulates on, as the last token processed here said. */
  private generation = 0;
  /** When this daemon first saw the ring idle, in the current idle stretch. */
  private idleSinceMs: number | undefined;
  private heldUntil: number | undefined;
  /** The held token waits for a local client's reply (anticipateReply), not for an idle ring. */
  private heldForReply = false;
  /** Messages from other daemons handed to local clients since the last token visit (anticipateReply). */
  private repliesExpected = 0;
  /** No reply holds before this time (after holds that no reply ended). */
  private replyHoldOffUntil = 0;
  private replyHoldBackoffMs = REPLY_HOLD_BACKOFF_MS_MIN;

  private tx: Transmit[] = [];
  private txHead = 0;
  private ev: RingEvent[] = [];
  private evHead = 0;

  private readonly st: TotemStats = {
    packetsReceived: 0,
    packetsMalformed: 0,
    packetsStale: 0,
    foreignDetections: 0,
    tokensReceived: 0,
    tokensDuplicate: 0,
    replyHolds: 0,
    replyHoldHits: 0,
    tokenRetransmits: 0,
    retransmissions: 0,
    recoveryRetransmissions: 0,
    tokenLosses: 0,
    gathers: 0,
    membershipChanges: 0,
    formFieldsOversized: 0,
    formationsRefused: 0,
    recoveredUnreadable: 0,
    rekeys: 0,
    commitTokensTooLarge: 0,
    messagesDelivered: 0,
  };

  constructor(opts: TotemOptions) {
    if (!Number.isSafeInteger(opts.incarnation) || opts.incarnation < 0) {
      throw new RingcastError('TOTEM_OPTIONS', 'incarnation must be a non-negative safe integer (start time in ms)');
    }
    if (opts.windowPacketsMax < 1 || opts.personalWindowPacketsMax < 1) {
      throw new RingcastError('TOTEM_OPTIONS', 'windowPacketsMax and personalWindowPacketsMax must be at least 1');
    }
    // Every old-ring packet must fit in a recovery carrier, sealed under the old keys if need be.
    const sealing = opts.formationKeys ? SEALED_CARRIER_EXTRA_BYTES + opts.formationKeys.recoveredOverheadBytes : 0;
    const itemRoom = opts.packetBytesMax - DATA_FIXED_BYTES - RECOVERY_EXTRA_BYTES - sealing;
    if (itemRoom < 128 || opts.packetBytesMax > 65000) {
      throw new RingcastError('TOTEM_OPTIONS', `packetBytesMax ${opts.packetBytesMax} must be between ${DATA_FIXED_BYTES + RECOVERY_EXTRA_BYTES + 128} and 65000`);
    }
    this.o = opts;
    this.self = opts.self >>> 0;
    this.inc = opts.incarnation;
    this.rtrMax = rtrMaxFor(opts.packetBytesMax);
    this.outstandingPacketsMax = 3 * opts.windowPacketsMax;
    this.aheadPacketsMax = 4 * opts.windowPacketsMax + 64;
    const accelerated = opts.acceleratedWindowPacketsMax ?? 0;
    if (!Number.isSafeInteger(accelerated) || accelerated < 0 || accelerated > opts.personalWindowPacketsMax) {
      throw new RingcastError('TOTEM_OPTIONS', `acceleratedWindowPacketsMax ${accelerated} must be an integer from 0 to personalWindowPacketsMax (${opts.personalWindowPacketsMax})`);
    }
    this.acceleratedPacketsMax = accelerated;
    // Ring seqs start above the incarnation so a restarted daemon never reuses a ring id of its
    // previous life (the incarnation grows faster than this daemon forms rings).
    this.ringSeqMax = opts.incarnation;
    this.ring = { rep: this.self, seq: NULL_RING_SEQ };
    this.members = [this.self];
    this.memberInc.set(this.self, this.inc);
    this.log = new RingLog(this.ring, this.aheadPacketsMax);
    this.packer = new Packer(itemRoom, opts.pendingMessagesMax);
    this.incarnations.set(this.self, this.inc);
    this.configured = new Set(opts.configured.map((id) => id >>> 0));
  }

  private allConfigured(ids: Iterable<DaemonId>): boolean {
    for (const id of ids) if (!this.configured.has(id)) return false;
    return true;
  }

  // ---------------------------------------------------------------- public surface

  start(now: number): void {
    if (this.started) return;
    this.started = true;
    // A lone daemon forms a singleton ring at once, then looks for others with merge probes.
    const ring = { rep: this.self, seq: this.ringSeqMax + 1 };
    this.ringSeqMax = ring.seq;
    const previous = this.ring;
    this.installRing(ring, [this.self], new Map([[this.self, this.inc]]));
    this.pushEvent({
      type: 'regular',
      ring,
      members: [this.self],
      previousRings: new Map([[this.self, previous]]),
      formFields: new Map([[this.self, this.formField(ring, [this.self])]]),
    });
    this.st.membershipChanges++;
    this.sendProbe(now);
  }

  submit(now: number, msg: SubmittedMessage): boolean {
    if (this.left) return false;
    if (msg.payload.length > MESSAGE_BYTES_MAX) {
      throw new RingcastError('MESSAGE_TOO_LARGE', `message of ${msg.payload.length} bytes exceeds the ${MESSAGE_BYTES_MAX}-byte limit; split it`);
    }
    if (!this.packer.push(msg.service, msg.stream >>> 0, msg.payload)) return false;
    // Whatever this daemon sends next goes on the next visit anyway: nothing more to wait for.
    this.repliesExpected = 0;
    if (this.started && this.state === 'operational') {
      if (this.members.length === 1) this.flushSingleton();
      else {
        if (this.heldForReply && this.heldToken) {
          this.st.replyHoldHits++;
          this.replyHoldBackoffMs = REPLY_HOLD_BACKOFF_MS_MIN;
        }
        this.releaseHeldToken(now);
      }
    }
    return true;
  }

  handlePacket(now: number, from: DaemonId, bytes: Uint8Array): void {
    if (!this.started || this.left) return;
    this.st.packetsReceived++;
    const h = decodeHeader(bytes);
    // Data packets may be relayed (retransmissions keep the originator's header); every other
    // packet must come from the daemon it names.
    if (
      !h ||
      (h.sender !== from >>> 0 && h.type !== PacketType.DATA) ||
      h.sender === this.self ||
      !this.configured.has(h.sender) ||
      !this.configured.has(from >>> 0)
    ) {
      this.st.packetsMalformed++;
      return;
    }
    const known = this.incarnations.get(h.sender);
    if (known !== undefined && h.incarnation < known) {
      this.st.packetsStale++;
      return;
    }
    switch (h.type) {
      case PacketType.DATA: {
        // Own copy: the log keeps packets, and the driver may reuse its receive buffer.
        const copy = bytes.slice();
        const p = decodeData(copy, h);
        if (!p) break;
        this.noteIncarnation(now, h);
        this.onData(now, from >>> 0, h, p, copy);
        return;
      }
      case PacketType.TOKEN: {
        const t = decodeToken(bytes);
        if (!t) break;
        this.noteIncarnation(now, h);
        this.onToken(now, h, t);
        return;
      }
      case PacketType.JOIN: {
        const j = decodeJoin(bytes);
        if (!j || !this.allConfigured(j.procs.keys()) || !this.allConfigured(j.fails)) break;
        this.noteIncarnation(now, h);
        this.onJoin(now, h, j);
        return;
      }
      case PacketType.COMMIT: {
        const c = decodeCommit(bytes);
        if (!c || !this.allConfigured(c.members.map((m) => m.id))) break;
        this.noteIncarnation(now, h);
        this.onCommit(now, h, c);
        return;
      }
      case PacketType.COMMIT_PART: {
        const out = this.commitParts.add(h, bytes);
        if (out.malformed) break;
        if (!out.complete) return;
        // The whole token must be the commit token of the daemon that sent its parts.
        const whole = decodeHeader(out.complete);
        if (!whole || whole.type !== PacketType.COMMIT || whole.sender !== h.sender || whole.incarnation !== h.incarnation) break;
        const c = decodeCommit(out.complete);
        if (!c || !this.allConfigured(c.members.map((m) => m.id))) break;
        this.noteIncarnation(now, h);
        this.onCommit(now, h, c);
        return;
      }
      case PacketType.PROBE: {
        const r = decodeProbe(bytes);
        if (!r) break;
        this.noteIncarnation(now, h);
        this.onProbe(now, h, r);
        return;
      }
    }
    this.st.packetsMalformed++;
  }

  handleTimeout(now: number): void {
    if (!this.started || this.left) return;
    if (this.heldUntil !== undefined && now >= this.heldUntil) {
      if (this.heldForReply) {
        // No reply came: stop anticipating for a while, longer after every miss in a row.
        this.replyHoldOffUntil = now + this.replyHoldBackoffMs;
        this.replyHoldBackoffMs = Math.min(REPLY_HOLD_BACKOFF_MS_MAX, this.replyHoldBackoffMs * 2);
      }
      this.releaseHeldToken(now);
    }
    const ts = this.tokenSent;
    if (ts && now >= ts.deadline) {
      // Totem §3.2 token retransmission: no sign that the successor got it.
      this.tx.push(ts.epoch ? { to: ts.to, bytes: ts.bytes, epoch: ts.epoch } : { to: ts.to, bytes: ts.bytes });
      for (const part of ts.parts ?? []) this.tx.push({ to: ts.to, bytes: part });
      ts.deadline = now + this.o.timeouts.tokenRetransmitMs;
      this.st.tokenRetransmits++;
    }
    if (this.tokenLossAt !== undefined && now >= this.tokenLossAt) {
      // Totem §4.1 failure detection: token loss.
      this.st.tokenLosses++;
      this.enterGather(now);
    }
    const formExpired =
      (this.formAt !== undefined && now >= this.formAt) || (this.formHardAt !== undefined && now >= this.formHardAt);
    if (formExpired && (this.state === 'commit' || this.state === 'recovery')) {
      // Totem §4.3: commit or recovery did not complete in time.
      this.enterGather(now);
    }
    if (this.state === 'gather' && this.gather) {
      if (this.consensusAt !== undefined && now >= this.consensusAt) {
        // Totem §4.2 consensus timeout: silent or disagreeing processors fail.
        const g = this.gather;
        const changed = g.onConsensusTimeout();
        this.consensusAt = now + this.o.timeouts.consensusMs;
        if (changed) this.sendJoin(now);
        this.checkConsensus(now);
      }
      if (this.state === 'gather' && this.joinAt !== undefined && now >= this.joinAt) {
        this.sendJoin(now);
      }
    }
    if (this.state === 'operational' && this.probeAt !== undefined && now >= this.probeAt) {
      this.sendProbe(now);
    }
  }

  leave(now: number): void {
    if (!this.started || this.left) return;
    const j: JoinMessage = {
      ring: this.ring,
      ringSeqMax: this.ringSeqMax,
      leave: true,
      procs: new Map([[this.self, this.inc]]),
      fails: new Set(),
    };
    const bytes = encodeJoin(j, this.self, this.inc);
    for (let i = 0; i < LEAVE_COPIES; i++) this.tx.push({ to: 'configured', bytes });
    this.left = true;
    this.heldToken = undefined;
    this.heldUntil = undefined;
    this.heldForReply = false;
    this.repliesExpected = 0;
    this.tokenSent = undefined;
    this.tokenLossAt = undefined;
    this.joinAt = undefined;
    this.consensusAt = undefined;
    this.formAt = undefined;
    this.formHardAt = undefined;
    this.probeAt = undefined;
    void now;
  }

  reconfigure(now: number): void {
    if (!this.started || this.left || this.state !== 'operational' || this.members.length === 1) return;
    this.enterGather(now);
  }

  pollTransmit(): Transmit | undefined {
    if (this.txHead >= this.tx.length) {
      if (this.tx.length) {
        this.tx = [];
        this.txHead = 0;
      }
      return undefined;
    }
    const t = this.tx[this.txHead++];
    return t;
  }

  pollTimeout(): number | undefined {
    if (!this.started || this.left) return undefined;
    let t = Infinity;
    if (this.tokenSent) t = Math.min(t, this.tokenSent.deadline);
    if (this.heldUntil !== undefined) t = Math.min(t, this.heldUntil);
    if (this.tokenLossAt !== undefined) t = Math.min(t, this.tokenLossAt);
    if (this.state === 'commit' || this.state === 'recovery') {
      if (this.formAt !== undefined) t = Math.min(t, this.formAt);
      if (this.formHardAt !== undefined) t = Math.min(t, this.formHardAt);
    }
    if (this.state === 'gather') {
      if (this.joinAt !== undefined) t = Math.min(t, this.joinAt);
      if (this.consensusAt !== undefined) t = Math.min(t, this.consensusAt);
    }
    if (this.state === 'operational' && this.probeAt !== undefined) t = Math.min(t, this.probeAt);
    return t === Infinity ? undefined : t;
  }

  pollEvent(): RingEvent | undefined {
    if (this.evHead >= this.ev.length) {
      if (this.ev.length) {
        this.ev = [];
        this.evHead = 0;
      }
      return undefined;
    }
    return this.ev[this.evHead++];
  }

  /** The installed ring's members, not copied (the array is replaced, never changed, on a new ring). */
  ringMembers(): readonly DaemonId[] {
    return this.members;
  }

  status(): TotemStatus {
    return {
      state: this.state,
      ring: this.ring,
      members: this.members.slice(),
      aru: this.log.aru,
      highestSeq: this.log.high,
      tokenRounds: this.rotations,
      retransmissions: this.st.retransmissions + this.st.recoveryRetransmissions,
      membershipChanges: this.st.membershipChanges,
      pendingMessages: this.packer.length,
      replyHolds: this.st.replyHolds,
      replyHoldHits: this.st.replyHoldHits,
    };
  }

  stats(): Readonly<TotemStats> {
    return { ...this.st };
  }

  /** True once leave() was called: the engine then ignores all input. */
  hasLeft(): boolean {
    return this.left;
  }

  // ---------------------------------------------------------------- helpers

  private pushEvent(e: RingEvent): void {
    this.ev.push(e);
  }

  private formField(ring: RingId, members: readonly DaemonId[]): Uint8Array {
    if (!this.o.formContribution) return EMPTY;
    return this.boundedField(this.o.formContribution(ring, members));
  }

  private boundedField(f: Uint8Array): Uint8Array {
    if (f.length > FORM_FIELD_BYTES_MAX) {
      this.st.formFieldsOversized++;
      return EMPTY;
    }
    return f.slice();
  }

  private successorOf(members: readonly DaemonId[]): DaemonId {
    const i = members.indexOf(this.self);
    return members[(i + 1) % members.length] as DaemonId;
  }

  /** Broadcast to the members of the ring the token circulates on. */
  private broadcast(bytes: Uint8Array): void {
    const epoch = this.epochTag();
    if (this.state === 'operational') {
      this.tx.push(epoch ? { to: 'ring', bytes, epoch } : { to: 'ring', bytes });
      return;
    }
    // In recovery the new ring is not installed yet, so its members are addressed one by one.
    for (const m of this.nextMembers) if (m !== this.self) this.tx.push(epoch ? { to: m, bytes, epoch } : { to: m, bytes });
  }

  /** The epoch that protects the token ring's packets (with per-configuration keys). */
  private epochTag(): TransmitEpoch | undefined {
    if (!this.o.formationKeys) return undefined;
    const tr = this.tokenRing();
    return tr ? { ring: tr.ring, generation: this.generation } : undefined;
  }

  private forming(c: CommitToken): FormingMember[] {
    return c.members.map((e) => ({ id: e.id, incarnation: e.incarnation }));
  }

  /**
   * Per-configuration keys, representative between the commit token's rotations (Totem §4.3):
   * the key schedule checks every member's field and seals the new epoch secret to each.
   * Members whose fields it refuses are failed, and membership is gathered again without them.
   */
  private sealEpochForMembers(now: number, c: CommitToken): boolean {
    const keys = this.o.formationKeys;
    if (!keys) return true;
    const fields = new Map(c.members.map((e) => [e.id, e.form] as const));
    const d = keys.distribute(now, c.ring, this.forming(c), fields);
    const oversized = d.ok && [...d.sealed.values(), ...(d.fields?.values() ?? [])].some((b) => b.length > FORM_FIELD_BYTES_MAX);
    if (!d.ok || oversized) {
      this.st.formationsRefused++;
      this.enterGather(now);
      if (!d.ok && this.gather) {
        let changed = false;
        for (const id of d.exclude) {
          this.refuseForKeys(now, id, c.members.find((e) => e.id === id)?.incarnation ?? 0);
          if (this.gather.fail(id)) changed = true;
        }
        if (changed) {
          this.sendJoin(now);
          this.checkConsensus(now);
        }
      }
      return false;
    }
    for (const e of c.members) {
      e.sealed = (d.sealed.get(e.id) ?? EMPTY).slice();
      const replaced = d.fields?.get(e.id);
      if (replaced !== undefined && replaced.length <= FORM_FIELD_BYTES_MAX) e.form = replaced.slice();
    }
    return true;
  }

  private noteIncarnation(now: number, h: PacketHeader): void {
    const known = this.incarnations.get(h.sender);
    if (known === h.incarnation) return;
    this.incarnations.set(h.sender, h.incarnation);
    if (known === undefined) return;
    // A restarted daemon is a new process: the old incarnation has failed.
    if (this.state === 'operational' && this.memberInc.has(h.sender)) {
      this.st.foreignDetections++;
      this.enterGather(now, h);
    } else if ((this.state === 'commit' || this.state === 'recovery') && this.commit?.members.some((e) => e.id === h.sender)) {
      this.enterGather(now, h);
    } else if (this.state === 'gather' && this.gather) {
      if (this.gather.addProc(h.sender, h.incarnation)) this.sendJoin(now);
    }
  }

  private isMemberOf(inc: ReadonlyMap<DaemonId, number>, h: PacketHeader): boolean {
    return inc.get(h.sender) === h.incarnation;
  }

  /** Totem §4.1 foreign message detection while operational. */
  private refuseForKeys(now: number, id: DaemonId, incarnation: number): void {
    const backoffMs = Math.max(KEY_REFUSAL_BACKOFF_MS_MIN, 10 * this.o.timeouts.consensusMs);
    this.keyRefused.set(id, { incarnation, untilMs: now + backoffMs });
  }

  /** Whether this processor's incarnation was refused by the key schedule recently. */
  private keyRefusedNow(now: number, id: DaemonId, incarnation: number): boolean {
    const r = this.keyRefused.get(id);
    if (!r) return false;
    if (now >= r.untilMs || incarnation > r.incarnation) {
      this.keyRefused.delete(id);
      return false;
    }
    return true;
  }

  private foreign(now: number, h: PacketHeader, ring: RingId): void {
    if (this.state !== 'operational') return;
    if (this.keyRefusedNow(now, h.sender, h.incarnation)) return;
    // Traffic of older rings is late, not foreign: live processors are found by probes and joins.
    if (compareRingId(ring, this.ring) < 0) return;
    if (this.isMemberOf(this.memberInc, h) && ringIdEquals(ring, this.ring)) return;
    this.st.foreignDetections++;
    this.enterGather(now, h);
  }

  // ---------------------------------------------------------------- ordering (operational / recovery)

  /** The ring the token circulates on, if any. */
  private tokenRing(): { ring: RingId; members: DaemonId[]; inc: Map<DaemonId, number>; log: RingLog } | undefined {
    if (this.state === 'operational') return { ring: this.ring, members: this.members, inc: this.memberInc, log: this.log };
    if (this.state === 'recovery' && this.next) return { ring: this.next.ring, members: this.nextMembers, inc: this.nextInc, log: this.next };
    return undefined;
  }

  private onData(now: number, from: DaemonId, h: PacketHeader, p: DataPacket, bytes: Uint8Array): void {
    const tr = this.tokenRing();
    if (tr && ringIdEquals(p.ring, tr.ring)) {
      if (!this.isMemberOf(tr.inc, h) || !tr.inc.has(from)) return;
      if (this.tokenSent && this.tokenSent.to === from && p.seq > this.tokenSent.seqAtSend) this.tokenSent = undefined;
      if (!tr.log.insert(p, bytes)) return;
      if (p.recovered && this.state === 'recovery') this.acceptRecovered(p);
      if (this.state === 'operational') this.deliver();
      return;
    }
    if (h.sender !== from) return;
    if (ringIdEquals(p.ring, this.log.ring) && this.isMemberOf(this.memberInc, h)) {
      // Late packets of the installed ring stay useful for recovery until this processor
      // reports its old-ring state in the commit token (then the old ring is frozen).
      if (this.state === 'gather') this.log.insert(p, bytes);
      return;
    }
    this.foreign(now, h, p.ring);
  }

  /** Totem §4.4 recovery: an old-ring message rebroadcast on the new ring. */
  private acceptRecovered(carrier: DataPacket): void {
    const r = carrier.recovered;
    const plan = this.plan;
    if (!r || !plan || !ringIdEquals(r.ring, this.log.ring) || r.seq > plan.highMax) return;
    let items = carrier.items;
    if (carrier.sealedItems !== undefined) {
      const keys = this.o.formationKeys;
      const plain = keys?.openRecovered(r.ring, carrier.sender, carrier.sealedItems);
      const body = plain === undefined ? undefined : decodeItems(plain);
      if (!body) {
        this.st.recoveredUnreadable++;
        return;
      }
      items = body.items;
    }
    const old: DataPacket = {
      sender: r.sender,
      incarnation: 0,
      ring: r.ring,
      seq: r.seq,
      items,
      hasSafe: carrier.hasSafe,
    };
    this.log.insert(old, EMPTY);
  }

  private onToken(now: number, h: PacketHeader, t: RegularToken): void {
    const tr = this.tokenRing();
    if (!tr || !ringIdEquals(t.ring, tr.ring)) {
      this.foreign(now, h, t.ring);
      return;
    }
    if (!this.isMemberOf(tr.inc, h)) return;
    // Totem §3.2: the token comes from the predecessor only. A token of this ring from any other
    // member was meant for someone else: a replay to the wrong recipient, never a valid pass
    // (authenticated packets name their sender, not their recipient).
    const i = tr.members.indexOf(h.sender);
    if (i < 0 || tr.members[(i + 1) % tr.members.length] !== this.self) {
      this.st.packetsStale++;
      return;
    }
    this.st.tokensReceived++;
    if (t.tokenSeq <= this.tokenSeqSeen) {
      this.st.tokensDuplicate++;
      return;
    }
    // A newer token supersedes one held here (only a damaged or forged packet can be newer than
    // a token this daemon holds): the held one must never be processed after it.
    this.heldToken = undefined;
    this.heldUntil = undefined;
    this.heldForReply = false;
    if (this.repliesExpected > 0) {
      // One request, or a few, gets an answer; a stream of messages (a flood to a receiver) is not
      // waited for, and costs no hold.
      const requests = this.repliesExpected;
      this.repliesExpected = 0;
      if (requests <= REPLY_HOLD_REQUESTS_MAX && this.replyHoldable(now, t)) {
        this.holdToken(now, t, this.o.replyHoldMs!, true);
        this.st.replyHolds++;
        return;
      }
    }
    const idle = this.idleVisit(t);
    if (!idle) this.idleSinceMs = undefined;
    else this.idleSinceMs ??= now;
    if (idle && now - (this.idleSinceMs ?? now) >= IDLE_MS_BEFORE_HOLD) {
      // Nothing to send, request, deliver or stabilise anywhere on the ring: hold the token a
      // moment instead of spinning it, and pass it on at once when a message is submitted.
      this.holdToken(now, t, this.holdMs(), false);
      return;
    }
    this.processToken(now, t);
  }

  private holdToken(now: number, t: RegularToken, ms: number, forReply: boolean): void {
    this.tokenSeqSeen = t.tokenSeq;
    this.tokenSent = undefined;
    this.tokenLossAt = now + this.o.timeouts.tokenLossMs;
    this.heldToken = t;
    this.heldUntil = now + ms;
    this.heldForReply = forReply;
  }

  /**
   * A token visit may wait for an anticipated reply when this daemon has nothing to send and the
   * token asks for no retransmission (holding it then would only delay recovery of a loss).
   * Everything else a hold delays (other daemons' sends, stability of SAFE messages) waits at most
   * replyHoldMs, and not at all once the reply is submitted. After holds that no reply ended,
   * anticipation stays off for a back-off period, so one-way traffic does not stall on it.
   */
  private replyHoldable(now: number, t: RegularToken): boolean {
    return (
      (this.o.replyHoldMs ?? 0) > 0 &&
      this.state === 'operational' &&
      this.members.length > 1 &&
      now >= this.replyHoldOffUntil &&
      t.rtr.length === 0 &&
      this.packer.length === 0
    );
  }

  anticipateReply(now: number): void {
    void now;
    if (this.started && !this.left && this.state === 'operational') this.repliesExpected++;
  }

  private idleVisit(t: RegularToken): boolean {
    if (this.state !== 'operational') return false;
    const L = this.log;
    return (
      t.rtr.length === 0 &&
      t.aru === t.seq &&
      t.backlog === this.myPreviousBacklog &&
      this.packer.length === 0 &&
      L.aru === t.seq &&
      L.delivered === t.seq &&
      L.safe === t.seq
    );
  }

  /** Idle hold per visit: a rotation of holds stays well inside the token retransmission time. */
  private holdMs(): number {
    return Math.min(TOKEN_HOLD_MS_MAX, this.o.timeouts.tokenRetransmitMs / (4 * this.members.length));
  }

  private releaseHeldToken(now: number): void {
    const t = this.heldToken;
    if (!t) return;
    this.heldToken = undefined;
    this.heldUntil = undefined;
    this.heldForReply = false;
    if (this.state === 'operational' && ringIdEquals(t.ring, this.ring) && t.tokenSeq === this.tokenSeqSeen) this.processToken(now, t);
  }

  /** Totem §3.2 token processing (and §4.4 while in recovery). */
  private processToken(now: number, t: RegularToken): void {
    this.tokenSeqSeen = t.tokenSeq;
    this.tokenSent = undefined;
    this.tokenLossAt = now + this.o.timeouts.tokenLossMs;
    if (this.state === 'recovery') this.formAt = now + this.o.timeouts.formMs;
    if (this.state === 'recovery' && t.doneCount >= this.nextMembers.length) {
      // EVS: every member holds every recovered message; install the new ring.
      this.install(now);
    }
    const tr = this.tokenRing();
    if (!tr) throw new Error('token processing outside operational/recovery');
    const keys = this.o.formationKeys;
    if (keys) {
      // Rekey in token order: the representative starts the next key generation; each member
      // switches to it as the token passes, before sending anything in this visit.
      if (this.state === 'operational' && tr.members[0] === this.self && keys.rekeyDue(now, tr.ring, t.generation)) {
        t.generation++;
        this.st.rekeys++;
      }
      if (t.generation < this.generation) t.generation = this.generation;
      this.generation = t.generation;
      keys.tokenGeneration(now, tr.ring, t.generation);
    }
    const L = tr.log;
    L.noteHigh(t.seq);
    const aruIn = t.aru;
    const recovering = this.state === 'recovery';
    // Accelerated Ring (Babay and Amir, ICDCS 2016) while operational on a real ring; recovery
    // and singleton rings keep plain Totem.
    const accelerated = !recovering && this.acceleratedPacketsMax > 0 && tr.members.length > 1;
    const rtrSeqMax = accelerated ? this.previousVisitSeq : Infinity;
    this.previousVisitSeq = t.seq;

    // Totem §3.2: answer retransmission requests this processor can serve.
    const served = takeServableRtr(t, (s) => L.get(s) !== undefined, this.o.windowPacketsMax);
    for (const s of served) {
      this.broadcast((L.get(s) as { bytes: Uint8Array }).bytes);
      this.st.retransmissions++;
    }

    // Totem §3.3 flow control, then broadcast new packets with seqs taken from the token.
    const backlog = recovering ? this.recoveryQueue.length - this.recoveryHead : this.packer.length;
    const allowed = allowedNewPackets({
      tokenFcc: t.fcc,
      myPreviousFcc: this.myPreviousFcc,
      retransmitted: served.length,
      tokenBacklog: t.backlog,
      myPreviousBacklog: this.myPreviousBacklog,
      myBacklog: backlog,
      windowPacketsMax: this.o.windowPacketsMax,
      personalWindowPacketsMax: this.o.personalWindowPacketsMax,
      seq: t.seq,
      aru: Math.max(L.safe, Math.min(aruIn, this.previousAruOut)),
      outstandingPacketsMax: this.outstandingPacketsMax,
    });
    let sent = 0;
    let postToken: Uint8Array[] = [];
    if (recovering) {
      const oldRing = this.log.ring;
      while (sent < allowed && this.recoveryHead < this.recoveryQueue.length) {
        const oldSeq = this.recoveryQueue[this.recoveryHead++] as number;
        const old = this.log.get(oldSeq);
        if (!old) continue;
        const pkt: DataPacket = {
          sender: this.self,
          incarnation: this.inc,
          ring: tr.ring,
          seq: t.seq + 1,
          items: keys ? [] : old.pkt.items,
          hasSafe: old.pkt.hasSafe,
          recovered: { ring: oldRing, seq: oldSeq, sender: old.pkt.sender },
        };
        // Recovered old-ring messages stay under the old ring's keys: members of the new ring
        // that come from another ring carry them but cannot read them.
        if (keys) pkt.sealedItems = keys.sealRecovered(oldRing, encodeItems(old.pkt.items));
        const bytes = encodeData(pkt);
        t.seq++;
        L.insert(pkt, bytes);
        this.broadcast(bytes);
        this.st.recoveryRetransmissions++;
        sent++;
      }
    } else {
      // Accelerated Ring, pre-token broadcasting: every new packet of this visit takes its seq
      // from the token and enters the local log now (so my aru covers it), but up to the last
      // `acceleratedPacketsMax` of them wait until the token is on its way.
      const fresh: Uint8Array[] = [];
      while (sent < allowed) {
        const items = this.packer.nextPacket();
        if (!items) break;
        let hasSafe = false;
        for (const it of items) if (it.service === 0x20) hasSafe = true;
        const pkt: DataPacket = { sender: this.self, incarnation: this.inc, ring: tr.ring, seq: t.seq + 1, items, hasSafe };
        const bytes = encodeData(pkt);
        t.seq++;
        L.insert(pkt, bytes);
        fresh.push(bytes);
        sent++;
      }
      // The first packet always goes before the token: a visit that carries one message (a
      // request, a reply) then costs nothing, and a full visit still sends its last
      // `acceleratedPacketsMax` after the token.
      const before = accelerated ? Math.max(Math.min(fresh.length, 1), fresh.length - this.acceleratedPacketsMax) : fresh.length;
      for (let i = 0; i < before; i++) this.broadcast(fresh[i] as Uint8Array);
      postToken = fresh.slice(before);
    }
    const backlogNow = recovering ? this.recoveryQueue.length - this.recoveryHead : this.packer.length;
    t.fcc = Math.max(0, t.fcc - this.myPreviousFcc) + served.length + sent;
    this.myPreviousFcc = served.length + sent;
    t.backlog = Math.max(0, t.backlog - this.myPreviousBacklog) + backlogNow;
    this.myPreviousBacklog = backlogNow;

    // Totem §3.2: update aru; the safe line is the lower of the aru I sent last visit and the
    // aru that came back after a full rotation (every member had received up to it).
    updateTokenAru(t, this.self, L.aru);
    L.raiseSafe(Math.min(this.previousAruOut, aruIn));
    this.previousAruOut = t.aru;

    // Totem §3.2: request what I miss. Accelerated Ring: only up to the token's seq of my
    // previous visit; above it, a predecessor's post-token packets may still be on their way.
    addRtr(t, missingUpTo(L.missing(this.rtrMax), rtrSeqMax), this.rtrMax);

    if (recovering) {
      // Totem §4.4: recovery is over once a full rotation finds every member with nothing
      // left to send and everything received.
      const done = this.recoveryHead >= this.recoveryQueue.length && sent === 0 && L.aru === t.seq;
      t.doneCount = done ? t.doneCount + 1 : 0;
      if (t.doneCount >= this.nextMembers.length) this.install(now);
    }

    const members = this.state === 'operational' ? this.members : this.nextMembers;
    if (members[0] === this.self) {
      t.rotation++;
    }
    this.rotations = t.rotation;
    t.tokenSeq++;
    this.tokenSeqSeen = t.tokenSeq;
    const to = this.successorOf(members);
    const bytes = encodeToken(t, this.self, this.inc);
    const epoch = keys ? { ring: tr.ring, generation: this.generation } : undefined;
    this.tx.push(epoch ? { to, bytes, epoch } : { to, bytes });
    this.tokenSent = { bytes, to, seqAtSend: t.seq, deadline: now + this.o.timeouts.tokenRetransmitMs, epoch };
    // Accelerated Ring, post-token broadcasting: transmits are sent in queue order, so these
    // leave after the token; the successor's visit overlaps with their flight.
    for (const b of postToken) this.broadcast(b);
    if (this.state === 'operational') this.deliver();
  }

  /**
   * Delivery on the installed ring, in seq order: a packet is delivered once every lower seq has
   * been (agreed order), and a packet carrying a SAFE message additionally only once it is below
   * the safe line (Totem safe delivery). Recovery carriers are not new-ring messages.
   */
  private deliver(): void {
    const L = this.log;
    for (;;) {
      const s = L.delivered + 1;
      const sp = L.get(s);
      if (!sp) break;
      if (sp.pkt.recovered) {
        L.delivered = s;
        continue;
      }
      if (sp.pkt.hasSafe && s > L.safe) break;
      this.emitPacket(sp.pkt, this.ring);
      L.delivered = s;
    }
    L.raiseSafe(L.safe);
  }

  private emitPacket(p: DataPacket, ring: RingId): void {
    for (const it of p.items) {
      const m = this.reasm.push(p.sender, it);
      if (!m) continue;
      this.st.messagesDelivered++;
      this.ev.push({
        type: 'message',
        ring,
        seq: p.seq,
        sender: p.sender,
        stream: m.stream,
        service: m.service,
        payload: m.payload,
      });
    }
  }

  /** Singleton ring: own broadcasts are processed at once; every level is immediately safe. */
  private flushSingleton(): void {
    const L = this.log;
    for (;;) {
      const items = this.packer.nextPacket();
      if (!items) break;
      let hasSafe = false;
      for (const it of items) if (it.service === 0x20) hasSafe = true;
      const pkt: DataPacket = { sender: this.self, incarnation: this.inc, ring: this.ring, seq: L.high + 1, items, hasSafe };
      L.insert(pkt, EMPTY);
      L.raiseSafe(L.aru);
      this.deliver();
    }
  }

  // ---------------------------------------------------------------- membership

  private sendProbe(now: number): void {
    // Only the representative probes: one probe per ring and interval is enough to be found.
    if (this.ring.rep === this.self) {
      this.tx.push({ to: 'configured', bytes: encodeProbe(this.ring, this.self, this.inc) });
    }
    this.probeAt = now + this.o.timeouts.mergeDetectMs;
  }

  private onProbe(now: number, h: PacketHeader, ring: RingId): void {
    if (this.state === 'operational') {
      if (this.isMemberOf(this.memberInc, h) && ring.seq <= this.ring.seq) return;
      this.st.foreignDetections++;
      this.enterGather(now, h);
    } else if (this.state === 'gather' && this.gather) {
      if (this.gather.fails.has(h.sender)) return;
      if (this.gather.addProc(h.sender, h.incarnation)) this.sendJoin(now);
    }
  }

  /** Totem §4.2: shift to the gather state. */
  private enterGather(now: number, discovered?: PacketHeader): void {
    if (this.state !== 'gather' || !this.gather) {
      if (this.commit && (this.state === 'commit' || this.state === 'recovery')) this.o.formationKeys?.abandon(this.commit.ring);
      const initial = new Map<DaemonId, number>();
      for (const id of this.members) initial.set(id, this.incarnations.get(id) ?? 0);
      if (this.commit) for (const e of this.commit.members) initial.set(e.id, this.incarnations.get(e.id) ?? e.incarnation);
      this.gather = new Gather(this.self, this.inc, initial, this.ringSeqMax);
      this.awaitingCommit = false;
      this.state = 'gather';
      this.st.gathers++;
      this.tokenSent = undefined;
      this.tokenLossAt = undefined;
      this.heldToken = undefined;
      this.heldUntil = undefined;
      this.heldForReply = false;
      this.repliesExpected = 0;
      this.formAt = undefined;
      this.formHardAt = undefined;
      this.probeAt = undefined;
      this.commit = undefined;
      this.committedGather = undefined;
      this.next = undefined;
      this.nextMembers = [];
      this.nextInc = new Map();
      this.plan = undefined;
      this.recoveryQueue = [];
      this.recoveryHead = 0;
      this.consensusAt = now + this.o.timeouts.consensusMs;
    }
    if (discovered) this.gather.addProc(discovered.sender, discovered.incarnation);
    for (const [id, r] of this.keyRefused) if (this.keyRefusedNow(now, id, r.incarnation)) this.gather.fail(id);
    this.sendJoin(now);
    this.checkConsensus(now);
  }

  private sendJoin(now: number): void {
    const g = this.gather;
    if (!g) return;
    const j: JoinMessage = { ring: this.ring, ringSeqMax: Math.max(this.ringSeqMax, g.ringSeqMax), leave: false, procs: g.procs, fails: g.fails };
    this.tx.push({ to: 'configured', bytes: encodeJoin(j, this.self, this.inc) });
    this.joinAt = now + this.o.timeouts.joinMs;
  }

  private onJoin(now: number, h: PacketHeader, j: JoinMessage): void {
    if (j.ringSeqMax > this.ringSeqMax) this.ringSeqMax = j.ringSeqMax;
    const from = h.sender;
    if (this.state === 'operational') {
      const member = this.isMemberOf(this.memberInc, h);
      if (j.leave) {
        if (!member) return;
        this.enterGather(now);
        if (this.gather?.fail(from)) this.sendJoin(now);
        this.checkConsensus(now);
        return;
      }
      // A processor that counts me as failed does not want me now; its ring will probe later.
      if (j.fails.has(this.self)) return;
      if (!member && this.keyRefusedNow(now, from, h.incarnation)) return;
      // A delayed join from a member, sent before the ring I am in was formed.
      if (member && j.ring.seq < this.ring.seq) return;
      if (!member) this.st.foreignDetections++;
      this.enterGather(now, h);
    } else if (this.state === 'commit' || this.state === 'recovery') {
      const inForming = this.commit?.members.some((e) => e.id === from) ?? false;
      if (!inForming) return;
      if (!j.leave && this.committedGather?.sameSets(j)) return;
      this.enterGather(now);
    }
    const g = this.gather;
    if (this.state !== 'gather' || !g) return;
    const outcome = g.onJoin(from, j);
    if (outcome === 'changed') this.sendJoin(now);
    this.checkConsensus(now);
  }

  private checkConsensus(now: number): void {
    const g = this.gather;
    if (this.state !== 'gather' || !g) return;
    if (!g.consensus()) {
      this.awaitingCommit = false;
      return;
    }
    const members = g.members();
    // Totem §4.3: the representative (smallest id) forms the commit token; others wait for it,
    // for up to the form timeout before silent processors are failed again.
    if (members[0] !== this.self) {
      if (!this.awaitingCommit) {
        this.awaitingCommit = true;
        this.consensusAt = now + Math.max(this.o.timeouts.formMs, this.o.timeouts.consensusMs);
      }
      return;
    }
    const seq = Math.max(this.ringSeqMax, g.ringSeqMax, this.ring.seq) + 1;
    const ring: RingId = { rep: this.self, seq };
    const entries: CommitEntry[] = members.map((id) => ({
      id,
      incarnation: g.procs.get(id) ?? 0,
      filled: false,
      oldRing: { rep: 0, seq: 0 },
      oldAru: 0,
      oldHigh: 0,
      oldSafe: 0,
      oldDelivered: 0,
      form: EMPTY,
      sealed: EMPTY,
    }));
    const c: CommitToken = { ring, tokenSeq: 1, rotation: 1, members: entries };
    this.enterCommit(now, c, g);
    if (members.length === 1) {
      // Alone: both rotations are trivially complete; recovery has nothing to exchange.
      c.rotation = 2;
      if (!this.sealEpochForMembers(now, c)) return;
      if (this.enterRecovery(now, c)) this.install(now);
      return;
    }
    this.forwardCommit(now, c);
  }

  /** Totem §4.3 commit token, first rotation: fill my entry and freeze my old-ring state. */
  private enterCommit(now: number, c: CommitToken, g: Gather): void {
    const e = c.members.find((m) => m.id === this.self) as CommitEntry;
    e.filled = true;
    e.oldRing = this.log.ring;
    e.oldAru = this.log.aru;
    e.oldHigh = Math.max(this.log.high, this.log.aru);
    e.oldSafe = Math.min(this.log.safe, this.log.aru);
    e.oldDelivered = this.log.delivered;
    e.form = this.o.formationKeys
      ? this.boundedField(this.o.formationKeys.contribute(now, c.ring, this.forming(c)))
      : this.formField(c.ring, c.members.map((m) => m.id));
    this.commit = c;
    this.committedGather = g;
    this.gather = undefined;
    this.state = 'commit';
    this.formAt = now + this.o.timeouts.formMs;
    // Two commit rotations and a few recovery rotations, each hop allowed up to formMs.
    this.formHardAt = now + this.o.timeouts.formMs * (4 + 2 * c.members.length);
    this.joinAt = undefined;
    this.consensusAt = undefined;
    this.tokenSeqSeen = c.tokenSeq;
    if (c.ring.seq > this.ringSeqMax) this.ringSeqMax = c.ring.seq;
  }

  private forwardCommit(now: number, c: CommitToken): void {
    c.tokenSeq++;
    this.tokenSeqSeen = c.tokenSeq;
    const to = this.successorOf(c.members.map((m) => m.id));
    const encoded = encodeCommit(c, this.self, this.inc);
    // A token larger than a packet goes in parts (more members, or per-configuration key fields).
    const packets = commitPackets(encoded, c.ring, c.tokenSeq, this.self, this.inc, this.o.packetBytesMax);
    if (!packets) {
      this.st.commitTokensTooLarge++;
      return;
    }
    for (const bytes of packets) this.tx.push({ to, bytes });
    this.tokenSent = { bytes: packets[0]!, to, seqAtSend: Infinity, deadline: now + this.o.timeouts.tokenRetransmitMs, epoch: undefined, parts: packets.slice(1) };
  }

  private onCommit(now: number, h: PacketHeader, c: CommitToken): void {
    const ids = c.members.map((m) => m.id);
    const myIndex = ids.indexOf(this.self);
    if (myIndex < 0) return;
    const predecessor = ids[(myIndex + ids.length - 1) % ids.length];
    if (predecessor !== h.sender) return;
    const mine = c.members[myIndex] as CommitEntry;
    if (mine.incarnation !== this.inc) return;
    for (const e of c.members) {
      const known = this.incarnations.get(e.id);
      if (known !== undefined && known > e.incarnation) return;
    }

    if (this.state === 'gather' && this.gather) {
      // Totem §4.3: accept a commit token for exactly the membership I am gathering.
      const g = this.gather;
      if (c.rotation !== 1 || mine.filled || c.ring.rep !== ids[0]) return;
      const gm = g.members();
      if (gm.length !== ids.length || gm.some((id, i) => id !== ids[i])) return;
      for (const e of c.members) if (g.procs.get(e.id) !== e.incarnation) return;
      if (c.ring.seq <= this.ring.seq) return;
      this.enterCommit(now, c, g);
      this.forwardCommit(now, c);
      return;
    }
    if ((this.state === 'commit' || this.state === 'recovery') && this.commit && ringIdEquals(c.ring, this.commit.ring)) {
      if (c.tokenSeq <= this.tokenSeqSeen) {
        this.st.tokensDuplicate++;
        return;
      }
      this.tokenSent = undefined;
      this.formAt = now + this.o.timeouts.formMs;
      const rep = c.ring.rep === this.self;
      if (this.state === 'commit') {
        if (c.rotation === 1) {
          if (!rep) return;
          if (c.members.some((e) => !e.filled)) {
            this.enterGather(now);
            return;
          }
          // Totem §4.3: second rotation distributes every member's entry (and, with
          // per-configuration keys, each member's sealed copy of the new epoch secret).
          c.rotation = 2;
          if (!this.sealEpochForMembers(now, c)) return;
          if (this.enterRecovery(now, c)) this.forwardCommit(now, c);
          return;
        }
        if (c.members.some((e) => !e.filled)) return;
        if (this.enterRecovery(now, c)) this.forwardCommit(now, c);
        return;
      }
      if (rep && c.rotation === 2) {
        // Totem §4.4: the commit token completed its second rotation; the representative
        // starts the new ring's regular token, and recovery runs on it.
        const t: RegularToken = {
          ring: c.ring,
          tokenSeq: c.tokenSeq,
          seq: 0,
          aru: 0,
          aruId: undefined,
          fcc: 0,
          backlog: 0,
          rotation: 0,
          doneCount: 0,
          generation: 0,
          rtr: [],
        };
        this.processToken(now, t);
      }
    }
  }

  /**
   * Totem §4.4: enter recovery on the forming ring with every member's commit entry known. A token
   * whose entry for this processor is not what it filled in (damaged, or forged by a member) is
   * dropped and the membership is gathered again: bad input never stops the engine.
   */
  private enterRecovery(now: number, c: CommitToken): boolean {
    const plan = planRecovery(c, this.self, this.log);
    if (plan === undefined) {
      this.st.packetsMalformed++;
      this.enterGather(now);
      return false;
    }
    const keys = this.o.formationKeys;
    if (keys) {
      // The forming ring's keys are installed before anything is sent on it.
      const fields = new Map(c.members.map((e) => [e.id, e.form] as const));
      const mine = c.members.find((e) => e.id === this.self)?.sealed ?? EMPTY;
      if (!keys.accept(now, c.ring, this.forming(c), fields, mine)) {
        this.st.formationsRefused++;
        this.enterGather(now);
        // The representative sealed nothing this member can open (another key schedule, a
        // wrong identity, a forged token): gather without it, or it would lead every attempt
        // and no ring would ever form. Merge detection brings it back once it is fixed.
        if (c.ring.rep !== this.self) this.refuseForKeys(now, c.ring.rep, c.members.find((e) => e.id === c.ring.rep)?.incarnation ?? 0);
        if (c.ring.rep !== this.self && this.gather?.fail(c.ring.rep)) {
          this.sendJoin(now);
          this.checkConsensus(now);
        }
        return false;
      }
    }
    this.generation = 0;
    this.commit = c;
    this.state = 'recovery';
    this.next = new RingLog(c.ring, this.aheadPacketsMax);
    this.nextMembers = c.members.map((e) => e.id);
    this.nextInc = new Map(c.members.map((e) => [e.id, e.incarnation]));
    this.plan = plan;
    this.recoveryQueue = plan.retransmit;
    this.recoveryHead = 0;
    this.myPreviousFcc = 0;
    this.myPreviousBacklog = 0;
    this.previousAruOut = 0;
    this.previousVisitSeq = 0;
    // Until the first token of the forming ring arrives, the form timeout watches progress.
    this.tokenLossAt = undefined;
    if (c.ring.seq > this.ringSeqMax) this.ringSeqMax = c.ring.seq;
    return true;
  }

  /**
   * EVS installation (Totem §4.4 final step): deliver the old ring's messages that satisfy the
   * old regular configuration's rules, then the transitional configuration and the rest of the
   * recovered old-ring messages (holes skipped), then the new regular configuration.
   */
  private install(now: number): void {
    const c = this.commit;
    const plan = this.plan;
    const next = this.next;
    if (!c || !plan || !next) throw new Error('install without commit token and recovery plan');
    const old = this.log;
    const oldRing = old.ring;
    // Seqs above what this log stored hold nothing to deliver; a damaged commit token may name a
    // highMax far beyond them, which must not become billions of empty iterations.
    const lastOld = Math.min(plan.highMax, old.highestStored);

    // EVS: deliver in the old regular configuration, up to the first hole or the first SAFE
    // message not known to be received by every member of the old configuration.
    for (let s = old.delivered + 1; s <= lastOld; s++) {
      const sp = old.get(s);
      if (!sp) break;
      if (sp.pkt.hasSafe && s > plan.safeMax) break;
      this.emitPacket(sp.pkt, oldRing);
      old.delivered = s;
    }
    // EVS: the transitional configuration, then what could not be delivered in the regular one.
    this.pushEvent({ type: 'transitional', ring: c.ring, previous: oldRing, members: plan.transMembers.slice() });
    // Past a hole no member of the transitional configuration can fill, only messages of its
    // members are delivered: they had every message they delivered before sending, so nothing
    // causally before them is missing; a sender outside may have depended on the lost message.
    const inTrans = new Set(plan.transMembers);
    let afterHole = false;
    for (let s = old.delivered + 1; s <= lastOld; s++) {
      const sp = old.get(s);
      if (!sp) {
        afterHole = true;
        continue;
      }
      if (!afterHole || inTrans.has(sp.pkt.sender)) this.emitPacket(sp.pkt, c.ring);
      old.delivered = s;
    }
    // Incomplete fragmented messages can never complete now.
    this.reasm.clear();

    // EVS: the new regular configuration.
    const previousRings = new Map<DaemonId, RingId>();
    const formFields = new Map<DaemonId, Uint8Array>();
    for (const e of c.members) {
      previousRings.set(e.id, e.oldRing);
      formFields.set(e.id, e.form);
    }
    const members = c.members.map((e) => e.id);
    this.pushEvent({ type: 'regular', ring: c.ring, members: members.slice(), previousRings, formFields });
    this.st.membershipChanges++;

    this.installRing(c.ring, members, this.nextInc, next);
    // EVS: every old-ring message is delivered; the old configuration's keys can go.
    this.o.formationKeys?.installed(now, c.ring, oldRing);
    this.commit = undefined;
    this.committedGather = undefined;
    this.plan = undefined;
    this.next = undefined;
    this.nextMembers = [];
    this.nextInc = new Map();
    this.recoveryQueue = [];
    this.recoveryHead = 0;
    this.formAt = undefined;
    this.formHardAt = undefined;
    this.packer.restartPartial();
    this.probeAt = now + this.o.timeouts.mergeDetectMs;
    if (members.length === 1) {
      this.tokenSent = undefined;
      this.tokenLossAt = undefined;
      this.flushSingleton();
    }
    this.deliver();
  }

  private installRing(ring: RingId, members: DaemonId[], inc: ReadonlyMap<DaemonId, number>, log?: RingLog): void {
    this.ring = ring;
    this.members = members;
    this.memberInc = new Map(inc);
    this.log = log ?? new RingLog(ring, this.aheadPacketsMax);
    this.state = 'operational';
    this.gather = undefined;
    this.joinAt = undefined;
    this.consensusAt = undefined;
  }
}
