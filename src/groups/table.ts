/**
 * The sans-IO group table: Spread's process groups on top of the EVS-ordered ring stream.
 *
 * Input: every RingEvent in delivery order (messages, transitional and regular configurations).
 * Output: encoded daemon→client frames for local sessions (pollOutput) and the group-state
 * messages this daemon must send through the ring (pollSubmit). No IO, no clocks.
 *
 * Model (after Spread's groups.c, restated for Ringcast):
 * - In a regular configuration every daemon holds the same view of every group, because joins,
 *   leaves and kills are applied in the total order. A view is named by a group id
 *   (memb_id = the ring it was formed in, index = +1 per join/leave/disconnect). A group that a
 *   configuration change left untouched keeps its id, and its next view starts the new ring's
 *   count (see stepViewId). Ids are made in view-ids.ts.
 * - A transitional configuration removes the members of daemons that did not come along; a group
 *   that lost members is "changed": its local members get TRANSITION_MESS with the id of the view
 *   that ends, and until the next regular view the joins/leaves/kills in it are announced as
 *   network views followed by another TRANSITION_MESS (EVS: they happen inside the transitional
 *   view), under ids named after the old ring and the next one. A join sent from a daemon that
 *   did not come along, delivered here, still takes effect (the daemons it left may have
 *   delivered it in the regular configuration): its member is partitioned, its group changed,
 *   and the member is dropped at the next regular configuration, as Spread does.
 * - On a regular configuration whose members all came through our transitional configuration
 *   (a purely subtractive change) the views are still agreed: changed groups get (new ring, 1) and
 *   a CAUSED_BY_NETWORK view at once. Otherwise daemons that did not share our views joined, and
 *   every member runs the group-state exchange: each daemon sends its own members of every group
 *   with the id and size of the view it held. Ring events delivered before the last state
 *   message are held back and applied, in order, once the exchange completes, so every daemon
 *   switches views at the same point of the total order.
 * - A new regular configuration before the exchange completes abandons it: the held events are
 *   applied to the views each daemon still had (they were delivered in that order to every
 *   member of the transitional configuration), then the exchange starts over for the new ring.
 *   Those views are agreed only among the daemons that held the same views before the exchange
 *   (its lineage: the ring they were last agreed in, then each abandoned exchange and the ring
 *   after it), so they are named under that lineage until an exchange completes.
 */
import type { RingEvent, SubmittedMessage } from '../ring/types.js';
import type { DaemonId, RingId } from '../util/ids.js';
import { ringIdEquals, ringIdKey } from '../util/ids.js';
import { Service } from '../util/service.js';
import type { GroupId } from '../session/codec.js';
import { MessageType } from '../session/protocol.js';
import { compareMembers, DaemonDirectory, type DaemonEntry, type MemberRef } from './directory.js';
import { dataFrameRoute, encodeRejectFrame, regMembFrame, selfLeaveFrame, transitionFrame } from './frames.js';
import { hasBase, nextLineage, regularGid, ringLineage, transitionalGid, type ViewBase } from './view-ids.js';
import {
  decodeGroupPayload,
  encodeStateParts,
  STATE_MESSAGE_BYTES_MIN,
  type GroupPayload,
  type GroupStatePayload,
  type LocalGroupState,
} from './payload.js';

export interface GroupTableOptions {
  self: DaemonId;
  /** This daemon's name: local private groups are '#name#selfName'. */
  selfName: string;
  /** Every configured daemon in configuration order (member lists follow it, §7.2). */
  daemons: readonly { id: DaemonId; name: string }[];
  /** Bound on distinct groups known; a JOIN that would create one more is rejected. */
  groupsMax: number;
  /** Members of one group on one daemon (Spread: 3122); a JOIN beyond it is rejected (§7.5). */
  localMembersPerGroupMax: number;
  /** Largest group-state message this table submits, in bytes (default 60 000). */
  stateMessageBytesMax?: number;
}

export type GroupOutput =
  | {
      kind: 'deliver';
      /** Private group names of local sessions; the same frame object goes to each. */
      to: readonly string[];
      frame: Uint8Array;
      /** REG_MEMB / TRANSITION / self-leave: only for sessions that asked for membership messages. */
      membership: boolean;
    }
  | { kind: 'killed'; member: string };

