/**
 * Group view ids through cascading configuration changes: one id names one view, at every daemon
 * that names it. Each case is one way daemons used to name different views alike.
 */
import { describe as suite, expect, it } from 'vitest';
import type { RingId } from '../../src/util/ids.js';
import { MessageType } from '../../src/session/protocol.js';
import type { GroupOutput } from '../../src/groups/index.js';
import { Cluster, describe } from './harness.js';

const D1 = 101;
const D2 = 202;
const D3 = 303;
const DAEMONS = [
  { id: D1, name: 'd1' },
  { id: D2, name: 'd2' },
  { id: D3, name: 'd3' },
];
const ALL = [D1, D2, D3];
const ALICE = '#alice#d1';
const DAVE = '#dave#d2';
const BOB = '#bob#d3';
const ERIN = '#erin#d2';

const R0: RingId = { rep: D1, seq: 10 };
const R1a: RingId = { rep: D1, seq: 11 };
const R1b: RingId = { rep: D2, seq: 11 };
const R2: RingId = { rep: D1, seq: 12 };
const R3: RingId = { rep: D1, seq: 13 };

interface SeenView {
  group: string;
  to: string[];
  type: number;
  members: string[];
  gid: string;
}

function views(outs: readonly GroupOutput[]): SeenView[] {
  const r: SeenView[] = [];
  for (const o of outs) {
    if (o.kind !== 'deliver') continue;
    const d = describe(o.frame);
    if ((d.type & MessageType.REG_MEMB_MESS) === 0) continue;
    r.push({ group: d.group, to: [...o.to], type: d.type, members: d.members, gid: `${d.groupId!.procId}.${d.groupId!.time}.${d.groupId!.index}` });
  }
  return r;
}

/** alice (d1), dave (d2) and bob (d3) in grp1, all in R0 with agreed views. */
function threeInOneRing(): Cluster {
  const c = new Cluster(DAEMONS);
  c.regular(ALL, R0);
  c.exchangeStates(ALL, R0);
  c.request(ALL, R0, D1, { kind: 'join', member: ALICE, group: 'grp1' });
  c.request(ALL, R0, D2, { kind: 'join', member: DAVE, group: 'grp1' });
  c.request(ALL, R0, D3, { kind: 'join', member: BOB, group: 'grp1' });
  for (const n of c.nodes.values()) n.take();
  return c;
}

/**
 * {d1} | {d2, d3}, each side's views agreed within it; then they merge into R2 and start the
 * exchange, but the ring changes again (R3, the same daemons) before any state is delivered: the
 * exchange is abandoned. Returns inside R3's transitional configuration.
 */
function splitThenAbandonedMerge(): Cluster {
  const c = threeInOneRing();
  c.transitional([D1], R1a, R0);
  c.transitional([D2, D3], R1b, R0);
  c.regular([D1], R1a);
  c.regular([D2, D3], R1b);
  c.transitional([D1], R2, R1a);
  c.transitional([D2, D3], R2, R1b);
  c.regular(ALL, R2);
  c.drainSubmits(ALL);
  c.transitional(ALL, R3, R2);
  return c;
}

