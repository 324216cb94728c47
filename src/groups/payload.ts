/**
 * Ring payloads of the group layer: the requests a daemon submits for its sessions, and the
 * group-state messages of the exchange that follows a configuration change.
 *
 * Layout (all integers little-endian), version 1:
 *
 *   0  u8  version (1)
 *   1  u8  kind: 1 join, 2 leave, 3 kill, 4 data, 5 state
 *
 *   join / leave:  u8 memberLen, member, u8 groupLen, group
 *   kill:          u8 memberLen, member
 *   data:          the client frame, little-endian (codec normaliseFrame), to the end
 *   state:         u32 ring.rep, f64 ring.seq, u32 part, u32 parts, u32 entries, then per entry:
 *                    u8 groupLen, group, i32 procId, i32 time, i32 index, u8 flags (bit 0: changed),
 *                    u32 viewSize, u16 members, per member: u8 len, the private name's user part
 *
 * A state entry lists only the sending daemon's own members of one group (their daemon part is the
 * sender's name), with the group id and view size the sender held. A group with many local
 * members may be spread over several entries and parts.
 */
import type { RingId } from '../util/ids.js';
import { RingcastError } from '../util/errors.js';
import type { GroupId } from '../session/codec.js';
import { isValidGroupName, isValidPrivateName, MessageType, parsePrivateGroupName, SpreadLimits } from '../session/protocol.js';

export const GROUP_PAYLOAD_VERSION = 1;

const KIND_JOIN = 1;
const KIND_LEAVE = 2;
const KIND_KILL = 3;
const KIND_DATA = 4;
const KIND_STATE = 5;

const STATE_HEADER_BYTES = 2 + 4 + 8 + 4 + 4 + 4;
/** An entry without its group name and members: name length, group id, flags, view size, member count. */
const ENTRY_FIXED_BYTES = 1 + 12 + 1 + 4 + 2;
const ENTRY_MEMBERS_MAX = 0xffff;

export class GroupPayloadError extends RingcastError {
  constructor(message: string) {
    super('GROUPS_BAD_REQUEST', message);
    this.name = 'GroupPayloadError';
  }
}

/** What the daemon submits to the ring on behalf of a local session. */
export type GroupRequest =
  | { kind: 'join'; member: string; group: string }
  | { kind: 'leave'; member: string; group: string }
  | { kind: 'kill'; member: string }
  | { kind: 'data'; frame: Uint8Array };

export interface GroupStateEntry {
  group: string;
  /** The group id the sender held for this group when the exchange began. */
  groupId: GroupId;
  /** The group lost members in the last transitional configuration and still owes a regular view. */
  changed: boolean;
  /** How many members the sender's view of the group had (all daemons). */
  viewSize: number;
  /** User parts of the sender's local members (the full name is '#part#senderName'). */
  members: string[];
}

export interface GroupStatePayload {
  kind: 'state';
  /** The regular configuration this exchange belongs to. */
  ring: RingId;
  part: number;
  parts: number;
  entries: GroupStateEntry[];
}

export type GroupPayload = GroupRequest | GroupStatePayload;

function ascii(s: string, what: string): Buffer {
  if (s.length === 0 || s.length >= SpreadLimits.GROUP_NAME_BYTES) {
    throw new GroupPayloadError(`${what} "${s.slice(0, 40)}" must have 1..${SpreadLimits.GROUP_NAME_BYTES - 1} characters`);
  }
  return Buffer.from(s, 'latin1');
}

export function encodeGroupRequest(r: GroupRequest): Uint8Array {
  switch (r.kind) {
    case 'join':
    case 'leave': {
      const m = ascii(r.member, 'member name');
      const g = ascii(r.group, 'group name');
      const out = Buffer.allocUnsafe(4 + m.length + g.length);
      out[0] = GROUP_PAYLOAD_VERSION;
      out[1] = r.kind === 'join' ? KIND_JOIN : KIND_LEAVE;
      out[2] = m.length;
      m.copy(out, 3);
      out[3 + m.length] = g.length;
      g.copy(out, 4 + m.length);
      return out;
    }
    case 'kill': {
      const m = ascii(r.member, 'member name');
      const out = Buffer.allocUnsafe(3 + m.length);
      out[0] = GROUP_PAYLOAD_VERSION;
      out[1] = KIND_KILL;
      out[2] = m.length;
      m.copy(out, 3);
      return out;
    }
    case 'data': {
      const out = Buffer.allocUnsafe(2 + r.frame.length);
      out[0] = GROUP_PAYLOAD_VERSION;
      out[1] = KIND_DATA;
      out.set(r.frame, 2);
      return out;
    }
  }
}

