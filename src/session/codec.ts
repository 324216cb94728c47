/**
 * Byte codec of the Spread 4/5 client protocol (spec: shared/protocol/spread-client-protocol.md).
 * Pure functions and one incremental reader; no IO. Used by the daemon's sessions and by the
 * client library alike.
 *
 * Byte order (§2, §4.3): integers are in the writer's order, marked by 0x80000080 in `type`.
 * Ringcast always writes little-endian with the marker set, as a little-endian Spread daemon does,
 * and accepts both orders on input. `hint` is never converted (§4.2).
 */
import { RingcastError } from '../util/errors.js';
import { MessageType, SpreadLimits } from './protocol.js';

export class ProtocolError extends RingcastError {
  constructor(code: string, message: string) {
    super(`PROTOCOL_${code}`, message);
    this.name = 'ProtocolError';
  }
}

const HEADER_BYTES = SpreadLimits.HEADER_BYTES;
const NAME_BYTES = SpreadLimits.GROUP_NAME_BYTES;
const ENDIAN_MARKER = MessageType.ENDIAN_MARKER;

export interface MessageHeader {
  /** Service/type bits with the endian marker cleared, unsigned. */
  type: number;
  /** private_group_name up to the first NUL. */
  sender: string;
  numGroups: number;
  /** The raw 32-bit hint exactly as on the wire, read little-endian (§4.2: never converted). */
  hint: number;
  dataLen: number;
  /** The writer's byte order, from the marker in `type`. */
  littleEndian: boolean;
}

/** Name field: bytes up to the first NUL (at most 32). Bytes after the NUL are ignored (§2). */
export function readName(buf: Uint8Array, offset: number): string {
  let end = offset;
  const limit = offset + NAME_BYTES;
  while (end < limit && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + offset, end - offset).toString('latin1');
}

