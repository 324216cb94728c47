/**
 * RC-PASSWORD: SCRAM-style challenge–response over a scrypt verifier, bound to an ephemeral X25519
 * key agreement. The password never crosses the wire; the daemon stores no password-equivalent.
 *
 *   C→S ClientHello  (0x01): u8 version=1 | e_c[32] | nonce_c[32] | u8 n | user[n]        (n 1..64)
 *   S→C ServerHello  (0x02): e_s[32] | nonce_s[32] | u8 logN | u8 r | u8 p
 *                            | u8 n | salt[n] (16..64) | u8 m | daemonName[m] (1..64)
 *   C→S ClientProof  (0x03): AEAD(hs_c2s, nonce 0, ad = T2, ClientProof[32])             (48 bytes)
 *   S→C ServerFinal  (0x04): AEAD(hs_s2c, nonce 0, ad = T3, ServerSignature[32])         (48 bytes)
 *
 * T2, T3 are transcript hashes (records.ts) after ServerHello and after ClientProof.
 *   ClientProof     = ClientKey XOR HMAC(StoredKey, T2)
 *   ServerSignature = HMAC(ServerKey, T3)
 * T2 covers both nonces, both ephemeral keys, the user, salt, parameters and the daemon name, so a
 * proof is good for exactly one handshake: a recorded ClientProof replayed against a fresh daemon
 * handshake (new nonce_s, new e_s) fails. A man in the middle who substitutes an ephemeral key
 * changes T2 on one side only, so the proof fails there too. The proof and the server signature
 * travel encrypted under the handshake keys, so a passive observer gets nothing to run a
 * dictionary attack on. An unknown user gets a decoy salt (HMAC of a per-daemon secret) and fails at
 * the proof like a wrong password, so the exchange does not reveal which users exist.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  ephemeralKeyPair,
  equalBytes,
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
import {
  clientKeyOf,
  isValidUserName,
  passwordBytes,
  saltBytesMax,
  saltBytesMin,
  SALT_BYTES_DEFAULT,
  serverKeyOf,
  type PasswordVerifier,
} from './password-verifier.js';
import { BodyCursor, concatBytes, encodeRecord, RecordKind, shortField } from './records.js';
import {
  isWellFormedScryptParams,
  SCRYPT_PRODUCTION,
  scryptAtLeast,
  scryptClientMinimumDefault,
  scryptMemoryBytes,
  scryptMemoryBytesMaxDefault,
  type ScryptParams,
} from './scrypt-params.js';
import type { SessionKeys } from './keyed-frames.js';
import type { ClientAuth, ClientAuthResult, RandomBytes, ServerAuth, ServerAuthResult } from './types.js';

export const PASSWORD_METHOD = 'RC-PASSWORD';
const VERSION = 1;
const NONCE_BYTES = 32;
const SEALED_32_BYTES = 32 + 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const DECOY_LABEL = encoder.encode('Ringcast RC-PASSWORD decoy salt\0');

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function checkRandom(randomBytes: RandomBytes, n: number): Uint8Array {
  const b = randomBytes(n);
  if (!(b instanceof Uint8Array) || b.length !== n) throw new RangeError(`randomBytes(${n}) must return ${n} bytes`);
  return b.slice();
}

// ---------------------------------------------------------------------------------------------
// Daemon side

export interface PasswordServerOptions {
  /** This daemon's name, announced in ServerHello and covered by the proofs. */
  readonly daemonName: string;
  readonly randomBytes: RandomBytes;
  /** The verifier for a user, or undefined if the user has no entry (the adapter holds the loaded file). */
  readonly lookup: (user: string) => PasswordVerifier | undefined;
  /** 32 random bytes kept for the daemon's lifetime: decoy salts for unknown users stay stable across attempts. */
  readonly decoySecret: Uint8Array;
  /** Parameters announced for unknown users; default production. Set to what the file mostly uses. */
  readonly decoyParams?: ScryptParams;
}

type ServerState = 'hello' | 'proof' | 'done';

