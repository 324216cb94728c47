/**
 * Real ringcastd processes on 127.0.0.1, .2, .3 whose segment is reached by one datagram per send:
 * a multicast group (TTL 0, so nothing leaves this host) and, with SegmentBroadcast, the loopback
 * broadcast address. Clients on every daemon must see one order, and the transport counters must
 * show group datagrams standing in for unicast fan-out and really arriving at the other daemons.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type RingcastConfig } from '../../src/config/index.js';
import type { TransportStats } from '../../src/daemon/udp-transport.js';
import { sendMonitorRequest } from '../../src/monitor/control.js';
import { recordingClient, startRing, type RecordingClient, type Ring } from '../helpers/ring.js';
import { dataOf, sendBurst } from '../helpers/ring-traffic.js';
import { multicastOnLoopback, randomGroup } from '../daemon/multicast-probe.js';

const LOOPBACK_BROADCAST = '127.255.255.255';

async function statsOf(cfg: RingcastConfig, name: string): Promise<TransportStats> {
  const d = cfg.daemons.find((x) => x.name === name);
  if (!d) throw new Error(`no daemon ${name}`);
  const r = await sendMonitorRequest(cfg, d, { command: 'status' });
  if (!r.ok) throw new Error(`status of ${name}: ${r.error}`);
  return (r.status as { transport: TransportStats }).transport;
}

/** A stopped ring (from startRing) whose segment address is replaced, then started d1, d2 first and d3 after they formed a ring. */
async function startWithSegment(address: string, extraConfig: string): Promise<Ring> {
  const ring = await startRing({ start: false, extraConfig });
  try {
    const text = readFileSync(ring.configFile, 'utf8');
    const segmentLine = `Spread_Segment ${LOOPBACK_BROADCAST}:`;
    if (!text.includes(segmentLine)) throw new Error(`the ring configuration has no '${segmentLine}' line:\n${text}`);
    writeFileSync(ring.configFile, text.replace(segmentLine, `Spread_Segment ${address}:`));
    // d3 starts while d1 and d2 run a ring it is not in: their group datagrams reach it too.
    await Promise.all([ring.start('d1'), ring.start('d2')]);
    await ring.waitForRegular(['d1', 'd2'], ['d1', 'd2'], 20_000);
    await ring.start('d3');
    await ring.waitForRegular(ring.names, ring.names, 20_000);
  } catch (e) {
    await ring.close();
    throw e;
  }
  return ring;
}

/** Two clients on every daemon, joined to `group`, then `count` AGREED messages from each. */
async function agreedOrder(ring: Ring, clients: RecordingClient[], group: string, tag: string, count: number): Promise<string[]> {
  const members: RecordingClient[] = [];
  for (const d of ring.names) {
    for (let k = 1; k <= 2; k++) {
      const c = await recordingClient(ring, d, `${tag}${d.slice(1)}${k}`);
      clients.push(c);
      members.push(c);
    }
  }
  for (const c of members) await c.joinAndWait(group);
  const n = members.length;
  for (const c of members) {
    await c.until((l) => l.some((m) => m.kind === 'membership' && m.group === group && m.members.length === n), 10_000, `view of ${n}`);
  }
  await Promise.all(members.map((c) => sendBurst(c, group, tag, count, 'AGREED')));
  const total = count * n;
  await Promise.all(members.map((c) => c.until((l) => dataOf(l, tag).length >= total, 20_000, `${total} AGREED messages`)));
  const first = dataOf(members[0]!.log, tag);
  expect(first).toHaveLength(total);
  for (const c of members) expect(dataOf(c.log, tag), `order at ${c.name}`).toEqual(first);
  for (const c of members) {
    const mine = first.filter((x) => x.startsWith(`${c.name}:`)).map((x) => Number(x.slice(c.name.length + 1)));
    expect(mine, `messages of ${c.name} in send order`).toEqual(Array.from({ length: count }, (_, i) => i));
  }
  return first;
}

const multicastWorks = await multicastOnLoopback();

/**
 * Runs `exchange` and checks each daemon's transport counters across it: every daemon sent `kind`
 * datagrams and nothing of the other group kind, each of them stood in for the unicast copies to
 * both others, the others' arrived through the group socket, the daemon's own came back and were
 * dropped, and nothing was rejected.
 */
async function expectGroupSends(
  ring: Ring,
  cfg: RingcastConfig,
  kind: 'multicast' | 'broadcast',
  exchange: () => Promise<unknown>,
): Promise<{ before: TransportStats[]; after: TransportStats[] }> {
  const sent = (s: TransportStats) => (kind === 'multicast' ? s.multicastSent : s.broadcastSent);
  const otherKind = (s: TransportStats) => (kind === 'multicast' ? s.broadcastSent : s.multicastSent);
  const before = await Promise.all(ring.names.map((n) => statsOf(cfg, n)));
  await exchange();
  const after = await Promise.all(ring.names.map((n) => statsOf(cfg, n)));
  ring.names.forEach((name, i) => {
    const b = before[i]!;
    const a = after[i]!;
    const datagrams = sent(a) - sent(b);
    // Every daemon sent data, and each of its ring sends reached both others with one datagram.
    expect(datagrams, `${kind} datagrams of ${name}`).toBeGreaterThan(0);
    expect(a.groupCoveredPeers - b.groupCoveredPeers, `peers covered by ${name}'s ${kind}`).toBe(2 * datagrams);
    expect(otherKind(a), name).toBe(0);
    expect(a.groupReceived - b.groupReceived, `${kind} received by ${name}`).toBeGreaterThan(0);
    expect(a.droppedSelfLooped - b.droppedSelfLooped, `own ${kind} looped back to ${name}`).toBeGreaterThan(0);
    expect(a.droppedWrongSource + a.droppedUnknownSender + a.droppedConfigHash, `rejected datagrams at ${name}`).toBe(0);
  });
  return { before, after };
}