export interface GroupView {
  name: string;
  groupId: GroupId;
  /** Private group names in member order (§7.2). */
  members: readonly string[];
}

export interface GroupTableStats {
  groups: number;
  /** Sum of the group sizes (a session in three groups counts three times). */
  members: number;
  malformedPayloads: number;
  rejects: number;
}

/** The ring stream the table submits its state messages on; sessions use 1 and up. */
export const GROUP_STATE_STREAM = 0;

const STATE_MESSAGE_BYTES_DEFAULT = 60_000;

interface Group {
  name: string;
  gid: GroupId;
  /** In member order. */
  members: MemberRef[];
  /** Members per daemon (for localMembersPerGroupMax, which every daemon checks alike). */
  perDaemon: Map<DaemonId, number>;
  /** Lost members in a transitional configuration; owes its members a regular network view. */
  changed: boolean;
  /** Names of the local members, in member order; rebuilt after a change (never mutated). */
  locals: readonly string[] | undefined;
}

interface Contribution {
  daemon: DaemonEntry;
  gid: GroupId;
  changed: boolean;
  viewSize: number;
  members: MemberRef[];
}

type Held =
  | { kind: 'transitional'; ev: Extract<RingEvent, { type: 'transitional' }> }
  | { kind: 'request'; sender: DaemonId; payload: Exclude<GroupPayload, GroupStatePayload> };

interface SenderProgress {
  nextPart: number;
  parts: number;
  done: boolean;
}

interface Exchange {
  ring: RingId;
  members: readonly DaemonId[];
  /** The regular configuration each member came from (vs_sets group members by it). */
  previousRings: ReadonlyMap<DaemonId, RingId>;
  progress: Map<DaemonId, SenderProgress>;
  remaining: number;
  /** group name → daemon id → contribution */
  states: Map<string, Map<DaemonId, Contribution>>;
  held: Held[];
  /** The lineage of the views this daemon held when the exchange began (see GroupTable.lineage). */
  lineage: ViewBase;
}

/**
 * Order of vs_sets (§7.2): by the membership id the members shared before, proc_id compared as a
 * signed 32-bit value (Spread subtracts them in C), then time; unknown ids last. Then by the
 * group id they held, so that views that differed in one ring stay apart.
 */
function compareVsKeys(a: VsKey, b: VsKey): number {
  if (a.previous === undefined || b.previous === undefined) {
    if (a.previous !== b.previous) return a.previous === undefined ? 1 : -1;
  } else {
    const c = compareI32(a.previous.rep, b.previous.rep) || compareI32(a.previous.seq, b.previous.seq);
    if (c !== 0) return c;
  }
  return compareI32(a.gid.procId, b.gid.procId) || compareI32(a.gid.time, b.gid.time) || compareI32(a.gid.index, b.gid.index);
}

function compareI32(a: number, b: number): number {
  const x = a | 0;
  const y = b | 0;
  return x < y ? -1 : x > y ? 1 : 0;
}

interface VsKey {
  previous: RingId | undefined;
  gid: GroupId;
}

function sameGid(a: GroupId, b: GroupId): boolean {
  return a.procId === b.procId && a.time === b.time && a.index === b.index;
}

/** Index of `m` in the sorted `list`, or -(insertion point) - 1. */
function searchMember(list: readonly MemberRef[], m: MemberRef): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareMembers(list[mid]!, m);
    if (c < 0) lo = mid + 1;
    else if (c > 0) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

export class GroupTable {
  private readonly self: DaemonId;
  private readonly selfName: string;
  private readonly dir: DaemonDirectory;
  private readonly groupsMax: number;
  private readonly localMembersPerGroupMax: number;
  private readonly stateMessageBytesMax: number;

  private readonly table = new Map<string, Group>();
  /** member name → names of the groups it is in */
  private readonly memberGroups = new Map<string, Set<string>>();
  private membershipCount = 0;

