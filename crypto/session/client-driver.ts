/**
 * Runs a ClientAuth over an exact-read channel (the client library's AuthChannel): writes every
 * record, serves scrypt work through `derive` (off the event loop), and reads exactly as many bytes
 * as the method wants, so the first keyed frame after the handshake stays in the socket for the
 * keyed stream decoder.
 */
import { RingcastError } from '../../src/util/errors.js';
import type { DerivationRequest } from './password.js';
import { PasswordClientAuth } from './password.js';
import type { ClientAuth, ClientAuthResult } from './types.js';

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
