/**
 * Three real ringcastd processes in one segment (127.0.0.1, .2, .3, one port), clients on each:
 * the ordering guarantees of §8 and the membership messages of §7 as every member observes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { sendMonitorRequest } from '../../src/monitor/control.js';
import { Service, type MembershipMessage, type Received } from '../../src/client/index.js';
import { FAST_TIMEOUTS, recordingClient, startRing, type RecordingClient, type Ring } from '../helpers/ring.js';
import { dataOf, flood, groupEvents, inDaemonOrder, parsePayload, payload, sendBurst } from '../helpers/ring-traffic.js';
import { clientFrame, rawSession } from '../helpers/raw-session.js';
import { MessageType } from '../../src/session/protocol.js';

let ring: Ring;
const clients: RecordingClient[] = [];

beforeAll(async () => {
  ring = await startRing();
}, 40_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.conn.disconnect().catch(() => {})));
  await ring?.close();
}, 20_000);

async function client(daemon: string, name: string): Promise<RecordingClient> {
  const c = await recordingClient(ring, daemon, name);
  clients.push(c);
  return c;
}

/** Clients named `${prefix}${daemon}${k}`, `perDaemon` on each daemon, all joined to `group` and seeing each other. */
async function membersOnEveryDaemon(prefix: string, group: string, perDaemon: number): Promise<RecordingClient[]> {
  const out: RecordingClient[] = [];
  for (const d of ring.names) for (let k = 1; k <= perDaemon; k++) out.push(await client(d, `${prefix}${d.slice(1)}${k}`));
  for (const c of out) await c.joinAndWait(group);
  const n = out.length;
  for (const c of out) {
    await c.until((l) => l.some((m) => m.kind === 'membership' && m.group === group && m.members.length === n), 10_000, `view of ${n} in ${group}`);
  }
  return out;
}

function lastView(log: readonly Received[], group: string): MembershipMessage | undefined {
  for (let i = log.length - 1; i >= 0; i--) {
    const m = log[i]!;
    if (m.kind === 'membership' && m.group === group) return m;
  }
  return undefined;
}

function expectFifo(seq: readonly string[], senders: readonly string[], count: number): void {
  for (const s of senders) {
    const mine = seq.filter((x) => x.startsWith(`${s}:`)).map((x) => Number(x.slice(s.length + 1)));
    expect(mine, `messages of ${s} in send order`).toEqual(Array.from({ length: count }, (_, i) => i));
  }
}

