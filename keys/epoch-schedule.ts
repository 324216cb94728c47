/**
 * The key schedule: one epoch secret per configuration, established while the configuration
 * forms, ratcheted forward within it, erased once it is over. Sans-IO and synchronous: time
 * and randomness are arguments. It drives a PacketProtector (crypto/protector.ts) and is the
 * Totem engine's FormationKeys (src/ring/types.ts). The construction and why it holds are in
 * SECURITY.md, "Per-configuration epoch keys".
 *
 * Establishment, in the commit token's two rotations (Totem §4.3), after Noise KK with
 * signatures on the first message:
 *
 *   rotation 1, member i:  field_i = e_i ‖ cfg_i ‖ Sign(ed_i, "contribution" ‖ H ‖ ring ‖ members ‖ i ‖ e_i ‖ cfg_i)
 *                          (e_i a fresh X25519 key, cfg_i the configuration number i holds now)
 *   representative r:      verifies every signature against the configured public keys; draws the
 *                          epoch secret S and a configuration number c no member holds; for each j:
 *                          K_j = HKDF(F ‖ DH(e_r, e_j) ‖ DH(s_r, e_j) ‖ DH(e_r, s_j), "epoch-wrap", T ‖ j)
 *                          sealed_j = ChaCha20-Poly1305(K_j, nonce 0, S ‖ c, ad = T)
 *   rotation 2, member j:  recomputes K_j with e_j, s_j and r's public keys, opens sealed_j.
 *                          (The representative has replaced every field by e_i ‖ cfg_i: the
 *                          signatures served it alone, and the token must stay one packet.)
 *
 * F is the cluster's formation key (from the cluster secret, so only cluster-key holders take
 * part), T the hash of the whole first-rotation transcript, s_* the static X25519 identity keys.
 * Each K_j is used once, hence the fixed nonce. Ephemeral secrets are erased as soon as the
 * member has its S (or the formation is given up).
 *
 * Generations (rekey without a membership change): S_{g+1} = HKDF(S_g, "epoch-ratchet", ring ‖ g+1).
 * The representative raises the token's generation; each member switches as the token passes
 * and erases generation g-1 once the token comes back still at g (every member has switched).
 *
 * Wire epoch ids (24 bits in the packet header): c << 8 | (g mod 256). Epoch 0 is the cluster
 * epoch (joins, probes, commit tokens); c is chosen by the representative to differ from every
 * member's current c, so a daemon never holds two configurations under one id.
 */
import sodium from 'libsodium-wrappers';
import { sha256 } from '@noble/hashes/sha2.js';
import { deriveKey, secretFingerprint, u32Context } from '../crypto/kdf.js';
import { sodiumInstance } from '../crypto/init.js';
import { concatBytes } from '../crypto/session/records.js';
import type { OpenResult, PacketProtector } from '../crypto/protector.js';
import type { FormationDistribution, FormationKeys, FormingMember, Transmit } from '../src/ring/types.js';
import { PacketType, WIRE_MAGIC } from '../src/ring/wire.js';
import { RingcastError } from '../src/util/errors.js';
import type { DaemonId, RingId } from '../src/util/ids.js';
import type { DaemonIdentity } from './daemon-identity.js';
import { daemonPublicKeysEqual, type DaemonPublicKey } from './daemon-public-key.js';

export const EPHEMERAL_BYTES = 32;
export const SIGNATURE_BYTES = 64;
/** What the other members need of a field: ephemeral public key, current configuration number u16. */
export const CONTRIBUTION_PUBLIC_BYTES = EPHEMERAL_BYTES + 2;
/** A first-rotation field: the public part and its signature (the representative strips the signature for the second rotation). */
export const CONTRIBUTION_BYTES = CONTRIBUTION_PUBLIC_BYTES + SIGNATURE_BYTES;
const WRAP_TAG_BYTES = 16;
/** A second-rotation field: the sealed epoch secret and configuration number. */
export const SEALED_EPOCH_BYTES = 32 + 2 + WRAP_TAG_BYTES;
const EPOCH_SECRET_BYTES = 32;
/** Configuration numbers are 16 bits; 0 is the cluster epoch. */
const CONFIG_NUMBER_MAX = 0xffff;
/** Largest step of the key generation one token may carry (the representative steps by one). */
const GENERATION_STEP_MAX = 4;
/** Forming rings whose ephemeral secrets may be held at once (cascading membership changes). */
const FORMATIONS_PENDING_MAX = 4;
/** Epochs the protector may hold: cluster; old configuration g-1, g, g+1; new configuration g0, g1; slack. */
export const EPOCH_SCHEDULE_EPOCHS_MAX = 8;

