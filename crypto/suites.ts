/**
 * Packet-protection suites. A suite is one algorithm with one wire format; both ends of a
 * configuration must use the same one (it is carried, authenticated, in header byte 0, so a
 * mismatch is reported as 'mode', not as a forgery). Which library computes it is an
 * implementation detail chosen per packet size by measurement (bench/crypto.ts): the bytes on the
 * wire are the same whichever library produced them.
 *
 * Packet layout: header (16) ‖ body ‖ tag (16). In 'encrypt' suites the body is ciphertext and the
 * header is associated data; in 'integrity' suites the body is the plaintext and the tag is a MAC
 * over header ‖ body; 'none' has no tag.
 */
import * as nodeCrypto from 'node:crypto';
import type { KeyPurpose } from './kdf.js';
import { HEADER_BYTES, MODE_CODES } from './header.js';
import type { ProtectionMode } from './header.js';
import { sodiumInstance } from './init.js';

export type EncryptSuiteName = 'aes-256-gcm' | 'chacha20-poly1305';
export type IntegritySuiteName = 'hmac-sha256' | 'blake2b';
export type SuiteName = 'none' | EncryptSuiteName | IntegritySuiteName;

export const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/**
 * Defaults by measurement (bench/README.md): over 1 KB, 8 KB and 32 KB packets node:crypto
 * AES-256-GCM (AES-NI, PCLMULQDQ) costs least in total, and HMAC-SHA-256 (SHA extensions) beats
 * keyed BLAKE2b in WebAssembly from about 4 KB up.
 */
export const DEFAULT_SUITES: Readonly<Record<ProtectionMode, SuiteName>> = {
  none: 'none',
  integrity: 'hmac-sha256',
  encrypt: 'aes-256-gcm',
};

/**
 * Up to this plaintext size ChaCha20-Poly1305 is computed by libsodium (lower fixed cost per call),
 * above it by node:crypto (OpenSSL's vectorised code): the crossover measured in bench/crypto.ts.
 */
export const CHACHA_SODIUM_BYTES_MAX = 2048;

export interface PacketSuite {
  readonly name: SuiteName;
  readonly mode: ProtectionMode;
  /** Suite code in header byte 0 (2 bits, per mode). */
  readonly code: number;
  readonly tagBytes: number;
  /** Purpose of the per-sender keys (undefined: the suite uses no key). */
  readonly purpose: KeyPurpose | undefined;
  /**
   * `out` is header ‖ room for body and tag, with the header already written. Fills in the body
   * and the tag. Throws only on a programming error.
   */
  seal(key: Uint8Array, out: Uint8Array, plaintext: Uint8Array): void;
  /** Verifies and returns the payload, or undefined if the tag does not verify. Never throws. */
  open(key: Uint8Array, packet: Uint8Array): Uint8Array | undefined;
}

type NodeAead = 'aes-256-gcm' | 'chacha20-poly1305';

function nodeCipher(algorithm: NodeAead, key: Uint8Array, nonce: Uint8Array): nodeCrypto.CipherGCM | nodeCrypto.CipherChaCha20Poly1305 {
  return algorithm === 'aes-256-gcm'
    ? nodeCrypto.createCipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES })
    : nodeCrypto.createCipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES });
}

function nodeDecipher(algorithm: NodeAead, key: Uint8Array, nonce: Uint8Array): nodeCrypto.DecipherGCM | nodeCrypto.DecipherChaCha20Poly1305 {
  return algorithm === 'aes-256-gcm'
    ? nodeCrypto.createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES })
    : nodeCrypto.createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES });
}

