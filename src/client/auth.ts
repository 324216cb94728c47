/**
 * Client side of Spread's authentication negotiation (§3.3–§3.5). The daemon lists its enabled
 * methods, the client names up to three in the 90-byte choice, then each named method runs its
 * own exchange over the connection, in the order named, before the daemon's accept or reject.
 * NULL and IP add no bytes; methods with a challenge, a password or a key exchange implement
 * `exchange` with reads and writes on the channel.
 */
import { SpreadCode, SpreadLimits } from '../session/protocol.js';
import type { ResolvedAddress } from './address.js';
import { SpreadError } from './errors.js';
import type { AuthChannel } from './handshake-io.js';

export type { AuthChannel } from './handshake-io.js';

export interface AuthContext {
  readonly channel: AuthChannel;
  /** The private name announced in the connect request ('' when the daemon assigns one). */
  readonly privateName: string;
  readonly address: ResolvedAddress;
  /** The methods the daemon listed as enabled. */
  readonly daemonMethods: readonly string[];
}

/**
 * Protection of the session stream that a keying method puts in place. Once the method exchanges
 * are over, every later byte in both directions (the accept record included) passes through it.
 */
export interface RecordTransport {
  /** Protects one outgoing record; the result goes out in one socket write. */
  seal(record: Uint8Array): Uint8Array;
  /** Takes bytes as received, however segmented; returns the plaintext completed by them (possibly none). Throws to end the session. */
  open(bytes: Uint8Array): Uint8Array[];
}

export interface ClientAuthOutcome {
  /** Set by a method that derives session keys; at most one method of a connection may set it. */
  readonly transport?: RecordTransport;
}

export interface ClientAuthMethod {
  /** Name as it appears in the daemon's list and in the choice record (1..29 characters). */
  readonly name: string;
  /**
   * Runs the method's exchange after the choice record, reading exactly what the method needs so
   * that later bytes stay for the next step. Throw a SpreadError to abandon the connection.
   */
  exchange(ctx: AuthContext): Promise<ClientAuthOutcome | void>;
}

/** NULL: no proof at all; the daemon accepts whenever NULL is enabled. */
export const nullAuth: ClientAuthMethod = { name: 'NULL', exchange: async () => {} };

/** IP: no bytes; the daemon checks the peer's IPv4 address against its access list (TCP only). */
export const ipAuth: ClientAuthMethod = { name: 'IP', exchange: async () => {} };

export const BUILTIN_AUTH_METHODS: ReadonlyMap<string, ClientAuthMethod> = new Map([
  [nullAuth.name, nullAuth],
  [ipAuth.name, ipAuth],
]);

export function resolveAuthMethods(spec: ReadonlyArray<string | ClientAuthMethod> | undefined): ClientAuthMethod[] {
  const list = spec ?? ['NULL'];
  if (list.length === 0 || list.length > SpreadLimits.AUTH_METHODS_MAX) {
    throw new SpreadError(SpreadCode.REJECT_AUTH, `choose 1..${SpreadLimits.AUTH_METHODS_MAX} authentication methods, got ${list.length}`);
  }
  const out: ClientAuthMethod[] = [];
  for (const m of list) {
    const method = typeof m === 'string' ? BUILTIN_AUTH_METHODS.get(m.toUpperCase()) : m;
    if (!method) {
      throw new SpreadError(
        SpreadCode.REJECT_AUTH,
        `unknown authentication method "${String(m)}": built in are ${[...BUILTIN_AUTH_METHODS.keys()].join(', ')}; pass a ClientAuthMethod object for others`,
      );
    }
    if (!/^[\x21-\x7e]{1,29}$/.test(method.name)) {
      throw new SpreadError(SpreadCode.REJECT_AUTH, `authentication method name "${method.name}" must be 1..29 printable characters without spaces`);
    }
    if (out.some((o) => o.name === method.name)) {
      throw new SpreadError(SpreadCode.REJECT_AUTH, `authentication method ${method.name} is listed twice`);
    }
    out.push(method);
  }
  return out;
}
