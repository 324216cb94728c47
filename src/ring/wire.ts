/**
 * Binary packet formats of the ring (data packets and the regular token), plus the common
 * header and bounded reader/writer every Totem packet uses. Membership packets (join, probe,
 * commit token) live in src/membership/wire.ts and share the header defined here.
 *
 * All integers are big-endian. 53-bit quantities (sequence numbers, ring sequence numbers,
 * incarnations) travel as float64 and are checked to be non-negative safe integers on decode.
 * Every decoder checks every length before reading and returns undefined on any malformed,
 * truncated or oversized input; nothing here throws on bad input.
 *
 * Layouts (u53 = float64 holding a non-negative safe integer, ring = rep u32 + seq u53):
 *   header  magic 0x52 u8 | version 1 u8 | type u8 | 0 u8 | sender u32 | incarnation u53   (16 bytes)
 *   DATA    header | ring | seq u53 (≥1) | flags u8 (1 = recovery carrier, 2 = sealed items)
 *           [carrier: old ring | old seq u53 | old sender u32]
 *           then either  item count u16 (≥1) | items: service u8 | frag u8 (1 first, 2 last)
 *                        | stream u32 | length u16 | bytes
 *           or (sealed carrier) safe u8 (0|1) | sealed length u16 | sealed bytes: the old
 *              packet's item count and items, sealed under the old ring's epoch keys
 *   TOKEN   header | ring | tokenSeq u53 | seq u53 | aru u53 (≤ seq) | aruId u32 | flags u8
 *           (1 = aruId present) | fcc u16 | backlog u32 | rotation u32 | doneCount u16
 *           | key generation u32 | rtr count u16 | rtr seqs u53 (each 1..seq)
 * Membership packets (JOIN 3, COMMIT 4, PROBE 5, COMMIT_PART 6): see src/membership/wire.ts and
 * src/membership/commit-parts.ts.
 */
import type { DaemonId, RingId } from '../util/ids.js';
import { isServiceLevel, type ServiceLevel } from '../util/service.js';

export const WIRE_MAGIC = 0x52; // 'R'
export const WIRE_VERSION = 1;

export const PacketType = {
  DATA: 1,
  TOKEN: 2,
  JOIN: 3,
  COMMIT: 4,
  PROBE: 5,
  COMMIT_PART: 6,
} as const;
export type PacketTypeCode = (typeof PacketType)[keyof typeof PacketType];

/** magic u8, version u8, type u8, reserved u8, sender u32, incarnation f64. */
export const HEADER_BYTES = 16;
/** Hard upper bound on any packet the engine decodes (UDP datagram limit). */
export const PACKET_BYTES_LIMIT = 65507;

/** Fragment flags of a packed item: a whole message is FIRST|LAST. */
export const FRAG_FIRST = 1;
export const FRAG_LAST = 2;

export interface PacketHeader {
  type: PacketTypeCode;
  sender: DaemonId;
  incarnation: number;
}

/** One packed message or message fragment inside a data packet. */
export interface DataItem {
  service: ServiceLevel;
  frag: number;
  stream: number;
  payload: Uint8Array;
}

/** Per-item overhead: service u8, frag u8, stream u32, length u16. */
export const ITEM_HEADER_BYTES = 8;
/** Data packet after the header: ring rep u32, ring seq f64, seq f64, flags u8, item count u16. */
export const DATA_FIXED_BYTES = HEADER_BYTES + 4 + 8 + 8 + 1 + 2;
/** Extra bytes of a recovery encapsulation: old ring rep u32, old ring seq f64, old seq f64, old sender u32. */
export const RECOVERY_EXTRA_BYTES = 4 + 8 + 8 + 4;
const DATA_FLAG_RECOVERY = 1;
const DATA_FLAG_SEALED = 2;
/** What a sealed carrier adds beyond RECOVERY_EXTRA_BYTES and the sealing itself: safe u8, sealed length u16. */
export const SEALED_CARRIER_EXTRA_BYTES = 3;

