/**
 * RC-PUBKEY: the client proves possession of an Ed25519 key listed in the daemon's authorized-keys
 * file, by signing the handshake transcript, which is bound to fresh nonces from both sides, both
 * ephemeral X25519 keys and the daemon's name.
 *
 *   C→S ClientHello (0x01): u8 version=1 | e_c[32] | nonce_c[32] | clientPublicKey[32]
 *   S→C ServerHello (0x02): e_s[32] | nonce_s[32] (the challenge) | u8 m | daemonName[m] (1..64)
 *   C→S ClientProof (0x03): AEAD(hs_c2s, nonce 0, ad = T2, Ed25519-sign(sk, LABEL ‖ T2)[64])  (80 bytes)
 *   S→C ServerFinal (0x04): AEAD(hs_s2c, nonce 0, ad = T3, empty)                            (16 bytes)
 *
 * LABEL = "Ringcast RC-PUBKEY client signature v1\0". ServerFinal is key confirmation: it shows
 * the daemon derived the same keys from the same transcript. It does not authenticate the daemon
 * (the daemon has no key in this method); a client that must know it reached the right daemon uses
 * RC-PASSWORD, whose ServerFinal proves knowledge of the verifier.
 */
import {
  ephemeralKeyPair,
  handshakeKeys,
  isValidDaemonName,
  openHandshake,
  sealHandshake,
  sessionKeys,
  sharedSecret,
  type EphemeralKeyPair,
  type HandshakeKeys,
  wipeHandshakeSecrets,
} from './handshake.js';
import { RecordMachine, type Expectation } from './machine-base.js';
import { BodyCursor, concatBytes, encodeRecord, RecordKind, shortField } from './records.js';
import { sodiumReady } from './sodium.js';
import type { ClientAuth, ClientAuthResult, RandomBytes, ServerAuth, ServerAuthResult } from './types.js';

export const PUBKEY_METHOD = 'RC-PUBKEY';
const VERSION = 1;
const NONCE_BYTES = 32;
const SIGNATURE_BYTES = 64;
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const SIGNATURE_LABEL = encoder.encode('Ringcast RC-PUBKEY client signature v1\0');

function checkRandom(randomBytes: RandomBytes, n: number): Uint8Array {
  const b = randomBytes(n);
  if (!(b instanceof Uint8Array) || b.length !== n) throw new RangeError(`randomBytes(${n}) must return ${n} bytes`);
  return b.slice();
}

function fingerprint(publicKey: Uint8Array): string {
  return Buffer.from(publicKey).toString('base64');
}

export interface PubkeyServerOptions {
  readonly daemonName: string;
  readonly randomBytes: RandomBytes;
  /** The identity an Ed25519 public key is authorized as, or undefined (the adapter holds the loaded file). */
  readonly lookupKey: (publicKey: Uint8Array) => string | undefined;
}

export class PubkeyServerAuth extends RecordMachine<Extract<ServerAuthResult, { status: 'accepted' }>> implements ServerAuth {
  readonly method = PUBKEY_METHOD;
  private state: 'hello' | 'proof' | 'done' = 'hello';
  private clientKey: Uint8Array | undefined;
  private eph: EphemeralKeyPair | undefined;
  private shared: Uint8Array | undefined;
  private hs: HandshakeKeys | undefined;
  private t2: Uint8Array | undefined;

  constructor(private readonly opts: PubkeyServerOptions) {
    super(PUBKEY_METHOD);
    if (!isValidDaemonName(opts.daemonName)) throw new RangeError(`daemon name "${opts.daemonName}" must be 1..64 printable ASCII characters`);
  }

  result(): ServerAuthResult {
    return this.rejection ?? this.accepted ?? { status: 'pending' };
  }

  protected expectation(): Expectation | undefined {
    if (this.state === 'hello') return { kind: RecordKind.CLIENT_HELLO, minBytes: 1 + 32 + NONCE_BYTES + 32, maxBytes: 1 + 32 + NONCE_BYTES + 32, rejectCodeAllowed: false };
    if (this.state === 'proof') return { kind: RecordKind.CLIENT_PROOF, minBytes: SIGNATURE_BYTES + TAG_BYTES, maxBytes: SIGNATURE_BYTES + TAG_BYTES, rejectCodeAllowed: false };
    return undefined;
  }

  protected onRecord(body: Uint8Array): void {
    if (this.state === 'hello') this.onHello(body);
    else this.onProof(body);
  }

  private onHello(body: Uint8Array): void {
    const c = new BodyCursor(body);
    const version = c.u8();
    const ePeer = c.bytes(32);
    c.bytes(NONCE_BYTES);
    const clientKey = c.bytes(32);
    if (version !== VERSION) return this.reject(`client speaks ${PUBKEY_METHOD} version ${String(version)}, this daemon version ${VERSION}`);
    if (!ePeer || !clientKey || !c.done) return this.reject('malformed ClientHello');
    this.clientKey = clientKey;
    this.eph = ephemeralKeyPair(this.opts.randomBytes);
    const challenge = checkRandom(this.opts.randomBytes, NONCE_BYTES);
    this.shared = sharedSecret(this.eph, ePeer);
    if (!this.shared) return this.reject('client ephemeral key is a low-order point');
    this.emit(encodeRecord(RecordKind.SERVER_HELLO, concatBytes(this.eph.publicKey, challenge, shortField(encoder.encode(this.opts.daemonName)))));
    this.t2 = this.transcript.snapshot();
    this.hs = handshakeKeys(this.shared, this.t2);
    this.state = 'proof';
  }

