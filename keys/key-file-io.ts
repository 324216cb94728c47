/**
 * Reading and creating secret key files with the checks every Ringcast key file shares: the file
 * must be a regular file owned by the user the daemon runs as, with no permission bits for group
 * or others, and small. New files are created exclusively with mode 0400. The cluster key file
 * and the daemon identity file differ only in their names, formats and advice, given here as a
 * KeyFileKind.
 */
import * as fs from 'node:fs';
import os from 'node:os';
import { KeyFileError } from './errors.js';

/** Mode of every key file Ringcast writes: readable by its owner only. */
export const SECRET_KEY_FILE_MODE = 0o400;

export interface KeyFileKind {
  /** What the file is, lower case, for messages: "cluster key file". */
  readonly what: string;
  /** The format's name, for messages: "Ringcast cluster key file". */
  readonly formatName: string;
  /** The command that creates such a file: "ringcast keygen". */
  readonly keygenCommand: string;
  /** The advice given when the file does not exist. */
  readonly missingAdvice: (path: string) => string;
  /** Files larger than this are refused without being read whole. */
  readonly bytesMax: number;
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
 * Opens a key file, checks it on the opened descriptor (so the file checked is the file read) and
 * hands its text to `parse`. The read buffer is zeroed afterwards. Refuses (KeyFileError) a file
 * that is missing, not a regular file, owned by another user than the effective user, accessible
 * by group or others, or too large; `parse` decides about the content.
 */
export function readCheckedKeyFile<T>(path: string, kind: KeyFileKind, parse: (text: string) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new KeyFileError('KEY_FILE_NOT_FOUND', path, `${kind.what} ${path} does not exist: ${kind.missingAdvice(path)}`, { cause: e });
    }
    throw new KeyFileError('KEY_FILE_UNREADABLE', path, `cannot open ${kind.what} ${path} (${code ?? String(e)}): check that the daemon's user can read it`, { cause: e });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new KeyFileError('KEY_FILE_NOT_REGULAR', path, `${path} is not a regular file: point the configuration at the key file written by '${kind.keygenCommand}'`);
    }
    const me = currentUser();
    if (me.uid >= 0 && st.uid !== me.uid) {
      throw new KeyFileError('KEY_FILE_OWNER', path, `${kind.what} ${path} is owned by uid ${st.uid}, but the daemon runs as uid ${me.uid}: run 'chown ${me.name} ${path}' (as root) so that only the daemon's user owns it`);
    }
    const loose = st.mode & 0o077;
    if (loose !== 0) {
      throw new KeyFileError('KEY_FILE_PERMISSIONS', path, `${kind.what} ${path} has mode 0${(st.mode & 0o777).toString(8)}, which lets ${loose & 0o070 ? 'its group' : ''}${loose & 0o070 && loose & 0o007 ? ' and ' : ''}${loose & 0o007 ? 'other users' : ''} read or change it: run 'chmod 0400 ${path}'`);
    }
    if (st.size > kind.bytesMax) {
      throw new KeyFileError('KEY_FILE_MALFORMED', path, `${path} is ${st.size} bytes, too large to be a ${kind.formatName}: create one with '${kind.keygenCommand}'`);
    }
    const buf = Buffer.alloc(kind.bytesMax + 1);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    try {
      return parse(buf.subarray(0, n).toString('latin1'));
    } finally {
      buf.fill(0);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Creates `path` with mode 0400 and writes `content` to it. Refuses to overwrite anything that
 * exists at the path (or to follow a dangling link to create one): `existsMessage` says why and
 * what to do. A file that cannot be written completely is removed. `content` is not zeroed here:
 * the caller owns it.
 */
export function createKeyFileExclusive(path: string, content: Uint8Array, existsMessage: string): void {
  let fd: number;
  try {
    // O_EXCL: fail if anything exists at the path, including a symbolic link.
    fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, SECRET_KEY_FILE_MODE);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new KeyFileError('KEY_FILE_EXISTS', path, `${path} ${existsMessage}`, { cause: e });
    throw new KeyFileError('KEY_FILE_WRITE_FAILED', path, `cannot create ${path} (${code ?? String(e)}): check that the directory exists and is writable`, { cause: e });
  }
  try {
    // The creation mode is filtered by the umask; set it exactly.
    fs.fchmodSync(fd, SECRET_KEY_FILE_MODE);
    fs.writeSync(fd, content, 0, content.length, 0);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
    throw new KeyFileError('KEY_FILE_WRITE_FAILED', path, `cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)}); nothing was kept`, { cause: e });
  }
  fs.closeSync(fd);
}