  /** Daemons of the configuration events are currently delivered in (transitional or regular). */
  private config: Set<DaemonId>;
  private regularRing: RingId;
  private transitionalRing: RingId | undefined;
  /**
   * Last id of each group that emptied in the current configuration: a group created again under
   * the same ring continues from it, so two views never share an id. Cleared on every
   * configuration change (later ids are under another ring).
   */
  private readonly retiredGids = new Map<string, GroupId>();
  /** The regular ring the current transitional configuration comes from. */
  private transitionalPrevious: RingId | undefined;
  /**
   * Undefined while views are known to be the same at every daemon of `config`. After an
   * abandoned exchange they are the same only at the daemons that held the same views before it
   * and went on together; the lineage names that history, and views formed under it take it as
   * their id's base, so that daemons holding other views never name theirs alike.
   */
  private lineage: ViewBase | undefined;
  private exchange: Exchange | undefined;

  private readonly outputs: GroupOutput[] = [];
  private outputHead = 0;
  private readonly submits: SubmittedMessage[] = [];
  private submitHead = 0;

  private malformed = 0;
  private rejects = 0;

  constructor(opts: GroupTableOptions) {
    if (!Number.isInteger(opts.groupsMax) || opts.groupsMax < 0) throw new RangeError('groupsMax must be a non-negative integer');
    if (!Number.isInteger(opts.localMembersPerGroupMax) || opts.localMembersPerGroupMax < 0) {
      throw new RangeError('localMembersPerGroupMax must be a non-negative integer');
    }
    this.self = opts.self;
    this.selfName = opts.selfName;
    this.dir = new DaemonDirectory(opts.daemons);
    const me = this.dir.daemonById(opts.self);
    if (!me || me.name !== opts.selfName) {
      throw new RangeError(`daemon ${opts.selfName} (id ${opts.self}) must be listed in daemons with that name and id`);
    }
    this.groupsMax = opts.groupsMax;
    this.localMembersPerGroupMax = opts.localMembersPerGroupMax;
    this.stateMessageBytesMax = opts.stateMessageBytesMax ?? STATE_MESSAGE_BYTES_DEFAULT;
    if (!Number.isInteger(this.stateMessageBytesMax) || this.stateMessageBytesMax < STATE_MESSAGE_BYTES_MIN) {
      throw new RangeError(`stateMessageBytesMax must be an integer of at least ${STATE_MESSAGE_BYTES_MIN}`);
    }
    this.config = new Set([opts.self]);
    this.regularRing = { rep: opts.self, seq: 0 };
  }

  // ---- polls and getters ----

  pollOutput(): GroupOutput | undefined {
    if (this.outputHead >= this.outputs.length) return undefined;
    const out = this.outputs[this.outputHead++];
    if (this.outputHead === this.outputs.length) {
      this.outputs.length = 0;
      this.outputHead = 0;
    }
    return out;
  }

  pollSubmit(): SubmittedMessage | undefined {
    if (this.submitHead >= this.submits.length) return undefined;
    const s = this.submits[this.submitHead++];
    if (this.submitHead === this.submits.length) {
      this.submits.length = 0;
      this.submitHead = 0;
    }
    return s;
  }

  groups(): ReadonlyMap<string, GroupView> {
    const out = new Map<string, GroupView>();
    for (const g of this.table.values()) {
      out.set(g.name, { name: g.name, groupId: { ...g.gid }, members: g.members.map((m) => m.name) });
    }
    return out;
  }

  stats(): GroupTableStats {
    return { groups: this.table.size, members: this.membershipCount, malformedPayloads: this.malformed, rejects: this.rejects };
  }

  /** True while a group-state exchange is collecting states (events are being held back). */
  exchanging(): boolean {
    return this.exchange !== undefined;
  }

  // ---- input ----

  handleRingEvent(ev: RingEvent): void {
    const ex = this.exchange;
    if (ex) {
      switch (ev.type) {
        case 'regular':
          this.abandonExchange(ev.ring);
          this.onRegular(ev);
          return;
        case 'transitional':
          ex.held.push({ kind: 'transitional', ev });
          return;
        case 'message': {
          const p = this.decode(ev.payload);
          if (!p) return;
          if (p.kind === 'state') this.onState(ev.sender, p);
          else ex.held.push({ kind: 'request', sender: ev.sender, payload: p });
          return;
        }
      }
    }
    switch (ev.type) {
      case 'regular':
        this.onRegular(ev);
        return;
      case 'transitional':
        this.onTransitional(ev);
        return;
      case 'message': {
        const p = this.decode(ev.payload);
        // A state message outside an exchange belongs to one that is over (or was abandoned).
        if (p && p.kind !== 'state') this.onRequest(ev.sender, p);
        return;
      }
    }
  }

