/**
 * The session-authentication methods by name, for the daemon's session machine and the client
 * library: which names exist, which give keyed sessions, and construction of the daemon side.
 */
import { RingcastError } from '../../src/util/errors.js';
import type { PasswordVerifier } from './password-verifier.js';
import { PASSWORD_METHOD, PasswordServerAuth } from './password.js';
import { PUBKEY_METHOD, PubkeyServerAuth } from './pubkey.js';
import type { ScryptParams } from './scrypt-params.js';
import type { RandomBytes, ServerAuth } from './types.js';

/** Methods with a handshake and keyed framing afterwards. NULL and IP are Spread's, without bytes. */
export const KEYED_AUTH_METHODS: readonly string[] = Object.freeze([PASSWORD_METHOD, PUBKEY_METHOD]);

export function isKeyedAuthMethod(name: string): boolean {
  return KEYED_AUTH_METHODS.includes(name);
}

export interface ServerAuthContext {
  readonly daemonName: string;
  readonly randomBytes: RandomBytes;
  /** RC-PASSWORD: the loaded verifier file (loadPasswordFile) and a per-daemon decoy secret (32 random bytes). */
  readonly passwords?: { readonly lookup: (user: string) => PasswordVerifier | undefined; readonly decoySecret: Uint8Array; readonly decoyParams?: ScryptParams };
  /** RC-PUBKEY: the loaded authorized keys (loadAuthorizedKeys). */
  readonly authorizedKeys?: { readonly lookup: (publicKey: Uint8Array) => string | undefined };
}

export class AuthMethodUnavailableError extends RingcastError {
  constructor(message: string) {
    super('AUTH_METHOD_UNAVAILABLE', message);
    this.name = 'AuthMethodUnavailableError';
  }
}

/** The daemon side of `method` for one new session. */
export function createServerAuth(method: string, ctx: ServerAuthContext): ServerAuth {
  if (method === PASSWORD_METHOD) {
    const pw = ctx.passwords;
    if (!pw) throw new AuthMethodUnavailableError(`${PASSWORD_METHOD} is enabled but no PasswordFile is configured`);
    return new PasswordServerAuth({ daemonName: ctx.daemonName, randomBytes: ctx.randomBytes, lookup: pw.lookup, decoySecret: pw.decoySecret, decoyParams: pw.decoyParams });
  }
  if (method === PUBKEY_METHOD) {
    const ak = ctx.authorizedKeys;
    if (!ak) throw new AuthMethodUnavailableError(`${PUBKEY_METHOD} is enabled but no AuthorizedKeysFile is configured`);
    return new PubkeyServerAuth({ daemonName: ctx.daemonName, randomBytes: ctx.randomBytes, lookupKey: ak.lookup });
  }
  throw new AuthMethodUnavailableError(`unknown session authentication method ${method}; known: ${KEYED_AUTH_METHODS.join(', ')}`);
}

/**
 * Checks a client's choice (spec §3.4) plus the required methods against Ringcast's rule: at most one
 * keyed method per session (two would each produce keys for the same stream). Returns the keyed
 * method to run, or undefined if none; throws if more than one.
 */
export function keyedMethodOf(methods: readonly string[]): string | undefined {
  const keyed = [...new Set(methods.filter(isKeyedAuthMethod))];
  if (keyed.length > 1) throw new AuthMethodUnavailableError(`a session may use one keyed method, got ${keyed.join(' and ')}`);
  return keyed[0];
}
