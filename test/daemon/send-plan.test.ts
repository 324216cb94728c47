/**
 * How the configuration asks for multicast or broadcast (Dissemination of each segment), and which
 * datagrams one ring send becomes (SendPlanner): one group datagram within the own segment where
 * asked, unicast to everyone else, tokens always unicast, the partition hook respected.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig, type RingcastConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/util/errors.js';
import type { DaemonId } from '../../src/util/ids.js';
import { GROUP_SEND_DESTINATIONS_MIN, SendPlanner } from '../../src/daemon/send-plan.js';

function ids(cfg: RingcastConfig, ...names: string[]): DaemonId[] {
  return names.map((n) => {
    const d = cfg.daemons.find((x) => x.name === n);
    if (!d) throw new Error(`no daemon ${n}`);
    return d.id;
  });
}

function planner(cfg: RingcastConfig, self: string): SendPlanner {
  const d = cfg.daemons.find((x) => x.name === self)!;
  return new SendPlanner(d, cfg.daemons, cfg.segments);
}

function configError(text: string): ConfigError {
  try {
    parseConfig(text, 'seg.conf');
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('the configuration was accepted');
}

const LOOPBACK_3 = 'Spread_Segment 127.255.255.255:4803 {\n d1 127.0.0.1\n d2 127.0.0.2\n d3 127.0.0.3\n}\n';

/** Three segments: a multicast one (a1..a3), a multicast one (b1, b2), and a unicast one (c1, c2). */
const WIDE = [
  'Spread_Segment 239.192.0.1:4803 {\n a1 10.0.0.1\n a2 10.0.0.2\n a3 10.0.0.3\n}',
  'Spread_Segment 239.192.0.2:4803 {\n b1 10.1.0.1\n b2 10.1.0.2\n}',
  'Spread_Segment 10.2.0.255:4803 {\n c1 10.2.0.1\n c2 10.2.0.2\n}',
  '',
].join('\n');

describe('segment dissemination in the configuration', () => {
  it('keeps an ordinary segment address unicast, as every loopback configuration expects', () => {
    const cfg = parseConfig(LOOPBACK_3, 'lo.conf');
    expect(cfg.segments[0]).toMatchObject({ dissemination: 'unicast', multicastTtl: 1, multicastLoop: true });
    expect(cfg.segmentBroadcast).toBe(false);
    const one = parseConfig('Spread_Segment 127.0.0.1:4803 { d1 127.0.0.1 d2 127.0.0.2 }', 'lo.conf');
    expect(one.segments[0]?.dissemination).toBe('unicast');
  });

  it('reads an IPv4 class-D or IPv6 ff00::/8 segment address as multicast, and a one-daemon segment as unicast', () => {
    expect(parseConfig('Spread_Segment 225.1.2.3:4803 { a 10.0.0.1 b 10.0.0.2 }', 'm.conf').segments[0]?.dissemination).toBe('multicast');
    expect(parseConfig('Spread_Segment [ff15::7]:4803 { a 2001:db8::1 b 2001:db8::2 }', 'm6.conf').segments[0]?.dissemination).toBe('multicast');
    expect(parseConfig('Spread_Segment 225.1.2.3:4803 { a 10.0.0.1 }', 'm.conf').segments[0]?.dissemination).toBe('unicast');
    const cfg = parseConfig(WIDE, 'wide.conf');
    expect(cfg.segments.map((s) => s.dissemination)).toEqual(['multicast', 'multicast', 'unicast']);
  });

  it('uses broadcast only with SegmentBroadcast, for IPv4 segments of several daemons', () => {
    const cfg = parseConfig(`${LOOPBACK_3}SegmentBroadcast = yes\n`, 'b.conf');
    expect(cfg.segmentBroadcast).toBe(true);
    expect(cfg.segments[0]?.dissemination).toBe('broadcast');
    const mixed = parseConfig(`${WIDE}SegmentBroadcast = on\n`, 'b.conf');
    expect(mixed.segments.map((s) => s.dissemination)).toEqual(['multicast', 'multicast', 'broadcast']);
    // The limited broadcast address reaches every network.
    expect(parseConfig('Spread_Segment 255.255.255.255:4803 { a 10.0.0.1 b 192.168.0.1 }\nSegmentBroadcast = true', 'b.conf').segments[0]?.dissemination).toBe('broadcast');
    // A single daemon needs no broadcast, whatever its segment address; IPv6 has no broadcast.
    expect(parseConfig('Spread_Segment 127.0.0.1:4803 { a 127.0.0.1 }\nSpread_Segment 127.0.0.1:4805 { b 127.0.0.1 }\nSegmentBroadcast = true', 'b.conf').segments.map((s) => s.dissemination)).toEqual(['unicast', 'unicast']);
    expect(parseConfig('Spread_Segment [2001:db8::ff]:4803 { a 2001:db8::1 b 2001:db8::2 }\nSegmentBroadcast = true', 'b.conf').segments[0]?.dissemination).toBe('unicast');
  });

  it('refuses SegmentBroadcast with a segment address that is not the broadcast address of its daemons, naming file, line and the address to write', () => {
    const e = configError('# x\nSpread_Segment 127.0.0.1:4803 {\n d1 127.0.0.1\n d2 127.0.0.2\n}\nSegmentBroadcast = yes\n');
    expect(e.line).toBe(2);
    expect(e.message).toMatch(/^seg\.conf:2: SegmentBroadcast \(line 6\): segment address 127\.0\.0\.1 is not the broadcast address/);
    expect(e.message).toContain('127.0.0.3 for 127.0.0.0/30');
    const wide = configError('Spread_Segment 10.0.0.255:4803 { a 10.0.0.1 b 10.0.1.1 }\nSegmentBroadcast = yes');
    expect(wide.message).toContain('10.0.1.255 for 10.0.0.0/23');
    // A daemon on the broadcast address itself.
    expect(configError('Spread_Segment 10.0.0.3:4803 { a 10.0.0.1 b 10.0.0.3 }\nSegmentBroadcast = yes').message).toContain('is not the broadcast address');
  });

  it('takes MulticastTTL 0..255 and MulticastLoop as a boolean', () => {
    const cfg = parseConfig('Spread_Segment 239.1.1.1:4803 { a 10.0.0.1 b 10.0.0.2 }\nMulticastTTL = 0\nMulticastLoop = off\n', 'm.conf');
    expect(cfg.segments[0]).toMatchObject({ multicastTtl: 0, multicastLoop: false });
    expect([cfg.multicastTtl, cfg.multicastLoop]).toEqual([0, false]);
    expect(configError('Spread_Segment 239.1.1.1 { a 10.0.0.1 }\nMulticastTTL = 256').message).toBe('seg.conf:2: MulticastTTL = 256 is out of range (0 to 255)');
    expect(configError('Spread_Segment 239.1.1.1 { a 10.0.0.1 }\nMulticastLoop = maybe').message).toMatch(/^seg\.conf:2: MulticastLoop must be true or false/);
    expect(configError('Spread_Segment 239.1.1.1 { a 10.0.0.1 }\nMulticastTTL = 2\nMulticastTTL = 3').message).toBe('seg.conf:3: MulticastTTL is given twice (first on line 2)');
  });

  it('puts broadcast into the configuration hash, and leaves the hash of every other configuration as it was', () => {
    const plain = parseConfig(LOOPBACK_3, 'a.conf').hash;
    expect(parseConfig(`${LOOPBACK_3}SegmentBroadcast = yes`, 'a.conf').hash).not.toBe(plain);
    expect(parseConfig(`${LOOPBACK_3}SegmentBroadcast = no\nMulticastTTL = 4\nMulticastLoop = no`, 'a.conf').hash).toBe(plain);
    // Broadcast asked for, but no segment can use it: nothing changes.
    const single = 'Spread_Segment 127.0.0.1:4803 { a 127.0.0.1 }\nSpread_Segment 127.0.0.1:4805 { b 127.0.0.1 }\n';
    expect(parseConfig(`${single}SegmentBroadcast = yes`, 'a.conf').hash).toBe(parseConfig(single, 'a.conf').hash);
  });
});

