/**
 * The crypto layer of simulated daemons, as the daemon wires it (src/daemon/packet-protection.ts):
 * every packet a daemon transmits is sealed once by its PacketProtector and every packet it
 * receives is opened by the receiver's protector; a rejected packet never reaches the engine.
 *
 * Every daemon shares one test cluster secret drawn from the seed. A restarted daemon gets a new
 * protector with the restart's incarnation (the protector requires strictly increasing
 * incarnations in [1, 2^42), which the simulator's start-time incarnations are), so its counters
 * never repeat those of an earlier run. The caller must `await initCrypto()` once before a
 * simulation with 'integrity' or 'encrypt' is built.
 */
import {
  HEADER_BYTES,
  INCARNATION_MAX,
  OPEN_FAILURE_REASONS,
  PacketProtector,
  type OpenFailureReason,
  type ProtectionMode,
} from '../../crypto/index.js';
import { EPOCH_SCHEDULE_EPOCHS_MAX, EpochKeySchedule, generateDaemonIdentity, type DaemonIdentity, type DaemonPublicKey, type EpochSecretEvent } from '../../keys/index.js';
import type { FormationKeys, TransmitEpoch } from '../ring/types.js';
import type { DaemonId, RingId } from '../util/ids.js';
import { Prng } from './prng.js';

/** Modes the simulator runs with a protector; 'none' is the daemon's plain path (no layer at all). */
export type SimCryptoMode = ProtectionMode;

export const SIM_CRYPTO_MODES: readonly SimCryptoMode[] = ['none', 'integrity', 'encrypt'];

export interface ProtectionStats {
  sealed: number;
  opened: number;
  rejected: Record<OpenFailureReason, number>;
}

const CLUSTER_SECRET_BYTES = 32;
/** Room for the longest tag of any suite. */
const PROTECTION_TAG_BYTES_MAX = 32;
/** The largest datagram the protectors accept: the protector's own upper limit. */
const PROTECTED_PACKET_BYTES_LIMIT = 65_535;

function emptyRejections(): Record<OpenFailureReason, number> {
  const r = {} as Record<OpenFailureReason, number>;
  for (const reason of OPEN_FAILURE_REASONS) r[reason] = 0;
  return r;
}

/** The test cluster secret of a seed (not secret at all: it only has to be the same everywhere). */
export function simClusterSecret(seed: number): Uint8Array {
  const rng = new Prng(seed).fork('cluster-secret');
  const out = new Uint8Array(CLUSTER_SECRET_BYTES);
  for (let i = 0; i < out.length; i++) out[i] = rng.nextU32() & 0xff;
  return out;
}

/** Per-configuration epoch keys in the simulator (keys/epoch-schedule.ts on every daemon). */
export interface SimEpochKeyOptions {
  /** Age after which the representative rekeys (short, so runs see many generations). */
  rekeyMs: number;
  rekeyPackets: number;
  /**
   * A deliberately broken key schedule, to prove the key checks can fail: this daemon slot is
   * also handed every configuration's epoch secrets, member or not.
   */
  leakToSlot?: number;
}

/** One epoch secret held or erased by one daemon (for the key checker). */
export interface EpochKeyEvent extends EpochSecretEvent {
  atMs: number;
  daemon: DaemonId;
  incarnation: number;
}

/** What the key checker needs: who held which secret, and which members each configuration was sealed to. */
export interface EpochKeyHistory {
  events: EpochKeyEvent[];
  /** Configurations keyed by a representative: ring → members it sealed the secret to, and the generation-0 fingerprint. */
  distributed: Map<string, { ring: RingId; members: DaemonId[]; fingerprint: string }>;
  /** Packets of a configuration's epoch offered to daemons outside it: how many, and how many opened. */
  outsiderProbes: number;
  outsiderOpened: { atMs: number; daemon: DaemonId; ring: RingId; generation: number }[];
  /**
   * Transmits not sent because their configuration's keys were already erased: packets the
   * engine queued for a forming ring in the same step in which it gave that ring up.
   */
  sealRefused: number;
}

/** Outsider probes per configuration generation and outside daemon (the first packets suffice). */
const OUTSIDER_PROBES_PER_EPOCH = 3;

function ringKeyOf(r: RingId): string {
  return `${r.rep >>> 0}.${r.seq}`;
}

