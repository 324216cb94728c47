import { PacketProtector } from '../../crypto/index.js';
import type { PacketProtectorOptions, ProtectionMode, SuiteName } from '../../crypto/index.js';
import { pseudoRandomBytes } from '../helpers/xorshift.js';

export const SECRET = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
export const OTHER_SECRET = new Uint8Array(32).map((_, i) => (i * 53 + 7) & 0xff);
export const A = 0x0a000001;
export const B = 0x0a000002;
export const C = 0x0a000003;
export const INCARNATION = 1_763_900_000_000;

export const SECURE_CONFIGS: { mode: ProtectionMode; suite: SuiteName }[] = [
  { mode: 'integrity', suite: 'hmac-sha256' },
  { mode: 'integrity', suite: 'blake2b' },
  { mode: 'encrypt', suite: 'aes-256-gcm' },
  { mode: 'encrypt', suite: 'chacha20-poly1305' },
];

export const ALL_CONFIGS: { mode: ProtectionMode; suite: SuiteName }[] = [{ mode: 'none', suite: 'none' }, ...SECURE_CONFIGS];

export function pair(
  mode: ProtectionMode,
  suite: SuiteName,
  extra: Partial<PacketProtectorOptions> = {},
): { a: PacketProtector; b: PacketProtector } {
  const base = { daemons: [A, B, C], mode, suite, clusterSecret: SECRET, ...extra };
  return {
    a: new PacketProtector({ ...base, self: A, incarnation: INCARNATION }),
    b: new PacketProtector({ ...base, self: B, incarnation: INCARNATION + 5 }),
  };
}

export function bytes(n: number, seed = 1): Uint8Array {
  return pseudoRandomBytes(seed, n);
}

export function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).indexOf(Buffer.from(needle)) !== -1;
}