function nodeAeadSeal(algorithm: NodeAead, key: Uint8Array, out: Uint8Array, plaintext: Uint8Array): void {
  const header = out.subarray(0, HEADER_BYTES);
  // Nonce = sender ‖ counter (header bytes 4..16): unique per key, see SECURITY.md.
  const cipher = nodeCipher(algorithm, key, header.subarray(4, HEADER_BYTES));
  cipher.setAAD(header, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  out.set(body, HEADER_BYTES);
  out.set(cipher.getAuthTag(), HEADER_BYTES + plaintext.length);
}

function nodeAeadOpen(algorithm: NodeAead, key: Uint8Array, packet: Uint8Array): Uint8Array | undefined {
  try {
    const header = packet.subarray(0, HEADER_BYTES);
    const decipher = nodeDecipher(algorithm, key, header.subarray(4, HEADER_BYTES));
    decipher.setAAD(header, { plaintextLength: packet.length - HEADER_BYTES - TAG_BYTES });
    // OpenSSL compares the tag in constant time inside final().
    decipher.setAuthTag(packet.subarray(packet.length - TAG_BYTES));
    const plaintext = decipher.update(packet.subarray(HEADER_BYTES, packet.length - TAG_BYTES));
    decipher.final();
    return plaintext;
  } catch {
    return undefined;
  }
}

const aes256gcm: PacketSuite = {
  name: 'aes-256-gcm',
  mode: 'encrypt',
  code: 0,
  tagBytes: TAG_BYTES,
  purpose: 'packet-encrypt',
  seal: (key, out, plaintext) => nodeAeadSeal('aes-256-gcm', key, out, plaintext),
  open: (key, packet) => nodeAeadOpen('aes-256-gcm', key, packet),
};

const chacha20poly1305: PacketSuite = {
  name: 'chacha20-poly1305',
  mode: 'encrypt',
  code: 1,
  tagBytes: TAG_BYTES,
  purpose: 'packet-encrypt',
  seal(key, out, plaintext) {
    if (plaintext.length > CHACHA_SODIUM_BYTES_MAX) return nodeAeadSeal('chacha20-poly1305', key, out, plaintext);
    const header = out.subarray(0, HEADER_BYTES);
    const sealed = sodiumInstance().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, header, null, header.subarray(4, HEADER_BYTES), key);
    out.set(sealed, HEADER_BYTES);
  },
  open(key, packet) {
    if (packet.length - HEADER_BYTES - TAG_BYTES > CHACHA_SODIUM_BYTES_MAX) return nodeAeadOpen('chacha20-poly1305', key, packet);
    try {
      const header = packet.subarray(0, HEADER_BYTES);
      // libsodium verifies the Poly1305 tag in constant time before decrypting.
      return sodiumInstance().crypto_aead_chacha20poly1305_ietf_decrypt(null, packet.subarray(HEADER_BYTES), header, header.subarray(4, HEADER_BYTES), key);
    } catch {
      return undefined;
    }
  },
};

/** A MAC suite: tag = MAC(key, header ‖ body), compared in constant time. */
function macSuite(name: IntegritySuiteName, code: number, mac: (key: Uint8Array, data: Uint8Array) => Uint8Array): PacketSuite {
  return {
    name,
    mode: 'integrity',
    code,
    tagBytes: TAG_BYTES,
    purpose: 'packet-mac',
    seal(key, out, plaintext) {
      out.set(plaintext, HEADER_BYTES);
      const end = HEADER_BYTES + plaintext.length;
      out.set(mac(key, out.subarray(0, end)).subarray(0, TAG_BYTES), end);
    },
    open(key, packet) {
      try {
        const end = packet.length - TAG_BYTES;
        const expected = mac(key, packet.subarray(0, end)).subarray(0, TAG_BYTES);
        if (!nodeCrypto.timingSafeEqual(expected, packet.subarray(end))) return undefined;
        return packet.subarray(HEADER_BYTES, end);
      } catch {
        return undefined;
      }
    },
  };
}

/** HMAC-SHA-256 truncated to 128 bits (as HMAC-SHA-256-128, RFC 4868). */
const hmacSha256 = macSuite('hmac-sha256', 0, (key, data) => nodeCrypto.createHmac('sha256', key).update(data).digest());
/** Keyed BLAKE2b with a 128-bit output (RFC 7693; the output length is a BLAKE2b parameter, not a truncation). */
const blake2b = macSuite('blake2b', 1, (key, data) => sodiumInstance().crypto_generichash(TAG_BYTES, data, key));

const none: PacketSuite = {
  name: 'none',
  mode: 'none',
  code: 0,
  tagBytes: 0,
  purpose: undefined,
  seal(_key, out, plaintext) {
    out.set(plaintext, HEADER_BYTES);
  },
  open(_key, packet) {
    return packet.subarray(HEADER_BYTES);
  },
};

const SUITES: readonly PacketSuite[] = [none, aes256gcm, chacha20poly1305, hmacSha256, blake2b];

/** The suite of a name, if it belongs to the mode. */
export function suiteFor(mode: ProtectionMode, name: SuiteName): PacketSuite | undefined {
  return SUITES.find((s) => s.mode === mode && s.name === name);
}

/** The suite a header's mode and suite codes name, for log messages. */
export function suiteByCodes(modeCode: number, suiteCode: number): PacketSuite | undefined {
  return SUITES.find((s) => MODE_CODES[s.mode] === modeCode && s.code === suiteCode);
}

export function suiteNames(mode: ProtectionMode): SuiteName[] {
  return SUITES.filter((s) => s.mode === mode).map((s) => s.name);
}