export class ProtectedNetwork {
  readonly mode: Exclude<SimCryptoMode, 'none'>;
  /** Largest protected datagram: the engine's packetBytesMax plus header and tag. */
  readonly packetBytesMax: number;
  private readonly daemons: readonly DaemonId[];
  private readonly secret: Uint8Array;
  /** Current protector of each daemon slot (undefined before its first start). */
  private readonly protectors: (PacketProtector | undefined)[];
  /** Totals of protectors that were replaced by a restart. */
  private readonly retired: ProtectionStats = { sealed: 0, opened: 0, rejected: emptyRejections() };
  private readonly epochKeys: SimEpochKeyOptions | undefined;
  private readonly identities: DaemonIdentity[] = [];
  private readonly trusted = new Map<DaemonId, DaemonPublicKey>();
  private readonly schedules: (EpochKeySchedule | undefined)[];
  private readonly incarnations: number[];
  private readonly seed: number;
  /** Current simulated time, for key events (set by the simulator before each call). */
  nowMs = 0;
  readonly keyHistory: EpochKeyHistory = { events: [], distributed: new Map(), outsiderProbes: 0, outsiderOpened: [], sealRefused: 0 };
  private readonly probesDone = new Map<string, number>();

  constructor(mode: Exclude<SimCryptoMode, 'none'>, seed: number, daemons: readonly DaemonId[], enginePacketBytesMax: number, epochKeys?: SimEpochKeyOptions) {
    this.mode = mode;
    this.daemons = daemons;
    this.seed = seed;
    this.secret = simClusterSecret(seed);
    this.packetBytesMax = Math.min(PROTECTED_PACKET_BYTES_LIMIT, enginePacketBytesMax + HEADER_BYTES + PROTECTION_TAG_BYTES_MAX);
    this.protectors = daemons.map(() => undefined);
    this.schedules = daemons.map(() => undefined);
    this.incarnations = daemons.map(() => 0);
    this.epochKeys = epochKeys;
    if (epochKeys) {
      const rng = new Prng(seed).fork('identities');
      daemons.forEach((id) => {
        const seedBytes = new Uint8Array(32);
        for (let i = 0; i < 32; i++) seedBytes[i] = rng.nextU32() & 0xff;
        const identity = generateDaemonIdentity(seedBytes);
        this.identities.push(identity);
        this.trusted.set(id, identity.publicKey);
      });
    }
  }

  /** The daemon's key schedule for its engine (with epoch keys), after start(). */
  formationKeys(index: number): FormationKeys | undefined {
    return this.schedules[index];
  }

  /** A daemon (re)starts: a fresh protector for its new incarnation. */
  start(index: number, incarnation: number): void {
    if (!Number.isSafeInteger(incarnation) || incarnation < 1 || incarnation > INCARNATION_MAX) {
      throw new RangeError(`simulated incarnation ${incarnation} is outside the protector's range [1, 2^42)`);
    }
    const old = this.protectors[index];
    if (old !== undefined) this.addStats(this.retired, old);
    this.schedules[index]?.close();
    const protector = new PacketProtector({
      self: this.daemons[index]!,
      incarnation,
      daemons: this.daemons,
      mode: this.mode,
      clusterSecret: this.secret,
      packetBytesMax: this.packetBytesMax,
      ...(this.epochKeys ? { epochsInstalledMax: EPOCH_SCHEDULE_EPOCHS_MAX + (this.epochKeys.leakToSlot === index ? 64 - EPOCH_SCHEDULE_EPOCHS_MAX : 0) } : {}),
    });
    this.protectors[index] = protector;
    this.incarnations[index] = incarnation;
    if (!this.epochKeys) return;
    const self = this.daemons[index]!;
    const rng = new Prng(this.seed).fork(`epoch-random:${index}:${incarnation}`);
    const schedule: EpochKeySchedule = new EpochKeySchedule({
      self,
      protector,
      clusterSecret: this.secret,
      configHash: this.seed >>> 0,
      identity: this.identities[index]!,
      trusted: this.trusted,
      randomBytes: (n) => {
        const out = new Uint8Array(n);
        for (let i = 0; i < n; i++) out[i] = rng.nextU32() & 0xff;
        return out;
      },
      rekeyMs: this.epochKeys.rekeyMs,
      rekeyPackets: this.epochKeys.rekeyPackets,
      observe: (e) => {
        this.keyHistory.events.push({ ...e, atMs: this.nowMs, daemon: self, incarnation });
        // The broken schedule of the control run: whatever a member comes to hold, the leak slot gets too.
        if (e.kind === 'hold' && this.epochKeys?.leakToSlot !== undefined && this.epochKeys.leakToSlot !== index) this.leak(schedule, e.ring);
      },
      // What each representative distributed: the authority on a configuration's members.
      onKeyed: (ring, members, fingerprint) => this.keyHistory.distributed.set(ringKeyOf(ring), { ring, members: [...members], fingerprint }),
    });
    this.schedules[index] = schedule;
  }

