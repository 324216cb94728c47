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
import type { DaemonId } from '../util/ids.js';
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

  constructor(mode: Exclude<SimCryptoMode, 'none'>, seed: number, daemons: readonly DaemonId[], enginePacketBytesMax: number) {
    this.mode = mode;
    this.daemons = daemons;
    this.secret = simClusterSecret(seed);
    this.packetBytesMax = Math.min(PROTECTED_PACKET_BYTES_LIMIT, enginePacketBytesMax + HEADER_BYTES + PROTECTION_TAG_BYTES_MAX);
    this.protectors = daemons.map(() => undefined);
  }

  /** A daemon (re)starts: a fresh protector for its new incarnation. */
  start(index: number, incarnation: number): void {
    if (!Number.isSafeInteger(incarnation) || incarnation < 1 || incarnation > INCARNATION_MAX) {
      throw new RangeError(`simulated incarnation ${incarnation} is outside the protector's range [1, 2^42)`);
    }
    const old = this.protectors[index];
    if (old !== undefined) this.addStats(this.retired, old);
    this.protectors[index] = new PacketProtector({
      self: this.daemons[index]!,
      incarnation,
      daemons: this.daemons,
      mode: this.mode,
      clusterSecret: this.secret,
      packetBytesMax: this.packetBytesMax,
    });
  }

  seal(index: number, plain: Uint8Array): Uint8Array {
    const p = this.protectors[index];
    if (p === undefined) throw new RangeError(`daemon slot ${index} transmits before it started`);
    return p.seal(plain);
  }

  /** The plaintext, or undefined if the receiver's protector rejected the packet. */
  open(index: number, fromId: DaemonId, packet: Uint8Array): Uint8Array | undefined {
    const p = this.protectors[index];
    if (p === undefined) return undefined;
    const r = p.open(packet, fromId);
    return r.ok ? r.payload : undefined;
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
