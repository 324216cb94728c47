/**
 * The cluster secret key file: the 256-bit secret every daemon of a cluster shares, from which
 * epoch 0 and every other inter-daemon key is derived (crypto/kdf.ts).
 *
 * Format (text, so that it survives copy and paste and configuration management):
 *
 *   ringcast-cluster-key v1
 *   <the 32 bytes in standard base64 with padding: 44 characters>
 *
 * Each line ends with "\n"; nothing else is allowed. The file must be a regular file owned by the
 * user the daemon runs as, with no permission bits for group or others (0400 as written by
 * `ringcast keygen`; 0600 is accepted).
 */
import { randomBytes } from 'node:crypto';
import { secretFingerprint } from '../crypto/index.js';
import { KeyFileError } from './errors.js';
import { createKeyFileExclusive, readCheckedKeyFile, SECRET_KEY_FILE_MODE, type KeyFileKind } from './key-file-io.js';

export const CLUSTER_KEY_FILE_HEADER = 'ringcast-cluster-key v1';
export const CLUSTER_KEY_BYTES = 32;
export const CLUSTER_KEY_FILE_MODE = SECRET_KEY_FILE_MODE;
/** Default path of `ringcast keygen`, relative to the working directory. */
export const DEFAULT_CLUSTER_KEY_PATH = './ringcast.key';
/** A well-formed file is 69 bytes; anything much larger is not a key file and is not read whole. */
const KEY_FILE_BYTES_MAX = 1024;

const BASE64_32_BYTES = /^[A-Za-z0-9+/]{43}=$/;

export function formatClusterKey(secret: Uint8Array): string {
  if (secret.length !== CLUSTER_KEY_BYTES) throw new RangeError(`a cluster key is ${CLUSTER_KEY_BYTES} bytes; got ${secret.length}`);
  return `${CLUSTER_KEY_FILE_HEADER}\n${Buffer.from(secret).toString('base64')}\n`;
}

/** Parses the text of a key file; `path` is only for the error message. */
export function parseClusterKey(text: string, path: string): Uint8Array {
  const malformed = (what: string): KeyFileError =>
    new KeyFileError('KEY_FILE_MALFORMED', path, `${path} is not a Ringcast cluster key file (${what}): expected the line '${CLUSTER_KEY_FILE_HEADER}' then 44 characters of base64; create a new key with 'ringcast keygen --out ${path}' (after moving this file away) and copy it to every daemon`);
  const lines = text.split('\n');
  if (lines[0] !== CLUSTER_KEY_FILE_HEADER) throw malformed('first line is not the format header');
  if (lines.length !== 3 || lines[2] !== '') throw malformed('expected exactly two lines, each ending in a newline');
  const encoded = lines[1]!;
  if (!BASE64_32_BYTES.test(encoded)) throw malformed('second line is not 32 bytes of base64');
  const secret = new Uint8Array(Buffer.from(encoded, 'base64'));
  if (secret.length !== CLUSTER_KEY_BYTES) throw malformed('second line is not 32 bytes of base64');
  return secret;
}

const CLUSTER_KEY_FILE_KIND: KeyFileKind = {
  what: 'cluster key file',
  formatName: 'Ringcast cluster key file',
  keygenCommand: 'ringcast keygen',
  missingAdvice: (path) => `create it with 'ringcast keygen --out ${path}' on one daemon and copy it to every daemon of the cluster`,
  bytesMax: KEY_FILE_BYTES_MAX,
};

/**
 * Reads and checks a cluster key file. Refuses (KeyFileError) a file that is missing, not a
 * regular file, accessible by group or others, owned by another user than the effective user, or
 * malformed. Checks are made on the opened file descriptor, so the file checked is the file read.
 */
export function readClusterKeyFile(path: string): Uint8Array {
  return readCheckedKeyFile(path, CLUSTER_KEY_FILE_KIND, (text) => parseClusterKey(text, path));
}

export interface WrittenClusterKey {
  path: string;
  /** Public identifier of the key (crypto secretFingerprint): equal on every daemon iff they hold the same key. */
  fingerprint: string;
}

/**
 * Creates a new cluster key file with 256 bits from the operating system's CSPRNG, mode 0400.
 * Refuses to overwrite an existing file (or follow a dangling link to create one).
 */
export function writeClusterKeyFile(path: string): WrittenClusterKey {
  const secret = new Uint8Array(randomBytes(CLUSTER_KEY_BYTES));
  const text = Buffer.from(formatClusterKey(secret), 'latin1');
  try {
    createKeyFileExclusive(path, text, 'already exists and was left untouched: a cluster key is never overwritten (every daemon must keep the same one); to replace it, move the old file away first, or choose another path with --out');
    return { path, fingerprint: secretFingerprint(secret) };
  } finally {
    text.fill(0);
    secret.fill(0);
  }
}
