/**
 * Pumps a ServerAuth against the session machine's exact-read auth channel (machine.ts:
 * `authRead(n)` returns exactly n buffered bytes or undefined, `authWrite(bytes)` queues output).
 * Reading exactly what the method wants leaves any bytes after the handshake in the session's
 * input, untouched.
 */
import type { ServerAuth, ServerAuthResult } from './types.js';

export interface ServerAuthIO {
  /** Exactly `n` received bytes, or undefined until that many are there. */
  read(n: number): Uint8Array | undefined;
  write(bytes: Uint8Array): void;
}

/** Runs the method as far as the buffered input allows; call again whenever more bytes arrive. */
export function pumpServerAuth(auth: ServerAuth, io: ServerAuthIO): ServerAuthResult {
  for (;;) {
    for (let out = auth.pollOutput(); out; out = auth.pollOutput()) io.write(out);
    const r = auth.result();
    if (r.status !== 'pending') return r;
    const want = auth.bytesWanted();
    if (want <= 0) return r;
    const bytes = io.read(want);
    if (!bytes) return r;
    auth.receive(bytes);
  }
}
