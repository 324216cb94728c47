/**
 * Runs a ClientAuth over an exact-read channel (the client library's AuthChannel): writes every
 * record, serves scrypt work through `derive` (off the event loop), and reads exactly as many bytes
 * as the method wants, so the first keyed frame after the handshake stays in the socket for the
 * keyed stream decoder.
 */
import { RingcastError } from '../../src/util/errors.js';
import { keyedTransport, type KeyedRecordTransport, type SessionKeys } from './keyed-frames.js';
import type { DerivationRequest, PasswordClientOptions } from './password.js';
import { PASSWORD_METHOD, PasswordClientAuth } from './password.js';
import { PUBKEY_METHOD, PubkeyClientAuth } from './pubkey.js';
import { ScryptPool } from './scrypt-pool.js';
import { sodiumReady } from './sodium.js';
import type { ClientAuth, ClientAuthResult, RandomBytes } from './types.js';

export interface ExactChannel {
  write(bytes: Uint8Array): Promise<void>;
  read(n: number): Promise<Uint8Array>;
}

export class AuthRejectedError extends RingcastError {
  /** Spread result code (REJECT_AUTH = -9 unless the daemon sent another reject byte). */
  readonly spreadCode: number;
  constructor(spreadCode: number, reason: string) {
    super('REJECT_AUTH', `session authentication failed: ${reason}`);
    this.name = 'AuthRejectedError';
    this.spreadCode = spreadCode;
  }
}

export interface RunClientAuthOptions {
  /** scrypt for RC-PASSWORD, e.g. `(r) => pool.derive(r)` with a ScryptPool. */
  readonly derive?: (request: DerivationRequest) => Promise<Uint8Array>;
  readonly signal?: AbortSignal;
}

export async function runClientAuth(auth: ClientAuth, channel: ExactChannel, opts: RunClientAuthOptions = {}): Promise<Extract<ClientAuthResult, { status: 'accepted' }>> {
  for (;;) {
    opts.signal?.throwIfAborted();
    for (let out = auth.pollOutput(); out; out = auth.pollOutput()) await channel.write(out);
    const r = auth.result();
    if (r.status === 'accepted') return r;
    if (r.status === 'rejected') throw new AuthRejectedError(r.code, r.reason);
    if (auth instanceof PasswordClientAuth) {
      const req = auth.pendingDerivation();
      if (req) {
        if (!opts.derive) throw new AuthRejectedError(-9, `${auth.method} needs a derive function for scrypt`);
        auth.supplyDerivation(await opts.derive(req));
        continue;
      }
    }
    const n = auth.bytesWanted();
    if (n <= 0) throw new AuthRejectedError(-9, `${auth.method} handshake stalled`);
    auth.receive(await channel.read(n));
  }
}

/** A keyed session as the client sees it after a successful method. */
export interface KeyedSession {
  readonly method: string;
  readonly daemonName: string;
  readonly keys: SessionKeys;
  /** The same keys as a record transport (the client library's ClientAuthOutcome.transport). */
  readonly transport: KeyedRecordTransport;
}

/**
 * A client authentication method in the client library's shape (`name`, `exchange({ channel })`),
 * returning the keyed session. Every exchange makes a fresh handshake (fresh ephemeral keys).
 */
export interface KeyedClientMethod {
  readonly name: string;
  exchange(ctx: { readonly channel: ExactChannel; readonly signal?: AbortSignal }): Promise<KeyedSession>;
}

const defaultRandom: RandomBytes = (n) => sodiumReady().randombytes_buf(n);
let sharedPool: ScryptPool | undefined;

export interface PasswordMethodOptions extends Omit<PasswordClientOptions, 'randomBytes' | 'deriveSync'> {
  readonly randomBytes?: RandomBytes;
  /** Where scrypt runs; default one pool shared by the process (2 at once). */
  readonly pool?: ScryptPool;
}

export function passwordAuthMethod(opts: PasswordMethodOptions): KeyedClientMethod {
  return {
    name: PASSWORD_METHOD,
    async exchange(ctx) {
      const pool = opts.pool ?? (sharedPool ??= new ScryptPool());
      const auth = new PasswordClientAuth({ ...opts, randomBytes: opts.randomBytes ?? defaultRandom });
      const r = await runClientAuth(auth, ctx.channel, { derive: (req) => pool.derive(req), signal: ctx.signal });
      return { method: PASSWORD_METHOD, daemonName: r.daemonName, keys: r.keys, transport: keyedTransport(r.keys) };
    },
  };
}

export interface PubkeyMethodOptions {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  readonly expectedDaemonName?: string;
  readonly randomBytes?: RandomBytes;
}

export function pubkeyAuthMethod(opts: PubkeyMethodOptions): KeyedClientMethod {
  return {
    name: PUBKEY_METHOD,
    async exchange(ctx) {
      const auth = new PubkeyClientAuth({ ...opts, randomBytes: opts.randomBytes ?? defaultRandom });
      const r = await runClientAuth(auth, ctx.channel, { signal: ctx.signal });
      return { method: PUBKEY_METHOD, daemonName: r.daemonName, keys: r.keys, transport: keyedTransport(r.keys) };
    },
  };
}