  private decode(payload: Uint8Array): GroupPayload | undefined {
    const p = decodeGroupPayload(payload);
    if (!p) this.malformed++;
    return p;
  }

  // ---- configuration changes ----

  private onTransitional(ev: Extract<RingEvent, { type: 'transitional' }>): void {
    const keep = new Set(ev.members);
    keep.add(this.self);
    this.transitionalRing = ev.ring;
    this.transitionalPrevious = ev.previous;
    // Under a lineage, ids stay under its base across the transitional step: an emptied group
    // created again continues its index there.
    if (this.lineage === undefined) this.retiredGids.clear();
    this.cut(keep, ev.ring);
    this.config = keep;
  }

  /**
   * Id of a view formed inside the current transitional configuration. The engine names every
   * transitional configuration after the regular ring that follows (view-ids.ts).
   */
  private transitionalGid(index: number): GroupId {
    const t = this.transitionalRing!;
    return transitionalGid(this.transitionalPrevious ?? t, t, index);
  }

  /**
   * EVS transitional step: members of daemons outside `keep` are gone. Groups that lose members
   * tell their local members (TRANSITION_MESS with the id of the view that ends) unless they are
   * already in a transitional view, and take the id (transitional ring, 1).
   */
  private cut(keep: ReadonlySet<DaemonId>, ring: RingId): void {
    for (const name of [...this.table.keys()].sort()) {
      const g = this.table.get(name)!;
      if (!g.members.some((m) => !keep.has(m.daemon.id))) continue;
      const gone = g.members.filter((m) => !keep.has(m.daemon.id));
      for (const m of gone) this.removeMember(g, m);
      if (g.members.length === 0) {
        this.table.delete(name);
        this.retiredGids.set(name, g.gid);
        continue;
      }
      if (!g.changed) {
        const locals = this.localsOf(g);
        if (locals.length > 0) this.deliver(locals, transitionFrame(g.name, g.gid), true);
      }
      // While views are not agreed (an exchange was abandoned), daemons that held different
      // views move into the same transitional ring: keeping the old id keeps them apart.
      if (this.lineage === undefined) g.gid = this.transitionalRing !== undefined ? this.transitionalGid(-1) : regularGid(ring, 1);
      g.changed = true;
    }
  }

  private onRegular(ev: Extract<RingEvent, { type: 'regular' }>): void {
    this.retiredGids.clear();
    const members = new Set(ev.members);
    if (!members.has(this.self)) {
      // The engine never delivers a configuration without its own daemon; such an event is
      // ignored rather than letting it erase the local sessions' groups.
      this.malformed++;
      return;
    }
    if (this.transitionalRing === undefined) {
      // No transitional configuration came first (only at start): members of daemons that are
      // not in the new configuration are cut as a transitional step would.
      const keep = new Set([...this.config].filter((d) => members.has(d)));
      this.cut(keep, ev.ring);
      this.config = keep;
    }
    this.dropPartitioned(members);
    const subtractive = this.lineage === undefined && ev.members.every((d) => this.config.has(d));
    const previousRegular = this.regularRing;
    this.transitionalRing = undefined;
    this.regularRing = ev.ring;
    this.config = members;
    if (subtractive) {
      for (const name of [...this.table.keys()].sort()) {
        const g = this.table.get(name)!;
        if (!g.changed) continue;
        g.gid = regularGid(ev.ring, 1);
        g.changed = false;
        this.sendNetworkView(g, [g.members]);
      }
      return;
    }
    // The views held now are those of the previous regular ring (agreed there, and the same at
    // every daemon that came from it, through the same transitional configuration) or, while
    // unsynced, those of this daemon's lineage.
    const lineage = this.lineage ?? ringLineage(previousRegular);
    this.startExchange(ev.ring, ev.members, ev.previousRings, lineage);
  }