const encoder = new TextEncoder();
const CONTRIBUTION_LABEL = encoder.encode('ringcast v1 epoch contribution');
const TRANSCRIPT_LABEL = encoder.encode('ringcast v1 epoch transcript');
const WRAP_NONCE = new Uint8Array(12);

export interface EpochScheduleOptions {
  self: DaemonId;
  /** The daemon's protector, created with epochsInstalledMax ≥ EPOCH_SCHEDULE_EPOCHS_MAX; epoch 0 is the cluster epoch. */
  protector: PacketProtector;
  /** The cluster secret: only its formation key is kept. The caller may erase it afterwards. */
  clusterSecret: Uint8Array;
  /** The configuration hash (segments and daemons): binds establishment to this configuration. */
  configHash: number;
  identity: DaemonIdentity;
  /** Trusted public key of each daemon; a daemon without one cannot take part. Replaced by setTrusted(). */
  trusted: ReadonlyMap<DaemonId, DaemonPublicKey>;
  /** Cryptographically secure random bytes (the simulator injects a seeded source). */
  randomBytes: (n: number) => Uint8Array;
  /** Age after which the representative moves the ring to its next key generation. */
  rekeyMs: number;
  /** Packets the representative seals under one generation before it moves the ring to the next. */
  rekeyPackets: number;
  log?: (level: 'debug' | 'info' | 'warn', msg: string) => void;
  /** A daemon's name for log lines (default: its id). */
  nameOf?: (id: DaemonId) => string;
  /** Observer of every epoch secret held and erased (the simulator's key checker). */
  observe?: (event: EpochSecretEvent) => void;
  /** Observer of every configuration this daemon keyed as representative: who got its secret. */
  onKeyed?: (ring: RingId, members: readonly DaemonId[], fingerprint: string) => void;
}

export interface EpochSecretEvent {
  kind: 'hold' | 'erase';
  ring: RingId;
  generation: number;
  /** secretFingerprint of the epoch secret. */
  fingerprint: string;
}

export interface EpochStatus {
  /** Wire id of the epoch this daemon sends ring traffic under (0: only the cluster epoch). */
  epochId: number;
  epochIdHex: string;
  ring: RingId | undefined;
  generation: number;
  /** Milliseconds since this daemon switched to the current generation. */
  ageMs: number;
  /** Packets this daemon sealed under the current generation. */
  packetsUnderKey: number;
  /** Generations this daemon has moved to within configurations (rekeys), since start. */
  rekeys: number;
  /** Configurations this daemon received an epoch secret for, since start. */
  configurationsKeyed: number;
  /** Formations refused: bad signatures, untrusted members, unopenable sealed fields. */
  formationsRefused: number;
  installedEpochs: string[];
}

interface Generation {
  secret: Uint8Array;
  fingerprint: string;
  installed: boolean;
}

interface ConfigurationKeys {
  ring: RingId;
  /** Configuration number: the high 16 bits of its wire epoch ids. */
  number: number;
  generations: Map<number, Generation>;
  current: number;
  switchedAtMs: number;
  /** Token visits at this daemon since it switched to `current`. */
  visitsAtCurrent: number;
  sealedAtCurrent: number;
  /** EVS installation of the ring completed. */
  installed: boolean;
}

interface PendingFormation {
  ring: RingId;
  ephemeralSecret: Uint8Array;
  ephemeralPublic: Uint8Array;
  /** Representative only: the secret and number it distributed, until accept(). */
  distributed?: { secret: Uint8Array; number: number };
}

function ringKey(r: RingId): string {
  return `${r.rep >>> 0}.${r.seq}`;
}

function ringBytes(r: RingId): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  v.setUint32(0, r.rep >>> 0);
  v.setFloat64(4, r.seq);
  return out;
}

