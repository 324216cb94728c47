/** Bounds and hostile input: rejects (§7.5), malformed and spoofed requests, large exchanges. */
import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/session/protocol.js';
import { decodeMessage } from '../../src/session/codec.js';
import { encodeGroupRequest, GroupTable } from '../../src/groups/index.js';
import type { RingId } from '../../src/util/ids.js';
import { bytes, clientFrame, Cluster, name32 } from './harness.js';

const D1 = 1;
const D2 = 2;
const DAEMONS = [
  { id: D1, name: 'd1' },
  { id: D2, name: 'd2' },
];
const R: RingId = { rep: D1, seq: 100 };

function twoDaemons(opts: { groupsMax?: number; localMembersPerGroupMax?: number; stateMessageBytesMax?: number } = {}): Cluster {
  const c = new Cluster(DAEMONS, opts);
  c.regular([D1, D2], R);
  c.exchangeStates([D1, D2], R);
  return c;
}

describe('rejects', () => {
  it('rejects a JOIN beyond localMembersPerGroupMax: REJECT_MESS to the requester only, no view change anywhere', () => {
    const c = twoDaemons({ localMembersPerGroupMax: 2 });
    c.request([D1, D2], R, D1, { kind: 'join', member: '#a#d1', group: 'g' });
    c.request([D1, D2], R, D1, { kind: 'join', member: '#b#d1', group: 'g' });
    c.request([D1, D2], R, D2, { kind: 'join', member: '#x#d2', group: 'g' }); // other daemon: own limit
    for (const n of c.nodes.values()) n.take();
    c.request([D1, D2], R, D1, { kind: 'join', member: '#c#d1', group: 'g' });
    const outs = c.node(D1).take();
    expect(outs).toHaveLength(1);
    const o = outs[0]!;
    if (o.kind !== 'deliver') throw new Error('expected a delivery');
    expect(o.to).toEqual(['#c#d1']);
    expect(o.membership).toBe(false);
    // §7.5: type REJECT_MESS, sender = requester, num_groups = 1 + 1, hint of the JOIN, data_len 0,
    // old_type = CAUSED_BY_JOIN, groups = the group then the requester.
    expect(Buffer.from(o.frame)).toEqual(
      bytes('80 00 40 80', name32('#c#d1'), '02 00 00 00', '80 00 00 80', '00 00 00 00', '80 01 00 80', name32('g'), name32('#c#d1')),
    );
    const m = decodeMessage(o.frame, 'daemon-to-client');
    expect(m.oldType).toBe(MessageType.CAUSED_BY_JOIN);
    expect(c.node(D2).take()).toEqual([]);
    for (const n of c.nodes.values()) {
      expect(n.table.groups().get('g')?.members).toEqual(['#a#d1', '#b#d1', '#x#d2']);
      expect(n.table.stats().rejects).toBe(1);
    }
  });

  it('rejects a JOIN that would create more than groupsMax groups', () => {
    const c = twoDaemons({ groupsMax: 2 });
    c.request([D1, D2], R, D1, { kind: 'join', member: '#a#d1', group: 'g1' });
    c.request([D1, D2], R, D2, { kind: 'join', member: '#b#d2', group: 'g2' });
    for (const n of c.nodes.values()) n.take();
    c.request([D1, D2], R, D2, { kind: 'join', member: '#b#d2', group: 'g3' });
    expect(c.node(D1).take()).toEqual([]);
    const outs = c.node(D2).take();
    expect(outs).toHaveLength(1);
    expect(outs[0]).toMatchObject({ kind: 'deliver', to: ['#b#d2'], membership: false });
    expect(decodeMessage((outs[0] as { frame: Uint8Array }).frame, 'daemon-to-client').header.type).toBe(MessageType.REJECT_MESS);
    // Joining an existing group is still fine.
    c.request([D1, D2], R, D2, { kind: 'join', member: '#b#d2', group: 'g1' });
    for (const n of c.nodes.values()) expect([...n.table.groups().keys()].sort()).toEqual(['g1', 'g2']);
  });
});