  private onProof(body: Uint8Array): void {
    const hs = this.hs!;
    const t2 = this.t2!;
    const t3 = this.transcript.snapshot();
    const key = this.clientKey!;
    const sig = openHandshake(hs.clientToServer, t2, body);
    if (!sig) return this.reject(`ClientProof for key ${fingerprint(key)} does not decrypt: handshake tampered with or keys differ`);
    const identity = this.opts.lookupKey(key);
    if (identity === undefined) return this.reject(`key ${fingerprint(key)} is not in the authorized keys`);
    let valid = false;
    try {
      valid = sodiumReady().crypto_sign_verify_detached(sig, concatBytes(SIGNATURE_LABEL, t2), key);
    } catch {
      valid = false;
    }
    if (!valid) return this.reject(`signature by key ${fingerprint(key)} (identity ${identity}) does not verify over this handshake`);
    this.emit(encodeRecord(RecordKind.SERVER_FINAL, sealHandshake(hs.serverToClient, t3, new Uint8Array(0))));
    const keys = sessionKeys(this.shared!, this.transcript.snapshot(), 'server');
    this.state = 'done';
    this.accepted = { status: 'accepted', identity: `key:${identity}`, keys };
    this.wipe();
  }

  protected wipe(): void {
    wipeHandshakeSecrets(this.shared, this.eph, this.hs);
  }
}

export interface PubkeyClientOptions {
  /** Ed25519 key pair (libsodium layout: 64-byte secret key = seed ‖ public key). */
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  readonly randomBytes: RandomBytes;
  /** When set, the daemon must announce exactly this name. */
  readonly expectedDaemonName?: string;
}

export class PubkeyClientAuth extends RecordMachine<Extract<ClientAuthResult, { status: 'accepted' }>> implements ClientAuth {
  readonly method = PUBKEY_METHOD;
  private state: 'server-hello' | 'server-final' | 'done' = 'server-hello';
  private readonly eph: EphemeralKeyPair;
  private shared: Uint8Array | undefined;
  private hs: HandshakeKeys | undefined;
  private t3: Uint8Array | undefined;
  private daemonName = '';

  constructor(private readonly opts: PubkeyClientOptions) {
    super(PUBKEY_METHOD);
    if (opts.publicKey.length !== 32 || opts.secretKey.length !== 64) throw new RangeError('an Ed25519 key pair is a 32-byte public and a 64-byte secret key');
    this.eph = ephemeralKeyPair(opts.randomBytes);
    const nonce = checkRandom(opts.randomBytes, NONCE_BYTES);
    this.emit(encodeRecord(RecordKind.CLIENT_HELLO, concatBytes(Uint8Array.of(VERSION), this.eph.publicKey, nonce, opts.publicKey)));
    this.drain();
  }

  result(): ClientAuthResult {
    return this.rejection ?? this.accepted ?? { status: 'pending' };
  }

  protected expectation(): Expectation | undefined {
    if (this.state === 'server-hello') return { kind: RecordKind.SERVER_HELLO, minBytes: 32 + NONCE_BYTES + 2, maxBytes: 32 + NONCE_BYTES + 1 + 64, rejectCodeAllowed: true };
    if (this.state === 'server-final') return { kind: RecordKind.SERVER_FINAL, minBytes: TAG_BYTES, maxBytes: TAG_BYTES, rejectCodeAllowed: true };
    return undefined;
  }

  protected onRecord(body: Uint8Array): void {
    if (this.state === 'server-hello') this.onHello(body);
    else this.onFinal(body);
  }

  private onHello(body: Uint8Array): void {
    const c = new BodyCursor(body);
    const ePeer = c.bytes(32);
    c.bytes(NONCE_BYTES);
    const nameBytes = c.short(1, 64);
    if (!ePeer || !nameBytes || !c.done) return this.reject('malformed ServerHello');
    this.daemonName = String.fromCharCode(...nameBytes);
    if (!isValidDaemonName(this.daemonName)) return this.reject('daemon name in ServerHello is not printable ASCII');
    if (this.opts.expectedDaemonName !== undefined && this.opts.expectedDaemonName !== this.daemonName) {
      return this.reject(`daemon announced itself as "${this.daemonName}", expected "${this.opts.expectedDaemonName}"`);
    }
    this.shared = sharedSecret(this.eph, ePeer);
    if (!this.shared) return this.reject('daemon ephemeral key is a low-order point');
    const t2 = this.transcript.snapshot();
    this.hs = handshakeKeys(this.shared, t2);
    const sig = sodiumReady().crypto_sign_detached(concatBytes(SIGNATURE_LABEL, t2), this.opts.secretKey);
    this.emit(encodeRecord(RecordKind.CLIENT_PROOF, sealHandshake(this.hs.clientToServer, t2, sig)));
    this.t3 = this.transcript.snapshot();
    this.state = 'server-final';
  }

  private onFinal(body: Uint8Array): void {
    if (!openHandshake(this.hs!.serverToClient, this.t3!, body)) {
      return this.reject('ServerFinal does not authenticate: the daemon did not derive the same keys (tampered handshake)');
    }
    const keys = sessionKeys(this.shared!, this.transcript.snapshot(), 'client');
    this.state = 'done';
    this.accepted = { status: 'accepted', daemonName: this.daemonName, keys };
    this.wipe();
  }

  protected wipe(): void {
    wipeHandshakeSecrets(this.shared, this.eph, this.hs);
  }
}
