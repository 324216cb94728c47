/**
 * A daemon's long-term identity: an X25519 key pair for key agreement and an Ed25519 key pair for
 * signatures (libsodium). The configuration lists every trusted daemon's public key
 * (`DaemonPublicKey = <name> <token>`); the identity file holds this daemon's secrets.
 *
 * Identity file format (text, like the cluster key file):
 *
 *   ringcast-daemon-identity v1
 *   <standard base64 with no padding needed: X25519 secret (32 bytes) ‖ Ed25519 secret in libsodium form (64 bytes): 128 characters>
 *   <the public key token, rcd1:…, as in the configuration>
 *
 * Each line ends with "\n"; nothing else is allowed. Reading recomputes both public keys from the
 * secrets and refuses a file whose public line does not match. The file must be a regular file
 * owned by the daemon's user with no permission bits for group or others (0400 as written).
 *
 * Everything that touches libsodium needs `await initCrypto()` (crypto/init.ts) once before.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { sodiumInstance } from '../crypto/init.js';
import type { RingcastConfig } from '../src/config/types.js';
import { RingcastError } from '../src/util/errors.js';
import { KeyFileError } from './errors.js';
import { createKeyFileExclusive, readCheckedKeyFile, type KeyFileKind } from './key-file-io.js';
import {
  daemonKeyFingerprint,
  daemonPublicKeysEqual,
  formatDaemonPublicKey,
  parseDaemonPublicKey,
  type DaemonPublicKey,
} from './daemon-public-key.js';

export {
  daemonKeyFingerprint,
  daemonPublicKeysEqual,
  formatDaemonPublicKey,
  parseDaemonPublicKey,
  DAEMON_PUBLIC_KEY_PREFIX,
} from './daemon-public-key.js';
export type { DaemonPublicKey } from './daemon-public-key.js';

export interface DaemonIdentity {
  publicKey: DaemonPublicKey;
  /** X25519 secret scalar, 32 bytes (as libsodium's crypto_box keys). */
  x25519Secret: Uint8Array;
  /** Ed25519 secret in libsodium form: 32-byte seed ‖ 32-byte public key. */
  ed25519Secret: Uint8Array;
}

export const DAEMON_IDENTITY_FILE_HEADER = 'ringcast-daemon-identity v1';
/** Default path of `ringcast keygen --identity`, relative to the working directory. */
export const DEFAULT_DAEMON_IDENTITY_PATH = './ringcast-daemon.key';
export const DAEMON_IDENTITY_SEED_BYTES = 32;
export const X25519_SECRET_BYTES = 32;
export const ED25519_SECRET_BYTES = 64;
/** A well-formed file is 249 bytes; anything much larger is not an identity file and is not read whole. */
const IDENTITY_FILE_BYTES_MAX = 1024;
const SECRET_LINE_PATTERN = /^[A-Za-z0-9+/]{128}$/;

const encoder = new TextEncoder();
const SEED_SALT = encoder.encode('ringcast daemon identity v1');
const X25519_LABEL = encoder.encode('x25519 key agreement');
const ED25519_LABEL = encoder.encode('ed25519 signatures');

const IDENTITY_FILE_KIND: KeyFileKind = {
  what: 'daemon identity file',
  formatName: 'Ringcast daemon identity file',
  keygenCommand: 'ringcast keygen --identity',
  missingAdvice: (path) =>
    `create it on this daemon's host with 'ringcast keygen --identity --name <this daemon's name> --out ${path}' and add the DaemonPublicKey line it prints to the configuration of every daemon`,
  bytesMax: IDENTITY_FILE_BYTES_MAX,
};

/**
 * A new identity. Without a seed both key pairs are random (libsodium's CSPRNG). With a 32-byte
 * seed the identity is a function of the seed (tests, the simulator): HKDF-SHA-256 turns the seed
 * into one independent seed per key pair, fed to crypto_box_seed_keypair and crypto_sign_seed_keypair.
 */