export class PasswordServerAuth extends RecordMachine<Extract<ServerAuthResult, { status: 'accepted' }>> implements ServerAuth {
  readonly method = PASSWORD_METHOD;
  private state: ServerState = 'hello';
  private user = '';
  private verifier: PasswordVerifier | undefined;
  private eph: EphemeralKeyPair | undefined;
  private shared: Uint8Array | undefined;
  private hs: HandshakeKeys | undefined;
  private t2: Uint8Array | undefined;

  constructor(private readonly opts: PasswordServerOptions) {
    super(PASSWORD_METHOD);
    if (!isValidDaemonName(opts.daemonName)) throw new RangeError(`daemon name "${opts.daemonName}" must be 1..64 printable ASCII characters`);
    if (opts.decoySecret.length < 16) throw new RangeError('decoySecret must be at least 16 random bytes');
  }

  result(): ServerAuthResult {
    return this.rejection ?? this.accepted ?? { status: 'pending' };
  }

  protected expectation(): Expectation | undefined {
    if (this.state === 'hello') return { kind: RecordKind.CLIENT_HELLO, minBytes: 1 + 32 + NONCE_BYTES + 2, maxBytes: 1 + 32 + NONCE_BYTES + 1 + 64, rejectCodeAllowed: false };
    if (this.state === 'proof') return { kind: RecordKind.CLIENT_PROOF, minBytes: SEALED_32_BYTES, maxBytes: SEALED_32_BYTES, rejectCodeAllowed: false };
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
    const userBytes = c.short(1, 64);
    if (version !== VERSION) return this.reject(`client speaks ${PASSWORD_METHOD} version ${String(version)}, this daemon version ${VERSION}`);
    if (!ePeer || !userBytes || !c.done) return this.reject('malformed ClientHello');
    let user: string;
    try {
      user = decoder.decode(userBytes);
    } catch {
      return this.reject('user name in ClientHello is not UTF-8');
    }
    if (!isValidUserName(user)) return this.reject('user name in ClientHello has characters outside A-Z a-z 0-9 . _ - @ +');
    this.user = user;
    this.verifier = this.opts.lookup(user);
    let params: ScryptParams;
    let salt: Uint8Array;
    if (this.verifier) {
      params = this.verifier.params;
      salt = this.verifier.salt;
    } else {
      params = this.opts.decoyParams ?? SCRYPT_PRODUCTION;
      salt = hmac(sha256, this.opts.decoySecret, concatBytes(DECOY_LABEL, userBytes)).subarray(0, SALT_BYTES_DEFAULT);
    }
    this.eph = ephemeralKeyPair(this.opts.randomBytes);
    const nonce = checkRandom(this.opts.randomBytes, NONCE_BYTES);
    const hello = concatBytes(
      this.eph.publicKey,
      nonce,
      Uint8Array.of(params.logN, params.r, params.p),
      shortField(salt),
      shortField(encoder.encode(this.opts.daemonName)),
    );
    this.shared = sharedSecret(this.eph, ePeer);
    if (!this.shared) return this.reject('client ephemeral key is a low-order point');
    this.emit(encodeRecord(RecordKind.SERVER_HELLO, hello));
    this.t2 = this.transcript.snapshot();
    this.hs = handshakeKeys(this.shared, this.t2);
    this.state = 'proof';
  }

  private onProof(body: Uint8Array): void {
    const hs = this.hs!;
    const t2 = this.t2!;
    const t3 = this.transcript.snapshot();
    const proof = openHandshake(hs.clientToServer, t2, body);
    if (!proof) return this.reject(`ClientProof for user ${this.user} does not decrypt: handshake tampered with or keys differ`);
    // An unknown user costs the same work as a known one, so timing does not tell them apart.
    const v = this.verifier ?? this.decoyVerifier();
    const clientKey = xor(proof, hmac(sha256, v.storedKey, t2));
    const ok = equalBytes(sha256(clientKey), v.storedKey);
    clientKey.fill(0);
    if (!this.verifier) return this.reject(`unknown user ${this.user}`);
    if (!ok) return this.reject(`wrong password for user ${this.user}`);
    const serverSignature = hmac(sha256, v.serverKey, t3);
    this.emit(encodeRecord(RecordKind.SERVER_FINAL, sealHandshake(hs.serverToClient, t3, serverSignature)));
    const keys = sessionKeys(this.shared!, this.transcript.snapshot(), 'server');
    this.state = 'done';
    this.accepted = { status: 'accepted', identity: `password:${this.user}`, keys };
    this.wipe();
  }