  /**
   * Members that joined from daemons outside the transitional configuration (see onJoin) leave
   * with the regular configuration that follows; their groups are changed already, so the next
   * network view tells the rest.
   */
  private dropPartitioned(members: ReadonlySet<DaemonId>): void {
    for (const name of [...this.table.keys()].sort()) {
      const g = this.table.get(name)!;
      if (!g.changed || g.members.every((m) => members.has(m.daemon.id))) continue;
      for (const m of g.members.filter((x) => !members.has(x.daemon.id))) this.removeMember(g, m);
      if (g.members.length === 0) {
        this.table.delete(name);
        this.retiredGids.set(name, g.gid);
      }
    }
  }

  private startExchange(ring: RingId, members: readonly DaemonId[], previousRings: ReadonlyMap<DaemonId, RingId>, lineage: ViewBase): void {
    const state: LocalGroupState[] = [];
    for (const name of [...this.table.keys()].sort()) {
      const g = this.table.get(name)!;
      const locals = g.members.filter((m) => m.daemon.id === this.self);
      if (locals.length === 0) continue;
      state.push({
        group: g.name,
        groupId: g.gid,
        changed: g.changed,
        viewSize: g.members.length,
        members: locals.map((m) => m.name.slice(1, m.name.length - this.selfName.length - 1)),
      });
    }
    for (const payload of encodeStateParts(ring, state, this.stateMessageBytesMax)) {
      this.submits.push({ service: Service.AGREED, stream: GROUP_STATE_STREAM, payload });
    }
    const progress = new Map<DaemonId, SenderProgress>();
    for (const d of members) progress.set(d, { nextPart: 0, parts: 0, done: false });
    this.exchange = { ring, members, previousRings, progress, remaining: progress.size, states: new Map(), held: [], lineage };
  }

  private onState(sender: DaemonId, p: GroupStatePayload): void {
    const ex = this.exchange!;
    if (!ringIdEquals(p.ring, ex.ring)) return; // an earlier exchange's message
    const prog = ex.progress.get(sender);
    if (!prog || prog.done || p.part !== prog.nextPart || (prog.parts !== 0 && p.parts !== prog.parts)) {
      this.malformed++;
      return;
    }
    const daemon = this.dir.daemonById(sender);
    if (daemon) {
      for (const e of p.entries) {
        const refs: MemberRef[] = [];
        for (const user of e.members) {
          const ref = this.dir.member(`#${user}#${daemon.name}`);
          if (ref) refs.push(ref);
          else this.malformed++;
        }
        let byDaemon = ex.states.get(e.group);
        if (!byDaemon) {
          byDaemon = new Map();
          ex.states.set(e.group, byDaemon);
        }
        const c = byDaemon.get(sender);
        if (c) c.members.push(...refs);
        else byDaemon.set(sender, { daemon, gid: e.groupId, changed: e.changed, viewSize: e.viewSize, members: refs });
      }
    }
    prog.parts = p.parts;
    prog.nextPart++;
    if (prog.nextPart === prog.parts) {
      prog.done = true;
      ex.remaining--;
      if (ex.remaining === 0) this.completeExchange();
    }
  }

