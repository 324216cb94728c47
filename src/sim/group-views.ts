/**
 * Process groups in the simulator: a GroupTable per simulated daemon, fed with its engine's ring
 * events in delivery order and submitting its group-state messages back into the engine (as the
 * daemon's pump does, src/daemon/daemon.ts), and simulated client sessions per daemon that join,
 * leave and disconnect from groups and send data frames at random service levels. Every frame a
 * session receives is decoded with the client codec and recorded in a GroupHistory for the group
 * view checker (group-checker.ts).
 *
 * Sessions belong to one daemon incarnation: a crash ends them, a restarted daemon opens new ones
 * (new private names, so a name never means two different sessions).
 */
import { GroupTable, decodeGroupPayload, encodeGroupRequest, type GroupId, type GroupRequest } from '../groups/index.js';
import type { RingEvent, SubmittedMessage } from '../ring/types.js';
import { decodeMessage, decodeRegMembBody, decodeTransitionBody, encodeMessage, makeHint } from '../session/codec.js';
import { MessageType } from '../session/protocol.js';
import type { DaemonId } from '../util/ids.js';
import { Service, type ServiceLevel } from '../util/service.js';
import { Prng } from './prng.js';

export interface GroupClientOptions {
  /** Sessions open at each daemon at a time (a disconnected one is replaced). */
  sessionsPerDaemon: number;
  /** Group names the sessions join, leave and send to. */
  groups: readonly string[];
  /** Mean session actions (join, leave, disconnect, send) per second per daemon. */
  actionsPerSecond: number;
  services: readonly ServiceLevel[];
  /** Bound on requests waiting for the engine at one daemon; beyond it sessions wait. */
  backlogRequestsMax: number;
}

export function defaultGroupClientOptions(): GroupClientOptions {
  return {
    sessionsPerDaemon: 3,
    groups: ['g0', 'g1', 'g2'],
    actionsPerSecond: 40,
    services: [Service.UNRELIABLE, Service.RELIABLE, Service.FIFO, Service.CAUSAL, Service.AGREED, Service.SAFE],
    backlogRequestsMax: 64,
  };
}

/** What one session received (decoded frames) and asked for, in order. */
export type SessionEvent =
  | { kind: 'view'; atMs: number; group: string; groupId: GroupId; members: readonly string[]; cause: number; vsSets: readonly (readonly string[])[] }
  | { kind: 'transition'; atMs: number; group: string; groupId: GroupId }
  | { kind: 'selfLeave'; atMs: number; group: string }
  | { kind: 'reject'; atMs: number; group: string }
  | { kind: 'data'; atMs: number; id: string; sender: string; groups: readonly string[]; service: ServiceLevel; selfDiscard: boolean }
  | { kind: 'request'; atMs: number; request: 'join' | 'leave' | 'disconnect' | 'send'; group?: string; id?: string };

export interface SessionHistory {
  /** Private group name '#user#daemon'. */
  name: string;
  daemon: DaemonId;
  incarnation: number;
  openedAtMs: number;
  closedAtMs?: number;
  end?: 'disconnect' | 'crash' | 'leave';
  events: SessionEvent[];
}

export interface GroupHistory {
  sessions: SessionHistory[];
  /** Frames a session could not decode (a codec or table fault). */
  undecodable: { atMs: number; session: string; problem: string }[];
}

/** Service bits of a data frame's type. */
const SERVICE_MASK = MessageType.REGULAR_MESS;
const SESSION_STREAM_BASE = 64;

interface Session {
  hist: SessionHistory;
  stream: number;
  open: boolean;
  /** Groups it asked to join and has not asked to leave (its own idea; views decide). */
  joined: Set<string>;
  sent: number;
}

interface DaemonGroups {
  table: GroupTable;
  incarnation: number;
  sessions: Session[];
  byName: Map<string, Session>;
  backlog: SubmittedMessage[];
}

function serviceOf(type: number): ServiceLevel {
  const bits = type & SERVICE_MASK;
  for (const s of [Service.SAFE, Service.AGREED, Service.CAUSAL, Service.FIFO, Service.RELIABLE, Service.UNRELIABLE]) {
    if ((bits & s) !== 0) return s;
  }
  return Service.UNRELIABLE;
}

export class GroupLayer {
  readonly options: GroupClientOptions;
  private readonly ids: readonly DaemonId[];
  private readonly names: readonly string[];
  private readonly rng: Prng;
  private readonly daemons: (DaemonGroups | undefined)[];
  /** Sessions opened per daemon slot over the whole run (names stay unique). */
  private readonly serials: number[];
  private readonly history: GroupHistory = { sessions: [], undecodable: [] };