/**
 * A data packet of one ring. When `recovered` is set, the packet is a new-ring carrier of an
 * old-ring packet (Totem §4.4 recovery: old-ring messages retransmitted on the new ring) and
 * `items` are the old packet's items.
 */
export interface DataPacket {
  sender: DaemonId;
  incarnation: number;
  ring: RingId;
  seq: number;
  items: DataItem[];
  /** True if any item is SAFE: the packet is then delivered under the safe rule. */
  hasSafe: boolean;
  recovered?: { ring: RingId; seq: number; sender: DaemonId };
  /**
   * A carrier whose old-ring items are sealed under the old ring's keys (per-configuration
   * keys): `items` is then empty and only members of the old ring can read these bytes.
   */
  sealedItems?: Uint8Array;
}

export const TOKEN_FLAG_HAS_ARU_ID = 1;

/** Token fixed part after the header. */
export const TOKEN_FIXED_BYTES = HEADER_BYTES + 4 + 8 + 8 + 8 + 8 + 4 + 1 + 2 + 4 + 4 + 2 + 4 + 2;

/** The regular token (Totem §3.1). */
export interface RegularToken {
  ring: RingId;
  /** Incremented at every hop: duplicate (retransmitted) tokens are recognised by it. */
  tokenSeq: number;
  /** Highest message sequence number assigned on this ring. */
  seq: number;
  /** All-received-up-to, as lowered/raised by Totem's aru rules. */
  aru: number;
  /** The processor that last lowered aru, if any. */
  aruId: DaemonId | undefined;
  /** Flow control count: packets broadcast during the last rotation. */
  fcc: number;
  /** Sum of the members' pending (unsent) message counts. */
  backlog: number;
  /** Rotation counter, incremented by the representative. */
  rotation: number;
  /** Recovery (Totem §4.4): consecutive members that found nothing left to recover. */
  doneCount: number;
  /**
   * Key generation of the ring's epoch (0 when the ring forms): the representative raises it to
   * rekey, and every member switches as the token passes (keys/epoch-schedule.ts).
   */
  generation: number;
  /** Retransmission requests. */
  rtr: number[];
}