  /**
   * Every member's state is in: compute the views of the new configuration. A group keeps its id
   * only if every contribution carries the same id and view size, none lost members, and together
   * they make up the whole view; otherwise it gets (new ring, 1) and a network view whose vs_sets
   * are the members that were together before: same previous regular configuration of their
   * daemon and same group id held there.
   */
  private completeExchange(): void {
    const ex = this.exchange!;
    this.exchange = undefined;
    this.table.clear();
    this.memberGroups.clear();
    this.membershipCount = 0;

    const changedGroups: { g: Group; sets: MemberRef[][] }[] = [];
    for (const name of [...ex.states.keys()].sort()) {
      const contributions = [...ex.states.get(name)!.values()].filter((c) => c.members.length > 0);
      if (contributions.length === 0) continue;
      const first = contributions[0]!;
      const total = contributions.reduce((n, c) => n + c.members.length, 0);
      const unchanged = contributions.every(
        (c) => sameGid(c.gid, first.gid) && !c.changed && c.viewSize === first.viewSize && c.viewSize === total,
      );
      const g: Group = {
        name,
        gid: unchanged ? { ...first.gid } : regularGid(ex.ring, 1),
        members: [],
        perDaemon: new Map(),
        changed: false,
        locals: undefined,
      };
      const all = contributions.flatMap((c) => c.members).sort(compareMembers);
      for (const m of all) {
        // Each daemon reports only its own members, so duplicates mean a malformed state.
        if (g.members.length > 0 && compareMembers(g.members[g.members.length - 1]!, m) === 0) continue;
        this.insertMember(g, m, g.members.length);
      }
      this.table.set(name, g);
      if (!unchanged) {
        const byKey = new Map<string, { key: VsKey; members: MemberRef[] }>();
        for (const c of contributions) {
          const previous = ex.previousRings.get(c.daemon.id);
          const id = `${previous ? ringIdKey(previous) : '-'}/${c.gid.procId}.${c.gid.time}.${c.gid.index}`;
          const set = byKey.get(id);
          if (set) set.members.push(...c.members);
          else byKey.set(id, { key: { previous, gid: c.gid }, members: [...c.members] });
        }
        const sets = [...byKey.values()].sort((a, b) => compareVsKeys(a.key, b.key)).map((s) => s.members.sort(compareMembers));
        changedGroups.push({ g, sets });
      }
    }
    this.lineage = undefined;
    this.config = new Set(ex.members);
    this.regularRing = ex.ring;
    this.transitionalRing = undefined;
    for (const { g, sets } of changedGroups) this.sendNetworkView(g, sets);
    this.replay(ex.held);
  }

  /**
   * A new regular configuration `next` arrived mid-exchange: apply what was held to the views we
   * had. Every daemon that goes into `next` from the exchange's ring delivered the same held
   * events (EVS), but only those that held the same views before the exchange hold the same
   * views now: views formed from here on are named under the new lineage.
   */
  private abandonExchange(next: RingId): void {
    const ex = this.exchange!;
    this.exchange = undefined;
    this.lineage = nextLineage(ex.lineage, ex.ring, next);
    this.replay(ex.held);
  }

  private replay(held: readonly Held[]): void {
    for (const h of held) {
      if (h.kind === 'transitional') this.onTransitional(h.ev);
      else this.onRequest(h.sender, h.payload);
    }
  }

  // ---- requests in total order ----

  private onRequest(sender: DaemonId, p: Exclude<GroupPayload, GroupStatePayload>): void {
    switch (p.kind) {
      case 'join':
        this.onJoin(sender, p.member, p.group);
        return;
      case 'leave':
        this.onLeave(sender, p.member, p.group);
        return;
      case 'kill':
        this.onKill(sender, p.member);
        return;
      case 'data':
        this.onData(sender, p.frame);
        return;
    }
  }

  /** The member, if its name is well formed and it belongs to the daemon that sent the request. */
  private requester(sender: DaemonId, member: string): MemberRef | undefined {
    const ref = this.dir.member(member);
    if (!ref || ref.daemon.id !== sender) {
      this.malformed++;
      return undefined;
    }
    return ref;
  }

  private onJoin(sender: DaemonId, member: string, groupName: string): void {
    const ref = this.requester(sender, member);
    if (!ref) return;
    // A join from a daemon outside the transitional configuration was sent in the regular one,
    // where other daemons may have delivered it (EVS only requires the daemons that move on
    // together to agree): it takes effect here too, as in Spread, with the joiner as a member of
    // a partitioned daemon, so the group is changed and the joiner is dropped at the next regular
    // configuration. In a regular configuration every sender is a member.
    const partitioned = !this.config.has(ref.daemon.id);
    if (partitioned && this.transitionalRing === undefined) return;
    let g = this.table.get(groupName);
    const pos = g ? searchMember(g.members, ref) : -1;
    if (g && pos >= 0) return; // already a member: silently ignored (§6.3)
    const onDaemon = g?.perDaemon.get(ref.daemon.id) ?? 0;
    if ((!g && this.table.size >= this.groupsMax) || onDaemon >= this.localMembersPerGroupMax) {
      this.rejects++;
      if (ref.daemon.id === this.self) this.deliver([member], encodeRejectFrame(member, groupName), false);
      return;
    }
    if (!g) {
      g = {
        name: groupName,
        gid: this.retiredGids.get(groupName) ?? this.newGroupGid(),
        members: [],
        perDaemon: new Map(),
        changed: false,
        locals: undefined,
      };
      this.table.set(groupName, g);
    }
    this.insertMember(g, ref, -pos - 1);
    this.stepViewId(g);
    if (partitioned) g.changed = true;
    const locals = this.localsOf(g);
    if (locals.length === 0) return;
    if (g.changed) {
      // Joined inside a transitional view: a network view with the joiner in its own last set,
      // then the transitional view continues (§7.2).
      this.sendNetworkView(g, [g.members.filter((m) => m !== ref), [ref]]);
      this.deliver(locals, transitionFrame(g.name, g.gid), true);
    } else {
      this.deliver(locals, regMembFrame(g.name, MessageType.CAUSED_BY_JOIN, g.members.map((m) => m.name), g.gid, [[member]], 0), true);
    }
  }

