/** Key files: the cluster secret key file and its checks. See SECURITY.md. */
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