/** Writes a name NUL-padded into a 32-byte field; the daemon always zero-pads (§2). */
export function writeName(buf: Uint8Array, offset: number, name: string): void {
  if (name.length >= NAME_BYTES) {
    throw new ProtocolError('NAME_TOO_LONG', `name "${name.slice(0, 40)}" has ${name.length} characters; at most ${NAME_BYTES - 1} fit a name field`);
  }
  for (let i = 0; i < NAME_BYTES; i++) buf[offset + i] = i < name.length ? name.charCodeAt(i) & 0xff : 0;
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Writer byte order from a raw `type` field: true little, false big; undefined for a garbled marker. */
function writerIsLittleEndian(buf: Uint8Array, offset: number): boolean | undefined {
  // 0x80000080 sits on bit 7 of the first and the last byte in either byte order.
  const first = (buf[offset] ?? 0) & 0x80;
  const last = (buf[offset + 3] ?? 0) & 0x80;
  if (first && last) return true;
  if (!first && !last) return false;
  return undefined;
}

export function decodeHeader(buf: Uint8Array, offset = 0): MessageHeader {
  if (buf.length - offset < HEADER_BYTES) {
    throw new ProtocolError('SHORT_HEADER', `a message header needs ${HEADER_BYTES} bytes, got ${buf.length - offset}`);
  }
  const le = writerIsLittleEndian(buf, offset);
  if (le === undefined) {
    throw new ProtocolError('ENDIAN_MARKER', 'message type has a garbled endian marker (neither 0x80000080 nor 0)');
  }
  const dv = view(buf);
  const type = (dv.getUint32(offset, le) & ~ENDIAN_MARKER) >>> 0;
  return {
    type,
    sender: readName(buf, offset + 4),
    numGroups: dv.getInt32(offset + 36, le),
    hint: dv.getUint32(offset + 40, true),
    dataLen: dv.getInt32(offset + 44, le),
    littleEndian: le,
  };
}

/** hint = LE marker | ((mess_type << 8) & 0xFFFF00) (§4.2). */
export function makeHint(messType: number): number {
  return (ENDIAN_MARKER | ((messType << 8) & 0x00ffff00)) >>> 0;
}

function swap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/** True when the original sender's byte order differs from ours (little-endian). */
export function hintEndianMismatch(hint: number): boolean {
  return ((hint & ENDIAN_MARKER) >>> 0) !== ENDIAN_MARKER;
}

/** mess_type (int16) from a raw hint, swapping first if the original sender was foreign (§4.2). */
export function hintMessType(hint: number): number {
  const h = hintEndianMismatch(hint) ? swap32(hint >>> 0) : hint >>> 0;
  const v = (h >>> 8) & 0xffff;
  return v >= 0x8000 ? v - 0x10000 : v;
}

export interface DecodedMessage {
  header: MessageHeader;
  /** Present only in daemon→client frames whose type has REJECT_MESS (§7.5). */
  oldType: number | undefined;
  groups: string[];
  /** A view into the frame (no copy). */
  data: Uint8Array;
  /** The whole record as received. */
  frame: Uint8Array;
}

export interface EncodeMessageInput {
  /** Type bits without the endian marker; the encoder adds the little-endian marker. */
  type: number;
  sender: string;
  groups: readonly string[];
  hint?: number;
  data: Uint8Array;
  /** Written right after the header iff `type` has REJECT_MESS. */
  oldType?: number;
}

export function encodeMessage(m: EncodeMessageInput): Buffer {
  const isReject = (m.type & MessageType.REJECT_MESS) !== 0;
  const extra = isReject ? 4 : 0;
  const size = HEADER_BYTES + extra + NAME_BYTES * m.groups.length + m.data.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE((m.type | ENDIAN_MARKER) >>> 0, 0);
  writeName(out, 4, m.sender);
  out.writeInt32LE(m.groups.length, 36);
  out.writeUInt32LE((m.hint ?? makeHint(0)) >>> 0, 40);
  out.writeInt32LE(m.data.length, 44);
  let off = HEADER_BYTES;
  if (isReject) {
    out.writeUInt32LE(((m.oldType ?? 0) | ENDIAN_MARKER) >>> 0, off);
    off += 4;
  }
  for (const g of m.groups) {
    writeName(out, off, g);
    off += NAME_BYTES;
  }
  out.set(m.data, off);
  return out;
}

/**
 * Re-encodes a frame written by a big-endian writer into our little-endian order: type (with our
 * marker), num_groups, data_len and old_type are converted; hint, names and data are copied as
 * they are (§4.3). A little-endian frame is returned unchanged.
 */
export function normaliseFrame(frame: Uint8Array): Uint8Array {
  const h = decodeHeader(frame);
  if (h.littleEndian) return frame;
  const out = Buffer.from(frame);
  out.writeUInt32LE((h.type | ENDIAN_MARKER) >>> 0, 0);
  out.writeInt32LE(h.numGroups, 36);
  out.writeInt32LE(h.dataLen, 44);
  if ((h.type & MessageType.REJECT_MESS) !== 0 && out.length >= HEADER_BYTES + 4) {
    const old = (view(frame).getUint32(HEADER_BYTES, false) & ~ENDIAN_MARKER) >>> 0;
    out.writeUInt32LE((old | ENDIAN_MARKER) >>> 0, HEADER_BYTES);
  }
  return out;
}

export type StreamDirection = 'client-to-daemon' | 'daemon-to-client';

/** Bounds of a frame's variable part, checked before any byte of it is trusted. */
function checkLengths(h: MessageHeader, direction: StreamDirection, bodyBytesMax: number): void {
  if (h.numGroups < 0 || h.dataLen < 0) {
    throw new ProtocolError('NEGATIVE_LENGTH', `negative length in header (num_groups ${h.numGroups}, data_len ${h.dataLen})`);
  }
  if (direction === 'client-to-daemon' && h.numGroups > SpreadLimits.GROUPS_PER_MESSAGE_MAX) {
    throw new ProtocolError('TOO_MANY_GROUPS', `num_groups ${h.numGroups} exceeds ${SpreadLimits.GROUPS_PER_MESSAGE_MAX}`);
  }
  const body = h.dataLen + NAME_BYTES * h.numGroups;
  if (body > bodyBytesMax) {
    throw new ProtocolError('MESSAGE_TOO_LONG', `data_len + 32 x num_groups = ${body} exceeds ${bodyBytesMax} bytes`);
  }
}

/** Decodes one complete frame (header, optional old_type, groups, data) at the start of `buf`. */
export function decodeMessage(buf: Uint8Array, direction: StreamDirection): DecodedMessage {
  const header = decodeHeader(buf);
  const extra = direction === 'daemon-to-client' && (header.type & MessageType.REJECT_MESS) !== 0 ? 4 : 0;
  const size = HEADER_BYTES + extra + NAME_BYTES * header.numGroups + header.dataLen;
  if (header.numGroups < 0 || header.dataLen < 0 || buf.length < size) {
    throw new ProtocolError('SHORT_FRAME', `frame needs ${size} bytes, got ${buf.length}`);
  }
  return frameAt(buf.subarray(0, size), header, extra);
}

function frameAt(frame: Uint8Array, header: MessageHeader, extra: number): DecodedMessage {
  let off = HEADER_BYTES;
  let oldType: number | undefined;
  if (extra) {
    oldType = (view(frame).getUint32(off, header.littleEndian) & ~ENDIAN_MARKER) >>> 0;
    off += 4;
  }
  const groups = new Array<string>(header.numGroups);
  for (let i = 0; i < header.numGroups; i++) {
    groups[i] = readName(frame, off);
    off += NAME_BYTES;
  }
  return { header, oldType, groups, data: frame.subarray(off, off + header.dataLen), frame };
}

const DAEMON_TO_CLIENT_BODY_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Incremental reader of the message stream that follows the handshake. Accepts any segmentation;
 * frames are views into the received chunks where a frame lies within one chunk.
 */
export class MessageReader {
  private readonly direction: StreamDirection;
  private readonly bodyBytesMax: number;
  private pending: Buffer = Buffer.alloc(0);
  private offset = 0;

  constructor(opts: { direction: StreamDirection; bodyBytesMax?: number }) {
    this.direction = opts.direction;
    this.bodyBytesMax =
      opts.bodyBytesMax ??
      (opts.direction === 'client-to-daemon' ? SpreadLimits.MESSAGE_BODY_BYTES_MAX : DAEMON_TO_CLIENT_BODY_BYTES_MAX);
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.offset >= this.pending.length) {
      this.pending = c;
    } else {
      this.pending = Buffer.concat([this.pending.subarray(this.offset), c]);
    }
    this.offset = 0;
  }

  bufferedBytes(): number {
    return this.pending.length - this.offset;
  }

  next(): DecodedMessage | undefined {
    const avail = this.pending.length - this.offset;
    if (avail < HEADER_BYTES) return undefined;
    const header = decodeHeader(this.pending, this.offset);
    checkLengths(header, this.direction, this.bodyBytesMax);
    const extra = this.direction === 'daemon-to-client' && (header.type & MessageType.REJECT_MESS) !== 0 ? 4 : 0;
    const size = HEADER_BYTES + extra + NAME_BYTES * header.numGroups + header.dataLen;
    if (avail < size) return undefined;
    const frame = this.pending.subarray(this.offset, this.offset + size);
    this.offset += size;
    if (this.offset === this.pending.length) {
      this.pending = Buffer.alloc(0);
      this.offset = 0;
    }
    return frameAt(frame, header, extra);
  }
}