  private decoyVerifier(): PasswordVerifier {
    const k = hmac(sha256, this.opts.decoySecret, concatBytes(DECOY_LABEL, encoder.encode(`key ${this.user}`)));
    return { user: this.user, params: SCRYPT_PRODUCTION, salt: k.subarray(0, SALT_BYTES_DEFAULT), storedKey: k, serverKey: k };
  }

  protected wipe(): void {
    wipeHandshakeSecrets(this.shared, this.eph, this.hs);
  }
}

// ---------------------------------------------------------------------------------------------
// Client side

export interface PasswordClientOptions {
  readonly user: string;
  readonly password: string;
  readonly randomBytes: RandomBytes;
  /** When set, the daemon must announce exactly this name. */
  readonly expectedDaemonName?: string;
  /** Weakest scrypt parameters accepted from the daemon (default N=2^15, r=8, p=1). */
  readonly scryptMinimum?: ScryptParams;
  /** Largest scrypt memory (128·r·N bytes) the daemon may ask for (default 256 MiB). */
  readonly scryptMemoryBytesMax?: number;
  /** Synchronous derivation (tests, tools). Without it the adapter serves pendingDerivation(). */
  readonly deriveSync?: (request: DerivationRequest) => Uint8Array;
}

/** Work the client must have done off the event loop: scrypt(password, salt, params) → 32 bytes. */
export interface DerivationRequest {
  readonly password: Uint8Array;
  readonly salt: Uint8Array;
  readonly params: ScryptParams;
}

type ClientState = 'server-hello' | 'deriving' | 'server-final' | 'done';

export class PasswordClientAuth extends RecordMachine<Extract<ClientAuthResult, { status: 'accepted' }>> implements ClientAuth {
  readonly method = PASSWORD_METHOD;
  private state: ClientState = 'server-hello';
  private readonly eph: EphemeralKeyPair;
  private password: Uint8Array;
  private shared: Uint8Array | undefined;
  private hs: HandshakeKeys | undefined;
  private t2: Uint8Array | undefined;
  private t3: Uint8Array | undefined;
  private request: DerivationRequest | undefined;
  private serverKey: Uint8Array | undefined;
  private daemonName = '';

  constructor(private readonly opts: PasswordClientOptions) {
    super(PASSWORD_METHOD);
    if (!isValidUserName(opts.user)) throw new RangeError(`"${opts.user}" is not a valid user name (1..64 of A-Z a-z 0-9 . _ - @ +)`);
    this.password = passwordBytes(opts.password);
    this.eph = ephemeralKeyPair(opts.randomBytes);
    const nonce = checkRandom(opts.randomBytes, NONCE_BYTES);
    this.emit(encodeRecord(RecordKind.CLIENT_HELLO, concatBytes(Uint8Array.of(VERSION), this.eph.publicKey, nonce, shortField(encoder.encode(opts.user)))));
    this.drain();
  }

  result(): ClientAuthResult {
    return this.rejection ?? this.accepted ?? { status: 'pending' };
  }

  /** The scrypt work the adapter must run (off the event loop) before the handshake can go on. */
  pendingDerivation(): DerivationRequest | undefined {
    return this.state === 'deriving' && !this.rejection ? this.request : undefined;
  }

