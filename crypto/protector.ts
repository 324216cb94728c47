/**
 * PacketProtector: seals every packet a daemon sends to other daemons and opens every packet it
 * receives from them. Sans-IO and synchronous: no sockets, no clock, no randomness (nonces are
 * counters). One instance per daemon process. Design and security argument: SECURITY.md,
 * "Inter-daemon packet protection".
 */
import type { DaemonId } from '../src/util/ids.js';
import { RingcastError } from '../src/util/errors.js';
import { KeyDeriver, epochZeroSecret } from './kdf.js';
import {
  COUNTER_MAX,
  EPOCH_MAX,
  FORMAT_VERSION,
  HEADER_BYTES,
  MODE_CODES,
  headerByte0,
  modeName,
  parseHeader,
  writeHeader,
} from './header.js';
import type { ProtectionMode } from './header.js';
import { DEFAULT_SUITES, KEY_BYTES, suiteByCodes, suiteFor, suiteNames } from './suites.js';
import type { PacketSuite, SuiteName } from './suites.js';
import { ReplayWindow } from './replay-window.js';
import { isCryptoReady } from './init.js';

export type OpenFailureReason = 'truncated' | 'oversized' | 'version' | 'mode' | 'unknown-sender' | 'unknown-epoch' | 'auth' | 'replay' | 'too-old';

export const OPEN_FAILURE_REASONS: readonly OpenFailureReason[] = ['truncated', 'oversized', 'version', 'mode', 'unknown-sender', 'unknown-epoch', 'auth', 'replay', 'too-old'];

export type OpenResult =
  | { ok: true; payload: Uint8Array; sender: DaemonId; epoch: number }
  | { ok: false; reason: OpenFailureReason };

export interface ProtectorStats {
  sealed: number;
  opened: number;
  rejected: Record<OpenFailureReason, number>;
}

export interface PacketProtectorOptions {
  /** This daemon's id; it is the sender of everything this protector seals. */
  self: DaemonId;
  /**
   * This process's incarnation: an integer in [1, 2^42) that strictly increases across restarts
   * of the daemon (the daemon uses its start time in milliseconds, as for TotemOptions). The first
   * packet counter of the process is incarnation × 2^22, so counters and keys never repeat across
   * restarts.
   */
  incarnation: number;
  /** Every daemon of the configuration (self is added if missing). Packets claiming any other sender are refused. */
  daemons: readonly DaemonId[];
  mode: ProtectionMode;
  /** Algorithm for the mode; default by measurement (DEFAULT_SUITES). Every daemon must use the same. */
  suite?: SuiteName;
  /** The 256-bit cluster secret (keys/ reads it from the key file); it yields epoch 0. Required unless mode is 'none'. */
  clusterSecret?: Uint8Array;
  /** Largest datagram sealed or accepted, in bytes, protection included. Default 65,507 (largest UDP/IPv4 payload). */
  packetBytesMax?: number;
  /** How many epochs may be installed at once (old configuration and new during a change, and slack). Default 4. */
  epochsInstalledMax?: number;
}

/** Counters carry the key generation in their high 42 bits: a new key every 2^22 packets. */
export const GENERATION_BITS = 22;
export const GENERATION_PACKETS = 2 ** GENERATION_BITS;
export const INCARNATION_MAX = 2 ** 42 - 1;
export const PACKET_BYTES_MAX_DEFAULT = 65_507;
const PACKET_BYTES_MAX_LIMIT = 65_535;
const PACKET_BYTES_MIN_LIMIT = 64;
export const EPOCHS_INSTALLED_MAX_DEFAULT = 4;
/** Receive keys cached per sender and epoch: the current generation and the one before it (reordering across a boundary). */
const PEER_KEYS_CACHED_MAX = 2;

const GENERATION_SHIFT = BigInt(GENERATION_BITS);

interface GenerationKey {
  generation: bigint;
  key: Uint8Array;
}

interface PeerState {
  window: ReplayWindow;
  keys: GenerationKey[];
}