function isPrivateGroupName(s: string): boolean {
  if (s.length >= SpreadLimits.GROUP_NAME_BYTES) return false;
  const p = parsePrivateGroupName(s);
  return p !== undefined && isValidPrivateName(p.name) && p.daemon.length >= 1;
}

/** Reads a u8-length-prefixed latin1 string; undefined if it does not fit. */
function readShort(p: Uint8Array, off: number): { s: string; next: number } | undefined {
  if (off >= p.length) return undefined;
  const len = p[off]!;
  const start = off + 1;
  if (len === 0 || start + len > p.length) return undefined;
  return { s: Buffer.from(p.buffer, p.byteOffset + start, len).toString('latin1'), next: start + len };
}

const SERVICE_BITS = MessageType.REGULAR_MESS;
const ENDIAN_MARKER = MessageType.ENDIAN_MARKER;

/**
 * Structure of a client data frame as the daemon forwards it: little-endian marker, one service
 * bit (plus SELF_DISCARD allowed), 0..100 groups, lengths that add up exactly to the frame size.
 */
export function isWellFormedDataFrame(f: Uint8Array): boolean {
  const H = SpreadLimits.HEADER_BYTES;
  if (f.length < H) return false;
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const raw = dv.getUint32(0, true);
  if (((raw & ENDIAN_MARKER) >>> 0) !== ENDIAN_MARKER) return false;
  const type = (raw & ~ENDIAN_MARKER) >>> 0;
  const service = type & SERVICE_BITS;
  if (service === 0 || (service & (service - 1)) !== 0) return false;
  if ((type & ~(SERVICE_BITS | MessageType.SELF_DISCARD)) !== 0) return false;
  const numGroups = dv.getInt32(36, true);
  const dataLen = dv.getInt32(44, true);
  if (numGroups < 0 || numGroups > SpreadLimits.GROUPS_PER_MESSAGE_MAX) return false;
  if (dataLen < 0 || dataLen > SpreadLimits.MESSAGE_BODY_BYTES_MAX) return false;
  return H + SpreadLimits.GROUP_NAME_BYTES * numGroups + dataLen === f.length;
}

function decodeState(p: Uint8Array): GroupStatePayload | undefined {
  if (p.length < STATE_HEADER_BYTES) return undefined;
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const rep = dv.getUint32(2, true);
  const seq = dv.getFloat64(6, true);
  if (!Number.isSafeInteger(seq) || seq < 0) return undefined;
  const part = dv.getUint32(14, true);
  const parts = dv.getUint32(18, true);
  const count = dv.getUint32(22, true);
  if (parts === 0 || part >= parts) return undefined;
  let off = STATE_HEADER_BYTES;
  // Every entry takes at least ENTRY_FIXED_BYTES + 1: a count beyond that is a lie.
  if (count > (p.length - off) / (ENTRY_FIXED_BYTES + 1)) return undefined;
  const entries: GroupStateEntry[] = [];
  for (let i = 0; i < count; i++) {
    const g = readShort(p, off);
    if (!g || !isValidGroupName(g.s)) return undefined;
    off = g.next;
    if (off + ENTRY_FIXED_BYTES - 1 > p.length) return undefined;
    const groupId: GroupId = { procId: dv.getInt32(off, true), time: dv.getInt32(off + 4, true), index: dv.getInt32(off + 8, true) };
    const flags = p[off + 12]!;
    if ((flags & ~1) !== 0) return undefined;
    const viewSize = dv.getUint32(off + 13, true);
    const n = dv.getUint16(off + 17, true);
    off += 19;
    if (n > (p.length - off) / 2) return undefined;
    const members: string[] = [];
    for (let j = 0; j < n; j++) {
      const m = readShort(p, off);
      if (!m || !isValidPrivateName(m.s)) return undefined;
      members.push(m.s);
      off = m.next;
    }
    entries.push({ group: g.s, groupId, changed: (flags & 1) !== 0, viewSize, members });
  }
  if (off !== p.length) return undefined;
  return { kind: 'state', ring: { rep, seq }, part, parts, entries };
}