export function generateDaemonIdentity(seed?: Uint8Array): DaemonIdentity {
  const sodium = sodiumInstance();
  if (seed !== undefined && (!(seed instanceof Uint8Array) || seed.length !== DAEMON_IDENTITY_SEED_BYTES)) {
    throw new RangeError(`a daemon identity seed is ${DAEMON_IDENTITY_SEED_BYTES} bytes`);
  }
  const master = seed ?? sodium.randombytes_buf(DAEMON_IDENTITY_SEED_BYTES);
  const xSeed = hkdf(sha256, master, SEED_SALT, X25519_LABEL, 32);
  const eSeed = hkdf(sha256, master, SEED_SALT, ED25519_LABEL, 32);
  if (seed === undefined) master.fill(0);
  try {
    const box = sodium.crypto_box_seed_keypair(xSeed);
    const sign = sodium.crypto_sign_seed_keypair(eSeed);
    return {
      publicKey: { x25519: box.publicKey, ed25519: sign.publicKey },
      x25519Secret: box.privateKey,
      ed25519Secret: sign.privateKey,
    };
  } finally {
    xSeed.fill(0);
    eSeed.fill(0);
  }
}

/** Zeroes the secret keys in place; the identity is unusable afterwards. */
export function eraseDaemonIdentity(id: DaemonIdentity): void {
  id.x25519Secret.fill(0);
  id.ed25519Secret.fill(0);
}

/**
 * Why the secrets do not belong to the public key, or undefined when they do. Both public keys
 * are recomputed from the secrets; the Ed25519 secret's embedded public half must agree too.
 */
function identityMismatch(id: DaemonIdentity): string | undefined {
  const sodium = sodiumInstance();
  if (id.x25519Secret.length !== X25519_SECRET_BYTES) return `the X25519 secret is not ${X25519_SECRET_BYTES} bytes`;
  if (id.ed25519Secret.length !== ED25519_SECRET_BYTES) return `the Ed25519 secret is not ${ED25519_SECRET_BYTES} bytes`;
  const x = sodium.crypto_scalarmult_base(id.x25519Secret);
  if (!Buffer.from(x).equals(Buffer.from(id.publicKey.x25519))) return 'its X25519 secret does not give its X25519 public key';
  const sign = sodium.crypto_sign_seed_keypair(id.ed25519Secret.subarray(0, 32));
  sign.privateKey.fill(0);
  if (!Buffer.from(sign.publicKey).equals(Buffer.from(id.publicKey.ed25519))) return 'its Ed25519 secret does not give its Ed25519 public key';
  if (!Buffer.from(id.ed25519Secret.subarray(32)).equals(Buffer.from(id.publicKey.ed25519))) return 'its Ed25519 secret carries another public key';
  return undefined;
}

/** The text of an identity file (three lines). The caller should drop the string soon. */
export function formatDaemonIdentityFile(id: DaemonIdentity): string {
  const problem = identityMismatch(id);
  if (problem !== undefined) throw new RangeError(`not a consistent daemon identity: ${problem}`);
  const secrets = new Uint8Array(X25519_SECRET_BYTES + ED25519_SECRET_BYTES);
  secrets.set(id.x25519Secret, 0);
  secrets.set(id.ed25519Secret, X25519_SECRET_BYTES);
  const encoded = Buffer.from(secrets).toString('base64');
  secrets.fill(0);
  return `${DAEMON_IDENTITY_FILE_HEADER}\n${encoded}\n${formatDaemonPublicKey(id.publicKey)}\n`;
}

/**
 * Parses the text of an identity file; `path` is only for error messages. Throws KeyFileError:
 * KEY_FILE_MALFORMED for anything not in the format, KEY_FILE_MISMATCH when the secrets do not
 * belong to the public key line.
 */
export function parseDaemonIdentityFile(text: string, path: string): DaemonIdentity {
  const malformed = (what: string): KeyFileError =>
    new KeyFileError(
      'KEY_FILE_MALFORMED',
      path,
      `${path} is not a Ringcast daemon identity file (${what}): expected the line '${DAEMON_IDENTITY_FILE_HEADER}', a line of 128 base64 characters and a line with the public key (rcd1:…); ` +
        `create a new identity with 'ringcast keygen --identity --out ${path}' (after moving this file away) and replace this daemon's DaemonPublicKey line in every daemon's configuration`,
    );
  const lines = text.split('\n');
  if (lines[0] !== DAEMON_IDENTITY_FILE_HEADER) throw malformed('first line is not the format header');
  if (lines.length !== 4 || lines[3] !== '') throw malformed('expected exactly three lines, each ending in a newline');
  const encoded = lines[1]!;
  if (!SECRET_LINE_PATTERN.test(encoded)) throw malformed('second line is not 96 bytes of base64');
  const publicKey = parseDaemonPublicKey(lines[2]!);
  if (publicKey === undefined) throw malformed('third line is not a daemon public key (rcd1: and 86 characters of base64url)');
  const decoded = Buffer.from(encoded, 'base64');
  if (decoded.length !== X25519_SECRET_BYTES + ED25519_SECRET_BYTES) {
    decoded.fill(0);
    throw malformed('second line is not 96 bytes of base64');
  }
  const id: DaemonIdentity = {
    publicKey,
    x25519Secret: new Uint8Array(decoded.subarray(0, X25519_SECRET_BYTES)),
    ed25519Secret: new Uint8Array(decoded.subarray(X25519_SECRET_BYTES)),
  };
  decoded.fill(0);
  const problem = identityMismatch(id);
  if (problem !== undefined) {
    eraseDaemonIdentity(id);
    throw new KeyFileError(
      'KEY_FILE_MISMATCH',
      path,
      `daemon identity file ${path} is damaged: ${problem}. Create a new identity with 'ringcast keygen --identity --out ${path}' (after moving this file away) and replace this daemon's DaemonPublicKey line in every daemon's configuration`,
    );
  }
  return id;
}

