/**
 * Key separation. Every key Ringcast uses is derived with HKDF-SHA-256 (RFC 5869, @noble/hashes)
 * from a 256-bit secret, with the purpose and a context in HKDF's `info`, so keys for different
 * purposes, epochs, senders and key generations are independent even though they share a secret.
 *
 *   PRK = HKDF-Extract(salt = "ringcast v1 kdf", IKM = secret)
 *   key = HKDF-Expand(PRK, info = "ringcast v1 " ‖ purpose ‖ 0x00 ‖ context, L)
 *
 * The 0x00 separator cannot occur inside a purpose name, so (purpose, context) pairs never share
 * an info string.
 */
import { extract, expand } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { RingcastError } from '../src/util/errors.js';

/**
 * What a derived key is for. One name per use; a key is never used for two of them.
 * - packet-encrypt: AEAD keys for inter-daemon packets ('encrypt' mode), per epoch, sender, generation
 * - packet-mac: MAC keys for inter-daemon packets ('integrity' mode), per epoch, sender, generation
 * - epoch: epoch 0's secret, derived from the cluster secret
 * - epoch-formation: the cluster's formation key, mixed into every epoch-key establishment
 *   (keys/epoch-schedule.ts), so that only cluster-key holders take part
 * - epoch-wrap: the one-time key that carries a new configuration's epoch secret to one member
 * - epoch-ratchet: the next generation's epoch secret from the current one (rekey within a configuration)
 * - session-auth: client session authentication
 * - key-fingerprint: a public identifier of a secret, for logs and operators
 */
export type KeyPurpose = 'packet-encrypt' | 'packet-mac' | 'epoch' | 'epoch-formation' | 'epoch-wrap' | 'epoch-ratchet' | 'session-auth' | 'key-fingerprint';

export const KEY_PURPOSES: readonly KeyPurpose[] = ['packet-encrypt', 'packet-mac', 'epoch', 'epoch-formation', 'epoch-wrap', 'epoch-ratchet', 'session-auth', 'key-fingerprint'];

/** Secrets shorter than this are refused: every Ringcast secret is 256 bits. */
export const SECRET_BYTES_MIN = 32;
/** HKDF-SHA-256 can expand to 255 × 32 bytes; Ringcast never needs more than 64. */
export const DERIVED_KEY_BYTES_MAX = 64;

const EXTRACT_SALT = new TextEncoder().encode('ringcast v1 kdf');
const INFO_PREFIX = 'ringcast v1 ';
const encoder = new TextEncoder();

function checkSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.length < SECRET_BYTES_MIN) {
    throw new RingcastError('CRYPTO_SECRET_INVALID', `a secret must be at least ${SECRET_BYTES_MIN} bytes (256 bits); got ${secret instanceof Uint8Array ? secret.length : typeof secret}`);
  }
}

function infoFor(purpose: KeyPurpose, context: Uint8Array): Uint8Array {
  if (!KEY_PURPOSES.includes(purpose)) {
    throw new RingcastError('CRYPTO_PURPOSE_INVALID', `unknown key purpose '${String(purpose)}'`);
  }
  const label = encoder.encode(INFO_PREFIX + purpose);
  const info = new Uint8Array(label.length + 1 + context.length);
  info.set(label, 0);
  info[label.length] = 0;
  info.set(context, label.length + 1);
  return info;
}

function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 16 || length > DERIVED_KEY_BYTES_MAX) {
    throw new RingcastError('CRYPTO_LENGTH_INVALID', `derived key length must be an integer from 16 to ${DERIVED_KEY_BYTES_MAX} bytes; got ${length}`);
  }
}

/** Derives a key for one purpose and context from a secret (HKDF-SHA-256). */
export function deriveKey(secret: Uint8Array, purpose: KeyPurpose, context: Uint8Array = new Uint8Array(0), length = 32): Uint8Array {
  checkSecret(secret);
  checkLength(length);
  const prk = extract(sha256, secret, EXTRACT_SALT);
  try {
    return expand(sha256, prk, infoFor(purpose, context), length);
  } finally {
    prk.fill(0);
  }
}

/**
 * A secret after HKDF-Extract, for deriving many keys from it cheaply (one HMAC per key).
 * `derive(p, c)` equals `deriveKey(secret, p, c)`. Call `erase()` when the secret retires.
 */
export class KeyDeriver {
  #prk: Uint8Array;
  #erased = false;

  constructor(secret: Uint8Array) {
    checkSecret(secret);
    this.#prk = extract(sha256, secret, EXTRACT_SALT);
  }

  derive(purpose: KeyPurpose, context: Uint8Array = new Uint8Array(0), length = 32): Uint8Array {
    if (this.#erased) throw new RingcastError('CRYPTO_KEY_ERASED', 'this key deriver was erased (its epoch was retired)');
    checkLength(length);
    return expand(sha256, this.#prk, infoFor(purpose, context), length);
  }

  erase(): void {
    this.#prk.fill(0);
    this.#erased = true;
  }
}

/** Big-endian u32 context helper. */
export function u32Context(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0));
  return out;
}

/** The secret of epoch 0, derived from the cluster secret; later epochs come from the key schedule. */
export function epochZeroSecret(clusterSecret: Uint8Array): Uint8Array {
  return deriveKey(clusterSecret, 'epoch', u32Context(0));
}

/** A short public identifier of a secret (16 hex digits), safe to print: it reveals nothing usable about the secret. */
export function secretFingerprint(secret: Uint8Array): string {
  const id = deriveKey(secret, 'key-fingerprint', new Uint8Array(0), 16);
  return Buffer.from(id.subarray(0, 8)).toString('hex');
}
