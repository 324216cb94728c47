/**
 * Loading the daemon's credential files with ownership and mode checks. This module does file IO
 * and is used by the daemon's adapters only; the handshake state machines never import it.
 * The file is opened once and checked with fstat on the same descriptor, so the checked file is
 * the file read.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { RingcastError } from '../../src/util/errors.js';
import { parseAuthorizedKeys, type AuthorizedKeys } from './authorized-keys.js';
import { parsePasswordFile } from './password-file.js';
import type { PasswordVerifier } from './password-verifier.js';

export const credentialFileBytesMax = 16 * 1024 * 1024;

export class FilePermissionError extends RingcastError {
  constructor(message: string) {
    super('FILE_PERMISSIONS', message);
    this.name = 'FilePermissionError';
  }
}

export interface CheckedReadOptions {
  /** Mode bits that must be clear, e.g. 0o077 (only the owner may access) or 0o022 (nobody else may write). */
  readonly forbiddenModeBits: number;
  /** What the file is, for messages ("password verifier file"). */
  readonly what: string;
  /** Owners accepted besides the current effective uid (default: root). */
  readonly extraOwners?: readonly number[];
}

function octal(n: number): string {
  return '0' + (n & 0o7777).toString(8);
}

/** Reads a regular file owned by this process's euid (or root) whose mode has no forbidden bits. */
export function readCheckedFile(path: string, opts: CheckedReadOptions): string {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FilePermissionError(`${opts.what} ${path} is not a regular file`);
    const euid = typeof process.geteuid === 'function' ? process.geteuid() : st.uid;
    const owners = [euid, ...(opts.extraOwners ?? [0])];
    if (!owners.includes(st.uid)) {
      throw new FilePermissionError(`${opts.what} ${path} is owned by uid ${st.uid}; it must belong to uid ${euid} or root (chown it)`);
    }
    if ((st.mode & opts.forbiddenModeBits) !== 0) {
      const wanted = st.mode & 0o777 & ~opts.forbiddenModeBits;
      throw new FilePermissionError(`${opts.what} ${path} has mode ${octal(st.mode)}; run: chmod ${octal(wanted)} ${path}`);
    }
    if (st.size > credentialFileBytesMax) throw new FilePermissionError(`${opts.what} ${path} is larger than ${credentialFileBytesMax} bytes`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** The RC-PASSWORD verifier file: owner-only (no group or other bits at all). */
export function loadPasswordFile(path: string): Map<string, PasswordVerifier> {
  return parsePasswordFile(readCheckedFile(path, { forbiddenModeBits: 0o077, what: 'password verifier file' }), path);
}

/** The RC-PUBKEY authorized-keys file: public keys, but nobody except the owner may change it. */
export function loadAuthorizedKeys(path: string): AuthorizedKeys {
  return parseAuthorizedKeys(readCheckedFile(path, { forbiddenModeBits: 0o022, what: 'authorized keys file' }), path);
}