  constructor(seed: number, ids: readonly DaemonId[], names: readonly string[], options: GroupClientOptions) {
    if (!(options.sessionsPerDaemon >= 1) || options.groups.length === 0 || options.services.length === 0 || !(options.backlogRequestsMax >= 1)) {
      throw new RangeError('group clients need at least one session, one group, one service and room for one request');
    }
    this.options = options;
    this.ids = ids;
    this.names = names;
    this.rng = new Prng(seed).fork('group-clients');
    this.daemons = ids.map(() => undefined);
    this.serials = ids.map(() => 0);
  }

  /** The clients' own random stream (their timing too), apart from every other. */
  get random(): Prng {
    return this.rng;
  }

  start(index: number, incarnation: number, atMs: number): void {
    const table = new GroupTable({
      self: this.ids[index]!,
      selfName: this.names[index]!,
      daemons: this.ids.map((id, i) => ({ id, name: this.names[i]! })),
      groupsMax: 1000,
      localMembersPerGroupMax: 3122,
    });
    const d: DaemonGroups = { table, incarnation, sessions: [], byName: new Map(), backlog: [] };
    this.daemons[index] = d;
    for (let i = 0; i < this.options.sessionsPerDaemon; i++) this.openSession(index, d, atMs);
  }

  stop(index: number, atMs: number, how: 'crash' | 'leave'): void {
    const d = this.daemons[index];
    if (d === undefined) return;
    for (const s of d.sessions) this.closeSession(s, atMs, how);
    this.daemons[index] = undefined;
  }

  /** True if the payload is group traffic (the core's client payloads are not). */
  isGroupPayload(payload: Uint8Array): boolean {
    return decodeGroupPayload(payload) !== undefined;
  }

  /**
   * A ring event at daemon `index`: configurations and group messages go to its table (anything
   * else is the core's own traffic). Returns true if the event was group traffic.
   */
  handleEvent(index: number, ev: RingEvent, atMs: number): boolean {
    const d = this.daemons[index];
    if (ev.type === 'message' && !this.isGroupPayload(ev.payload)) return false;
    if (d === undefined) return ev.type === 'message';
    d.table.handleRingEvent(ev);
    for (let out = d.table.pollOutput(); out !== undefined; out = d.table.pollOutput()) {
      if (out.kind !== 'deliver') continue;
      for (const name of out.to) {
        const s = d.byName.get(name);
        if (s !== undefined && s.open) this.receive(s, out.frame, atMs);
      }
    }
    for (let sub = d.table.pollSubmit(); sub !== undefined; sub = d.table.pollSubmit()) d.backlog.push(sub);
    return ev.type === 'message';
  }

  /** Submit waiting requests in order until the engine refuses one; true if any went in. */
  flush(index: number, submit: (m: SubmittedMessage) => boolean): boolean {
    const d = this.daemons[index];
    if (d === undefined) return false;
    let n = 0;
    while (n < d.backlog.length && submit(d.backlog[n]!)) n++;
    if (n > 0) d.backlog.splice(0, n);
    return n > 0;
  }

  /** Nothing waits to be submitted and no group-state exchange is under way. */
  settled(index: number): boolean {
    const d = this.daemons[index];
    return d === undefined || (d.backlog.length === 0 && !d.table.exchanging());
  }

  /** One session action at daemon `index`, drawn from the clients' stream. */
  act(index: number, atMs: number): void {
    const d = this.daemons[index];
    if (d === undefined) return;
    // Back-pressure: sessions wait while the daemon's requests queue up behind the engine.
    if (d.backlog.length >= this.options.backlogRequestsMax) return;
    const open = d.sessions.filter((s) => s.open);
    while (open.length < this.options.sessionsPerDaemon) open.push(this.openSession(index, d, atMs));
    const s = this.rng.pick(open);
    const groups = this.options.groups;
    const roll = this.rng.float();
    if (roll < 0.25) {
      const g = this.rng.pick(groups);
      s.joined.add(g);
      this.request(d, s, { kind: 'join', member: s.hist.name, group: g }, atMs, 'join', g);
    } else if (roll < 0.35 && s.joined.size > 0) {
      const g = this.rng.pick([...s.joined].sort());
      s.joined.delete(g);
      this.request(d, s, { kind: 'leave', member: s.hist.name, group: g }, atMs, 'leave', g);
    } else if (roll < 0.38) {
      this.request(d, s, { kind: 'kill', member: s.hist.name }, atMs, 'disconnect');
      this.closeSession(s, atMs, 'disconnect');
    } else {
      this.send(d, s, atMs);
    }
  }