// ---- Membership bodies (§7.2, §7.3) ----

export interface GroupId {
  procId: number;
  time: number;
  index: number;
}

export function groupIdEquals(a: GroupId, b: GroupId): boolean {
  return a.procId === b.procId && a.time === b.time && a.index === b.index;
}

/** Regular membership body: group_id, num_vs_sets, local_vs_set_offset (from body+20), vs_sets. */
export function encodeRegMembBody(groupId: GroupId, vsSets: readonly (readonly string[])[], localSetIndex: number): Buffer {
  let size = 20;
  let localOffset = 0;
  for (let i = 0; i < vsSets.length; i++) {
    if (i === localSetIndex) localOffset = size - 20;
    size += 4 + NAME_BYTES * (vsSets[i]?.length ?? 0);
  }
  const out = Buffer.allocUnsafe(size);
  out.writeInt32LE(groupId.procId | 0, 0);
  out.writeInt32LE(groupId.time | 0, 4);
  out.writeInt32LE(groupId.index | 0, 8);
  out.writeUInt32LE(vsSets.length, 12);
  out.writeUInt32LE(localOffset, 16);
  let off = 20;
  for (const set of vsSets) {
    out.writeUInt32LE(set.length, off);
    off += 4;
    for (const name of set) {
      writeName(out, off, name);
      off += NAME_BYTES;
    }
  }
  return out;
}

