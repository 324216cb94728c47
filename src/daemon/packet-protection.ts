/**
 * The crypto layer between the UDP transport and the Totem engine (shared/architecture.md data
 * flow): seals every outgoing ring packet and opens every incoming one, so that only holders of
 * the cluster key take part in the ring. Rejected packets never reach the engine; they are
 * counted, and logged at a rate-limited pace naming the peer (a wrong key or mode produces one
 * clear line per peer, not a flood).
 */
import type { DaemonEntry, RingcastConfig } from '../config/index.js';
import { PacketProtector, RateLimitedLog, initCrypto, type ProtectorStats } from '../../crypto/index.js';
import { readClusterKeyFile } from '../../keys/index.js';
import { RingcastError } from '../util/errors.js';
import type { DaemonId } from '../util/ids.js';
import type { Logger } from './log.js';

export interface RingPacketProtection {
  /** Bytes this layer adds to every packet. */
  readonly overheadBytes: number;
  seal(plain: Uint8Array): Uint8Array;
  /** The plaintext, or undefined if the packet was rejected (counted and logged). */
  open(packet: Uint8Array, from: DaemonId): Uint8Array | undefined;
  stats(): ProtectorStats | undefined;
}

/** Loads the key and builds the layer the configuration asks for; errors say what to fix. */
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
  const secret = cfg.cryptoMode === 'none' ? undefined : readClusterKeyFile(cfg.clusterKeyFile!);
  const protector = new PacketProtector({
    self: self.id,
    incarnation,
    daemons: cfg.daemons.map((d) => d.id),
    mode: cfg.cryptoMode,
    ...(secret ? { clusterSecret: secret } : {}),
    packetBytesMax: Math.max(cfg.packetBytesMax, 1500),
  });
  secret?.fill(0);
  const names = new Map(cfg.daemons.map((d) => [d.id, d.name]));
  const limited = new RateLimitedLog({ now: () => performance.now(), write: (line) => logger.log('warn', line, 'SECURITY'), intervalMs: 10_000, burst: 1 });
  return {
    overheadBytes: protector.overheadBytes,
    seal: (p) => protector.seal(p),
    open(packet, from) {
      const r = protector.open(packet, from);
      if (r.ok) return r.payload;
      const peer = names.get(from) ?? String(from);
      limited.log(`${from}:${r.reason}`, `peer ${peer}: ${protector.explainRejection(r.reason, packet, from)}`);
      return undefined;
    },
    stats: () => protector.stats(),
  };
}
