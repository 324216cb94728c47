/**
 * The contract of the sans-IO Totem engine (ring ordering in src/ring, membership in
 * src/membership), shared by the daemon's UDP driver and the simulator.
 *
 * Shape after quinn-proto: inputs are `handle*` and `submit`, outputs are drained with `poll*`.
 * Time is always an argument (milliseconds, monotonic); randomness is injected.
 */
import type { DaemonId, RingId } from '../util/ids.js';
import type { ServiceLevel } from '../util/service.js';

/** Timeouts, in milliseconds, from the configuration (Spread names in comments). */
export interface TotemTimeouts {
  /** TokenTimeout: no token for this long in the operational state ⇒ token loss ⇒ gather. */
  tokenLossMs: number;
  /** Token retransmission: resend the last token if the successor shows no sign of it. (HurryTimeout / RepTimeout) */
  tokenRetransmitMs: number;
  /** JoinTimeout: interval between join message retransmissions in gather. */
  joinMs: number;
  /** GatherTimeout (Totem "consensus timeout"): give up on silent processors in gather. */
  consensusMs: number;
  /** FormTimeout: commit token / recovery must complete within this, else back to gather. */
  formMs: number;
  /** Interval of presence probes sent while operational so that partitioned rings discover each other and merge (Totem: foreign-message detection; Spread: AliveTimeout/LookupTimeout). */
  mergeDetectMs: number;
}

export interface TotemOptions {
  self: DaemonId;
  /**
   * Incarnation of this daemon: strictly increasing across restarts of the same daemon (the
   * daemon uses its start time in ms). A restarted daemon is a new process to the others.
   */
  incarnation: number;
  /** Every configured daemon, in configuration order. */
  configured: readonly DaemonId[];
  timeouts: TotemTimeouts;
  /** Window: maximum new packets broadcast by all daemons in one token rotation (default 160). */
  windowPacketsMax: number;
  /** PersonalWindow: maximum new packets one daemon broadcasts per token visit (default 20). */
  personalWindowPacketsMax: number;
  /**
   * AcceleratedWindow with AcceleratedRing (Babay and Amir, "Fast Total Ordering for Modern Data
   * Centers", ICDCS 2016): of the new packets a daemon broadcasts on one token visit, up to this
   * many are sent after the token is passed on, so the successor's visit overlaps with them; a
   * daemon then requests retransmission only of seqs the token had reached on its previous visit.
   * 0 or absent: plain Totem (every packet before the token). At most personalWindowPacketsMax.
   * Recovery and singleton rings never accelerate.
   */
  acceleratedWindowPacketsMax?: number;
  /**
   * Reply-anticipating token hold (AnticipateReplies): after anticipateReply(), the next token
   * visit that finds nothing to send or retransmit keeps the token for up to this many ms, and
   * the submission of the expected reply passes it on at once. 0 or absent: off.
   */
  replyHoldMs?: number;
  /** Largest packet the engine may emit, in bytes (before any crypto overhead). */
  packetBytesMax: number;
  /** Bound on messages submitted but not yet sent on the ring; submit() refuses beyond it. */
  pendingMessagesMax: number;
  /** Seeded randomness (the simulator injects a PRNG); returns [0, 1). */
  random: () => number;
  /**
   * Opaque per-member field carried by the commit token (Totem §4.3 commit/form step); the key
   * schedule puts its contribution for the forming ring here. Called once per commit token this
   * daemon fills in. At most FORM_FIELD_BYTES_MAX bytes.
   */
  formContribution?: (ring: RingId, members: readonly DaemonId[]) => Uint8Array;
  /**
   * Per-configuration keys (keys/epoch-schedule.ts). When set, it replaces formContribution,
   * establishes every forming ring's epoch secret in the two commit-token rotations, keeps
   * recovered old-ring messages under the old ring's keys, and moves a ring to the next key
   * generation in token order. Transmits then name the epoch that must protect them.
   */
  formationKeys?: FormationKeys;
}

/** A member of a forming ring as the commit token names it. */
export interface FormingMember {
  id: DaemonId;
  incarnation: number;
}

/** The representative's second-rotation output: a sealed field per member, or members to exclude. */
export type FormationDistribution =
  | {
      ok: true;
      sealed: ReadonlyMap<DaemonId, Uint8Array>;
      /** Replacements of the members' first-rotation fields for the second rotation (shorter: what the others need of them). */
      fields?: ReadonlyMap<DaemonId, Uint8Array>;
    }
  | { ok: false; exclude: readonly DaemonId[] };

/**
 * The key schedule as the engine sees it (Totem §4.3 commit token, §4.4 recovery, and the
 * regular token's rotation for rekeys). Every method is synchronous and must not throw on bad
 * input from peers: it reports failure instead.
 */
