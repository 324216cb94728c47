/**
 * One-time asynchronous start-up of the crypto layer. libsodium-wrappers loads a WebAssembly
 * module; everything after `initCrypto()` resolves is synchronous, so the packet hot path never
 * awaits. The daemon calls this once during start-up (architecture.md, startup step 3), before
 * dropping privileges and before the first packet is sealed or opened.
 */
import sodium from 'libsodium-wrappers';
import { RingcastError } from '../src/util/errors.js';

let ready = false;

export async function initCrypto(): Promise<void> {
  if (ready) return;
  await sodium.ready;
  ready = true;
}

export function isCryptoReady(): boolean {
  return ready;
}

/** The loaded libsodium instance; throws if initCrypto() has not completed (a programming error). */
export function sodiumInstance(): typeof sodium {
  if (!ready) {
    throw new RingcastError('CRYPTO_NOT_INITIALISED', 'the crypto layer is not initialised: await initCrypto() once at start-up before creating a PacketProtector');
  }
  return sodium;
}
