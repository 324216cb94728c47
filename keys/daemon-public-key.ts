/**
 * A daemon's long-term public key as it is written in the configuration: one token
 *
 *   rcd1:<base64url, no padding, of the X25519 public key (32 bytes) ‖ the Ed25519 public key (32 bytes)>
 *
 * 91 characters, no spaces, so that it is one bare word of the configuration language. This module
 * is pure (no file system, no libsodium), so the configuration parser can use it before the crypto
 * layer is loaded.
 */
import { sha256 } from '@noble/hashes/sha2.js';

export interface DaemonPublicKey {
  /** X25519 public key (key agreement), 32 bytes. */
  x25519: Uint8Array;
  /** Ed25519 public key (signatures), 32 bytes. */
  ed25519: Uint8Array;
}

export const DAEMON_PUBLIC_KEY_PREFIX = 'rcd1:';
export const X25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_PUBLIC_KEY_BYTES = 32;
/** 64 bytes in unpadded base64url are 86 characters. */
const TOKEN_PATTERN = /^rcd1:[A-Za-z0-9_-]{86}$/;
const FINGERPRINT_LABEL = new TextEncoder().encode('ringcast daemon public key fingerprint v1\0');
/** Bytes of the hash shown as the fingerprint: 16 hex digits. */
const FINGERPRINT_BYTES = 8;

function checkPublicKey(k: DaemonPublicKey): void {
  if (!(k.x25519 instanceof Uint8Array) || k.x25519.length !== X25519_PUBLIC_KEY_BYTES) {
    throw new RangeError(`a daemon's X25519 public key is ${X25519_PUBLIC_KEY_BYTES} bytes`);
  }
  if (!(k.ed25519 instanceof Uint8Array) || k.ed25519.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new RangeError(`a daemon's Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  }
}

function concatKeys(k: DaemonPublicKey): Uint8Array {
  const both = new Uint8Array(X25519_PUBLIC_KEY_BYTES + ED25519_PUBLIC_KEY_BYTES);
  both.set(k.x25519, 0);
  both.set(k.ed25519, X25519_PUBLIC_KEY_BYTES);
  return both;
}

/** The configuration token of a public key: "rcd1:" and 86 characters of base64url. */
export function formatDaemonPublicKey(k: DaemonPublicKey): string {
  checkPublicKey(k);
  return DAEMON_PUBLIC_KEY_PREFIX + Buffer.from(concatKeys(k)).toString('base64url');
}

/**
 * The public key of a token written by formatDaemonPublicKey; undefined for anything else,
 * including a non-canonical encoding (unused trailing bits set), so that one key has one spelling.
 */
export function parseDaemonPublicKey(text: string): DaemonPublicKey | undefined {
  if (typeof text !== 'string' || !TOKEN_PATTERN.test(text)) return undefined;
  const encoded = text.slice(DAEMON_PUBLIC_KEY_PREFIX.length);
  const bytes = Buffer.from(encoded, 'base64url');
  if (bytes.length !== X25519_PUBLIC_KEY_BYTES + ED25519_PUBLIC_KEY_BYTES) return undefined;
  if (bytes.toString('base64url') !== encoded) return undefined;
  return {
    x25519: new Uint8Array(bytes.subarray(0, X25519_PUBLIC_KEY_BYTES)),
    ed25519: new Uint8Array(bytes.subarray(X25519_PUBLIC_KEY_BYTES)),
  };
}

/** A short public identifier of a daemon key for logs and messages: 16 hex digits of SHA-256. */
export function daemonKeyFingerprint(k: DaemonPublicKey): string {
  checkPublicKey(k);
  const keys = concatKeys(k);
  const input = new Uint8Array(FINGERPRINT_LABEL.length + keys.length);
  input.set(FINGERPRINT_LABEL, 0);
  input.set(keys, FINGERPRINT_LABEL.length);
  return Buffer.from(sha256(input).subarray(0, FINGERPRINT_BYTES)).toString('hex');
}

/** Whether two public keys are the same (both halves). Public data: no need for constant time. */
export function daemonPublicKeysEqual(a: DaemonPublicKey, b: DaemonPublicKey): boolean {
  return Buffer.from(a.x25519).equals(Buffer.from(b.x25519)) && Buffer.from(a.ed25519).equals(Buffer.from(b.ed25519));
}