export function decodeRegMembBody(
  data: Uint8Array,
  littleEndian: boolean,
): { groupId: GroupId; vsSets: string[][]; localVsSetOffset: number; localSetIndex: number } {
  if (data.length < 20) throw new ProtocolError('SHORT_MEMBERSHIP', `membership body has ${data.length} bytes, needs at least 20`);
  const dv = view(data);
  const groupId = { procId: dv.getInt32(0, littleEndian), time: dv.getInt32(4, littleEndian), index: dv.getInt32(8, littleEndian) };
  const numSets = dv.getUint32(12, littleEndian);
  const localVsSetOffset = dv.getUint32(16, littleEndian);
  if (numSets > (data.length - 20) / 4) throw new ProtocolError('BAD_MEMBERSHIP', `num_vs_sets ${numSets} cannot fit ${data.length} bytes`);
  const vsSets: string[][] = [];
  let localSetIndex = -1;
  let off = 20;
  for (let i = 0; i < numSets; i++) {
    if (off - 20 === localVsSetOffset) localSetIndex = i;
    if (off + 4 > data.length) throw new ProtocolError('BAD_MEMBERSHIP', 'vs_set runs past the end of the body');
    const n = dv.getUint32(off, littleEndian);
    off += 4;
    if (n > (data.length - off) / NAME_BYTES) throw new ProtocolError('BAD_MEMBERSHIP', 'vs_set members run past the end of the body');
    const set: string[] = [];
    for (let j = 0; j < n; j++) {
      set.push(readName(data, off));
      off += NAME_BYTES;
    }
    vsSets.push(set);
  }
  return { groupId, vsSets, localVsSetOffset, localSetIndex };
}

export function encodeTransitionBody(groupId: GroupId): Buffer {
  const out = Buffer.allocUnsafe(12);
  out.writeInt32LE(groupId.procId | 0, 0);
  out.writeInt32LE(groupId.time | 0, 4);
  out.writeInt32LE(groupId.index | 0, 8);
  return out;
}

export function decodeTransitionBody(data: Uint8Array, littleEndian: boolean): GroupId {
  if (data.length < 12) throw new ProtocolError('SHORT_MEMBERSHIP', `transitional body has ${data.length} bytes, needs 12`);
  const dv = view(data);
  return { procId: dv.getInt32(0, littleEndian), time: dv.getInt32(4, littleEndian), index: dv.getInt32(8, littleEndian) };
}

/**
 * A reject message (§7.5) to the requester of a refused JOIN, LEAVE or multicast: the original
 * header and body come back with REJECT_MESS, the original type in old_type (JOIN/LEAVE rewritten
 * to CAUSED_BY_JOIN/LEAVE), and the requester's private group appended to the group list.
 */
export function encodeRejectMessage(original: DecodedMessage, requester: string): Buffer {
  let oldType = original.header.type;
  if (oldType & MessageType.JOIN_MESS) oldType = MessageType.CAUSED_BY_JOIN;
  else if (oldType & MessageType.LEAVE_MESS) oldType = MessageType.CAUSED_BY_LEAVE;
  const groups = original.groups.slice();
  if (groups.length >= SpreadLimits.GROUPS_PER_MESSAGE_MAX) groups[groups.length - 1] = requester;
  else groups.push(requester);
  return encodeMessage({
    type: MessageType.REJECT_MESS | (original.header.type & MessageType.SELF_DISCARD),
    sender: requester,
    groups,
    hint: original.header.hint,
    data: original.data,
    oldType,
  });
}

// ---- Handshake records (§3) ----

export interface ConnectRequest {
  major: number;
  minor: number;
  patch: number;
  membership: boolean;
  priority: number;
  name: string;
}