export interface FormationKeys {
  /** First rotation: this member's field for the forming ring (≤ FORM_FIELD_BYTES_MAX). */
  contribute(now: number, ring: RingId, members: readonly FormingMember[]): Uint8Array;
  /**
   * Representative, between the rotations: check every member's field and seal the forming
   * ring's epoch secret to each member (≤ FORM_FIELD_BYTES_MAX each), or name members whose
   * fields cannot be trusted (they are failed and membership is gathered again).
   */
  distribute(now: number, ring: RingId, members: readonly FormingMember[], fields: ReadonlyMap<DaemonId, Uint8Array>): FormationDistribution;
  /**
   * Every member, on the second rotation (before it sends anything on the forming ring): take
   * the epoch secret from its sealed field and install the forming ring's keys. False: the
   * token is not acceptable (gather again).
   */
  accept(now: number, ring: RingId, members: readonly FormingMember[], fields: ReadonlyMap<DaemonId, Uint8Array>, sealed: Uint8Array): boolean;
  /** The forming ring was given up before it was installed: erase its keys. */
  abandon(ring: RingId): void;
  /** EVS installation of `ring` is complete (every old-ring message delivered): erase `previous`'s keys. */
  installed(now: number, ring: RingId, previous: RingId): void;
  /** A regular token of `ring` with key generation `generation` is being processed here. */
  tokenGeneration(now: number, ring: RingId, generation: number): void;
  /** Representative: whether the ring should move to its next key generation at this token visit. */
  rekeyDue(now: number, ring: RingId, generation: number): boolean;
  /** Seals an old-ring packet's items for a recovery carrier under the old ring's keys. */
  sealRecovered(oldRing: RingId, plain: Uint8Array): Uint8Array;
  /** Opens a recovery carrier's sealed items (undefined: not readable with the keys held). */
  openRecovered(oldRing: RingId, sender: DaemonId, sealed: Uint8Array): Uint8Array | undefined;
  /** What sealRecovered adds to its input, in bytes. */
  readonly recoveredOverheadBytes: number;
}

/** The key epoch that must protect a transmit: a ring and the key generation within it. */
export interface TransmitEpoch {
  ring: RingId;
  generation: number;
}

/** A message handed to the ring by the layer above (groups). The payload is opaque here. */
export interface SubmittedMessage {
  service: ServiceLevel;
  /** The sending stream (session) within this daemon: FIFO and CAUSAL order are per stream. */
  stream: number;
  payload: Uint8Array;
}

/** Upper bound of one member's commit-token field (TotemOptions.formContribution). */
export const FORM_FIELD_BYTES_MAX = 1024;

/**
 * What the engine asks its driver to send. `'ring'`: every other member of the current ring;
 * `'configured'`: every other configured daemon (join messages, merge probes). The engine never
 * sends to itself: its own broadcasts are processed internally.
 */
export interface Transmit {
  to: DaemonId | 'ring' | 'configured';
  bytes: Uint8Array;
  /**
   * With formationKeys: the ring epoch whose keys protect this packet (tokens and data of a
   * ring, including its recovery). Absent: membership traffic (joins, probes, commit tokens),
   * protected by the cluster's epoch 0.
   */
  epoch?: TransmitEpoch;
}

/**
 * Ordered output, in EVS delivery order (Moser, Amir, Melliar-Smith, Agarwal 1994):
 * messages of regular configuration C; then, on a change, a transitional configuration with the
 * members of C that move together into the next regular configuration, the messages of C that
 * could only be delivered there; then the next regular configuration.
 */
export type RingEvent =
  | {
      type: 'message';
      /** The configuration (regular or transitional) the message is delivered in. */
      ring: RingId;
      /** Ring sequence number in the configuration it was sent in. */
      seq: number;
      sender: DaemonId;
      stream: number;
      service: ServiceLevel;
      payload: Uint8Array;
    }
  | {
      type: 'transitional';
      ring: RingId;
      /** The regular ring this transitional configuration follows. */
      previous: RingId;
      members: readonly DaemonId[];
    }
  | {
      type: 'regular';
      ring: RingId;
      members: readonly DaemonId[];
      /** For each member, the ring it came from (its previous regular configuration). */
      previousRings: ReadonlyMap<DaemonId, RingId>;
      /** The per-member commit-token fields (see TotemOptions.formContribution). */
      formFields: ReadonlyMap<DaemonId, Uint8Array>;
    };

export interface TotemStatus {
  state: 'operational' | 'gather' | 'commit' | 'recovery';
  ring: RingId;
  members: readonly DaemonId[];
  aru: number;
  highestSeq: number;
  tokenRounds: number;
  retransmissions: number;
  membershipChanges: number;
  pendingMessages: number;
  /** Token visits held for a local client's reply, and how many of them the reply ended (Totem engines only). */
  replyHolds?: number;
  replyHoldHits?: number;
}

/** The Totem engine as the daemon and the simulator drive it. */
export interface TotemEngine {
  /** Start: a lone daemon forms a singleton ring and then looks for others (gather). */
  start(now: number): void;
  /** Submit a message; false if pendingMessagesMax is reached (caller applies back-pressure). */
  submit(now: number, msg: SubmittedMessage): boolean;
  handlePacket(now: number, from: DaemonId, bytes: Uint8Array): void;
  handleTimeout(now: number): void;
  /** Clean shutdown: announce departure so the others reconfigure at once. */
  leave(now: number): void;
  /**
   * Start a membership round now (Totem §4.2 gather) although no fault was seen: the daemon
   * does this when it stops trusting a member (a revoked identity), so that the next
   * configuration, and its keys, form without it at once.
   */
  reconfigure?(now: number): void;
  /**
   * A message from another daemon was just handed to a client of this daemon, which may answer
   * it: the next token visit with nothing to send holds the token for the answer (replyHoldMs).
   */
  anticipateReply?(now: number): void;
  pollTransmit(): Transmit | undefined;
  pollTimeout(): number | undefined;
  pollEvent(): RingEvent | undefined;
  status(): TotemStatus;
}