  private onLeave(sender: DaemonId, member: string, groupName: string): void {
    const ref = this.requester(sender, member);
    // Members of daemons outside the configuration are gone, except those that joined after the
    // cut (see onJoin): a leave or kill of theirs still takes effect.
    if (!ref) return;
    const g = this.table.get(groupName);
    if (!g) return;
    const pos = searchMember(g.members, ref);
    if (pos < 0) return; // not a member: silently ignored (§6.3)
    if (ref.daemon.id === this.self) this.deliver([member], selfLeaveFrame(g.name), true);
    this.departed(g, g.members[pos]!, MessageType.CAUSED_BY_LEAVE);
  }

  private onKill(sender: DaemonId, member: string): void {
    const ref = this.requester(sender, member);
    if (!ref) return;
    const names = this.memberGroups.get(member);
    if (names) {
      for (const name of [...names].sort()) {
        const g = this.table.get(name)!;
        const pos = searchMember(g.members, ref);
        if (pos >= 0) this.departed(g, g.members[pos]!, MessageType.CAUSED_BY_DISCONNECT);
      }
    }
    if (ref.daemon.id === this.self) this.outputs.push({ kind: 'killed', member });
  }

  /**
   * A new view of the group after a join, leave or disconnect: index + 1 under the base of the
   * configuration it is formed in (§7.2); inside a transitional configuration the transitional
   * id counting down (see transitionalGid); under a lineage, the lineage's base.
   *
   * A group that no configuration change touched keeps its id across the change (Spread), but
   * its next view starts the new ring's count at 1 rather than stepping the old ring's index:
   * daemons that left the old ring through different transitional configurations delivered
   * different last messages of it (EVS lets one deliver in the regular configuration what
   * another delivers in its transitional one, or never), so the old ring's next indexes may
   * already name other views elsewhere. Only the members of a regular ring step its indexes, all
   * in the same order.
   */
  private stepViewId(g: Group): void {
    if (this.lineage !== undefined) {
      const base = this.lineage;
      g.gid = hasBase(g.gid, base) && g.gid.index > 0 ? { ...g.gid, index: g.gid.index + 1 } : { procId: base.procId, time: base.time, index: 1 };
      return;
    }
    if (this.transitionalRing !== undefined) {
      const t = this.transitionalGid(-1);
      const inT = g.gid.index < 0 && hasBase(g.gid, t);
      g.gid = inT ? { ...g.gid, index: g.gid.index - 1 } : t;
      return;
    }
    const r = regularGid(this.regularRing, 1);
    g.gid = g.gid.index >= 0 && hasBase(g.gid, r) ? { ...g.gid, index: g.gid.index + 1 } : r;
  }

  /** Id of a group before its first view (stepViewId turns it into the first view's). */
  private newGroupGid(): GroupId {
    if (this.lineage !== undefined) return { procId: this.lineage.procId, time: this.lineage.time, index: 0 };
    return regularGid(this.transitionalRing ?? this.regularRing, 0);
  }