describe('malformed and spoofed input', () => {
  it('counts and drops malformed payloads without throwing', () => {
    const c = twoDaemons();
    c.message([D1, D2], R, D1, new Uint8Array([1, 1, 200]));
    c.message([D1, D2], R, D1, new Uint8Array([7, 7, 7]));
    c.message([D1, D2], R, D1, new Uint8Array(0));
    for (const n of c.nodes.values()) {
      expect(n.take()).toEqual([]);
      expect(n.table.stats().malformedPayloads).toBe(3);
    }
  });

  it('drops requests for members of another daemon, of unknown daemons, and frames with a forged sender', () => {
    const c = twoDaemons();
    c.request([D1, D2], R, D1, { kind: 'join', member: '#a#d1', group: 'g' });
    for (const n of c.nodes.values()) n.take();
    c.request([D1, D2], R, D2, { kind: 'join', member: '#evil#d1', group: 'g' });
    c.request([D1, D2], R, D2, { kind: 'kill', member: '#a#d1' });
    c.request([D1, D2], R, D2, { kind: 'join', member: '#a#d9', group: 'g' });
    c.request([D1, D2], R, D2, { kind: 'data', frame: clientFrame(MessageType.AGREED_MESS, '#a#d1', ['g'], 0, 'forged') });
    for (const n of c.nodes.values()) {
      expect(n.take()).toEqual([]);
      expect(n.table.groups().get('g')?.members).toEqual(['#a#d1']);
      expect(n.table.stats().malformedPayloads).toBe(4);
    }
  });

  it('counts a repeated state part as malformed and ignores a state message outside an exchange', () => {
    const c = new Cluster(DAEMONS);
    c.regular([D1], { rep: D1, seq: 5 });
    c.regular([D2], { rep: D2, seq: 5 });
    c.transitional([D1], { rep: D1, seq: 6 }, { rep: D1, seq: 5 });
    c.transitional([D2], { rep: D2, seq: 6 }, { rep: D2, seq: 5 });
    const rm: RingId = { rep: D1, seq: 7 };
    c.regular([D1, D2], rm);
    const t = c.node(D1).table;
    expect(t.exchanging()).toBe(true);
    const subs = c.drainSubmits([D1, D2]);
    for (const p of subs.get(D1)!) c.message([D1, D2], rm, D1, p);
    for (const p of subs.get(D1)!) c.message([D1, D2], rm, D1, p);
    expect(t.stats().malformedPayloads).toBe(1);
    expect(t.exchanging()).toBe(true);
    for (const p of subs.get(D2)!) c.message([D1, D2], rm, D2, p);
    expect(t.exchanging()).toBe(false);
    // Outside an exchange a state message is stale and changes nothing.
    for (const p of subs.get(D2)!) c.message([D1, D2], rm, D2, p);
    expect(t.stats().malformedPayloads).toBe(1);
    expect(c.node(D1).outputs).toEqual([]);
  });

  it('rejects options that do not describe this daemon', () => {
    expect(() => new GroupTable({ self: 3, selfName: 'd3', daemons: DAEMONS, groupsMax: 10, localMembersPerGroupMax: 10 })).toThrow(RangeError);
    expect(() => new GroupTable({ self: 1, selfName: 'd2', daemons: DAEMONS, groupsMax: 10, localMembersPerGroupMax: 10 })).toThrow(RangeError);
    expect(
      () => new GroupTable({ self: 1, selfName: 'd1', daemons: DAEMONS, groupsMax: 10, localMembersPerGroupMax: 10, stateMessageBytesMax: 50 }),
    ).toThrow(RangeError);
  });
});

describe('large exchanges', () => {
  it('merges 10,000 groups with members on both sides through bounded state messages', () => {
    const c = new Cluster(DAEMONS, { stateMessageBytesMax: 16_000 });
    const ra: RingId = { rep: D1, seq: 5 };
    const rb: RingId = { rep: D2, seq: 6 };
    c.regular([D1], ra);
    c.regular([D2], rb);
    const groups = 10_000;
    for (let i = 0; i < groups; i++) {
      c.message([D1], ra, D1, encodeGroupRequest({ kind: 'join', member: `#a${i % 50}#d1`, group: `g${i}` }));
      c.message([D1], ra, D1, encodeGroupRequest({ kind: 'join', member: `#b${i % 50}#d1`, group: `g${i}` }));
      c.message([D2], rb, D2, encodeGroupRequest({ kind: 'join', member: `#c${i % 50}#d2`, group: `g${i}` }));
    }
    for (const n of c.nodes.values()) n.take();
    c.transitional([D1], { rep: D1, seq: 7 }, ra);
    c.transitional([D2], { rep: D2, seq: 7 }, rb);
    const rm: RingId = { rep: D1, seq: 8 };
    c.regular([D1, D2], rm);
    const subs = c.drainSubmits([D1, D2]);
    for (const list of subs.values()) {
      expect(list.length).toBeGreaterThan(1);
      for (const p of list) expect(p.length).toBeLessThanOrEqual(16_000);
    }
    for (const [s, list] of subs) for (const p of list) c.message([D1, D2], rm, s, p);
    const v1 = c.node(D1).table.groups();
    const v2 = c.node(D2).table.groups();
    expect(v1.size).toBe(groups);
    expect([...v2.values()]).toEqual([...v1.values()]);
    expect(v1.get('g1234')).toEqual({
      name: 'g1234',
      groupId: { procId: D1, time: 8, index: 1 },
      members: ['#a34#d1', '#b34#d1', '#c34#d2'],
    });
    expect(c.node(D1).table.stats().members).toBe(3 * groups);
    // Every group changed, and each local member heard about each of its groups exactly once.
    const d2outs = c.node(D2).take();
    expect(d2outs).toHaveLength(groups);
  });
});