  result(): GroupHistory {
    return this.history;
  }

  private openSession(index: number, d: DaemonGroups, atMs: number): Session {
    const serial = this.serials[index]!;
    this.serials[index] = serial + 1;
    const name = `#u${serial}#${this.names[index]!}`;
    const hist: SessionHistory = { name, daemon: this.ids[index]!, incarnation: d.incarnation, openedAtMs: atMs, events: [] };
    this.history.sessions.push(hist);
    const s: Session = { hist, stream: SESSION_STREAM_BASE + (serial % 4096), open: true, joined: new Set(), sent: 0 };
    d.sessions.push(s);
    d.byName.set(name, s);
    return s;
  }

  private closeSession(s: Session, atMs: number, how: 'disconnect' | 'crash' | 'leave'): void {
    if (!s.open) return;
    s.open = false;
    s.hist.closedAtMs = atMs;
    s.hist.end = how;
  }

  private request(d: DaemonGroups, s: Session, r: GroupRequest, atMs: number, what: 'join' | 'leave' | 'disconnect' | 'send', group?: string, id?: string, service: ServiceLevel = Service.AGREED): void {
    s.hist.events.push({ kind: 'request', atMs, request: what, ...(group === undefined ? {} : { group }), ...(id === undefined ? {} : { id }) });
    d.backlog.push({ service, stream: s.stream, payload: encodeGroupRequest(r) });
  }

  /** A data frame to one or two groups, sometimes also to another session's private group, sometimes with SELF_DISCARD. */
  private send(d: DaemonGroups, s: Session, atMs: number): void {
    const groups = this.options.groups;
    const dest = new Set<string>([this.rng.pick(groups)]);
    if (this.rng.chance(0.2)) dest.add(this.rng.pick(groups));
    if (this.rng.chance(0.1)) {
      const others = d.sessions.filter((x) => x.open && x !== s);
      if (others.length > 0) dest.add(this.rng.pick(others).hist.name);
    }
    const service = this.rng.pick(this.options.services);
    const selfDiscard = this.rng.chance(0.2);
    const id = `${s.hist.name}/${s.sent++}`;
    const body = new Uint8Array(Buffer.from(id, 'latin1'));
    const frame = encodeMessage({
      type: service | (selfDiscard ? MessageType.SELF_DISCARD : 0),
      sender: s.hist.name,
      groups: [...dest],
      hint: makeHint(0),
      data: body,
    });
    this.request(d, s, { kind: 'data', frame }, atMs, 'send', [...dest].join(','), id, service);
  }

  private receive(s: Session, frame: Uint8Array, atMs: number): void {
    try {
      const m = decodeMessage(frame, 'daemon-to-client');
      const type = m.header.type;
      const le = m.header.littleEndian;
      if ((type & MessageType.REJECT_MESS) !== 0) {
        s.hist.events.push({ kind: 'reject', atMs, group: m.groups[0] ?? '' });
      } else if ((type & MessageType.REG_MEMB_MESS) !== 0) {
        const body = decodeRegMembBody(m.data, le);
        s.hist.events.push({ kind: 'view', atMs, group: m.header.sender, groupId: body.groupId, members: m.groups, cause: type & ~MessageType.REG_MEMB_MESS, vsSets: body.vsSets });
      } else if ((type & MessageType.TRANSITION_MESS) !== 0) {
        s.hist.events.push({ kind: 'transition', atMs, group: m.header.sender, groupId: decodeTransitionBody(m.data, le) });
      } else if ((type & MessageType.CAUSED_BY_LEAVE) !== 0 && m.groups.length === 0) {
        s.hist.events.push({ kind: 'selfLeave', atMs, group: m.header.sender });
      } else if ((type & SERVICE_MASK) !== 0) {
        s.hist.events.push({
          kind: 'data',
          atMs,
          id: Buffer.from(m.data).toString('latin1'),
          sender: m.header.sender,
          groups: m.groups,
          service: serviceOf(type),
          selfDiscard: (type & MessageType.SELF_DISCARD) !== 0,
        });
      } else {
        this.history.undecodable.push({ atMs, session: s.hist.name, problem: `frame of type 0x${type.toString(16)}` });
      }
    } catch (e) {
      this.history.undecodable.push({ atMs, session: s.hist.name, problem: e instanceof Error ? e.message : String(e) });
    }
  }
}