describe('SendPlanner', () => {
  const none = new Set<DaemonId>();

  it('fans out by unicast in a unicast segment', () => {
    const cfg = parseConfig(LOOPBACK_3, 'lo.conf');
    expect(planner(cfg, 'd1').plan(ids(cfg, 'd2', 'd3'), none)).toEqual({ group: undefined, unicast: ids(cfg, 'd2', 'd3'), blocked: [] });
    expect(planner(cfg, 'd1').groupSegment).toBeUndefined();
  });

  it('sends one multicast datagram for several daemons of the own segment, and the token by unicast', () => {
    const cfg = parseConfig(WIDE, 'wide.conf');
    const p = planner(cfg, 'a1');
    expect(p.groupSegment?.address).toBe('239.192.0.1');
    expect(p.plan(ids(cfg, 'a2', 'a3'), none)).toEqual({
      group: { kind: 'multicast', address: '239.192.0.1', port: 4803, covers: ids(cfg, 'a2', 'a3') },
      unicast: [],
      blocked: [],
    });
    expect(p.plan(ids(cfg, 'a2'), none)).toEqual({ group: undefined, unicast: ids(cfg, 'a2'), blocked: [] });
    expect(GROUP_SEND_DESTINATIONS_MIN).toBe(2);
  });

  it('reaches other segments by unicast to each daemon, whatever their dissemination', () => {
    const cfg = parseConfig(WIDE, 'wide.conf');
    const all = ids(cfg, 'a1', 'a2', 'a3', 'b1', 'b2', 'c1', 'c2');
    const fromA = planner(cfg, 'a1').plan(all, none);
    expect(fromA.group?.covers).toEqual(ids(cfg, 'a2', 'a3'));
    expect(fromA.unicast).toEqual(ids(cfg, 'b1', 'b2', 'c1', 'c2'));
    // b1's own segment holds one other daemon: one unicast datagram costs what a multicast would.
    const fromB = planner(cfg, 'b1').plan(all, none);
    expect(fromB.group).toBeUndefined();
    expect(fromB.unicast).toEqual(ids(cfg, 'a1', 'a2', 'a3', 'b2', 'c1', 'c2'));
    // A unicast segment's daemon never sends to a group.
    const fromC = planner(cfg, 'c1').plan(all, none);
    expect(fromC.group).toBeUndefined();
    expect(fromC.unicast).toEqual(ids(cfg, 'a1', 'a2', 'a3', 'b1', 'b2', 'c2'));
  });

  it('names broadcast segments as broadcast', () => {
    const cfg = parseConfig(`${LOOPBACK_3}SegmentBroadcast = yes`, 'b.conf');
    expect(planner(cfg, 'd2').plan(ids(cfg, 'd1', 'd3'), none).group).toEqual({ kind: 'broadcast', address: '127.255.255.255', port: 4803, covers: ids(cfg, 'd1', 'd3') });
  });

  it('skips itself, repeats and unconfigured ids', () => {
    const cfg = parseConfig(WIDE, 'wide.conf');
    const [a1, a2, a3, c1] = ids(cfg, 'a1', 'a2', 'a3', 'c1');
    const plan = planner(cfg, 'a1').plan([a1!, a2!, c1!, a2!, 12345 as DaemonId, a3!, c1!], none);
    expect(plan).toEqual({ group: { kind: 'multicast', address: '239.192.0.1', port: 4803, covers: [a2, a3] }, unicast: [c1], blocked: [] });
  });

  it('falls back to unicast in the own segment while any of its daemons is blocked, and never sends to a blocked daemon', () => {
    const cfg = parseConfig(WIDE, 'wide.conf');
    const p = planner(cfg, 'a1');
    const [a2, a3, b1, c1] = ids(cfg, 'a2', 'a3', 'b1', 'c1');
    // Blocked and requested.
    expect(p.plan([a2!, a3!, c1!], new Set([a3!]))).toEqual({ group: undefined, unicast: [a2, c1], blocked: [a3] });
    // Blocked but not requested: a multicast datagram would still reach it.
    const cfg4 = parseConfig('Spread_Segment 239.1.1.1:4803 { a 10.0.0.1 b 10.0.0.2 c 10.0.0.3 d 10.0.0.4 }', 'm.conf');
    const [b, c, d] = ids(cfg4, 'b', 'c', 'd');
    expect(planner(cfg4, 'a').plan([b!, c!], new Set([d!]))).toEqual({ group: undefined, unicast: [b, c], blocked: [] });
    // A blocked daemon of another segment does not stop the group datagram.
    expect(p.plan([a2!, a3!, b1!], new Set([b1!]))).toEqual({ group: { kind: 'multicast', address: '239.192.0.1', port: 4803, covers: [a2, a3] }, unicast: [], blocked: [b1] });
  });

  it('reaches every requested daemon exactly once, by group only within the own segment (property)', () => {
    const cfg = parseConfig(`${WIDE}SegmentBroadcast = yes`, 'wide.conf');
    const all = cfg.daemons.map((d) => d.id);
    const idArb = fc.oneof(fc.constantFrom(...all), fc.constant(99 as DaemonId));
    fc.assert(
      fc.property(fc.constantFrom(...cfg.daemons), fc.array(idArb, { maxLength: 12 }), fc.subarray(all), (self, to, blockedList) => {
        const blocked = new Set(blockedList);
        const plan = new SendPlanner(self, cfg.daemons, cfg.segments).plan(to, blocked);
        const wanted = new Set(to.filter((id) => id !== self.id && all.includes(id)));
        const reached = [...(plan.group?.covers ?? []), ...plan.unicast];
        expect(new Set(reached).size).toBe(reached.length);
        expect(new Set([...reached, ...plan.blocked])).toEqual(wanted);
        for (const id of plan.blocked) expect(blocked.has(id)).toBe(true);
        for (const id of reached) expect(blocked.has(id)).toBe(false);
        const own = cfg.segments[self.segment]!;
        if (plan.group) {
          expect(own.dissemination).not.toBe('unicast');
          expect(plan.group.address).toBe(own.address);
          expect(plan.group.covers.length).toBeGreaterThanOrEqual(GROUP_SEND_DESTINATIONS_MIN);
          for (const d of own.daemons) expect(blocked.has(d.id) && d.id !== self.id).toBe(false);
          const ownIds = new Set(own.daemons.map((d) => d.id));
          for (const id of plan.group.covers) expect(ownIds.has(id)).toBe(true);
          for (const id of plan.unicast) expect(ownIds.has(id)).toBe(false);
        } else if (own.dissemination !== 'unicast') {
          const ownWanted = [...wanted].filter((id) => own.daemons.some((d) => d.id === id) && !blocked.has(id));
          const ownBlocked = own.daemons.some((d) => d.id !== self.id && blocked.has(d.id));
          expect(ownWanted.length < GROUP_SEND_DESTINATIONS_MIN || ownBlocked).toBe(true);
        }
      }),
      { numRuns: 500, seed: 7 },
    );
  });
});