describe('three daemons in one segment', () => {
  it('runs with the configured short membership timeouts and DangerousMonitor', () => {
    const cfg = loadConfig(ring.configFile);
    expect(cfg.timeouts).toEqual(FAST_TIMEOUTS);
    expect(cfg.dangerousMonitor).toBe(true);
    expect(cfg.daemons.map((d) => [d.name, d.address, d.port])).toEqual([
      ['d1', '127.0.0.1', ring.port],
      ['d2', '127.0.0.2', ring.port],
      ['d3', '127.0.0.3', ring.port],
    ]);
  });

  it('delivers AGREED messages from every sender to every receiver in one identical order', async () => {
    const group = 'agreed';
    const members = await membersOnEveryDaemon('a', group, 2);
    const count = 150;
    await Promise.all(members.map((c) => sendBurst(c, group, 'ag', count, 'AGREED')));
    const total = count * members.length;
    await Promise.all(members.map((c) => c.until((l) => dataOf(l, 'ag').length >= total, 20_000, `${total} AGREED messages`)));
    const first = dataOf(members[0]!.log, 'ag');
    expect(first).toHaveLength(total);
    for (const c of members) expect(dataOf(c.log, 'ag'), `order at ${c.name}`).toEqual(first);
    expectFifo(first, members.map((c) => c.name), count);
  }, 40_000);

  it('delivers SAFE messages in one identical order, and AGREED and SAFE share that order', async () => {
    const group = 'safe';
    const members = await membersOnEveryDaemon('s', group, 1);
    const count = 150;
    await Promise.all(members.map((c) => sendBurst(c, group, 'sf', count, 'SAFE')));
    // Then both levels interleaved by every sender.
    await Promise.all(
      members.map(async (c) => {
        for (let i = 0; i < count; i++) await c.conn.multicast(i % 2 ? 'SAFE' : 'AGREED', group, payload('mx', c.name, i));
      }),
    );
    const total = count * members.length;
    await Promise.all(members.map((c) => c.until((l) => dataOf(l, 'sf').length >= total && dataOf(l, 'mx').length >= total, 20_000, 'all SAFE and mixed messages')));
    for (const tag of ['sf', 'mx']) {
      const first = dataOf(members[0]!.log, tag);
      expect(first).toHaveLength(total);
      for (const c of members) expect(dataOf(c.log, tag), `${tag} order at ${c.name}`).toEqual(first);
      expectFifo(first, members.map((c) => c.name), count);
    }
    for (const c of members) {
      const services = c.log.filter((m) => m.kind === 'data' && parsePayload(m.data)?.tag === 'sf').map((m) => (m.kind === 'data' ? m.service : 0));
      expect(new Set(services)).toEqual(new Set([Service.SAFE])); // the level as sent
    }
  }, 40_000);

  it('delivers FIFO messages of each sender in send order to receivers on every daemon', async () => {
    const group = 'fifo';
    const members = await membersOnEveryDaemon('f', group, 2);
    const senders = members.filter((_, i) => i % 2 === 0);
    const count = 200;
    await Promise.all(senders.map((c) => sendBurst(c, group, 'ff', count, 'FIFO')));
    const total = count * senders.length;
    await Promise.all(members.map((c) => c.until((l) => dataOf(l, 'ff').length >= total, 20_000, `${total} FIFO messages`)));
    for (const c of members) {
      const seq = dataOf(c.log, 'ff');
      expect(seq).toHaveLength(total);
      expectFifo(seq, senders.map((s) => s.name), count);
    }
  }, 40_000);

  it('honours SELF_DISCARD: the sender gets no copy, every other member does, with the bit visible', async () => {
    const group = 'selfdiscard';
    const [p1, p2, p3] = await membersOnEveryDaemon('p', group, 1);
    const count = 10;
    await Promise.all([
      (async () => {
        for (let i = 0; i < count; i++) {
          await p1!.conn.multicast('AGREED', group, payload('sdx', p1!.name, i), { selfDiscard: true });
          await p1!.conn.multicast('AGREED', group, payload('sdn', p1!.name, i));
        }
      })(),
      sendBurst(p2!, group, 'sdx', count, 'SAFE', true),
    ]);
    // Once p1 and p2 see their own end markers, every earlier message of the group reached them (total order).
    await p1!.conn.multicast('AGREED', group, payload('end', p1!.name, 0));
    await p2!.conn.multicast('AGREED', group, payload('end', p2!.name, 0));
    for (const c of [p1!, p2!, p3!]) await c.until((l) => dataOf(l, 'end').length === 2, 10_000, 'end markers');
    const sdx = (c: RecordingClient): string[] => dataOf(c.log, 'sdx');
    expect(sdx(p1!).filter((x) => x.startsWith('p11:'))).toEqual([]);
    expect(sdx(p1!).filter((x) => x.startsWith('p21:'))).toHaveLength(count);
    expect(dataOf(p1!.log, 'sdn')).toHaveLength(count);
    expect(sdx(p2!).filter((x) => x.startsWith('p21:'))).toEqual([]);
    expect(sdx(p2!).filter((x) => x.startsWith('p11:'))).toHaveLength(count);
    expect(sdx(p3!)).toHaveLength(2 * count);
    const flags = p3!.log.filter((m) => m.kind === 'data' && parsePayload(m.data)?.tag === 'sdx').map((m) => m.kind === 'data' && m.selfDiscard);
    expect(flags.every(Boolean)).toBe(true);
    const plain = p3!.log.filter((m) => m.kind === 'data' && parsePayload(m.data)?.tag === 'sdn').map((m) => m.kind === 'data' && m.selfDiscard);
    expect(plain.some(Boolean)).toBe(false);
  }, 40_000);

  it('gives every member the same membership messages (ids, member lists, order relative to data) for joins, leaves and disconnects across daemons', async () => {
    const group = 'views';
    const observers = await membersOnEveryDaemon('o', group, 1);
    const floods = observers.map((o) => flood(o, group, 'obs', { windowMessages: 4 }));

    const actor = async (daemon: string, name: string, end: 'leave' | 'disconnect', delayMs: number): Promise<RecordingClient> => {
      await new Promise((r) => setTimeout(r, delayMs));
      const a = await client(daemon, name);
      await a.joinAndWait(group);
      await sendBurst(a, group, 'act', 5);
      await a.until((l) => dataOf(l, 'act').filter((x) => x.startsWith(`${name}:`)).length === 5, 10_000, 'own messages');
      if (end === 'leave') {
        await a.conn.leave(group);
        await a.until((l) => l.some((m) => m.kind === 'self-leave' && m.group === group), 10_000, 'self-leave');
      } else {
        await a.conn.disconnect();
      }
      return a;
    };
    const actors = await Promise.all([
      actor('d1', 'x1', 'leave', 0),
      actor('d2', 'x2', 'disconnect', 0),
      actor('d3', 'x3', 'leave', 5),
      actor('d1', 'x4', 'disconnect', 10),
      actor('d2', 'x5', 'leave', 15),
      actor('d3', 'x6', 'disconnect', 20),
    ]);
    const actorNames = actors.map((a) => a.conn.privateGroup);
    // Every observer must see every actor go away, then all their own messages.
    for (const o of observers) {
      await o.until(
        (l) => actorNames.every((n) => l.some((m) => m.kind === 'membership' && m.group === group && m.reason !== 'join' && m.changed === n)),
        15_000,
        'departures of every actor',
      );
    }
    await Promise.all(floods.map((f) => f.stop()));
    const sent = floods.map((f) => f.sent);
    for (const o of observers) {
      await o.until((l) => observers.every((s, i) => dataOf(l, 'obs').filter((x) => x.startsWith(`${s.name}:`)).length === sent[i]), 10_000, 'all observer messages');
    }

    // 1. The observers' logs of the group, from the moment all three are members, are identical.
    const fromFullView = (c: RecordingClient): string[] => {
      const ev = groupEvents(c.log, group);
      const i = ev.findIndex((e) => e.startsWith('M join') && e.includes(`changed=${observers[2]!.conn.privateGroup} `));
      expect(i, `${c.name} saw the last observer join`).toBeGreaterThanOrEqual(0);
      return ev.slice(i);
    };
    const reference = fromFullView(observers[0]!);
    for (const o of observers) expect(fromFullView(o), `events at ${o.name}`).toEqual(reference);
    expect(reference.filter((e) => e.startsWith('M ')).length).toBe(1 + 2 * actors.length);

    // 2. Lightweight views: one id per change, index +1 each time, members in §7.2 order, vs_set = the changed member.
    const views = observers[0]!.log.filter((m): m is MembershipMessage => m.kind === 'membership' && m.group === group);
    for (let i = 1; i < views.length; i++) {
      const v = views[i]!;
      expect(v.groupId.procId).toBe(views[0]!.groupId.procId);
      expect(v.groupId.time).toBe(views[0]!.groupId.time);
      expect(v.groupId.index).toBe(views[i - 1]!.groupId.index + 1);
    }
    for (const v of views) {
      expect(v.members).toEqual(inDaemonOrder(v.members, ring.names));
      expect(v.vsSets).toEqual([[v.changed]]);
      if (v.reason === 'join') expect(v.members).toContain(v.changed);
      else expect(v.members).not.toContain(v.changed);
    }
    const reasons = new Map(views.filter((v) => v.changed && actorNames.includes(v.changed)).map((v) => [`${v.reason}:${v.changed}`, true]));
    for (const [a, n] of actors.map((a, i) => [a, actorNames[i]!] as const)) {
      expect(reasons.has(`join:${n}`)).toBe(true);
      expect(reasons.has(`${a.name === 'x1' || a.name === 'x3' || a.name === 'x5' ? 'leave' : 'disconnect'}:${n}`)).toBe(true);
    }

    // 3. Each actor saw exactly the observers' events from its own join to its departure.
    for (const a of actors) {
      const n = a.conn.privateGroup;
      const mine = groupEvents(a.log, group);
      expect(mine[0]).toMatch(new RegExp(`^M join .* changed=${n.replace(/[#$]/g, '\\$&')} `));
      const start = reference.indexOf(mine[0]!);
      expect(start, `${a.name}'s join view is in the observers' log`).toBeGreaterThanOrEqual(0);
      const stop = reference.findIndex((e, i) => i > start && (e.startsWith('M leave') || e.startsWith('M disconnect')) && e.includes(`changed=${n} `));
      const between = reference.slice(start, stop);
      if (mine[mine.length - 1] === 'L') {
        expect(mine.slice(0, -1), `${a.name} (left)`).toEqual(between);
      } else {
        // A disconnecting member stops reading at some point: what it got is a prefix.
        expect(between.slice(0, mine.length), `${a.name} (disconnected)`).toEqual(mine);
      }
    }
    // A member that left gets nothing more of the group.
    for (const a of actors.filter((x) => ['x1', 'x3', 'x5'].includes(x.name))) {
      const ev = groupEvents(a.log, group);
      expect(ev.indexOf('L')).toBe(ev.length - 1);
    }
    for (const o of observers) expect(lastView(o.log, group)?.members).toEqual(observers.map((x) => x.conn.privateGroup));
  }, 60_000);

  it('removes a client that closes without SP_disconnect (EOF, then reset) at every member with CAUSED_BY_DISCONNECT, after all it sent before an EOF', async () => {
    const group = 'eof';
    const [w1, w3] = [await client('d1', 'w1'), await client('d3', 'w3')];
    for (const c of [w1, w3]) await c.joinAndWait(group);
    const abrupt = async (name: string, how: 'end' | 'reset'): Promise<string> => {
      const raw = await rawSession({ port: ring.port, host: ring.address('d2') }, name);
      await raw.write(clientFrame(MessageType.JOIN_MESS, raw.privateGroup, [group]));
      for (const c of [w1, w3]) await c.until((l) => l.some((m) => m.kind === 'membership' && m.group === group && m.changed === raw.privateGroup), 10_000, `join of ${name}`);
      const frames = Array.from({ length: 20 }, (_, i) => clientFrame(MessageType.AGREED_MESS, raw.privateGroup, [group], payload('eof', name, i)));
      await raw.write(Buffer.concat(frames));
      if (how === 'end') raw.socket.end();
      else raw.socket.resetAndDestroy();
      for (const c of [w1, w3]) {
        await c.until((l) => l.some((m) => m.kind === 'membership' && m.group === group && m.reason === 'disconnect' && m.changed === raw.privateGroup), 10_000, `disconnect of ${name}`);
      }
      return raw.privateGroup;
    };
    const eofName = await abrupt('e1', 'end');
    await abrupt('e2', 'reset');
    const ev1 = groupEvents(w1.log, group);
    const ev3 = groupEvents(w3.log, group);
    const from = (ev: string[]): string[] => ev.slice(ev.findIndex((e) => e.includes(`changed=${w3.conn.privateGroup} `)));
    expect(from(ev3)).toEqual(from(ev1));
    // Everything the EOF client wrote before closing is delivered, before its disconnect.
    const cut = ev1.findIndex((e) => e.startsWith('M disconnect') && e.includes(`changed=${eofName} `));
    expect(ev1.slice(0, cut).filter((e) => e.startsWith('D e1:'))).toEqual(Array.from({ length: 20 }, (_, i) => `D e1:${i}`));
    expect(ev1.slice(cut).filter((e) => e.startsWith('D e1:'))).toEqual([]);
    expect(lastView(w1.log, group)?.members).toEqual([w1.conn.privateGroup, w3.conn.privateGroup]);
  }, 40_000);

  it('answers status to ringcast monitor, and ignores a partition request from an address outside the configuration', async () => {
    const st = await ring.monitor(['--status']);
    expect(st.code, st.stderr).toBe(0);
    const lines = st.stdout.trim().split('\n').map((l) => JSON.parse(l) as { daemon: string; status?: { ring?: { state?: string; members?: number[] }; blocked?: number[] } });
    const cfg = loadConfig(ring.configFile);
    expect(lines.map((l) => l.daemon)).toEqual(['d1', 'd2', 'd3']);
    for (const l of lines) {
      expect(l.status?.ring?.state).toBe('operational');
      expect([...(l.status?.ring?.members ?? [])].sort()).toEqual(cfg.daemons.map((d) => d.id).sort());
      expect(l.status?.blocked).toEqual([]);
    }
    const d1 = cfg.daemons[0]!;
    await expect(sendMonitorRequest(cfg, d1, { command: 'partition', blocked: [cfg.daemons[2]!.id] }, { bindAddress: '127.0.0.9', timeoutMs: 300 })).rejects.toThrow(/did not answer/);
    const after = await sendMonitorRequest(cfg, d1, { command: 'status' });
    expect(after.ok && (after.status as { blocked?: number[] }).blocked).toEqual([]);
  }, 30_000);
});
