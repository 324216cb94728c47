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
import * as fs from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { secretFingerprint } from '../crypto/index.js';
import { KeyFileError } from './errors.js';

export const CLUSTER_KEY_FILE_HEADER = 'ringcast-cluster-key v1';
export const CLUSTER_KEY_BYTES = 32;
export const CLUSTER_KEY_FILE_MODE = 0o400;
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

function currentUser(): { uid: number; name: string } {
  const uid = typeof process.geteuid === 'function' ? process.geteuid() : -1;
  let name = String(uid);
  try {
    name = os.userInfo().username;
  } catch {
    // No passwd entry for this uid: the numeric id works with chown too.
  }
  return { uid, name };
}

/**
 * Reads and checks a cluster key file. Refuses (KeyFileError) a file that is missing, not a
 * regular file, accessible by group or others, owned by another user than the effective user, or
 * malformed. Checks are made on the opened file descriptor, so the file checked is the file read.
 */
export function readClusterKeyFile(path: string): Uint8Array {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new KeyFileError('KEY_FILE_NOT_FOUND', path, `cluster key file ${path} does not exist: create it with 'ringcast keygen --out ${path}' on one daemon and copy it to every daemon of the cluster`, { cause: e });
    }
    throw new KeyFileError('KEY_FILE_UNREADABLE', path, `cannot open cluster key file ${path} (${code ?? String(e)}): check that the daemon's user can read it`, { cause: e });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new KeyFileError('KEY_FILE_NOT_REGULAR', path, `${path} is not a regular file: point the configuration at the key file written by 'ringcast keygen'`);
    }
    const me = currentUser();
    if (me.uid >= 0 && st.uid !== me.uid) {
      throw new KeyFileError('KEY_FILE_OWNER', path, `cluster key file ${path} is owned by uid ${st.uid}, but the daemon runs as uid ${me.uid}: run 'chown ${me.name} ${path}' (as root) so that only the daemon's user owns it`);
    }
    const loose = st.mode & 0o077;
    if (loose !== 0) {
      throw new KeyFileError('KEY_FILE_PERMISSIONS', path, `cluster key file ${path} has mode 0${(st.mode & 0o777).toString(8)}, which lets ${loose & 0o070 ? 'its group' : ''}${loose & 0o070 && loose & 0o007 ? ' and ' : ''}${loose & 0o007 ? 'other users' : ''} read or change it: run 'chmod 0400 ${path}'`);
    }
    if (st.size > KEY_FILE_BYTES_MAX) {
      throw new KeyFileError('KEY_FILE_MALFORMED', path, `${path} is ${st.size} bytes, too large to be a Ringcast cluster key file: create one with 'ringcast keygen'`);
    }
    const buf = Buffer.alloc(KEY_FILE_BYTES_MAX + 1);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    try {
      return parseClusterKey(buf.subarray(0, n).toString('latin1'), path);
    } finally {
      buf.fill(0);
    }
  } finally {
    fs.closeSync(fd);
  }
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
  let fd: number;
  try {
    // O_EXCL: fail if anything exists at the path, including a symbolic link.
    fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, CLUSTER_KEY_FILE_MODE);
  } catch (e) {
    secret.fill(0);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new KeyFileError('KEY_FILE_EXISTS', path, `${path} already exists and was left untouched: a cluster key is never overwritten (every daemon must keep the same one); to replace it, move the old file away first, or choose another path with --out`, { cause: e });
    }
    throw new KeyFileError('KEY_FILE_WRITE_FAILED', path, `cannot create ${path} (${code ?? String(e)}): check that the directory exists and is writable`, { cause: e });
  }
  const text = Buffer.from(formatClusterKey(secret), 'latin1');
  try {
    // The creation mode is filtered by the umask; set it exactly.
    fs.fchmodSync(fd, CLUSTER_KEY_FILE_MODE);
    fs.writeSync(fd, text, 0, text.length, 0);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
    throw new KeyFileError('KEY_FILE_WRITE_FAILED', path, `cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)}); nothing was kept`, { cause: e });
  } finally {
    text.fill(0);
  }
  fs.closeSync(fd);
  const fingerprint = secretFingerprint(secret);
  secret.fill(0);
  return { path, fingerprint };
}
