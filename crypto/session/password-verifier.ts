/**
 * SCRAM-style verifier material (after RFC 5802 §3, with scrypt in place of PBKDF2 and the
 * handshake transcript in place of the AuthMessage):
 *
 *   SaltedPassword = scrypt(UTF-8(NFC(password)), salt, N, r, p, 32)
 *   ClientKey      = HMAC-SHA256(SaltedPassword, "Ringcast RC-PASSWORD client key")
 *   StoredKey      = SHA-256(ClientKey)
 *   ServerKey      = HMAC-SHA256(SaltedPassword, "Ringcast RC-PASSWORD server key")
 *
 * The daemon stores only salt, parameters, StoredKey and ServerKey: enough to check a proof of
 * ClientKey and to prove itself, not enough to log in as the user.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { isWellFormedScryptParams, type ScryptParams } from './scrypt-params.js';

const encoder = new TextEncoder();
const CLIENT_KEY_LABEL = encoder.encode('Ringcast RC-PASSWORD client key');
const SERVER_KEY_LABEL = encoder.encode('Ringcast RC-PASSWORD server key');

export const passwordBytesMax = 1024;
export const saltBytesMin = 16;
export const saltBytesMax = 64;
export const SALT_BYTES_DEFAULT = 16;

export interface PasswordVerifier {
  readonly user: string;
  readonly params: ScryptParams;
  readonly salt: Uint8Array;
  readonly storedKey: Uint8Array;
  readonly serverKey: Uint8Array;
}

/** User names of the password method: 1..64 of A-Z a-z 0-9 . _ - @ + (also the identity `password:<user>`). */
export function isValidUserName(user: string): boolean {
  return /^[A-Za-z0-9._@+-]{1,64}$/.test(user);
}

/** The password as bytes: Unicode NFC, then UTF-8; 1..1024 bytes. */
export function passwordBytes(password: string): Uint8Array {
  const b = encoder.encode(password.normalize('NFC'));
  if (b.length < 1 || b.length > passwordBytesMax) {
    throw new RangeError(`a password is 1..${passwordBytesMax} bytes of UTF-8`);
  }
  return b;
}

/** scrypt on this thread (noble). For tests and tools; the daemon and client use ScryptPool. */
export function saltedPasswordSync(password: Uint8Array, salt: Uint8Array, params: ScryptParams): Uint8Array {
  if (!isWellFormedScryptParams(params)) throw new RangeError('malformed scrypt parameters');
  return scrypt(password, salt, { N: 2 ** params.logN, r: params.r, p: params.p, dkLen: 32, maxmem: 2 ** 31 });
}

export function clientKeyOf(saltedPassword: Uint8Array): Uint8Array {
  return hmac(sha256, saltedPassword, CLIENT_KEY_LABEL);
}

export function serverKeyOf(saltedPassword: Uint8Array): Uint8Array {
  return hmac(sha256, saltedPassword, SERVER_KEY_LABEL);
}

export function verifierFromSaltedPassword(user: string, params: ScryptParams, salt: Uint8Array, saltedPassword: Uint8Array): PasswordVerifier {
  if (!isValidUserName(user)) throw new RangeError(`"${user}" is not a valid user name (1..64 of A-Z a-z 0-9 . _ - @ +)`);
  if (salt.length < saltBytesMin || salt.length > saltBytesMax) throw new RangeError(`a salt is ${saltBytesMin}..${saltBytesMax} bytes`);
  const clientKey = clientKeyOf(saltedPassword);
  const verifier = { user, params, salt: salt.slice(), storedKey: sha256(clientKey), serverKey: serverKeyOf(saltedPassword) };
  clientKey.fill(0);
  return verifier;
}
