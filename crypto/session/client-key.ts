/**
 * Client Ed25519 keys for RC-PUBKEY and their files.
 *
 * Secret key file (mode 0400, created exclusively, owned by the user who runs the client):
 *   ringcast-ed25519-client-key v1
 *   <base64 of the 32-byte seed>
 * Public key file (`<secret file>.pub`, mode 0644), one authorized-keys line ready to append to the
 * daemon's AuthorizedKeysFile:
 *   <identity> <base64 public key> [comment]
 */
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { RingcastError } from '../../src/util/errors.js';
import { formatAuthorizedKeyLine } from './authorized-keys.js';
import { FilePermissionError } from './files.js';
import { sodiumReady } from './sodium.js';
import type { RandomBytes } from './types.js';

const HEADER = 'ringcast-ed25519-client-key v1';

export interface ClientKeyPair {
  /** 32 bytes. */
  readonly publicKey: Uint8Array;
  /** 64 bytes, libsodium layout (seed ‖ public key). */
  readonly secretKey: Uint8Array;
}

/** A fresh Ed25519 key pair; randomness from `randomBytes` if given, else libsodium's CSPRNG. */
export function generateClientKeyPair(randomBytes?: RandomBytes): ClientKeyPair {
  const sodium = sodiumReady();
  const seed = randomBytes ? randomBytes(32) : sodium.randombytes_buf(32);
  if (seed.length !== 32) throw new RangeError('randomBytes(32) must return 32 bytes');
  return clientKeyPairFromSeed(seed);
}

export function clientKeyPairFromSeed(seed: Uint8Array): ClientKeyPair {
  const kp = sodiumReady().crypto_sign_seed_keypair(seed);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

export class ClientKeyFileError extends RingcastError {
  constructor(message: string) {
    super('CLIENT_KEY_FILE', message);
    this.name = 'ClientKeyFileError';
  }
}

export interface WriteClientKeyOptions {
  /** Identity written in the .pub line (what the daemon's authorized-keys file maps the key to). */
  readonly identity: string;
  readonly comment?: string;
}

function writeExclusive(path: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ClientKeyFileError(`${path} already exists; remove it first or choose another file`);
    throw e;
  }
  try {
    fchmodSync(fd, mode);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** Writes `path` (secret, 0400) and `path.pub` (public, 0644). Refuses to overwrite either. */
export function writeClientKeyFile(path: string, keyPair: ClientKeyPair, opts: WriteClientKeyOptions): { secretPath: string; publicPath: string } {
  const publicLine = formatAuthorizedKeyLine(opts.identity, keyPair.publicKey, opts.comment);
  const publicPath = `${path}.pub`;
  // Refuse before writing anything, so a clash on the .pub file leaves no lone secret file behind.
  for (const p of [path, publicPath]) {
    let taken = true;
    try {
      lstatSync(p);
    } catch {
      taken = false;
    }
    if (taken) throw new ClientKeyFileError(`${p} already exists; remove it first or choose another file`);
  }
  writeExclusive(path, `${HEADER}\n${Buffer.from(keyPair.secretKey.subarray(0, 32)).toString('base64')}\n`, 0o400);
  writeExclusive(publicPath, publicLine + '\n', 0o644);
  return { secretPath: path, publicPath };
}

/** Reads a secret key file; it must be a regular file of this user with no group or other access. */
export function readClientKeyFile(path: string): ClientKeyPair {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FilePermissionError(`client key ${path} is not a regular file`);
    const euid = typeof process.geteuid === 'function' ? process.geteuid() : st.uid;
    if (st.uid !== euid) throw new FilePermissionError(`client key ${path} belongs to uid ${st.uid}, not to you (uid ${euid})`);
    if ((st.mode & 0o077) !== 0) throw new FilePermissionError(`client key ${path} has mode 0${(st.mode & 0o777).toString(8)}; run: chmod 0400 ${path}`);
    if (st.size > 4096) throw new ClientKeyFileError(`client key ${path} is too large to be a key file`);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length !== 2 || lines[0] !== HEADER) throw new ClientKeyFileError(`${path} is not a Ringcast client key file (first line must be "${HEADER}")`);
  const seed = Buffer.from(lines[1]!, 'base64');
  if (seed.length !== 32 || seed.toString('base64') !== lines[1]) throw new ClientKeyFileError(`${path}: the key line must be 32 bytes of base64`);
  const kp = clientKeyPairFromSeed(new Uint8Array(seed));
  seed.fill(0);
  return kp;
}
