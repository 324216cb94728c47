/** Key files: the cluster secret key file, daemon identities, and their checks. See SECURITY.md. */
export {
  readClusterKeyFile,
  writeClusterKeyFile,
  formatClusterKey,
  parseClusterKey,
  CLUSTER_KEY_FILE_HEADER,
  CLUSTER_KEY_BYTES,
  CLUSTER_KEY_FILE_MODE,
  DEFAULT_CLUSTER_KEY_PATH,
} from './cluster-key-file.js';
export type { WrittenClusterKey } from './cluster-key-file.js';
export { KeyFileError } from './errors.js';
export type { KeyFileErrorCode } from './errors.js';
export {
  generateDaemonIdentity,
  formatDaemonPublicKey,
  parseDaemonPublicKey,
  daemonKeyFingerprint,
  daemonPublicKeysEqual,
  daemonIdentityFingerprint,
  formatDaemonIdentityFile,
  parseDaemonIdentityFile,
  readDaemonIdentityFile,
  writeDaemonIdentityFile,
  eraseDaemonIdentity,
  checkDaemonIdentity,
  DAEMON_IDENTITY_FILE_HEADER,
  DAEMON_IDENTITY_SEED_BYTES,
  DAEMON_PUBLIC_KEY_PREFIX,
  DEFAULT_DAEMON_IDENTITY_PATH,
} from './daemon-identity.js';
export type { DaemonIdentity, DaemonPublicKey } from './daemon-identity.js';
export { SECRET_KEY_FILE_MODE } from './key-file-io.js';
export { EpochKeySchedule, epochWireId, hexId, formationKeyFor, formationTranscript, wrapKeyFor, openSealedEpoch, EPOCH_SCHEDULE_EPOCHS_MAX, CONTRIBUTION_BYTES, CONTRIBUTION_PUBLIC_BYTES, SEALED_EPOCH_BYTES } from './epoch-schedule.js';
export type { EpochScheduleOptions, EpochStatus, EpochSecretEvent } from './epoch-schedule.js';
