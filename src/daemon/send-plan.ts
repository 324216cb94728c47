/**
 * Which datagrams one ring send becomes. Pure (no sockets), so that the choice between a single
 * multicast or broadcast datagram and unicast fan-out can be checked on its own.
 *
 * As in Spread, segments only decide dissemination: within the sender's own segment, a send to
 * several daemons is one datagram to the segment's multicast group or broadcast address when the
 * configuration asks for it; daemons of other segments are reached by unicast, one datagram each
 * (a remote segment's group or broadcast address is not expected to be routed to it). A send to a
 * single daemon, such as a token pass, is always unicast.
 */
import type { DaemonEntry, SegmentEntry } from '../config/index.js';
import type { DaemonId } from '../util/ids.js';

/** One datagram to a segment's multicast group or broadcast address. */
export interface GroupSend {
  kind: 'multicast' | 'broadcast';
  address: string;
  port: number;
  /** The requested destinations this one datagram reaches (each would otherwise be a unicast datagram). */
  covers: DaemonId[];
}

export interface SendPlan {
  /** At most one: the sender's own segment. */
  group: GroupSend | undefined;
  /** Destinations sent one datagram each, in request order. */
  unicast: DaemonId[];
  /** Destinations dropped by the partition fault hook. */
  blocked: DaemonId[];
}

/** The smallest number of requested daemons of the own segment for which a group datagram is used. */
export const GROUP_SEND_DESTINATIONS_MIN = 2;

export class SendPlanner {
  private readonly self: DaemonId;
  private readonly configured: ReadonlySet<DaemonId>;
  /** The own segment, when it is reached by multicast or broadcast. */
  private readonly own: SegmentEntry | undefined;
  /** Daemons of the own segment other than this one. */
  private readonly ownPeers: ReadonlySet<DaemonId>;

  constructor(self: DaemonEntry, daemons: readonly DaemonEntry[], segments: readonly SegmentEntry[] | undefined) {
    this.self = self.id;
    this.configured = new Set(daemons.map((d) => d.id));
    const own = segments?.[self.segment];
    if (own !== undefined && own.dissemination !== 'unicast') {
      if (!own.daemons.some((d) => d.id === self.id)) {
        throw new Error(`daemon ${self.name} is not listed in its segment ${own.address}:${own.port}`);
      }
      this.own = own;
      this.ownPeers = new Set(own.daemons.filter((d) => d.id !== self.id).map((d) => d.id));
    } else {
      this.own = undefined;
      this.ownPeers = new Set();
    }
  }

  /** The multicast or broadcast segment this daemon sends to and listens on, if any. */
  get groupSegment(): SegmentEntry | undefined {
    return this.own;
  }

  /**
   * Plans a send to `to` (duplicates, this daemon and unconfigured ids are skipped). `blocked` is
   * the partition fault hook: blocked daemons get nothing, and while any daemon of the own segment
   * is blocked the segment falls back to unicast, since a group datagram would reach it.
   */
  plan(to: readonly DaemonId[], blocked: ReadonlySet<DaemonId>): SendPlan {
    const wanted: DaemonId[] = [];
    const dropped: DaemonId[] = [];
    const seen = new Set<DaemonId>();
    let inOwn = 0;
    for (const id of to) {
      if (id === this.self || seen.has(id) || !this.configured.has(id)) continue;
      seen.add(id);
      if (blocked.has(id)) {
        dropped.push(id);
        continue;
      }
      wanted.push(id);
      if (this.ownPeers.has(id)) inOwn++;
    }
    const own = this.own;
    if (own === undefined || inOwn < GROUP_SEND_DESTINATIONS_MIN || this.anyBlocked(blocked)) {
      return { group: undefined, unicast: wanted, blocked: dropped };
    }
    return {
      group: {
        kind: own.dissemination === 'broadcast' ? 'broadcast' : 'multicast',
        address: own.address,
        port: own.port,
        covers: wanted.filter((id) => this.ownPeers.has(id)),
      },
      unicast: wanted.filter((id) => !this.ownPeers.has(id)),
      blocked: dropped,
    };
  }

  private anyBlocked(blocked: ReadonlySet<DaemonId>): boolean {
    for (const id of blocked) if (this.ownPeers.has(id)) return true;
    return false;
  }
}
