/**
 * Session authentication: RC-PASSWORD and RC-PUBKEY handshakes (sans-IO), keyed framing of the
 * session afterwards, credential file formats, and the adapters' helpers (file loading with
 * permission checks, client key files, scrypt off the event loop, a client-side driver).
 */
export * from './types.js';
export { initSessionCrypto } from './sodium.js';
export * from './keyed-frames.js';
export { RecordKind, recordBodyBytesMax } from './records.js';
export * from './scrypt-params.js';
export * from './password-verifier.js';
export * from './password.js';
export * from './pubkey.js';
export * from './password-file.js';
export * from './authorized-keys.js';
export * from './methods.js';
export * from './files.js';
export * from './client-key.js';
export * from './scrypt-pool.js';
export * from './client-driver.js';
export * from './server-driver.js';