/** Decodes a group-layer ring payload; undefined for anything malformed. Never throws. */
export function decodeGroupPayload(p: Uint8Array): GroupPayload | undefined {
  if (p.length < 2 || p[0] !== GROUP_PAYLOAD_VERSION) return undefined;
  switch (p[1]) {
    case KIND_JOIN:
    case KIND_LEAVE: {
      const m = readShort(p, 2);
      if (!m) return undefined;
      const g = readShort(p, m.next);
      if (!g || g.next !== p.length) return undefined;
      if (!isPrivateGroupName(m.s) || !isValidGroupName(g.s)) return undefined;
      return { kind: p[1] === KIND_JOIN ? 'join' : 'leave', member: m.s, group: g.s };
    }
    case KIND_KILL: {
      const m = readShort(p, 2);
      if (!m || m.next !== p.length || !isPrivateGroupName(m.s)) return undefined;
      return { kind: 'kill', member: m.s };
    }
    case KIND_DATA: {
      const frame = p.subarray(2);
      if (!isWellFormedDataFrame(frame)) return undefined;
      return { kind: 'data', frame };
    }
    case KIND_STATE:
      return decodeState(p);
    default:
      return undefined;
  }
}

/** Smallest state message that holds any one group entry with one member. */
export const STATE_MESSAGE_BYTES_MIN =
  STATE_HEADER_BYTES + SpreadLimits.GROUP_NAME_BYTES + ENTRY_FIXED_BYTES + 1 + SpreadLimits.PRIVATE_NAME_CHARS_MAX;

/** The group state one daemon contributes to an exchange, before it is cut into messages. */
export interface LocalGroupState {
  group: string;
  groupId: GroupId;
  changed: boolean;
  viewSize: number;
  /** User parts of local members, in member order. */
  members: readonly string[];
}

/**
 * Cuts a daemon's state into payloads of at most `bytesMax` bytes each (at least one payload, so
 * that an empty state still marks the sender as done). A group whose members do not fit in what
 * is left of a payload continues in the next one.
 */
export function encodeStateParts(ring: RingId, state: readonly LocalGroupState[], bytesMax: number): Uint8Array[] {
  if (bytesMax < STATE_MESSAGE_BYTES_MIN) {
    throw new GroupPayloadError(`state messages need at least ${STATE_MESSAGE_BYTES_MIN} bytes, got ${bytesMax}`);
  }
  interface Entry { s: LocalGroupState; from: number; to: number }
  const bodies: { entries: Entry[]; bytes: number }[] = [];
  let cur: { entries: Entry[]; bytes: number } = { entries: [], bytes: STATE_HEADER_BYTES };
  const flush = (): void => {
    bodies.push(cur);
    cur = { entries: [], bytes: STATE_HEADER_BYTES };
  };
  for (const s of state) {
    const fixed = s.group.length + ENTRY_FIXED_BYTES;
    let i = 0;
    do {
      if (cur.entries.length > 0 && cur.bytes + fixed + (s.members.length > i ? 1 + s.members[i]!.length : 0) > bytesMax) flush();
      let bytes = cur.bytes + fixed;
      let j = i;
      while (j < s.members.length && j - i < ENTRY_MEMBERS_MAX) {
        const add = 1 + s.members[j]!.length;
        if (bytes + add > bytesMax) break;
        bytes += add;
        j++;
      }
      cur.entries.push({ s, from: i, to: j });
      cur.bytes = bytes;
      i = j;
      if (i < s.members.length) flush();
    } while (i < s.members.length);
  }
  if (cur.entries.length > 0 || bodies.length === 0) flush();

  return bodies.map((b, part) => {
    const out = Buffer.allocUnsafe(b.bytes);
    out[0] = GROUP_PAYLOAD_VERSION;
    out[1] = KIND_STATE;
    out.writeUInt32LE(ring.rep >>> 0, 2);
    out.writeDoubleLE(ring.seq, 6);
    out.writeUInt32LE(part, 14);
    out.writeUInt32LE(bodies.length, 18);
    out.writeUInt32LE(b.entries.length, 22);
    let off = STATE_HEADER_BYTES;
    for (const e of b.entries) {
      out[off++] = e.s.group.length;
      off += out.write(e.s.group, off, 'latin1');
      out.writeInt32LE(e.s.groupId.procId | 0, off);
      out.writeInt32LE(e.s.groupId.time | 0, off + 4);
      out.writeInt32LE(e.s.groupId.index | 0, off + 8);
      out[off + 12] = e.s.changed ? 1 : 0;
      out.writeUInt32LE(e.s.viewSize >>> 0, off + 13);
      out.writeUInt16LE(e.to - e.from, off + 17);
      off += 19;
      for (let k = e.from; k < e.to; k++) {
        const m = e.s.members[k]!;
        out[off++] = m.length;
        off += out.write(m, off, 'latin1');
      }
    }
    if (off !== b.bytes) throw new GroupPayloadError(`state message size mismatch: wrote ${off} of ${b.bytes} bytes`);
    return out;
  });
}