/**
 * Reads and checks this daemon's identity file with the rules of every key file (regular file,
 * owned by the effective user, no group or other permission bits; see key-file-io.ts), then
 * parses it (parseDaemonIdentityFile).
 */
export function readDaemonIdentityFile(path: string): DaemonIdentity {
  return readCheckedKeyFile(path, IDENTITY_FILE_KIND, (text) => parseDaemonIdentityFile(text, path));
}

/** Creates an identity file, mode 0400. Never overwrites: an existing path is a KEY_FILE_EXISTS error. */
export function writeDaemonIdentityFile(path: string, id: DaemonIdentity): void {
  const text = Buffer.from(formatDaemonIdentityFile(id), 'latin1');
  try {
    createKeyFileExclusive(
      path,
      text,
      "already exists and was left untouched: a daemon identity is never overwritten (the other daemons' configurations name its public key); to replace it, move the old file away first, or choose another path with --out",
    );
  } finally {
    text.fill(0);
  }
}

/** The identity's public key fingerprint (daemonKeyFingerprint), for logs. */
export function daemonIdentityFingerprint(id: DaemonIdentity): string {
  return daemonKeyFingerprint(id.publicKey);
}

/**
 * Start-up check that this daemon is trusted as itself: the configuration's DaemonPublicKey line
 * for `selfName` must exist and be the public key of `identity` (from DaemonIdentityFile). The
 * parser cannot check this, since it does not know which daemon is self. Throws RingcastError
 * DAEMON_NOT_CONFIGURED, DAEMON_IDENTITY_UNTRUSTED or DAEMON_IDENTITY_MISMATCH, saying what to fix.
 */
export function checkDaemonIdentity(cfg: RingcastConfig, selfName: string, identity: DaemonIdentity): void {
  const conf = cfg.file ?? 'the configuration';
  const file = cfg.daemonIdentityFile ?? 'the identity file';
  if (!cfg.daemons.some((d) => d.name === selfName)) {
    throw new RingcastError('DAEMON_NOT_CONFIGURED', `'${selfName}' is not a daemon of ${conf}; the daemons are: ${cfg.daemons.map((d) => d.name).join(', ')}`);
  }
  const own = daemonKeyFingerprint(identity.publicKey);
  const line = `DaemonPublicKey = ${selfName} ${formatDaemonPublicKey(identity.publicKey)}`;
  const listed = cfg.daemonPublicKeys.get(selfName);
  if (listed === undefined) {
    throw new RingcastError(
      'DAEMON_IDENTITY_UNTRUSTED',
      `${conf} has no DaemonPublicKey line for this daemon '${selfName}' (its identity ${file} has fingerprint ${own}), so no daemon would trust it: ` +
        `add the line '${line}' to the configuration of every daemon, then start this daemon and send the others SIGHUP`,
    );
  }
  if (!daemonPublicKeysEqual(listed, identity.publicKey)) {
    throw new RingcastError(
      'DAEMON_IDENTITY_MISMATCH',
      `the DaemonPublicKey line for this daemon '${selfName}' in ${conf} has fingerprint ${daemonKeyFingerprint(listed)}, but its identity ${file} has fingerprint ${own}: ` +
        `if ${file} is this daemon's identity, replace the line in every daemon's configuration with '${line}' and send each running daemon SIGHUP; ` +
        'otherwise point DaemonIdentityFile at the identity file that line was made from',
    );
  }
}