describe.skipIf(!multicastWorks)('three daemons in a multicast segment on loopback', () => {
  let ring: Ring;
  let cfg: RingcastConfig;
  const clients: RecordingClient[] = [];

  beforeAll(async () => {
    ring = await startWithSegment(randomGroup(), 'MulticastTTL = 0');
    cfg = loadConfig(ring.configFile);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.conn.disconnect().catch(() => {})));
    await ring?.close();
  }, 20_000);

  it('reads the segment as multicast with the configured TTL', () => {
    expect(cfg.segments[0]).toMatchObject({ dissemination: 'multicast', multicastTtl: 0, multicastLoop: true });
  });

  it('delivers AGREED messages in one order on every daemon, sent as multicast instead of fan-out', async () => {
    const { before, after } = await expectGroupSends(ring, cfg, 'multicast', () => agreedOrder(ring, clients, 'mc', 'mc', 100));
    // Fan-out would have sent one unicast datagram for every covered peer: the multicast sends replaced more than they cost.
    const saved = after.reduce((s, a, i) => s + (a.groupCoveredPeers - before[i]!.groupCoveredPeers) - (a.multicastSent - before[i]!.multicastSent), 0);
    expect(saved).toBeGreaterThan(0);
  }, 60_000);

  it('keeps a one-sided partition exact: the blocked daemon falls back to unicast, the others drop its traffic on receipt', async () => {
    const d1 = cfg.daemons[0]!;
    const d2 = cfg.daemons[1]!;
    const d3 = cfg.daemons[2]!;
    // Only d3 is told: with multicast, d1's and d2's datagrams still reach it and must be dropped there.
    expect(await sendMonitorRequest(cfg, d3, { command: 'partition', blocked: [d1.id, d2.id] })).toEqual({ ok: true });
    try {
      await ring.waitForRegular(['d1', 'd2'], ['d1', 'd2'], 15_000);
      await ring.waitForRegular(['d3'], ['d3'], 15_000);
      const b3 = await statsOf(cfg, 'd3');
      await new Promise((r) => setTimeout(r, 500));
      const a3 = await statsOf(cfg, 'd3');
      // d3 sends no group datagram while it blocks daemons of its segment, and keeps dropping what d1 and d2 send to the group.
      expect(a3.multicastSent).toBe(b3.multicastSent);
      expect(a3.droppedBlocked).toBeGreaterThan(b3.droppedBlocked);
    } finally {
      expect(await sendMonitorRequest(cfg, d3, { command: 'heal' })).toEqual({ ok: true });
    }
    await ring.waitForRegular(ring.names, ring.names, 20_000);
  }, 60_000);
});

describe('three daemons in a broadcast segment on loopback (SegmentBroadcast)', () => {
  let ring: Ring;
  let cfg: RingcastConfig;
  const clients: RecordingClient[] = [];

  beforeAll(async () => {
    ring = await startWithSegment(LOOPBACK_BROADCAST, 'SegmentBroadcast = yes');
    cfg = loadConfig(ring.configFile);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.conn.disconnect().catch(() => {})));
    await ring?.close();
  }, 20_000);

  it('delivers AGREED messages in one order on every daemon, sent as broadcast instead of fan-out', async () => {
    expect(cfg.segments[0]?.dissemination).toBe('broadcast');
    await expectGroupSends(ring, cfg, 'broadcast', () => agreedOrder(ring, clients, 'bc', 'bc', 100));
  }, 60_000);
});

describe('the unicast ring of the other tests', () => {
  it('sends no group datagram when the segment address is not a group and SegmentBroadcast is off', async () => {
    const ring = await startRing();
    try {
      const cfg = loadConfig(ring.configFile);
      expect(cfg.segments[0]?.dissemination).toBe('unicast');
      const clients: RecordingClient[] = [];
      try {
        await agreedOrder(ring, clients, 'uc', 'uc', 20);
      } finally {
        await Promise.all(clients.map((c) => c.conn.disconnect().catch(() => {})));
      }
      for (const n of ring.names) {
        const s = await statsOf(cfg, n);
        expect(s.sent, n).toBeGreaterThan(0);
        expect([s.multicastSent, s.broadcastSent, s.groupCoveredPeers, s.groupReceived, s.droppedSelfLooped], n).toEqual([0, 0, 0, 0, 0]);
      }
    } finally {
      await ring.close();
    }
  }, 60_000);
});