interface EpochState {
  epoch: number;
  /** Undefined in mode 'none'. */
  deriver: KeyDeriver | undefined;
  peers: Map<DaemonId, PeerState>;
  sendKey: GenerationKey | undefined;
}

const NO_KEY = new Uint8Array(0);

function emptyRejections(): Record<OpenFailureReason, number> {
  return { truncated: 0, oversized: 0, version: 0, mode: 0, 'unknown-sender': 0, 'unknown-epoch': 0, auth: 0, replay: 0, 'too-old': 0 };
}

function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
}

export class PacketProtector {
  readonly self: DaemonId;
  readonly mode: ProtectionMode;
  readonly suite: SuiteName;
  readonly packetBytesMax: number;
  /** Header plus tag: what sealing adds to a plaintext. */
  readonly overheadBytes: number;
  /** Largest plaintext seal() accepts. */
  readonly plaintextBytesMax: number;

  readonly #suite: PacketSuite;
  readonly #byte0: number;
  readonly #daemons: ReadonlySet<DaemonId>;
  readonly #epochsInstalledMax: number;
  readonly #epochs = new Map<number, EpochState>();
  #sendEpoch: number | undefined;
  #nextCounter: bigint;
  readonly #stats: ProtectorStats = { sealed: 0, opened: 0, rejected: emptyRejections() };

  constructor(options: PacketProtectorOptions) {
    const { self, incarnation, daemons, mode } = options;
    if (!isU32(self)) throw new RingcastError('CRYPTO_OPTION_INVALID', `self must be a 32-bit daemon id; got ${self}`);
    if (!Number.isSafeInteger(incarnation) || incarnation < 1 || incarnation > INCARNATION_MAX) {
      throw new RingcastError('CRYPTO_OPTION_INVALID', `incarnation must be an integer from 1 to 2^42-1 that increases at every restart (the start time in ms); got ${incarnation}`);
    }
    if (MODE_CODES[mode] === undefined) throw new RingcastError('CRYPTO_OPTION_INVALID', `mode must be 'none', 'integrity' or 'encrypt'; got '${String(mode)}'`);
    const suiteName = options.suite ?? DEFAULT_SUITES[mode];
    const suite = suiteFor(mode, suiteName);
    if (!suite) {
      throw new RingcastError('CRYPTO_OPTION_INVALID', `suite '${suiteName}' does not belong to mode '${mode}'; choose one of: ${suiteNames(mode).join(', ')}`);
    }
    if (suite.purpose !== undefined && !isCryptoReady()) {
      throw new RingcastError('CRYPTO_NOT_INITIALISED', 'the crypto layer is not initialised: await initCrypto() once at start-up before creating a PacketProtector');
    }
    for (const d of daemons) if (!isU32(d)) throw new RingcastError('CRYPTO_OPTION_INVALID', `daemon ids must be 32-bit unsigned integers; got ${d}`);
    const packetBytesMax = options.packetBytesMax ?? PACKET_BYTES_MAX_DEFAULT;
    if (!Number.isInteger(packetBytesMax) || packetBytesMax < PACKET_BYTES_MIN_LIMIT || packetBytesMax > PACKET_BYTES_MAX_LIMIT) {
      throw new RingcastError('CRYPTO_OPTION_INVALID', `packetBytesMax must be an integer from ${PACKET_BYTES_MIN_LIMIT} to ${PACKET_BYTES_MAX_LIMIT}; got ${packetBytesMax}`);
    }
    const epochsInstalledMax = options.epochsInstalledMax ?? EPOCHS_INSTALLED_MAX_DEFAULT;
    if (!Number.isInteger(epochsInstalledMax) || epochsInstalledMax < 2 || epochsInstalledMax > 64) {
      throw new RingcastError('CRYPTO_OPTION_INVALID', `epochsInstalledMax must be an integer from 2 to 64; got ${epochsInstalledMax}`);
    }

    this.self = self;
    this.mode = mode;
    this.suite = suite.name;
    this.#suite = suite;
    this.#byte0 = headerByte0(MODE_CODES[mode], suite.code);
    this.#daemons = new Set([...daemons, self]);
    this.packetBytesMax = packetBytesMax;
    this.overheadBytes = HEADER_BYTES + suite.tagBytes;
    this.plaintextBytesMax = packetBytesMax - this.overheadBytes;
    this.#epochsInstalledMax = epochsInstalledMax;
    this.#nextCounter = BigInt(incarnation) << GENERATION_SHIFT;

    if (suite.purpose !== undefined) {
      if (!(options.clusterSecret instanceof Uint8Array)) {
        throw new RingcastError('CRYPTO_OPTION_INVALID', `mode '${mode}' needs the cluster secret: create a key with 'ringcast keygen' and give every daemon the same file`);
      }
      const secret0 = epochZeroSecret(options.clusterSecret);
      this.installEpoch(0, secret0);
      secret0.fill(0);
    } else {
      this.installEpoch(0, NO_KEY);
    }
    this.#sendEpoch = 0;
  }

