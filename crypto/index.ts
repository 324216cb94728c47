/**
 * Inter-daemon packet protection: suites, header, key derivation, replay window. See SECURITY.md.
 *
 * Typical use by the daemon (the only asynchronous step is initCrypto, once at start-up):
 *
 *   await initCrypto();
 *   const protector = new PacketProtector({ self, incarnation, daemons, mode, clusterSecret: readClusterKeyFile(path) });
 *   const log = new RateLimitedLog({ now: monotonicMs, write: (line) => logger.warn(line) });
 *   udp.send(protector.seal(packet));                       // outgoing
 *   const r = protector.open(datagram, fromDaemon);         // incoming, never throws
 *   if (r.ok) engine.handlePacket(now, r.sender, r.payload);
 *   else log.log(`${r.reason}:${fromDaemon}`, protector.explainRejection(r.reason, datagram, fromDaemon));
 */
export { initCrypto, isCryptoReady } from './init.js';
export {
  deriveKey,
  KeyDeriver,
  KEY_PURPOSES,
  SECRET_BYTES_MIN,
  DERIVED_KEY_BYTES_MAX,
  epochZeroSecret,
  secretFingerprint,
  u32Context,
} from './kdf.js';
export type { KeyPurpose } from './kdf.js';
export { HEADER_BYTES, FORMAT_VERSION, EPOCH_MAX, COUNTER_MAX, MODE_CODES, parseHeader } from './header.js';
export type { ProtectionMode, PacketHeader } from './header.js';
export { DEFAULT_SUITES, TAG_BYTES, CHACHA_SODIUM_BYTES_MAX, suiteNames } from './suites.js';
export type { SuiteName, EncryptSuiteName, IntegritySuiteName } from './suites.js';
export { ReplayWindow, REPLAY_WINDOW_PACKETS } from './replay-window.js';
export type { ReplayVerdict } from './replay-window.js';
export {
  PacketProtector,
  OPEN_FAILURE_REASONS,
  GENERATION_BITS,
  GENERATION_PACKETS,
  INCARNATION_MAX,
  PACKET_BYTES_MAX_DEFAULT,
  EPOCHS_INSTALLED_MAX_DEFAULT,
} from './protector.js';
export type { OpenResult, OpenFailureReason, ProtectorStats, PacketProtectorOptions } from './protector.js';
export { RateLimitedLog, OVERFLOW_KEY } from './rate-limited-log.js';
export type { RateLimitedLogOptions } from './rate-limited-log.js';
