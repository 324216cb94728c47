import { randomBytes as nodeRandomBytes } from 'node:crypto';
import type { ClientAuth, ServerAuth } from '../../crypto/session/index.js';
import { xorshiftBytes } from '../helpers/xorshift.js';

export const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));

/** A deterministic byte source (xorshift) for reproducible handshakes. */
export const seededRandom = xorshiftBytes;

export interface PumpLog {
  clientSent: Uint8Array[];
  serverSent: Uint8Array[];
}

/**
 * Moves bytes both ways until neither side has output. `chunk` splits each record before delivery
 * (1 = byte by byte). Derivation must be synchronous (deriveSync) for password clients here.
 */
export function pump(client: ClientAuth, server: ServerAuth, chunk = Infinity): PumpLog {
  const log: PumpLog = { clientSent: [], serverSent: [] };
  for (let rounds = 0; rounds < 20; rounds++) {
    let moved = false;
    for (let out = client.pollOutput(); out; out = client.pollOutput()) {
      log.clientSent.push(out);
      deliver(out, server, chunk);
      moved = true;
    }
    for (let out = server.pollOutput(); out; out = server.pollOutput()) {
      log.serverSent.push(out);
      deliver(out, client, chunk);
      moved = true;
    }
    if (!moved) return log;
  }
  throw new Error('handshake did not settle');
}

function deliver(bytes: Uint8Array, to: { receive(b: Uint8Array): void }, chunk: number): void {
  if (!Number.isFinite(chunk)) return to.receive(bytes);
  for (let i = 0; i < bytes.length; i += chunk) to.receive(bytes.subarray(i, i + chunk));
}

export function concat(parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p)));
}
