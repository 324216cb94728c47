/**
 * The crypto layer between the UDP transport and the Totem engine (shared/architecture.md data
 * flow): seals every outgoing ring packet and opens every incoming one, so that only holders of
 * the cluster key take part in the ring. Rejected packets never reach the engine; they are
 * counted, and logged at a rate-limited pace naming the peer (a wrong key or mode produces one
 * clear line per peer, not a flood).
 *
 * With daemon identities (DaemonIdentityFile and DaemonPublicKey lines), the layer also runs the
 * key schedule (keys/epoch-schedule.ts): every configuration gets its own epoch key, which the
 * engine establishes while the configuration forms, and each transmit is sealed under the epoch
 * it names. Packets from daemons without a trusted public key are refused.
 */
import type { DaemonEntry, RingcastConfig } from '../config/index.js';
import { PacketProtector, RateLimitedLog, initCrypto, type OpenFailureReason, type ProtectorStats } from '../../crypto/index.js';
import {
  EPOCH_SCHEDULE_EPOCHS_MAX,
  EpochKeySchedule,
  checkDaemonIdentity,
  eraseDaemonIdentity,
  readClusterKeyFile,
  readDaemonIdentityFile,
  type DaemonPublicKey,
  type EpochStatus,
} from '../../keys/index.js';
import { randomBytes } from 'node:crypto';
import type { FormationKeys, Transmit } from '../ring/types.js';
import { RingcastError } from '../util/errors.js';
import type { DaemonId } from '../util/ids.js';
import type { Logger } from './log.js';

export interface RingPacketProtection {
  /** Bytes this layer adds to every packet. */
  readonly overheadBytes: number;
  /** The engine's key schedule, with per-configuration epoch keys; undefined with the cluster key alone. */
  readonly formationKeys: FormationKeys | undefined;
  /** The sealed datagram, or undefined if the transmit's configuration keys were already erased (not sent). */
  seal(tx: Transmit): Uint8Array | undefined;
  /** The plaintext, or undefined if the packet was rejected (counted and logged). */
  open(packet: Uint8Array, from: DaemonId): Uint8Array | undefined;
  stats(): ProtectorStats | undefined;
  /** Current epoch, its age and use (with epoch keys). */
  epochStatus(): EpochStatus | undefined;
  /** Whether packets to and from this daemon are allowed (it has a trusted key, or epoch keys are off). */
  trusts(id: DaemonId): boolean;
  /**
   * Replaces the trusted daemon keys (a reload). Returns the daemons that lost their trust:
   * nothing more is sent to or accepted from them, and the caller starts a new configuration.
   */
  setTrustedKeys(keys: ReadonlyMap<string, DaemonPublicKey>): DaemonId[];
  /** Erases every key (shutdown). */
  close(): void;
}

/** Rejections that are routine with epoch keys and multicast: packets of a configuration this daemon is not in. */
const QUIET_REASONS: ReadonlySet<string> = new Set<OpenFailureReason>(['unknown-epoch', 'replay']);

function trustedById(cfg: RingcastConfig, keys: ReadonlyMap<string, DaemonPublicKey>): Map<DaemonId, DaemonPublicKey> {
  const out = new Map<DaemonId, DaemonPublicKey>();
  for (const d of cfg.daemons) {
    const k = keys.get(d.name);
    if (k) out.set(d.id, k);
  }
  return out;
}