  /** The epoch seal() uses, if any. */
  get sendEpoch(): number | undefined {
    return this.#sendEpoch;
  }

  installedEpochs(): number[] {
    return [...this.#epochs.keys()].sort((a, b) => a - b);
  }

  /**
   * Makes an epoch's packets acceptable (and sealable after setSendEpoch). The secret is 256 bits
   * from the key schedule; only its HKDF pseudo-random key is kept, so the caller may erase it.
   * Ignored (may be empty) in mode 'none'.
   */
  installEpoch(epoch: number, epochSecret: Uint8Array): void {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > EPOCH_MAX) {
      throw new RingcastError('CRYPTO_EPOCH_INVALID', `epoch must be an integer from 0 to ${EPOCH_MAX} (24 bits on the wire); got ${epoch}`);
    }
    if (this.#epochs.has(epoch)) throw new RingcastError('CRYPTO_EPOCH_INSTALLED', `epoch ${epoch} is already installed; retire it before installing it again`);
    if (this.#epochs.size >= this.#epochsInstalledMax) {
      throw new RingcastError('CRYPTO_EPOCHS_FULL', `already ${this.#epochs.size} epochs installed (epochsInstalledMax); retire an old epoch first`);
    }
    const deriver = this.#suite.purpose === undefined ? undefined : new KeyDeriver(epochSecret);
    this.#epochs.set(epoch, { epoch, deriver, peers: new Map(), sendKey: undefined });
  }

  /** Forgets an epoch: its keys are overwritten with zeros; its packets are refused as 'unknown-epoch' from now on. */
  retireEpoch(epoch: number): boolean {
    const state = this.#epochs.get(epoch);
    if (!state) return false;
    state.deriver?.erase();
    state.sendKey?.key.fill(0);
    state.sendKey = undefined;
    for (const peer of state.peers.values()) for (const k of peer.keys) k.key.fill(0);
    state.peers.clear();
    this.#epochs.delete(epoch);
    if (this.#sendEpoch === epoch) this.#sendEpoch = undefined;
    return true;
  }

  /** Chooses the epoch seal() uses. Switch only once every member has installed it (the EVS configuration change). */
  setSendEpoch(epoch: number): void {
    if (!this.#epochs.has(epoch)) throw new RingcastError('CRYPTO_EPOCH_UNKNOWN', `epoch ${epoch} is not installed; installEpoch() it first`);
    this.#sendEpoch = epoch;
  }

  /**
   * Protects one packet: header ‖ body ‖ tag. Throws (RingcastError) only when used wrongly:
   * plaintext larger than plaintextBytesMax, no send epoch, or the counter space exhausted.
   */
  seal(plaintext: Uint8Array): Uint8Array {
    const epoch = this.#sendEpoch;
    if (epoch === undefined) throw new RingcastError('CRYPTO_NO_SEND_EPOCH', 'no epoch to seal with: the send epoch was retired; setSendEpoch() to an installed epoch');
    return this.sealIn(epoch, plaintext);
  }

  /**
   * Seals under a chosen installed epoch rather than the send epoch: packets that belong to an
   * earlier configuration (recovered messages, EVS) stay under that configuration's keys. The
   * counter is the same per-process counter as seal()'s, so no nonce repeats across epochs.
   */
  sealIn(epoch: number, plaintext: Uint8Array): Uint8Array {
    if (plaintext.length > this.plaintextBytesMax) {
      throw new RingcastError('CRYPTO_PACKET_TOO_LARGE', `a packet payload of ${plaintext.length} bytes exceeds plaintextBytesMax ${this.plaintextBytesMax} (packetBytesMax ${this.packetBytesMax} minus ${this.overheadBytes} bytes of protection)`);
    }
    const state = this.#epochs.get(epoch);
    if (!state) throw new RingcastError('CRYPTO_EPOCH_UNKNOWN', `epoch ${epoch} is not installed: cannot seal under it`);
    const counter = this.#nextCounter;
    // Refuse rather than wrap: a repeated counter would repeat a nonce.
    if (counter >= COUNTER_MAX) throw new RingcastError('CRYPTO_COUNTER_EXHAUSTED', 'the 64-bit packet counter is exhausted; restart the daemon with a new incarnation');
    // Consume the counter before anything can fail, so no counter is ever used twice.
    this.#nextCounter = counter + 1n;

    const out = new Uint8Array(this.overheadBytes + plaintext.length);
    writeHeader(out, this.#byte0, epoch, this.self, counter);
    this.#suite.seal(this.#sendKey(state, counter >> GENERATION_SHIFT), out, plaintext);
    this.#stats.sealed++;
    return out;
  }

  /**
   * Checks and unprotects one received datagram. `fromDaemon` is the daemon the transport
   * attributes the datagram to (by source address); the header's sender must be that daemon.
   * Never throws. The payload may be a view into `packet` (modes 'none' and 'integrity').
   */
  open(packet: Uint8Array, fromDaemon: DaemonId): OpenResult {
    if (packet.length < HEADER_BYTES) return this.#reject('truncated');
    if (packet.length > this.packetBytesMax) return this.#reject('oversized');
    const byte0 = packet[0]!;
    if (byte0 >>> 4 !== FORMAT_VERSION) return this.#reject('version');
    if (byte0 !== this.#byte0) return this.#reject('mode');
    if (packet.length < this.overheadBytes) return this.#reject('truncated');
    const header = parseHeader(packet)!;
    const sender = header.sender;
    if (sender !== fromDaemon || !this.#daemons.has(sender)) return this.#reject('unknown-sender');
    const state = this.#epochs.get(header.epoch);
    if (!state) return this.#reject('unknown-epoch');

    const generation = header.counter >> GENERATION_SHIFT;
    let peer = state.peers.get(sender);
    let key: Uint8Array = NO_KEY;
    let keyIsCached = true;
    if (state.deriver) {
      const cached = peer?.keys.find((k) => k.generation === generation);
      if (cached) {
        key = cached.key;
      } else {
        key = this.#deriveKey(state, sender, generation);
        keyIsCached = false;
      }
    }
    const payload = this.#suite.open(key, packet);
    if (payload === undefined) {
      if (!keyIsCached) key.fill(0);
      return this.#reject('auth');
    }
    // Replay check only now that the packet is authentic (RFC 4303 §3.4.3 order).
    if (!peer) {
      peer = { window: new ReplayWindow(), keys: [] };
      state.peers.set(sender, peer);
    }
    const verdict = peer.window.check(header.counter);
    if (verdict !== 'fresh') {
      if (!keyIsCached) key.fill(0);
      return this.#reject(verdict);
    }
    peer.window.accept(header.counter);
    if (!keyIsCached) this.#cachePeerKey(peer, generation, key);
    this.#stats.opened++;
    return { ok: true, payload, sender, epoch: header.epoch };
  }

  /** Counters of sealed, opened and rejected (per reason) packets since creation. */
  stats(): ProtectorStats {
    return { sealed: this.#stats.sealed, opened: this.#stats.opened, rejected: { ...this.#stats.rejected } };
  }

  /**
   * A log line for a rejected packet that tells a mode mismatch from a wrong key, for an operator.
   * Reads only the clear header; never throws.
   */
  explainRejection(reason: OpenFailureReason, packet: Uint8Array, fromDaemon: DaemonId): string {
    const h = parseHeader(packet);
    const from = `daemon ${fromDaemon >>> 0}`;
    const ours = `${this.mode}/${this.suite}`;
    switch (reason) {
      case 'truncated':
        return `dropped a ${packet.length}-byte packet from ${from}: shorter than the ${this.overheadBytes}-byte protection header and tag`;
      case 'oversized':
        return `dropped a ${packet.length}-byte packet from ${from}: larger than packetBytesMax ${this.packetBytesMax}`;
      case 'version':
        return `dropped a packet from ${from} with packet format version ${h ? h.version : '?'} (this daemon speaks version ${FORMAT_VERSION}): run the same Ringcast release on every daemon`;
      case 'mode': {
        const theirs = h ? `${modeName(h.modeCode) ?? `unknown mode ${h.modeCode}`}/${suiteByCodes(h.modeCode, h.suiteCode)?.name ?? `suite ${h.suiteCode}`}` : '?';
        return `dropped a packet from ${from} protected as ${theirs}, but this daemon uses ${ours}: configure the same crypto mode and suite on every daemon`;
      }
      case 'unknown-sender':
        return `dropped a packet from ${from} claiming sender ${h ? h.sender >>> 0 : '?'}: the sender must be a daemon of the configuration and match the source address`;
      case 'unknown-epoch':
        return `dropped a packet from ${from} under key epoch ${h ? h.epoch : '?'}, which this daemon does not hold (installed: ${this.installedEpochs().join(', ') || 'none'})`;
      case 'auth':
        return `dropped a packet from ${from} that failed authentication (${ours}): ${from} uses a different cluster key, or the packet was altered or forged`;
      case 'replay':
        return `dropped a replayed (duplicate) packet from ${from}, counter ${h ? h.counter : '?'}`;
      case 'too-old':
        return `dropped an authentic packet from ${from} older than the replay window (counter ${h ? h.counter : '?'}): a replay, a very late packet, or packets of an earlier run of that daemon`;
    }
  }

  #reject(reason: OpenFailureReason): OpenResult {
    this.#stats.rejected[reason]++;
    return { ok: false, reason };
  }

  /** Key context: header byte 0 (version, mode, suite) ‖ sender ‖ epoch ‖ generation. */
  #deriveKey(state: EpochState, sender: DaemonId, generation: bigint): Uint8Array {
    const context = new Uint8Array(17);
    const view = new DataView(context.buffer);
    context[0] = this.#byte0;
    view.setUint32(1, sender >>> 0);
    view.setUint32(5, state.epoch);
    view.setBigUint64(9, generation);
    return state.deriver!.derive(this.#suite.purpose!, context, KEY_BYTES);
  }

  #sendKey(state: EpochState, generation: bigint): Uint8Array {
    if (!state.deriver) return NO_KEY;
    if (state.sendKey?.generation === generation) return state.sendKey.key;
    // A new generation every 2^22 packets: the old key is never needed again for sending.
    state.sendKey?.key.fill(0);
    state.sendKey = { generation, key: this.#deriveKey(state, this.self, generation) };
    return state.sendKey.key;
  }

  #cachePeerKey(peer: PeerState, generation: bigint, key: Uint8Array): void {
    if (peer.keys.length < PEER_KEYS_CACHED_MAX) {
      peer.keys.push({ generation, key });
      return;
    }
    let lowest = 0;
    for (let i = 1; i < peer.keys.length; i++) if (peer.keys[i]!.generation < peer.keys[lowest]!.generation) lowest = i;
    if (peer.keys[lowest]!.generation > generation) {
      // Older than everything cached (a straggler): used once, not kept.
      key.fill(0);
      return;
    }
    peer.keys[lowest]!.key.fill(0);
    peer.keys[lowest] = { generation, key };
  }
}