function u16(x: number): Uint8Array {
  return new Uint8Array([(x >>> 8) & 0xff, x & 0xff]);
}

function membersBytes(members: readonly FormingMember[]): Uint8Array {
  const out = new Uint8Array(2 + members.length * 12);
  const v = new DataView(out.buffer);
  v.setUint16(0, members.length);
  members.forEach((m, i) => {
    v.setUint32(2 + i * 12, m.id >>> 0);
    v.setFloat64(6 + i * 12, m.incarnation);
  });
  return out;
}

/** The cluster's formation key for a configuration: mixed into every wrap key. */
export function formationKeyFor(clusterSecret: Uint8Array, configHash: number): Uint8Array {
  return deriveKey(clusterSecret, 'epoch-formation', u32Context(configHash));
}

/** Hash of the first-rotation transcript: configuration, forming ring, members, their public contributions. */
export function formationTranscript(configHash: number, ring: RingId, members: readonly FormingMember[], fields: ReadonlyMap<DaemonId, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [TRANSCRIPT_LABEL, u32Context(configHash), ringBytes(ring), membersBytes(members)];
  for (const m of members) {
    const f = (fields.get(m.id) ?? new Uint8Array(0)).subarray(0, CONTRIBUTION_PUBLIC_BYTES);
    parts.push(u16(f.length), f);
  }
  return sha256(concatBytes(...parts));
}

/**
 * K_j = HKDF(F ‖ DH(e_r, e_j) ‖ DH(s_r, e_j) ‖ DH(e_r, s_j), "epoch-wrap", T ‖ j). Erases the
 * shared secrets it is given.
 */
export function wrapKeyFor(formationKey: Uint8Array, transcript: Uint8Array, member: DaemonId, shared: readonly Uint8Array[]): Uint8Array {
  const ikm = concatBytes(formationKey, ...shared);
  for (const x of shared) x.fill(0);
  try {
    return deriveKey(ikm, 'epoch-wrap', concatBytes(transcript, u32Context(member)));
  } finally {
    ikm.fill(0);
  }
}

/** Opens a sealed epoch field with a candidate wrap key: the secret and configuration number, or undefined. */
export function openSealedEpoch(key: Uint8Array, transcript: Uint8Array, sealed: Uint8Array): { secret: Uint8Array; number: number } | undefined {
  let plain: Uint8Array;
  try {
    plain = sodiumInstance().crypto_aead_chacha20poly1305_ietf_decrypt(null, sealed, transcript, WRAP_NONCE, key);
  } catch {
    return undefined;
  }
  if (plain.length !== EPOCH_SECRET_BYTES + 2) return undefined;
  const number = (plain[EPOCH_SECRET_BYTES]! << 8) | plain[EPOCH_SECRET_BYTES + 1]!;
  const secret = plain.slice(0, EPOCH_SECRET_BYTES);
  plain.fill(0);
  return { secret, number };
}

export function epochWireId(configNumber: number, generation: number): number {
  return ((configNumber & CONFIG_NUMBER_MAX) << 8) | (generation & 0xff);
}

export class EpochKeySchedule implements FormationKeys {
  readonly recoveredOverheadBytes: number;
  readonly #o: EpochScheduleOptions;
  readonly #sodium: typeof sodium;
  readonly #formationKey: Uint8Array;
  #trusted: ReadonlyMap<DaemonId, DaemonPublicKey>;
  readonly #configs = new Map<string, ConfigurationKeys>();
  readonly #pending = new Map<string, PendingFormation>();
  /** The configuration whose keys the token ring uses (the forming one during recovery). */
  #current: ConfigurationKeys | undefined;
  #rekeys = 0;
  #configurationsKeyed = 0;
  #formationsRefused = 0;
  #sealRefused = 0;

