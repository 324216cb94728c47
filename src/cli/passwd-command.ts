/**
 * `ringcast passwd [--file F] [--delete] USER`: creates, updates or removes a user's entry in the
 * RC-PASSWORD verifier file. The password is read from the terminal without echo (twice), or as the
 * first line of standard input when that is not a terminal. Only the scrypt verifier is stored
 * (crypto/session/password-file.ts); the file is replaced atomically and left with mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, fchownSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import {
  formatScryptParams,
  isValidUserName,
  parsePasswordFile,
  passwordBytes,
  removePasswordEntry,
  SALT_BYTES_DEFAULT,
  SCRYPT_PRODUCTION,
  ScryptPool,
  upsertPasswordEntry,
  verifierFromSaltedPassword,
  type ScryptParams,
} from '../../crypto/session/index.js';
import { RingcastError } from '../util/errors.js';
import { readHiddenLine } from './hidden-input.js';

export const PASSWORD_FILE_DEFAULT = '/etc/ringcast/passwd';

export class PasswdError extends RingcastError {
  constructor(message: string) {
    super('PASSWD_FAILED', message);
    this.name = 'PasswdError';
  }
}

function readExisting(file: string): { text: string; uid?: number; gid?: number } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { text: '' };
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new PasswdError(`${file} is not a regular file`);
    return { text: readFileSync(fd, 'utf8'), uid: st.uid, gid: st.gid };
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `file` with `text` atomically: a new 0600 file beside it (same owner as the old one),
 * flushed, then renamed over it, then the directory flushed. A lock file keeps two runs from losing
 * each other's update.
 */
function replaceFile(file: string, mutate: (old: string) => string): void {
  const lock = `${file}.lock`;
  let lockFd: number;
  try {
    lockFd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new PasswdError(`${lock} exists: another "ringcast passwd" is running (remove the lock file if it is stale)`);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new PasswdError(`directory ${dirname(file)} does not exist: create it (mode 0700 or 0750) first`);
    throw e;
  }
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    // Read under the lock, so a concurrent update is never lost.
    const current = readExisting(file);
    const next = mutate(current.text);
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      if (current.uid !== undefined && current.gid !== undefined && process.geteuid?.() === 0) fchownSync(fd, current.uid, current.gid);
      writeSync(fd, next);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    const dfd = openSync(dirname(file), constants.O_RDONLY);
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // The temporary file was never created or was already renamed.
    }
    throw e;
  } finally {
    closeSync(lockFd);
    unlinkSync(lock);
  }
}

export interface SetPasswordInput {
  readonly file: string;
  readonly user: string;
  readonly password: string;
  readonly params?: ScryptParams;
  /** Derivations share this pool; default a fresh one. */
  readonly pool?: ScryptPool;
}

/** Derives the verifier off the event loop and writes the entry. Returns whether the user existed. */
export async function setPassword(input: SetPasswordInput): Promise<{ replaced: boolean }> {
  if (!isValidUserName(input.user)) throw new PasswdError(`"${input.user}" is not a valid user name (1..64 of A-Z a-z 0-9 . _ - @ +)`);
  const params = input.params ?? SCRYPT_PRODUCTION;
  const pw = passwordBytes(input.password);
  const salt = new Uint8Array(randomBytes(SALT_BYTES_DEFAULT));
  const salted = await (input.pool ?? new ScryptPool()).derive({ password: pw, salt, params });
  pw.fill(0);
  const verifier = verifierFromSaltedPassword(input.user, params, salt, salted);
  salted.fill(0);
  let replaced = false;
  replaceFile(input.file, (old) => {
    replaced = parsePasswordFile(old, input.file).has(input.user);
    return upsertPasswordEntry(old, verifier, input.file);
  });
  return { replaced };
}

/** Removes the user's entry; false if there was none. */
export function deletePassword(file: string, user: string): boolean {
  if (!removePasswordEntry(readExisting(file).text, user, file).removed) return false;
  replaceFile(file, (old) => removePasswordEntry(old, user, file).text);
  return true;
}

function readHidden(prompt: string): Promise<string> {
  return readHiddenLine(prompt, () => new PasswdError('cancelled'));
}

async function readFirstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    size += (c as Buffer).length;
    if (Buffer.concat(chunks).includes(0x0a) || size > 4096) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const nl = text.indexOf('\n');
  return (nl >= 0 ? text.slice(0, nl) : text).replace(/\r$/, '');
}

/** The password from the terminal (asked twice) or the first line of standard input. */
export async function readNewPassword(user: string): Promise<string> {
  if (process.stdin.isTTY) {
    const a = await readHidden(`New password for ${user}: `);
    const b = await readHidden('Repeat it: ');
    if (a !== b) throw new PasswdError('the two passwords differ; nothing changed');
    return a;
  }
  return readFirstLine();
}

function parseIntOption(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${min}..${max}`);
    return n;
  };
}

export interface PasswdCommandDeps {
  /** Replaces the terminal/stdin prompt (tests, embedding). */
  readonly readPassword?: (user: string) => Promise<string>;
  readonly out?: (line: string) => void;
}

export function registerPasswdCommand(program: Command, deps: PasswdCommandDeps = {}): Command {
  const out = deps.out ?? ((line: string) => process.stdout.write(line + '\n'));
  return program
    .command('passwd')
    .description('set or remove a user\'s password for the RC-PASSWORD authentication method (stores only a scrypt verifier)')
    .argument('<user>', 'user name: 1..64 of A-Z a-z 0-9 . _ - @ +; the session identity becomes password:<user>')
    .option('-f, --file <path>', 'verifier file (the daemon\'s PasswordFile)', PASSWORD_FILE_DEFAULT)
    .option('-d, --delete', 'remove the user instead of setting a password')
    .option('--scrypt-log-n <n>', 'scrypt cost: N = 2^n', parseIntOption('--scrypt-log-n', 10, 22), SCRYPT_PRODUCTION.logN)
    .option('--scrypt-r <r>', 'scrypt block size', parseIntOption('--scrypt-r', 1, 32), SCRYPT_PRODUCTION.r)
    .option('--scrypt-p <p>', 'scrypt parallelism', parseIntOption('--scrypt-p', 1, 16), SCRYPT_PRODUCTION.p)
    .action(async (user: string, o: { file: string; delete?: boolean; scryptLogN: number; scryptR: number; scryptP: number }) => {
      if (!isValidUserName(user)) throw new PasswdError(`"${user}" is not a valid user name (1..64 of A-Z a-z 0-9 . _ - @ +)`);
      if (o.delete) {
        out(deletePassword(o.file, user) ? `removed ${user} from ${o.file}` : `${user} has no entry in ${o.file}; nothing changed`);
        return;
      }
      const password = await (deps.readPassword ?? readNewPassword)(user);
      if (password === '') throw new PasswdError('empty password; nothing changed');
      const params = { logN: o.scryptLogN, r: o.scryptR, p: o.scryptP };
      const { replaced } = await setPassword({ file: o.file, user, password, params });
      out(`${replaced ? 'updated' : 'added'} ${user} in ${o.file} (${formatScryptParams(params)})`);
    });
}
