/**
 * Traffic and log analysis for multi-daemon tests: tagged payloads, a windowed flood that keeps
 * every session reading, and canonical forms of what clients received so that the logs of
 * different members can be compared element by element.
 */
import type { Received, ServiceName } from '../../src/client/index.js';
import type { RecordingClient } from './ring.js';

/** Payload "<tag>:<sender>:<index>", padded to `size` bytes. */
export function payload(tag: string, sender: string, index: number, size = 0): string {
  const s = `${tag}:${sender}:${index}`;
  return size > s.length ? s + ' '.repeat(size - s.length) : s;
}

export interface Tagged {
  tag: string;
  sender: string;
  index: number;
}

export function parsePayload(data: Uint8Array): Tagged | undefined {
  const m = /^([^:]+):([^:]+):(\d+)/.exec(Buffer.from(data).toString('latin1'));
  return m ? { tag: m[1]!, sender: m[2]!, index: Number(m[3]) } : undefined;
}

/** Data messages of one tag, in delivery order, as "sender:index". */
export function dataOf(log: readonly Received[], tag: string): string[] {
  const out: string[] = [];
  for (const m of log) {
    if (m.kind !== 'data') continue;
    const p = parsePayload(m.data);
    if (p && p.tag === tag) out.push(`${p.sender}:${p.index}`);
  }
  return out;
}

/** Everything about one group a member received, in order, in a form equal across members. */
export function groupEvents(log: readonly Received[], group: string, tag?: string): string[] {
  const out: string[] = [];
  for (const m of log) out.push(...eventOf(m, group, tag));
  return out;
}

function gidKey(g: { procId: number; time: number; index: number }): string {
  return `${g.procId}.${g.time}.${g.index}`;
}

function eventOf(m: Received, group: string, tag: string | undefined): string[] {
  switch (m.kind) {
    case 'data': {
      if (!m.groups.includes(group)) return [];
      const p = parsePayload(m.data);
      if (tag !== undefined && p?.tag !== tag) return [];
      return [`D ${p ? `${p.sender}:${p.index}` : Buffer.from(m.data).toString('latin1')}`];
    }
    case 'membership':
      if (m.group !== group) return [];
      return [`M ${m.reason} ${gidKey(m.groupId)} [${m.members.join(',')}] changed=${m.changed ?? '-'} vs=${JSON.stringify(m.vsSets)}`];
    case 'transitional':
      return m.group === group ? [`T ${gidKey(m.groupId)}`] : [];
    case 'self-leave':
      return m.group === group ? ['L'] : [];
    case 'reject':
      return [`R ${m.sender}`];
  }
}

export interface FloodHandle {
  /** Messages whose multicast resolved (handed to the daemon's socket), indices 0..sent-1. */
  readonly sent: number;
  /** Stops after the message being sent; resolves when the loop has ended. */
  stop(): Promise<void>;
  /** Set when a send failed (the daemon went away). */
  readonly failed: boolean;
  done: Promise<void>;
}

/**
 * Sends tagged messages as fast as a window allows: at most `windowMessages` of this client's own
 * messages may be sent but not yet delivered back to it (the sender must not use SELF_DISCARD).
 * Stops at `max` messages, on stop(), or when the connection fails.
 */
export function flood(
  c: RecordingClient,
  group: string,
  tag: string,
  opts: { service?: ServiceName | ((i: number) => ServiceName); windowMessages?: number; max?: number; size?: number } = {},
): FloodHandle {
  const windowMessages = opts.windowMessages ?? 32;
  const max = opts.max ?? 1_000_000;
  let sent = 0;
  let failed = false;
  let stopping = false;
  // Counting own deliveries incrementally: the log only grows.
  let scanned = 0;
  let ownDelivered = 0;
  const delivered = (): number => {
    for (; scanned < c.log.length; scanned++) {
      const m = c.log[scanned]!;
      if (m.kind !== 'data') continue;
      const p = parsePayload(m.data);
      if (p && p.tag === tag && p.sender === c.name) ownDelivered++;
    }
    return ownDelivered;
  };
  const done = (async () => {
    while (!stopping && sent < max && !c.closed) {
      if (sent - delivered() >= windowMessages) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      const service = typeof opts.service === 'function' ? opts.service(sent) : (opts.service ?? 'AGREED');
      try {
        await c.conn.multicast(service, group, payload(tag, c.name, sent, opts.size ?? 0));
      } catch {
        failed = true;
        break;
      }
      sent++;
    }
  })();
  return {
    get sent() {
      return sent;
    },
    get failed() {
      return failed;
    },
    done,
    async stop() {
      stopping = true;
      await done;
    },
  };
}

/** Sends `count` tagged messages back to back (each awaited into the socket). */
export async function sendBurst(c: RecordingClient, group: string, tag: string, count: number, service: ServiceName = 'AGREED', selfDiscard = false): Promise<void> {
  for (let i = 0; i < count; i++) await c.conn.multicast(service, group, payload(tag, c.name, i), { selfDiscard });
}

/** Members of a membership message in §7.2 order: daemon position in the configuration, then name. */
export function inDaemonOrder(members: readonly string[], daemonOrder: readonly string[]): string[] {
  const pos = (m: string): number => daemonOrder.indexOf(m.slice(m.lastIndexOf('#') + 1));
  return [...members].sort((a, b) => pos(a) - pos(b) || (a < b ? -1 : a > b ? 1 : 0));
}
