/**
 * Ephemeral X25519 key agreement and the key schedule shared by the methods.
 *
 *   shared   = X25519(own ephemeral secret, peer ephemeral public)
 *   hs keys  = HKDF-SHA256(ikm = shared, salt = transcript hash after ServerHello,
 *                          info = "ringcast hs c2s" | "ringcast hs s2c"), 32 bytes each
 *   session  = HKDF-SHA256(ikm = shared, salt = transcript hash after ServerFinal,
 *                          info = "ringcast session c2s" | "ringcast session s2c"), 32 bytes each
 *
 * Handshake keys seal exactly one record per direction (ClientProof, ServerFinal) under nonce 0,
 * which is safe because every handshake has fresh ephemeral keys and so fresh handshake keys.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { makeSessionKeys, type SessionKeys } from './keyed-frames.js';
import { sodiumReady } from './sodium.js';
import type { RandomBytes } from './types.js';

const encoder = new TextEncoder();

export interface EphemeralKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export function ephemeralKeyPair(randomBytes: RandomBytes): EphemeralKeyPair {
  const secretKey = randomBytes(32);
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) throw new RangeError('randomBytes(32) must return 32 bytes');
  return { secretKey: secretKey.slice(), publicKey: sodiumReady().crypto_scalarmult_base(secretKey) };
}

/** X25519; undefined when the peer's key is a low-order point (all-zero shared secret). */
export function sharedSecret(own: EphemeralKeyPair, peerPublic: Uint8Array): Uint8Array | undefined {
  try {
    return sodiumReady().crypto_scalarmult(own.secretKey, peerPublic);
  } catch {
    return undefined;
  }
}

function derive(shared: Uint8Array, salt: Uint8Array, info: string): Uint8Array {
  return hkdf(sha256, shared, salt, encoder.encode(info), 32);
}

export interface HandshakeKeys {
  readonly clientToServer: Uint8Array;
  readonly serverToClient: Uint8Array;
}

/**
 * Zeroes what a handshake held secret: the X25519 result, the ephemeral secret key and both
 * handshake keys. Every method calls it once its machine has finished, either way.
 */
export function wipeHandshakeSecrets(shared: Uint8Array | undefined, eph: EphemeralKeyPair | undefined, hs: HandshakeKeys | undefined): void {
  shared?.fill(0);
  eph?.secretKey.fill(0);
  hs?.clientToServer.fill(0);
  hs?.serverToClient.fill(0);
}

export function handshakeKeys(shared: Uint8Array, transcriptAfterServerHello: Uint8Array): HandshakeKeys {
  return {
    clientToServer: derive(shared, transcriptAfterServerHello, 'ringcast hs c2s'),
    serverToClient: derive(shared, transcriptAfterServerHello, 'ringcast hs s2c'),
  };
}

export function sessionKeys(shared: Uint8Array, finalTranscript: Uint8Array, side: 'client' | 'server'): SessionKeys {
  const c2s = derive(shared, finalTranscript, 'ringcast session c2s');
  const s2c = derive(shared, finalTranscript, 'ringcast session s2c');
  const keys = side === 'client' ? makeSessionKeys(c2s, s2c) : makeSessionKeys(s2c, c2s);
  c2s.fill(0);
  s2c.fill(0);
  return keys;
}

const ZERO_NONCE = new Uint8Array(12);

export function sealHandshake(key: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return sodiumReady().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, ZERO_NONCE, key);
}

export function openHandshake(key: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
  try {
    return sodiumReady().crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, ZERO_NONCE, key);
  } catch {
    return undefined;
  }
}

/** Constant-time equality for fixed-length secrets. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Daemon names in the ServerHello: 1..64 bytes of printable ASCII. */
export function isValidDaemonName(name: string): boolean {
  return /^[\x21-\x7e]{1,64}$/.test(name);
}
