/**
 * libsodium-wrappers loads a WebAssembly module asynchronously once; every session-authentication
 * state machine is synchronous afterwards. The daemon and the client library await
 * `initSessionCrypto()` once at start-up (before privileges are dropped, architecture.md step 3).
 */
import sodium from 'libsodium-wrappers';
import { RingcastError } from '../../src/util/errors.js';

let ready = false;

export async function initSessionCrypto(): Promise<void> {
  if (ready) return;
  await sodium.ready;
  ready = true;
}

/** The loaded libsodium instance; throws if initSessionCrypto() has not completed (a programming error). */
export function sodiumReady(): typeof sodium {
  if (!ready) {
    throw new RingcastError(
      'CRYPTO_NOT_INITIALISED',
      'session crypto is not initialised: await initSessionCrypto() once at start-up before creating an authentication handshake',
    );
  }
  return sodium;
}