/** Loads the keys and builds the layer the configuration asks for; errors say what to fix. */
export async function createPacketProtection(
  cfg: RingcastConfig,
  self: DaemonEntry,
  incarnation: number,
  logger: Logger,
): Promise<RingPacketProtection> {
  // Mode `none` still goes through the protector: its clear 16-byte header lets daemons of
  // different modes tell each other apart, and filters duplicates and stray packets of an
  // earlier run (SECURITY.md). It protects nothing against an attacker.
  if (cfg.cryptoMode !== 'none' && cfg.clusterKeyFile === undefined) {
    throw new RingcastError('CONFIG_CRYPTO', `Crypto = ${cfg.cryptoMode} needs ClusterKeyFile = <path> (create one with: ringcast keygen --out <path>)`);
  }
  await initCrypto();
  const epochKeys = cfg.cryptoMode !== 'none' && cfg.daemonIdentityFile !== undefined;
  const identity = epochKeys ? readDaemonIdentityFile(cfg.daemonIdentityFile!) : undefined;
  if (identity) checkDaemonIdentity(cfg, self.name, identity);
  const secret = cfg.cryptoMode === 'none' ? undefined : readClusterKeyFile(cfg.clusterKeyFile!);
  const protector = new PacketProtector({
    self: self.id,
    incarnation,
    daemons: cfg.daemons.map((d) => d.id),
    mode: cfg.cryptoMode,
    ...(secret ? { clusterSecret: secret } : {}),
    packetBytesMax: Math.max(cfg.packetBytesMax, 1500),
    ...(epochKeys ? { epochsInstalledMax: EPOCH_SCHEDULE_EPOCHS_MAX } : {}),
  });
  const names = new Map(cfg.daemons.map((d) => [d.id, d.name]));
  const nameOf = (id: DaemonId): string => names.get(id) ?? String(id >>> 0);
  let schedule: EpochKeySchedule | undefined;
  if (identity && secret) {
    const trusted = trustedById(cfg, cfg.daemonPublicKeys);
    const untrusted = cfg.daemons.filter((d) => d.id !== self.id && !trusted.has(d.id)).map((d) => d.name);
    if (untrusted.length > 0) logger.log('warn', `no DaemonPublicKey for ${untrusted.join(', ')}: ${untrusted.length === 1 ? 'it' : 'they'} cannot join a configuration with this daemon`, 'SECURITY');
    schedule = new EpochKeySchedule({
      self: self.id,
      protector,
      clusterSecret: secret,
      configHash: cfg.hash,
      identity,
      trusted,
      randomBytes: (n) => new Uint8Array(randomBytes(n)),
      rekeyMs: cfg.epochRekeyMs,
      rekeyPackets: cfg.epochRekeyPackets,
      nameOf,
      log: (level, msg) => logger.log(level, msg, 'SECURITY'),
    });
    // The schedule keeps what it needs (the formation key, the identity's secrets).
    const others = [...trusted.keys()].filter((id) => id !== self.id).length;
    logger.log('info', `per-configuration epoch keys on: this daemon's identity is trusted; ${others} other daemon${others === 1 ? '' : 's'} trusted; rekey every ${cfg.epochRekeyMs / 1000} s or ${cfg.epochRekeyPackets} packets`, 'SECURITY');
  }
  secret?.fill(0);
  const limited = new RateLimitedLog({ now: () => performance.now(), write: (line) => logger.log('warn', line, 'SECURITY'), intervalMs: 10_000, burst: 1 });
  return {
    overheadBytes: protector.overheadBytes,
    formationKeys: schedule,
    seal(tx) {
      if (schedule) return schedule.seal(tx);
      return protector.seal(tx.bytes);
    },
    open(packet, from) {
      if (!schedule) {
        const r = protector.open(packet, from);
        if (r.ok) return r.payload;
        limited.log(`${from}:${r.reason}`, `peer ${nameOf(from)}: ${protector.explainRejection(r.reason, packet, from)}`);
        return undefined;
      }
      const r = schedule.open(packet, from);
      if (r.ok) return r.payload;
      if (r.reason === 'untrusted') {
        limited.log(`${from}:untrusted`, `peer ${nameOf(from)}: dropped its packets: it has no trusted DaemonPublicKey in this daemon's configuration (revoked or never added)`);
      } else if (r.reason === 'cluster-epoch') {
        limited.log(`${from}:cluster-epoch`, `peer ${nameOf(from)}: dropped ring traffic sealed under the cluster epoch: ring data and tokens must use their configuration's epoch key`);
      } else if (!QUIET_REASONS.has(r.reason)) {
        // (Packets of a configuration this daemon is not, or no longer, in and duplicates are
        // routine around membership changes: the protector counts them; they are not logged.)
        limited.log(`${from}:${r.reason}`, `peer ${nameOf(from)}: ${protector.explainRejection(r.reason, packet, from)}`);
      }
      return undefined;
    },
    stats: () => protector.stats(),
    epochStatus: () => schedule?.status(performance.now()),
    trusts: (id) => schedule === undefined || schedule.isTrusted(id),
    setTrustedKeys(keys) {
      if (!schedule) return [];
      const lost = schedule.setTrusted(trustedById(cfg, keys));
      if (lost.length > 0) logger.log('warn', `trust withdrawn from ${lost.map(nameOf).join(', ')}: excluded from the next configuration, which forms now`, 'SECURITY');
      return lost;
    },
    close() {
      schedule?.close();
      if (identity) eraseDaemonIdentity(identity);
    },
  };
}