/** Whether a library of this version sends the patch byte (§3.2: newer than 3.14). */
export function sendsPatchByte(major: number, minor: number): boolean {
  return major * 10000 + minor * 100 > 31400;
}

export function encodeConnectRequest(r: ConnectRequest): Buffer {
  const name = Buffer.from(r.name, 'latin1');
  if (name.length > SpreadLimits.PRIVATE_NAME_CHARS_MAX) {
    throw new ProtocolError('NAME_TOO_LONG', `private name "${r.name}" is longer than ${SpreadLimits.PRIVATE_NAME_CHARS_MAX} characters`);
  }
  const head = [r.major, r.minor];
  if (sendsPatchByte(r.major, r.minor)) head.push(r.patch);
  head.push((r.membership ? 1 : 0) | (r.priority >= 1 ? 0x10 : 0), name.length);
  return Buffer.concat([Buffer.from(head), name]);
}

/** The daemon's list of enabled methods: length byte, then "NAME " for each (§3.3). */
export function encodeAuthList(methods: readonly string[]): Buffer {
  const body = Buffer.from(methods.map((m) => `${m} `).join(''), 'latin1');
  if (body.length > 127) throw new ProtocolError('AUTH_LIST_TOO_LONG', 'authentication method list exceeds 127 bytes');
  return Buffer.concat([Buffer.from([body.length]), body]);
}

export function decodeAuthListBody(body: Uint8Array): string[] {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
    .toString('latin1')
    .split(' ')
    .filter((s) => s.length > 0);
}

const AUTH_CHOICE_BYTES = SpreadLimits.AUTH_NAME_BYTES * SpreadLimits.AUTH_METHODS_MAX;

/** The client's 90-byte choice: up to three 30-byte NUL-padded names (§3.4). */
export function encodeAuthChoice(methods: readonly string[]): Buffer {
  if (methods.length > SpreadLimits.AUTH_METHODS_MAX) {
    throw new ProtocolError('TOO_MANY_AUTH_METHODS', `at most ${SpreadLimits.AUTH_METHODS_MAX} authentication methods can be chosen`);
  }
  const out = Buffer.alloc(AUTH_CHOICE_BYTES);
  methods.forEach((m, i) => {
    if (m.length === 0 || m.length >= SpreadLimits.AUTH_NAME_BYTES) {
      throw new ProtocolError('BAD_AUTH_NAME', `authentication method name "${m}" must be 1..${SpreadLimits.AUTH_NAME_BYTES - 1} characters`);
    }
    out.write(m, i * SpreadLimits.AUTH_NAME_BYTES, 'latin1');
  });
  return out;
}

/** Names from the 90-byte choice; the walk stops at the first slot whose first byte is 0. */
export function decodeAuthChoice(rec: Uint8Array): string[] {
  if (rec.length < AUTH_CHOICE_BYTES) {
    throw new ProtocolError('SHORT_AUTH_CHOICE', `authentication choice needs ${AUTH_CHOICE_BYTES} bytes, got ${rec.length}`);
  }
  const names: string[] = [];
  for (let slot = 0; slot < SpreadLimits.AUTH_METHODS_MAX; slot++) {
    const start = slot * SpreadLimits.AUTH_NAME_BYTES;
    if (rec[start] === 0) break;
    let end = start;
    while (end < start + SpreadLimits.AUTH_NAME_BYTES && rec[end] !== 0) end++;
    names.push(Buffer.from(rec.buffer, rec.byteOffset + start, end - start).toString('latin1'));
  }
  return names;
}

export interface AcceptRecord {
  major: number;
  minor: number;
  /** Sent only to libraries ≥ 3.15.0 (§3.6). */
  patch: number | undefined;
  privateGroup: string;
}

export function encodeAccept(a: AcceptRecord): Buffer {
  const name = Buffer.from(a.privateGroup, 'latin1');
  if (name.length >= NAME_BYTES) throw new ProtocolError('NAME_TOO_LONG', `private group "${a.privateGroup}" exceeds 31 characters`);
  const head = a.patch === undefined ? [1, a.major, a.minor, name.length] : [1, a.major, a.minor, a.patch, name.length];
  return Buffer.concat([Buffer.from(head), name]);
}