  constructor(options: EpochScheduleOptions) {
    this.#o = options;
    this.#sodium = sodiumInstance();
    this.#trusted = options.trusted;
    this.#formationKey = formationKeyFor(options.clusterSecret, options.configHash);
    this.recoveredOverheadBytes = options.protector.overheadBytes;
    if (!Number.isFinite(options.rekeyMs) || options.rekeyMs < 1) throw new RingcastError('EPOCH_OPTIONS', `rekeyMs must be a positive number of milliseconds; got ${options.rekeyMs}`);
    if (!Number.isSafeInteger(options.rekeyPackets) || options.rekeyPackets < 1) throw new RingcastError('EPOCH_OPTIONS', `rekeyPackets must be a positive integer; got ${options.rekeyPackets}`);
  }

  /** Replaces the trusted daemon keys (a reload). Returns the daemons that lost their trust. */
  setTrusted(trusted: ReadonlyMap<DaemonId, DaemonPublicKey>): DaemonId[] {
    const lost: DaemonId[] = [];
    for (const [id, key] of this.#trusted) {
      const now = trusted.get(id);
      if (!now || !daemonPublicKeysEqual(now, key)) lost.push(id);
    }
    this.#trusted = trusted;
    return lost;
  }

  isTrusted(id: DaemonId): boolean {
    return id === this.#o.self || this.#trusted.has(id);
  }

  // ------------------------------------------------------------------ FormationKeys (engine side)