  /** Removes a member that left or disconnected and tells the rest of the group. */
  private departed(g: Group, m: MemberRef, cause: number): void {
    this.removeMember(g, m);
    if (g.members.length === 0) {
      this.table.delete(g.name);
      this.retiredGids.set(g.name, g.gid);
      return;
    }
    this.stepViewId(g);
    const locals = this.localsOf(g);
    if (locals.length === 0) return;
    if (g.changed) {
      this.sendNetworkView(g, [g.members]);
      this.deliver(locals, transitionFrame(g.name, g.gid), true);
    } else {
      this.deliver(locals, regMembFrame(g.name, cause, g.members.map((x) => x.name), g.gid, [[m.name]], 0), true);
    }
  }

  /**
   * A data frame goes, once, to every local member of every destination group and to every local
   * session named as a private-group destination; with SELF_DISCARD not to its sender (§6.1,
   * §6.2). The frame is forwarded unchanged.
   */
  private onData(sender: DaemonId, frame: Uint8Array): void {
    const route = dataFrameRoute(frame);
    const from = this.dir.member(route.sender);
    if (!from || from.daemon.id !== sender) {
      this.malformed++;
      return;
    }
    const selfDiscard = (route.type & MessageType.SELF_DISCARD) !== 0;
    if (route.groups.length === 1 && !selfDiscard) {
      // The common case: one ordinary group, its local members as they are.
      const g = this.table.get(route.groups[0]!);
      if (g) {
        const locals = this.localsOf(g);
        if (locals.length > 0) this.deliver(locals, frame, false);
        return;
      }
    }
    const to = new Set<string>();
    for (const dest of route.groups) {
      if (dest.charCodeAt(0) === 0x23) {
        const ref = this.dir.member(dest);
        if (ref && ref.daemon.id === this.self) to.add(dest);
        continue;
      }
      const g = this.table.get(dest);
      if (g) for (const name of this.localsOf(g)) to.add(name);
    }
    if (selfDiscard) to.delete(route.sender);
    if (to.size > 0) this.deliver([...to], frame, false);
  }

  // ---- membership bookkeeping ----

  private localsOf(g: Group): readonly string[] {
    if (!g.locals) g.locals = this.localNames(g.members);
    return g.locals;
  }

  private insertMember(g: Group, m: MemberRef, at: number): void {
    g.members.splice(at, 0, m);
    if (m.daemon.id === this.self) g.locals = undefined;
    g.perDaemon.set(m.daemon.id, (g.perDaemon.get(m.daemon.id) ?? 0) + 1);
    let set = this.memberGroups.get(m.name);
    if (!set) {
      set = new Set();
      this.memberGroups.set(m.name, set);
    }
    set.add(g.name);
    this.membershipCount++;
  }

  private removeMember(g: Group, m: MemberRef): void {
    const pos = searchMember(g.members, m);
    if (pos < 0) return;
    g.members.splice(pos, 1);
    if (m.daemon.id === this.self) g.locals = undefined;
    const n = (g.perDaemon.get(m.daemon.id) ?? 1) - 1;
    if (n > 0) g.perDaemon.set(m.daemon.id, n);
    else g.perDaemon.delete(m.daemon.id);
    const set = this.memberGroups.get(m.name);
    if (set) {
      set.delete(g.name);
      if (set.size === 0) this.memberGroups.delete(m.name);
    }
    this.membershipCount--;
  }

  private localNames(members: readonly MemberRef[]): string[] {
    const out: string[] = [];
    for (const m of members) if (m.daemon.id === this.self) out.push(m.name);
    return out;
  }

  // ---- output ----

  /**
   * REG_MEMB_MESS | CAUSED_BY_NETWORK with the given vs_sets; each local member's copy points at
   * its own set (one frame per set that holds local members).
   */
  private sendNetworkView(g: Group, sets: readonly (readonly MemberRef[])[]): void {
    const all = g.members.map((m) => m.name);
    const setNames = sets.map((s) => s.map((m) => m.name));
    sets.forEach((set, i) => {
      const locals = this.localNames(set);
      if (locals.length === 0) return;
      this.deliver(locals, regMembFrame(g.name, MessageType.CAUSED_BY_NETWORK, all, g.gid, setNames, i), true);
    });
  }

  private deliver(to: readonly string[], frame: Uint8Array, membership: boolean): void {
    this.outputs.push({ kind: 'deliver', to, frame, membership });
  }
}