suite('group view ids through cascading configuration changes', () => {
  it('after an abandoned exchange, daemons that held different views never name their views alike', () => {
    const c = splitThenAbandonedMerge();
    // erin joins inside the transitional configuration: every daemon applies it to the views it
    // still has; d1 holds [alice], d2 and d3 hold [dave, bob].
    c.request(ALL, R3, D2, { kind: 'join', member: ERIN, group: 'grp1' });
    for (const n of c.nodes.values()) n.take();
    c.regular(ALL, R3);
    const [a] = views(c.node(D1).take());
    const [e] = views(c.node(D2).take());
    const [b] = views(c.node(D3).take());
    expect(a).toMatchObject({ to: [ALICE], members: [ALICE, ERIN] });
    expect(e).toMatchObject({ to: [DAVE, ERIN], members: [DAVE, ERIN, BOB] });
    expect(b).toMatchObject({ to: [BOB], members: [DAVE, ERIN, BOB] });
    // The same view is named alike by the daemons that hold it, another view differently.
    expect(b!.gid).toBe(e!.gid);
    expect(a!.gid).not.toBe(e!.gid);
    // The new exchange completes: one agreed view again, under R3.
    c.exchangeStates(ALL, R3);
    for (const id of ALL) {
      const [v] = views(c.node(id).take());
      expect(v).toMatchObject({ members: [ALICE, DAVE, ERIN, BOB], gid: `${R3.rep}.${R3.seq}.1` });
    }
  });

  it('a cascade through two abandoned exchanges keeps the lineages apart', () => {
    const c = splitThenAbandonedMerge();
    c.regular(ALL, R3);
    c.drainSubmits(ALL);
    const R4: RingId = { rep: D1, seq: 14 };
    c.transitional(ALL, R4, R3);
    c.request(ALL, R4, D2, { kind: 'join', member: ERIN, group: 'grp1' });
    c.request(ALL, R4, D2, { kind: 'leave', member: ERIN, group: 'grp1' });
    for (const n of c.nodes.values()) n.take();
    c.regular(ALL, R4);
    const a = views(c.node(D1).take());
    const e = views(c.node(D2).take());
    const b = views(c.node(D3).take());
    expect(a.map((v) => v.members)).toEqual([[ALICE, ERIN], [ALICE]]);
    expect(b.map((v) => v.members)).toEqual([[DAVE, ERIN, BOB], [DAVE, BOB]]);
    expect(b.map((v) => v.gid)).toEqual(e.filter((v) => v.to.includes(DAVE)).map((v) => v.gid));
    const ids = new Set([...a, ...b].map((v) => v.gid));
    expect(ids.size).toBe(4);
  });

  it("a group untouched by a configuration change starts the new ring's count: another side may have used the old ring's next index", () => {
    const c = threeInOneRing();
    c.request(ALL, R0, D1, { kind: 'join', member: ALICE, group: 'grp2' });
    for (const n of c.nodes.values()) n.take();
    const grp2 = c.node(D1).table.groups().get('grp2')!.groupId;
    expect(grp2).toEqual({ procId: R0.rep, time: R0.seq, index: 1 });
    // bob's join is the last message of R0 that d2 and d3 deliver; d1 never receives it.
    c.request([D2, D3], R0, D3, { kind: 'join', member: BOB, group: 'grp2' });
    const [bobs] = views(c.node(D3).take());
    expect(bobs).toMatchObject({ to: [BOB], members: [ALICE, BOB], gid: `${R0.rep}.${R0.seq}.2` });
    // d1 goes on alone; grp2 lost nobody there, so it keeps its id and gets no view.
    c.transitional([D1], R1a, R0);
    c.regular([D1], R1a);
    expect(views(c.node(D1).take()).filter((v) => v.group === 'grp2')).toEqual([]);
    expect(c.node(D1).table.groups().get('grp2')!.groupId).toEqual(grp2);
    // amy joins in R1a: a view [alice, amy], which must not be (R0, 2), bob's view [alice, bob].
    c.request([D1], R1a, D1, { kind: 'join', member: '#amy#d1', group: 'grp2' });
    const [amys] = views(c.node(D1).take());
    expect(amys).toMatchObject({ to: [ALICE, '#amy#d1'], members: [ALICE, '#amy#d1'], type: MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_JOIN });
    expect(amys!.gid).toBe(`${R1a.rep}.${R1a.seq}.1`);
    // Its next view steps the new ring's index.
    c.request([D1], R1a, D1, { kind: 'leave', member: '#amy#d1', group: 'grp2' });
    expect(views(c.node(D1).take()).map((v) => v.gid)).toEqual([`${R1a.rep}.${R1a.seq}.2`]);
  });

  it('a join delivered in the regular configuration at one daemon and in the transitional one at the others gets distinct ids', () => {
    const c = threeInOneRing();
    // d1 delivers amy's join in R0, then goes on alone.
    c.request([D1], R0, D1, { kind: 'join', member: '#amy#d1', group: 'grp1' });
    const [atD1] = views(c.node(D1).take());
    expect(atD1).toMatchObject({ members: [ALICE, '#amy#d1', DAVE, BOB], gid: `${R0.rep}.${R0.seq}.4` });
    c.transitional([D1], R1a, R0);
    c.regular([D1], R1a);
    // d2 and d3 deliver it in their transitional configuration: a partitioned joiner.
    c.transitional([D2, D3], R1b, R0);
    c.request([D2, D3], R1b, D1, { kind: 'join', member: '#amy#d1', group: 'grp1' });
    const [atD3] = views(c.node(D3).take());
    expect(atD3).toMatchObject({ to: [BOB], members: ['#amy#d1', DAVE, BOB], type: MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_NETWORK });
    expect(atD3!.gid).not.toBe(atD1!.gid);
    c.regular([D2, D3], R1b);
    // Then a leave there: a view under R1b, not R0's next index, which d1 may also use.
    c.request([D2, D3], R1b, D2, { kind: 'leave', member: DAVE, group: 'grp1' });
    const seen = views(c.node(D3).take());
    expect(seen.map((v) => [v.members, v.gid])).toEqual([
      [[DAVE, BOB], `${R1b.rep}.${R1b.seq}.1`],
      [[BOB], `${R1b.rep}.${R1b.seq}.2`],
    ]);
  });
});