  contribute(_now: number, ring: RingId, members: readonly FormingMember[]): Uint8Array {
    const s = this.#sodium;
    const key = ringKey(ring);
    this.#dropPending(key);
    while (this.#pending.size >= FORMATIONS_PENDING_MAX) this.#dropPending(this.#pending.keys().next().value as string);
    const ephemeralSecret = this.#o.randomBytes(EPHEMERAL_BYTES);
    const ephemeralPublic = s.crypto_scalarmult_base(ephemeralSecret);
    this.#pending.set(key, { ring, ephemeralSecret, ephemeralPublic });
    const number = this.#installedConfiguration()?.number ?? 0;
    const signed = this.#contributionMessage(ring, members, this.#o.self, ephemeralPublic, number);
    const signature = s.crypto_sign_detached(signed, this.#o.identity.ed25519Secret);
    return concatBytes(ephemeralPublic, u16(number), signature);
  }

  distribute(_now: number, ring: RingId, members: readonly FormingMember[], fields: ReadonlyMap<DaemonId, Uint8Array>): FormationDistribution {
    const s = this.#sodium;
    const pending = this.#pending.get(ringKey(ring));
    if (!pending) {
      // This representative did not contribute to the ring (a restart mid-formation): start over.
      this.#formationsRefused++;
      return { ok: false, exclude: [] };
    }
    const exclude: DaemonId[] = [];
    const parsed = new Map<DaemonId, { ephemeral: Uint8Array; number: number }>();
    for (const m of members) {
      const field = fields.get(m.id);
      const key = m.id === this.#o.self ? this.#o.identity.publicKey : this.#trusted.get(m.id);
      const c = field && key ? this.#checkContribution(ring, members, m.id, field, key) : undefined;
      if (!c) {
        exclude.push(m.id);
        this.#o.log?.('warn', `refused daemon ${this.#name(m.id)} in forming configuration ${this.#ringText(ring)}: ${!key ? 'no trusted DaemonPublicKey for it in the configuration' : 'its key contribution is missing or not signed by its configured identity key'}`);
        continue;
      }
      parsed.set(m.id, c);
    }
    if (exclude.length > 0) {
      this.#formationsRefused++;
      return { ok: false, exclude: exclude.filter((id) => id !== this.#o.self) };
    }
    const held = new Set([...parsed.values()].map((c) => c.number));
    let number = Math.max(0, ...held);
    do number = number >= CONFIG_NUMBER_MAX ? 1 : number + 1;
    while (held.has(number));
    const secret = this.#o.randomBytes(EPOCH_SECRET_BYTES);
    const transcript = this.#transcript(ring, members, fields);
    const sealed = new Map<DaemonId, Uint8Array>();
    const stripped = new Map<DaemonId, Uint8Array>();
    for (const m of members) stripped.set(m.id, fields.get(m.id)!.slice(0, CONTRIBUTION_PUBLIC_BYTES));
    const plain = concatBytes(secret, u16(number));
    try {
      for (const m of members) {
        if (m.id === this.#o.self) continue;
        const them = parsed.get(m.id)!;
        const key = this.#wrapKey(transcript, m.id, [
          s.crypto_scalarmult(pending.ephemeralSecret, them.ephemeral),
          s.crypto_scalarmult(this.#o.identity.x25519Secret, them.ephemeral),
          s.crypto_scalarmult(pending.ephemeralSecret, this.#trusted.get(m.id)!.x25519),
        ]);
        sealed.set(m.id, s.crypto_aead_chacha20poly1305_ietf_encrypt(plain, transcript, null, WRAP_NONCE, key));
        key.fill(0);
      }
    } catch {
      // A low-order public key gives an all-zero shared secret, which libsodium refuses.
      secret.fill(0);
      this.#formationsRefused++;
      return { ok: false, exclude: [] };
    } finally {
      plain.fill(0);
    }
    pending.distributed = { secret, number };
    return { ok: true, sealed, fields: stripped };
  }

  accept(now: number, ring: RingId, members: readonly FormingMember[], fields: ReadonlyMap<DaemonId, Uint8Array>, sealed: Uint8Array): boolean {
    const key = ringKey(ring);
    const pending = this.#pending.get(key);
    if (!pending) return this.#refuse(ring, 'this daemon holds no contribution for it');
    let secret: Uint8Array;
    let number: number;
    if (ring.rep === this.#o.self) {
      if (!pending.distributed) return this.#refuse(ring, 'the representative did not distribute a secret');
      secret = pending.distributed.secret;
      number = pending.distributed.number;
    } else {
      const opened = this.#openSealed(ring, members, fields, sealed, pending);
      if (!opened) return this.#refuse(ring, `the epoch secret sealed by representative ${this.#name(ring.rep)} does not open with this daemon's keys`);
      ({ secret, number } = opened);
    }
    this.#dropPending(key, false);
    // Formations given up on the way (cascading changes) end here, at the latest.
    for (const cfg of [...this.#configs.values()]) if (!cfg.installed && ringKey(cfg.ring) !== key) this.#retireConfiguration(cfg);
    const existing = this.#configs.get(key);
    if (existing) this.#retireConfiguration(existing);
    const cfg: ConfigurationKeys = {
      ring,
      number,
      generations: new Map(),
      current: 0,
      switchedAtMs: now,
      visitsAtCurrent: 0,
      sealedAtCurrent: 0,
      installed: false,
    };
    this.#configs.set(key, cfg);
    this.#addGeneration(cfg, 0, secret);
    this.#addGeneration(cfg, 1, this.#ratchet(cfg, secret, 1));
    this.#current = cfg;
    this.#configurationsKeyed++;
    if (ring.rep === this.#o.self) this.#o.onKeyed?.(ring, members.map((m) => m.id), cfg.generations.get(0)!.fingerprint);
    this.#o.log?.('info', `epoch ${hexId(epochWireId(number, 0))} for configuration ${this.#ringText(ring)} (${members.length} members) established; generation 0`);
    return true;
  }

  abandon(ring: RingId): void {
    const key = ringKey(ring);
    this.#dropPending(key);
    const cfg = this.#configs.get(key);
    if (cfg && !cfg.installed) this.#retireConfiguration(cfg);
  }

  installed(_now: number, ring: RingId, previous: RingId): void {
    const cfg = this.#configs.get(ringKey(ring));
    if (!cfg) return;
    cfg.installed = true;
    for (const other of [...this.#configs.values()]) if (other !== cfg) this.#retireConfiguration(other);
    for (const key of [...this.#pending.keys()]) this.#dropPending(key);
    this.#current = cfg;
    this.#o.log?.('info', `configuration ${this.#ringText(ring)} installed under epoch ${hexId(epochWireId(cfg.number, cfg.current))}; keys of ${this.#ringText(previous)} erased`);
  }

  tokenGeneration(now: number, ring: RingId, generation: number): void {
    const cfg = this.#configs.get(ringKey(ring));
    if (!cfg) return;
    if (generation > cfg.current + GENERATION_STEP_MAX) {
      // The representative raises the generation by one per rotation; a token far ahead is
      // damaged or forged. Deriving up to it would let one packet cost unbounded work.
      this.#o.log?.('warn', `ignored key generation ${generation} for configuration ${this.#ringText(ring)}: this daemon is at ${cfg.current}`);
      return;
    }
    if (generation > cfg.current) {
      for (let g = cfg.current + 1; g <= generation + 1; g++) {
        if (!cfg.generations.has(g)) this.#addGeneration(cfg, g, this.#ratchet(cfg, cfg.generations.get(g - 1)!.secret, g));
      }
      const ageMs = Math.round(now - cfg.switchedAtMs);
      const sealed = cfg.sealedAtCurrent;
      const previous = cfg.current;
      cfg.current = generation;
      cfg.switchedAtMs = now;
      cfg.visitsAtCurrent = 0;
      cfg.sealedAtCurrent = 0;
      this.#rekeys++;
      this.#o.log?.('info', `configuration ${this.#ringText(ring)} moved to key generation ${generation} (epoch ${hexId(epochWireId(cfg.number, generation))}); generation ${previous} was ${ageMs} ms old with ${sealed} packets sealed here; rekeys so far ${this.#rekeys}`);
      return;
    }
    cfg.visitsAtCurrent++;
    if (cfg.visitsAtCurrent >= 1) {
      // The token came back at the same generation: every member has switched; the older
      // generations can protect nothing more.
      for (const g of [...cfg.generations.keys()]) if (g < cfg.current) this.#eraseGeneration(cfg, g);
    }
  }

  rekeyDue(now: number, ring: RingId, generation: number): boolean {
    const cfg = this.#configs.get(ringKey(ring));
    if (!cfg || !cfg.installed || cfg.current !== generation) return false;
    // Rekey only once the previous generation has been erased everywhere it could be.
    if (cfg.generations.has(generation - 1)) return false;
    return now - cfg.switchedAtMs >= this.#o.rekeyMs || cfg.sealedAtCurrent >= this.#o.rekeyPackets;
  }

  sealRecovered(oldRing: RingId, plain: Uint8Array): Uint8Array {
    const cfg = this.#configs.get(ringKey(oldRing));
    if (!cfg) throw new RingcastError('EPOCH_KEYS_MISSING', `no keys for configuration ${ringKey(oldRing)} to seal its recovered messages under`);
    return this.#o.protector.sealIn(epochWireId(cfg.number, cfg.current), plain);
  }

  openRecovered(oldRing: RingId, sender: DaemonId, sealed: Uint8Array): Uint8Array | undefined {
    const cfg = this.#configs.get(ringKey(oldRing));
    if (!cfg) return undefined;
    const r = this.#o.protector.open(sealed, sender);
    if (!r.ok || r.epoch >>> 8 !== cfg.number || r.epoch === 0) return undefined;
    return r.payload;
  }

  // ------------------------------------------------------------------ daemon side

  /**
   * Seals a transmit under the epoch it names (its ring's current generation), or under the
   * cluster epoch when it names none. Undefined if this daemon holds no keys for that ring (it
   * was given up meanwhile): the packet is not sent.
   */
  seal(t: Transmit): Uint8Array | undefined {
    if (!t.epoch) return this.#o.protector.sealIn(0, t.bytes);
    const cfg = this.#configs.get(ringKey(t.epoch.ring));
    const gen = cfg?.generations.get(t.epoch.generation);
    if (!cfg || !gen?.installed) {
      this.#sealRefused++;
      return undefined;
    }
    if (t.epoch.generation === cfg.current) cfg.sealedAtCurrent++;
    return this.#o.protector.sealIn(epochWireId(cfg.number, t.epoch.generation), t.bytes);
  }

  /**
   * Opens a received packet. Ring traffic (data, tokens) is accepted only under a
   * configuration's epoch, never under the cluster epoch: holding the cluster key is not
   * membership of a configuration.
   */
  open(packet: Uint8Array, from: DaemonId): OpenResult | { ok: false; reason: 'untrusted' | 'cluster-epoch' } {
    if (!this.isTrusted(from)) return { ok: false, reason: 'untrusted' };
    const r = this.#o.protector.open(packet, from);
    if (!r.ok || r.epoch !== 0) return r;
    const p = r.payload;
    if (p.length >= 3 && p[0] === WIRE_MAGIC && (p[2] === PacketType.DATA || p[2] === PacketType.TOKEN)) return { ok: false, reason: 'cluster-epoch' };
    return r;
  }

  status(now: number): EpochStatus {
    const cfg = this.#current;
    const id = cfg ? epochWireId(cfg.number, cfg.current) : 0;
    return {
      epochId: id,
      epochIdHex: hexId(id),
      ring: cfg?.ring,
      generation: cfg?.current ?? 0,
      ageMs: cfg ? Math.max(0, Math.round(now - cfg.switchedAtMs)) : 0,
      packetsUnderKey: cfg?.sealedAtCurrent ?? 0,
      rekeys: this.#rekeys,
      configurationsKeyed: this.#configurationsKeyed,
      formationsRefused: this.#formationsRefused,
      installedEpochs: this.#o.protector.installedEpochs().map(hexId),
    };
  }

  /** Packets not sent because their configuration's keys were already erased (diagnostic). */
  get sealRefused(): number {
    return this.#sealRefused;
  }

  /** Fingerprints of every epoch secret held now, by configuration (for the simulator's checks). */
  heldSecrets(): { ring: RingId; generation: number; fingerprint: string }[] {
    const out: { ring: RingId; generation: number; fingerprint: string }[] = [];
    for (const cfg of this.#configs.values()) for (const [g, gen] of cfg.generations) out.push({ ring: cfg.ring, generation: g, fingerprint: gen.fingerprint });
    return out;
  }

  /**
   * Copies of the secrets this daemon holds for a configuration. Only the simulator's control
   * run uses it, to hand them to a daemon outside the configuration and prove that the key
   * checks catch such a leak; the daemon never calls it.
   */
  leakForTest(ring: RingId): { epochId: number; generation: number; fingerprint: string; secret: Uint8Array }[] {
    const cfg = this.#configs.get(ringKey(ring));
    if (!cfg) return [];
    return [...cfg.generations].map(([g, gen]) => ({ epochId: epochWireId(cfg.number, g), generation: g, fingerprint: gen.fingerprint, secret: gen.secret.slice() }));
  }

  /** Erases everything (daemon shutdown). */
  close(): void {
    for (const cfg of [...this.#configs.values()]) this.#retireConfiguration(cfg);
    for (const key of [...this.#pending.keys()]) this.#dropPending(key);
    this.#formationKey.fill(0);
    this.#current = undefined;
  }

  // ------------------------------------------------------------------ internals

  #name(id: DaemonId): string {
    return this.#o.nameOf?.(id) ?? String(id >>> 0);
  }

  /** A ring id for log lines: representative's name and seq. */
  #ringText(ring: RingId): string {
    return `${this.#name(ring.rep)}.${ring.seq}`;
  }

  #refuse(ring: RingId, why: string): false {
    this.#formationsRefused++;
    this.#dropPending(ringKey(ring));
    this.#o.log?.('warn', `refused forming configuration ${this.#ringText(ring)}: ${why}`);
    return false;
  }

  #contributionMessage(ring: RingId, members: readonly FormingMember[], id: DaemonId, ephemeral: Uint8Array, number: number): Uint8Array {
    return concatBytes(CONTRIBUTION_LABEL, u32Context(this.#o.configHash), ringBytes(ring), membersBytes(members), u32Context(id), ephemeral, u16(number));
  }

  #checkContribution(ring: RingId, members: readonly FormingMember[], id: DaemonId, field: Uint8Array, key: DaemonPublicKey): { ephemeral: Uint8Array; number: number } | undefined {
    if (field.length !== CONTRIBUTION_BYTES) return undefined;
    const ephemeral = field.subarray(0, EPHEMERAL_BYTES);
    const number = (field[EPHEMERAL_BYTES]! << 8) | field[EPHEMERAL_BYTES + 1]!;
    const signature = field.subarray(EPHEMERAL_BYTES + 2);
    const message = this.#contributionMessage(ring, members, id, ephemeral, number);
    let ok = false;
    try {
      ok = this.#sodium.crypto_sign_verify_detached(signature, message, key.ed25519);
    } catch {
      ok = false;
    }
    return ok ? { ephemeral, number } : undefined;
  }

  #transcript(ring: RingId, members: readonly FormingMember[], fields: ReadonlyMap<DaemonId, Uint8Array>): Uint8Array {
    return formationTranscript(this.#o.configHash, ring, members, fields);
  }

  #wrapKey(transcript: Uint8Array, member: DaemonId, shared: Uint8Array[]): Uint8Array {
    return wrapKeyFor(this.#formationKey, transcript, member, shared);
  }

  #openSealed(ring: RingId, members: readonly FormingMember[], fields: ReadonlyMap<DaemonId, Uint8Array>, sealed: Uint8Array, pending: PendingFormation): { secret: Uint8Array; number: number } | undefined {
    const s = this.#sodium;
    const repKey = this.#trusted.get(ring.rep);
    const repField = fields.get(ring.rep);
    if (!repKey || !repField || repField.length < CONTRIBUTION_PUBLIC_BYTES || sealed.length !== SEALED_EPOCH_BYTES) return undefined;
    if (!members.some((m) => m.id === this.#o.self)) return undefined;
    const repEphemeral = repField.subarray(0, EPHEMERAL_BYTES);
    const transcript = this.#transcript(ring, members, fields);
    let key: Uint8Array;
    try {
      key = this.#wrapKey(transcript, this.#o.self, [
        s.crypto_scalarmult(pending.ephemeralSecret, repEphemeral),
        s.crypto_scalarmult(pending.ephemeralSecret, repKey.x25519),
        s.crypto_scalarmult(this.#o.identity.x25519Secret, repEphemeral),
      ]);
    } catch {
      return undefined;
    }
    const opened = openSealedEpoch(key, transcript, sealed);
    key.fill(0);
    if (!opened) return undefined;
    if (opened.number === 0) {
      opened.secret.fill(0);
      return undefined;
    }
    return opened;
  }

  #ratchet(cfg: ConfigurationKeys, secret: Uint8Array, generation: number): Uint8Array {
    return deriveKey(secret, 'epoch-ratchet', concatBytes(ringBytes(cfg.ring), u32Context(generation)));
  }

  #addGeneration(cfg: ConfigurationKeys, g: number, secret: Uint8Array): void {
    const id = epochWireId(cfg.number, g);
    // A wire id still held by another configuration (possible only after 65,535 configurations
    // in one life) belongs to the older one, which this daemon no longer needs.
    for (const other of [...this.#configs.values()]) {
      if (other === cfg) continue;
      for (const og of [...other.generations.keys()]) if (epochWireId(other.number, og) === id) this.#eraseGeneration(other, og);
    }
    const fingerprint = secretFingerprint(secret);
    this.#o.protector.installEpoch(id, secret);
    cfg.generations.set(g, { secret, fingerprint, installed: true });
    this.#o.observe?.({ kind: 'hold', ring: cfg.ring, generation: g, fingerprint });
  }

  #eraseGeneration(cfg: ConfigurationKeys, g: number): void {
    const gen = cfg.generations.get(g);
    if (!gen) return;
    this.#o.protector.retireEpoch(epochWireId(cfg.number, g));
    gen.secret.fill(0);
    gen.installed = false;
    cfg.generations.delete(g);
    this.#o.observe?.({ kind: 'erase', ring: cfg.ring, generation: g, fingerprint: gen.fingerprint });
  }

  #retireConfiguration(cfg: ConfigurationKeys): void {
    for (const g of [...cfg.generations.keys()]) this.#eraseGeneration(cfg, g);
    this.#configs.delete(ringKey(cfg.ring));
    if (this.#current === cfg) this.#current = this.#installedConfiguration();
  }

  /** The configuration this daemon has installed (EVS), if its keys are still held. */
  #installedConfiguration(): ConfigurationKeys | undefined {
    for (const cfg of this.#configs.values()) if (cfg.installed) return cfg;
    return undefined;
  }

  #dropPending(key: string, eraseDistributed = true): void {
    const p = this.#pending.get(key);
    if (!p) return;
    p.ephemeralSecret.fill(0);
    if (eraseDistributed) p.distributed?.secret.fill(0);
    this.#pending.delete(key);
  }
}

export function hexId(epoch: number): string {
  return `0x${epoch.toString(16).padStart(6, '0')}`;
}