  /** Hands back scrypt's 32-byte output for pendingDerivation(). */
  supplyDerivation(saltedPassword: Uint8Array): void {
    if (this.state !== 'deriving' || this.rejection) return;
    if (saltedPassword.length !== 32) return this.reject('scrypt derivation returned the wrong length');
    this.request = undefined;
    const clientKey = clientKeyOf(saltedPassword);
    this.serverKey = serverKeyOf(saltedPassword);
    const storedKey = sha256(clientKey);
    const proof = xor(clientKey, hmac(sha256, storedKey, this.t2!));
    clientKey.fill(0);
    this.password.fill(0);
    this.emit(encodeRecord(RecordKind.CLIENT_PROOF, sealHandshake(this.hs!.clientToServer, this.t2!, proof)));
    this.t3 = this.transcript.snapshot();
    this.state = 'server-final';
    this.drain();
  }

  protected expectation(): Expectation | undefined {
    if (this.state === 'server-hello') return { kind: RecordKind.SERVER_HELLO, minBytes: 32 + NONCE_BYTES + 3 + 1 + saltBytesMin + 2, maxBytes: 32 + NONCE_BYTES + 3 + 1 + saltBytesMax + 1 + 64, rejectCodeAllowed: true };
    if (this.state === 'server-final') return { kind: RecordKind.SERVER_FINAL, minBytes: SEALED_32_BYTES, maxBytes: SEALED_32_BYTES, rejectCodeAllowed: true };
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
    const logN = c.u8();
    const r = c.u8();
    const p = c.u8();
    const salt = c.short(saltBytesMin, saltBytesMax);
    const nameBytes = c.short(1, 64);
    if (!ePeer || logN === undefined || r === undefined || p === undefined || !salt || !nameBytes || !c.done) return this.reject('malformed ServerHello');
    const params = { logN, r, p };
    const min = this.opts.scryptMinimum ?? scryptClientMinimumDefault;
    if (!isWellFormedScryptParams(params) || !scryptAtLeast(params, min)) {
      return this.reject(`daemon offered scrypt N=2^${logN} r=${r} p=${p}, weaker than the minimum N=2^${min.logN} r=${min.r} p=${min.p}: refusing (a fake daemon could brute-force the proof)`);
    }
    if (scryptMemoryBytes(params) > (this.opts.scryptMemoryBytesMax ?? scryptMemoryBytesMaxDefault)) {
      return this.reject(`daemon asked for ${scryptMemoryBytes(params)} bytes of scrypt memory, above the client's limit`);
    }
    this.daemonName = String.fromCharCode(...nameBytes);
    if (!isValidDaemonName(this.daemonName)) return this.reject('daemon name in ServerHello is not printable ASCII');
    if (this.opts.expectedDaemonName !== undefined && this.opts.expectedDaemonName !== this.daemonName) {
      return this.reject(`daemon announced itself as "${this.daemonName}", expected "${this.opts.expectedDaemonName}"`);
    }
    this.shared = sharedSecret(this.eph, ePeer);
    if (!this.shared) return this.reject('daemon ephemeral key is a low-order point');
    this.t2 = this.transcript.snapshot();
    this.hs = handshakeKeys(this.shared, this.t2);
    this.request = { password: this.password, salt, params };
    this.state = 'deriving';
    if (this.opts.deriveSync) this.supplyDerivation(this.opts.deriveSync(this.request));
  }

  private onFinal(body: Uint8Array): void {
    const t3 = this.t3!;
    const sig = openHandshake(this.hs!.serverToClient, t3, body);
    if (!sig || !equalBytes(sig, hmac(sha256, this.serverKey!, t3))) {
      return this.reject('the daemon could not prove it holds this user\'s verifier: not the configured daemon, or the handshake was tampered with');
    }
    const keys: SessionKeys = sessionKeys(this.shared!, this.transcript.snapshot(), 'client');
    this.state = 'done';
    this.accepted = { status: 'accepted', daemonName: this.daemonName, keys };
    this.wipe();
  }

  protected wipe(): void {
    this.password.fill(0);
    this.serverKey?.fill(0);
    wipeHandshakeSecrets(this.shared, this.eph, this.hs);
  }
}