  private readonly leaked = new Set<string>();

  /** The broken schedule of SimEpochKeyOptions.leakToSlot: the leak slot's protector gets the ring's current epochs too. */
  private leak(from: EpochKeySchedule, ring: RingId): void {
    const slot = this.epochKeys!.leakToSlot!;
    const target = this.protectors[slot];
    if (!target) return;
    for (const h of from.leakForTest(ring)) {
      const key = `${this.incarnations[slot]}:${h.epochId}:${h.fingerprint}`;
      if (this.leaked.has(key) || target.installedEpochs().includes(h.epochId)) continue;
      this.leaked.add(key);
      try {
        target.installEpoch(h.epochId, h.secret);
      } catch {
        continue;
      }
      this.keyHistory.events.push({ kind: 'hold', ring, generation: h.generation, fingerprint: h.fingerprint, atMs: this.nowMs, daemon: this.daemons[slot]!, incarnation: this.incarnations[slot]! });
    }
  }

  /** Seals a transmit as the daemon does; undefined if its configuration's keys are gone (not sent). */
  seal(index: number, plain: Uint8Array, epoch?: TransmitEpoch): Uint8Array | undefined {
    const p = this.protectors[index];
    if (p === undefined) throw new RangeError(`daemon slot ${index} transmits before it started`);
    const schedule = this.schedules[index];
    if (!schedule) return p.seal(plain);
    const sealed = schedule.seal(epoch ? { to: 'ring', bytes: plain, epoch } : { to: 'ring', bytes: plain });
    if (sealed === undefined) this.keyHistory.sealRefused++;
    return sealed;
  }

  /**
   * Offers a packet sealed under a configuration's epoch to running daemons outside that
   * configuration, as an eavesdropper holding everything they hold would: none may open it.
   */
  probeOutsiders(fromIndex: number, sealed: Uint8Array, epoch: TransmitEpoch | undefined): void {
    if (!epoch || !this.epochKeys) return;
    const key = ringKeyOf(epoch.ring);
    const members = this.keyHistory.distributed.get(key)?.members;
    if (!members) return;
    this.daemons.forEach((id, i) => {
      if (i === fromIndex || members.includes(id)) return;
      const p = this.protectors[i];
      if (!p) return;
      const probeKey = `${key}:${epoch.generation}:${i}`;
      const done = this.probesDone.get(probeKey) ?? 0;
      if (done >= OUTSIDER_PROBES_PER_EPOCH) return;
      this.probesDone.set(probeKey, done + 1);
      this.keyHistory.outsiderProbes++;
      const r = p.open(sealed.slice(), this.daemons[fromIndex]!);
      if (r.ok) this.keyHistory.outsiderOpened.push({ atMs: this.nowMs, daemon: id, ring: epoch.ring, generation: epoch.generation });
    });
  }

  /** The plaintext, or undefined if the receiver's protector rejected the packet. */
  open(index: number, fromId: DaemonId, packet: Uint8Array): Uint8Array | undefined {
    const p = this.protectors[index];
    if (p === undefined) return undefined;
    const schedule = this.schedules[index];
    const r = schedule ? schedule.open(packet, fromId) : p.open(packet, fromId);
    return r.ok ? r.payload : undefined;
  }

  /** A daemon stops (crash or leave): its key schedule is erased with it. */
  stop(index: number): void {
    this.schedules[index]?.close();
    this.schedules[index] = undefined;
  }

  /** Sealed, opened and rejected packets of every protector of the run so far. */
  stats(): ProtectionStats {
    const out: ProtectionStats = { sealed: this.retired.sealed, opened: this.retired.opened, rejected: { ...this.retired.rejected } };
    for (const p of this.protectors) if (p !== undefined) this.addStats(out, p);
    return out;
  }

  private addStats(into: ProtectionStats, p: PacketProtector): void {
    const s = p.stats();
    into.sealed += s.sealed;
    into.opened += s.opened;
    for (const reason of OPEN_FAILURE_REASONS) into.rejected[reason] += s.rejected[reason];
  }
}
