/**
 * Test harness for the group table: builds client frames and ring events by hand, and drives
 * several tables with the same ordered event sequence, as the ring would.
 */
import type { RingEvent } from '../../src/ring/types.js';
import type { DaemonId, RingId } from '../../src/util/ids.js';
import { Service, type ServiceLevel } from '../../src/util/service.js';
import { encodeGroupRequest, GroupTable, type GroupOutput, type GroupRequest } from '../../src/groups/index.js';
import { decodeHeader, decodeRegMembBody, decodeTransitionBody, readName } from '../../src/session/codec.js';

/** Hex words ("80 11 00 80") and byte arrays, concatenated. */
export function bytes(...parts: (string | Uint8Array | number[])[]): Buffer {
  return Buffer.concat(
    parts.map((p) => (typeof p === 'string' ? Buffer.from(p.replace(/\s+/g, ''), 'hex') : Buffer.from(p as Uint8Array))),
  );
}

/** A 32-byte NUL-padded name field. */
export function name32(s: string): Buffer {
  const b = Buffer.alloc(32);
  b.write(s, 'latin1');
  return b;
}

export function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n | 0);
  return b;
}

/** A client data frame as libspread writes it (little-endian). */
export function clientFrame(type: number, sender: string, groups: string[], messType: number, data: string | Uint8Array): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
  const hint = (0x80000080 | ((messType << 8) & 0xffff00)) >>> 0;
  const h = Buffer.alloc(48);
  h.writeUInt32LE((type | 0x80000080) >>> 0, 0);
  h.write(sender, 4, 'latin1');
  h.writeInt32LE(groups.length, 36);
  h.writeUInt32LE(hint, 40);
  h.writeInt32LE(body.length, 44);
  return Buffer.concat([h, ...groups.map(name32), body]);
}

export interface Delivered {
  to: readonly string[];
  frame: Uint8Array;
  membership: boolean;
}

/** One daemon's table with its outputs collected. */
export class Node {
  readonly outputs: GroupOutput[] = [];
  constructor(
    readonly id: DaemonId,
    readonly name: string,
    readonly table: GroupTable,
  ) {}

  feed(ev: RingEvent): void {
    this.table.handleRingEvent(ev);
    for (let o = this.table.pollOutput(); o; o = this.table.pollOutput()) this.outputs.push(o);
  }

  /** Takes and clears what was collected. */
  take(): GroupOutput[] {
    return this.outputs.splice(0, this.outputs.length);
  }

  /** Frames received by one session, in order (taken outputs are not included). */
  framesFor(session: string, outs: readonly GroupOutput[] = this.outputs): Uint8Array[] {
    const r: Uint8Array[] = [];
    for (const o of outs) if (o.kind === 'deliver' && o.to.includes(session)) r.push(o.frame);
    return r;
  }
}

export interface DaemonSpec {
  id: DaemonId;
  name: string;
}

/**
 * A hand-driven "ring": every event goes to the nodes given, in the order given. Message events
 * carry consecutive sequence numbers.
 */
export class Cluster {
  readonly nodes = new Map<DaemonId, Node>();
  private seq = 0;

  constructor(
    readonly daemons: readonly DaemonSpec[],
    opts: { groupsMax?: number; localMembersPerGroupMax?: number; stateMessageBytesMax?: number } = {},
  ) {
    for (const d of daemons) {
      this.nodes.set(
        d.id,
        new Node(
          d.id,
          d.name,
          new GroupTable({
            self: d.id,
            selfName: d.name,
            daemons,
            groupsMax: opts.groupsMax ?? 100_000,
            localMembersPerGroupMax: opts.localMembersPerGroupMax ?? 3122,
            stateMessageBytesMax: opts.stateMessageBytesMax,
          }),
        ),
      );
    }
  }

  node(id: DaemonId): Node {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  private to(ids: readonly DaemonId[], ev: RingEvent): void {
    for (const id of ids) this.node(id).feed(ev);
  }

  /** The last regular configuration each daemon installed. */
  private readonly lastRegular = new Map<DaemonId, RingId>();

  /**
   * A regular configuration. Unless given, each member's previous ring is the last regular
   * configuration the harness gave it (none: the new ring itself, as for a fresh daemon).
   */
  regular(ids: readonly DaemonId[], ring: RingId, members: readonly DaemonId[] = ids, previous?: ReadonlyMap<DaemonId, RingId>): void {
    const previousRings = previous ?? new Map(members.map((m) => [m, this.lastRegular.get(m) ?? ring]));
    for (const id of ids) this.lastRegular.set(id, ring);
    this.to(ids, { type: 'regular', ring, members, previousRings, formFields: new Map() });
  }

  transitional(ids: readonly DaemonId[], ring: RingId, previous: RingId, members: readonly DaemonId[] = ids): void {
    this.to(ids, { type: 'transitional', ring, previous, members });
  }

  /** A payload sent by `sender`, delivered in `ring` to `ids`. */
  message(ids: readonly DaemonId[], ring: RingId, sender: DaemonId, payload: Uint8Array, service: ServiceLevel = Service.AGREED, stream = 1): void {
    this.seq++;
    this.to(ids, { type: 'message', ring, seq: this.seq, sender, stream, service, payload });
  }

  request(ids: readonly DaemonId[], ring: RingId, sender: DaemonId, r: GroupRequest, service: ServiceLevel = Service.AGREED): void {
    this.message(ids, ring, sender, encodeGroupRequest(r), service);
  }

  /** What each node wants to submit, drained now (daemon id → payloads in submit order). */
  drainSubmits(ids: readonly DaemonId[]): Map<DaemonId, Uint8Array[]> {
    const out = new Map<DaemonId, Uint8Array[]>();
    for (const id of ids) {
      const list: Uint8Array[] = [];
      const t = this.node(id).table;
      for (let s = t.pollSubmit(); s; s = t.pollSubmit()) {
        if (s.service !== Service.AGREED || s.stream !== 0) throw new Error('state messages must be AGREED on stream 0');
        list.push(s.payload);
      }
      out.set(id, list);
    }
    return out;
  }

  /** Delivers every pending state message of `senders` to `ids`, sender by sender. */
  exchangeStates(ids: readonly DaemonId[], ring: RingId, senders: readonly DaemonId[] = ids): void {
    const subs = this.drainSubmits(senders);
    for (const s of senders) for (const p of subs.get(s)!) this.message(ids, ring, s, p);
  }
}

/** Decoded view of a membership frame, for assertions that are easier to read than bytes. */
export function describe(frame: Uint8Array): {
  type: number;
  group: string;
  members: string[];
  groupId?: { procId: number; time: number; index: number };
  vsSets?: string[][];
  localSetIndex?: number;
  localVsSetOffset?: number;
} {
  const h = decodeHeader(frame);
  const members: string[] = [];
  for (let i = 0; i < h.numGroups; i++) members.push(readName(frame, 48 + 32 * i));
  const data = frame.subarray(48 + 32 * h.numGroups);
  if (h.type & 0x1000) {
    const b = decodeRegMembBody(data, true);
    return { type: h.type, group: h.sender, members, groupId: b.groupId, vsSets: b.vsSets, localSetIndex: b.localSetIndex, localVsSetOffset: b.localVsSetOffset };
  }
  if (h.type & 0x2000) return { type: h.type, group: h.sender, members, groupId: decodeTransitionBody(data, true) };
  return { type: h.type, group: h.sender, members };
}
