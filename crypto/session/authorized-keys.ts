/**
 * The authorized-keys file of RC-PUBKEY (pure text format; loading with permission checks is in files.ts).
 *
 *   # comment (whole line)
 *   <identity> <base64 Ed25519 public key, 32 bytes> [comment...]
 *
 * Identities: 1..64 of A-Z a-z 0-9 . _ - @ +; the session's identity becomes `key:<identity>`.
 * An identity may have several keys; a key belongs to exactly one identity.
 */
import { ConfigError } from '../../src/util/errors.js';

export const authorizedKeysEntriesMax = 100_000;

export function isValidKeyIdentity(identity: string): boolean {
  return /^[A-Za-z0-9._@+-]{1,64}$/.test(identity);
}

export class AuthorizedKeys {
  private readonly byKey: Map<string, string>;

  constructor(byKey: Map<string, string>) {
    this.byKey = byKey;
  }

  /** The identity a public key is authorized as, or undefined. */
  lookup(publicKey: Uint8Array): string | undefined {
    if (publicKey.length !== 32) return undefined;
    return this.byKey.get(Buffer.from(publicKey).toString('hex'));
  }

  get size(): number {
    return this.byKey.size;
  }
}

export function formatAuthorizedKeyLine(identity: string, publicKey: Uint8Array, comment?: string): string {
  if (!isValidKeyIdentity(identity)) throw new RangeError(`identity "${identity}" must be 1..64 of A-Z a-z 0-9 . _ - @ +`);
  if (publicKey.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
  const c = comment?.replace(/[\r\n]/g, ' ').trim();
  return `${identity} ${Buffer.from(publicKey).toString('base64')}${c ? ` ${c}` : ''}`;
}

export function parseAuthorizedKeys(text: string, file: string): AuthorizedKeys {
  const byKey = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [identity, keyText] = line.split(/\s+/) as [string, string | undefined];
    if (!isValidKeyIdentity(identity)) throw new ConfigError(file, i + 1, `identity "${identity}" must be 1..64 of A-Z a-z 0-9 . _ - @ +`);
    if (keyText === undefined) throw new ConfigError(file, i + 1, 'expected "<identity> <base64 Ed25519 public key> [comment]"');
    const key = Buffer.from(keyText, 'base64');
    if (key.length !== 32 || key.toString('base64') !== keyText) throw new ConfigError(file, i + 1, 'public key must be 32 bytes of standard base64');
    const hex = key.toString('hex');
    const previous = byKey.get(hex);
    if (previous !== undefined) throw new ConfigError(file, i + 1, `this key is already authorized as ${previous}; a key maps to one identity`);
    if (byKey.size >= authorizedKeysEntriesMax) throw new ConfigError(file, i + 1, `more than ${authorizedKeysEntriesMax} keys`);
    byKey.set(hex, identity);
  }
  return new AuthorizedKeys(byKey);
}