export function isU53(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

/** Bounded big-endian writer over a fixed buffer. */
export class Writer {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  u8(x: number): void {
    this.view.setUint8(this.pos, x);
    this.pos += 1;
  }
  u16(x: number): void {
    this.view.setUint16(this.pos, x);
    this.pos += 2;
  }
  u32(x: number): void {
    this.view.setUint32(this.pos, x >>> 0);
    this.pos += 4;
  }
  u53(x: number): void {
    this.view.setFloat64(this.pos, x);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  ring(r: RingId): void {
    this.u32(r.rep);
    this.u53(r.seq);
  }
  header(type: PacketTypeCode, sender: DaemonId, incarnation: number): void {
    this.u8(WIRE_MAGIC);
    this.u8(WIRE_VERSION);
    this.u8(type);
    this.u8(0);
    this.u32(sender);
    this.u53(incarnation);
  }
  done(): Uint8Array {
    return this.pos === this.buf.length ? this.buf : this.buf.subarray(0, this.pos);
  }
}

/** Bounded reader: every read checks the remaining length; `ok` turns false on any violation. */
export class Reader {
  private readonly view: DataView;
  pos: number;
  ok = true;
  constructor(
    private readonly buf: Uint8Array,
    start = 0,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  private need(n: number): boolean {
    if (!this.ok || this.pos + n > this.buf.length) {
      this.ok = false;
      return false;
    }
    return true;
  }
  u8(): number {
    if (!this.need(1)) return 0;
    const v = this.view.getUint8(this.pos);
    this.pos += 1;
    return v;
  }
  u16(): number {
    if (!this.need(2)) return 0;
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    if (!this.need(4)) return 0;
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u53(): number {
    if (!this.need(8)) return 0;
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    if (!isU53(v)) {
      this.ok = false;
      return 0;
    }
    return v;
  }
  bytes(n: number): Uint8Array {
    if (!this.need(n)) return new Uint8Array(0);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  ring(): RingId {
    const rep = this.u32();
    const seq = this.u53();
    return { rep, seq };
  }
}

/** Decode the common header; undefined if the packet is not a Totem packet of this version. */
export function decodeHeader(bytes: Uint8Array): PacketHeader | undefined {
  if (bytes.length < HEADER_BYTES || bytes.length > PACKET_BYTES_LIMIT) return undefined;
  const r = new Reader(bytes);
  if (r.u8() !== WIRE_MAGIC || r.u8() !== WIRE_VERSION) return undefined;
  const type = r.u8();
  r.u8();
  const sender = r.u32();
  const incarnation = r.u53();
  if (!r.ok) return undefined;
  if (type < PacketType.DATA || type > PacketType.COMMIT_PART) return undefined;
  return { type: type as PacketTypeCode, sender, incarnation };
}

/** Bytes the items of a data packet take on the wire. */
export function itemsBytes(items: readonly DataItem[]): number {
  let n = 0;
  for (const it of items) n += ITEM_HEADER_BYTES + it.payload.length;
  return n;
}

export function encodeData(p: DataPacket): Uint8Array {
  const sealed = p.recovered !== undefined && p.sealedItems !== undefined ? p.sealedItems : undefined;
  const body = sealed ? SEALED_CARRIER_EXTRA_BYTES - 2 + sealed.length : itemsBytes(p.items);
  const size = DATA_FIXED_BYTES + (p.recovered ? RECOVERY_EXTRA_BYTES : 0) + body;
  const w = new Writer(size);
  w.header(PacketType.DATA, p.sender, p.incarnation);
  w.ring(p.ring);
  w.u53(p.seq);
  w.u8((p.recovered ? DATA_FLAG_RECOVERY : 0) | (sealed ? DATA_FLAG_SEALED : 0));
  if (p.recovered) {
    w.ring(p.recovered.ring);
    w.u53(p.recovered.seq);
    w.u32(p.recovered.sender);
  }
  if (sealed) {
    w.u8(p.hasSafe ? 1 : 0);
    w.u16(sealed.length);
    w.bytes(sealed);
    return w.done();
  }
  writeItems(w, p.items);
  return w.done();
}

function writeItems(w: Writer, items: readonly DataItem[]): void {
  w.u16(items.length);
  for (const it of items) {
    w.u8(it.service);
    w.u8(it.frag);
    w.u32(it.stream);
    w.u16(it.payload.length);
    w.bytes(it.payload);
  }
}

/** A packet's item count and items alone (what a sealed recovery carrier seals). */
export function encodeItems(items: readonly DataItem[]): Uint8Array {
  const w = new Writer(2 + itemsBytes(items));
  writeItems(w, items);
  return w.done();
}

/** Reads an item count and items to the end of the reader; undefined if malformed. */
function readItems(r: Reader): { items: DataItem[]; hasSafe: boolean } | undefined {
  const count = r.u16();
  if (!r.ok || count === 0 || count * ITEM_HEADER_BYTES > r.remaining) return undefined;
  const items: DataItem[] = new Array<DataItem>(count);
  let hasSafe = false;
  for (let i = 0; i < count; i++) {
    const service = r.u8();
    const frag = r.u8();
    const stream = r.u32();
    const len = r.u16();
    const payload = r.bytes(len);
    if (!r.ok || !isServiceLevel(service) || (frag & ~(FRAG_FIRST | FRAG_LAST)) !== 0) return undefined;
    if (service === 0x20) hasSafe = true;
    items[i] = { service, frag, stream, payload };
  }
  if (r.remaining !== 0) return undefined;
  return { items, hasSafe };
}

/** Inverse of encodeItems; undefined on anything malformed. */
export function decodeItems(bytes: Uint8Array): { items: DataItem[]; hasSafe: boolean } | undefined {
  return readItems(new Reader(bytes, 0));
}

export function decodeData(bytes: Uint8Array, h: PacketHeader): DataPacket | undefined {
  const r = new Reader(bytes, HEADER_BYTES);
  const ring = r.ring();
  const seq = r.u53();
  const flags = r.u8();
  if (!r.ok || (flags & ~(DATA_FLAG_RECOVERY | DATA_FLAG_SEALED)) !== 0 || seq === 0) return undefined;
  if (flags & DATA_FLAG_SEALED && !(flags & DATA_FLAG_RECOVERY)) return undefined;
  let recovered: DataPacket['recovered'];
  if (flags & DATA_FLAG_RECOVERY) {
    const oring = r.ring();
    const oseq = r.u53();
    const osender = r.u32();
    if (!r.ok || oseq === 0) return undefined;
    recovered = { ring: oring, seq: oseq, sender: osender };
  }
  if (flags & DATA_FLAG_SEALED) {
    const safe = r.u8();
    const len = r.u16();
    if (!r.ok || safe > 1 || len === 0 || len !== r.remaining) return undefined;
    const sealedItems = r.bytes(len);
    if (!r.ok) return undefined;
    return { sender: h.sender, incarnation: h.incarnation, ring, seq, items: [], hasSafe: safe === 1, recovered, sealedItems };
  }
  const body = readItems(r);
  if (!body) return undefined;
  const p: DataPacket = { sender: h.sender, incarnation: h.incarnation, ring, seq, items: body.items, hasSafe: body.hasSafe };
  if (recovered) p.recovered = recovered;
  return p;
}

/** Maximum retransmission requests a token carries, given the packet size limit. */
export function rtrMaxFor(packetBytesMax: number): number {
  return Math.max(1, Math.min(1024, Math.floor((packetBytesMax - TOKEN_FIXED_BYTES) / 8)));
}

export function encodeToken(t: RegularToken, sender: DaemonId, incarnation: number): Uint8Array {
  const w = new Writer(TOKEN_FIXED_BYTES + t.rtr.length * 8);
  w.header(PacketType.TOKEN, sender, incarnation);
  w.ring(t.ring);
  w.u53(t.tokenSeq);
  w.u53(t.seq);
  w.u53(t.aru);
  w.u32(t.aruId ?? 0);
  w.u8(t.aruId === undefined ? 0 : TOKEN_FLAG_HAS_ARU_ID);
  w.u16(Math.min(t.fcc, 0xffff));
  w.u32(Math.min(t.backlog, 0xffffffff));
  w.u32(t.rotation >>> 0);
  w.u16(Math.min(t.doneCount, 0xffff));
  w.u32(t.generation >>> 0);
  w.u16(t.rtr.length);
  for (const s of t.rtr) w.u53(s);
  return w.done();
}

export function decodeToken(bytes: Uint8Array): RegularToken | undefined {
  const r = new Reader(bytes, HEADER_BYTES);
  const ring = r.ring();
  const tokenSeq = r.u53();
  const seq = r.u53();
  const aru = r.u53();
  const aruIdRaw = r.u32();
  const flags = r.u8();
  const fcc = r.u16();
  const backlog = r.u32();
  const rotation = r.u32();
  const doneCount = r.u16();
  const generation = r.u32();
  const n = r.u16();
  if (!r.ok || (flags & ~TOKEN_FLAG_HAS_ARU_ID) !== 0 || n * 8 !== r.remaining || aru > seq) return undefined;
  const rtr: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const s = r.u53();
    if (s === 0 || s > seq) return undefined;
    rtr[i] = s;
  }
  if (!r.ok) return undefined;
  return {
    ring,
    tokenSeq,
    seq,
    aru,
    aruId: flags & TOKEN_FLAG_HAS_ARU_ID ? aruIdRaw : undefined,
    fcc,
    backlog,
    rotation,
    doneCount,
    generation,
    rtr,
  };
}
