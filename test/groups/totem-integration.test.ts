/**
 * Group tables driven by real Totem engines (TotemNode on the in-memory network of the
 * membership tests): start, joins, a partition and its healing. Whatever configuration sequence
 * the engine produces, every daemon must end with the same views, and sessions must see
 * TRANSITION then a network view on a split, and a network view alone on the merge.
 */
import { describe as suite, expect, it } from 'vitest';
import { Harness } from '../membership/harness.js';
import { encodeGroupRequest, GroupTable, type GroupOutput, type GroupRequest } from '../../src/groups/index.js';
import { Service } from '../../src/util/service.js';
import type { DaemonId } from '../../src/util/ids.js';
import { MessageType } from '../../src/session/protocol.js';
import { clientFrame, describe } from './harness.js';

const IDS = [1, 2, 3];
const NAMES = new Map(IDS.map((id) => [id, `d${id}`]));

class Driver {
  readonly h = new Harness({ ids: IDS, seed: 11 });
  readonly tables = new Map<DaemonId, GroupTable>();
  readonly outputs = new Map<DaemonId, GroupOutput[]>();
  private readonly seen = new Map<DaemonId, number>();

  constructor() {
    const daemons = IDS.map((id) => ({ id, name: NAMES.get(id)! }));
    for (const id of IDS) {
      this.tables.set(id, new GroupTable({ self: id, selfName: NAMES.get(id)!, daemons, groupsMax: 1000, localMembersPerGroupMax: 100 }));
      this.outputs.set(id, []);
      this.seen.set(id, 0);
    }
    this.h.startAll();
  }

  /** Feeds every new ring event to its table and every state message back to the ring. */
  private pump(): void {
    for (let progressed = true; progressed; ) {
      progressed = false;
      for (const id of this.h.alive) {
        const t = this.tables.get(id)!;
        const evs = this.h.events.get(id)!;
        let i = this.seen.get(id)!;
        while (i < evs.length) {
          t.handleRingEvent(evs[i++]!);
          progressed = true;
          for (let o = t.pollOutput(); o; o = t.pollOutput()) this.outputs.get(id)!.push(o);
        }
        this.seen.set(id, i);
        for (let s = t.pollSubmit(); s; s = t.pollSubmit()) {
          expect(this.h.submit(id, s)).toBe(true);
          progressed = true;
        }
      }
    }
  }

  run(forMs: number): void {
    const until = this.h.now + forMs;
    while (this.h.now < until) {
      this.h.run(Math.min(until, this.h.now + 5));
      this.pump();
    }
  }

  request(id: DaemonId, r: GroupRequest): void {
    expect(this.h.submit(id, { service: Service.AGREED, stream: 1, payload: encodeGroupRequest(r) })).toBe(true);
  }

  views(id: DaemonId): unknown {
    return [...this.tables.get(id)!.groups().values()];
  }

  framesFor(id: DaemonId, session: string): ReturnType<typeof describe>[] {
    return this.outputs
      .get(id)!
      .filter((o): o is Extract<GroupOutput, { kind: 'deliver' }> => o.kind === 'deliver' && o.to.includes(session))
      .map((o) => describe(o.frame));
  }
}

const NET = MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_NETWORK;

suite('group tables over the Totem engine', () => {
  it('agree on every view through start, joins, a partition and a merge', () => {
    const d = new Driver();
    d.run(3000);
    expect(d.h.node(1).status().members).toEqual(IDS);
    d.request(1, { kind: 'join', member: '#alice#d1', group: 'grp1' });
    d.request(2, { kind: 'join', member: '#dave#d2', group: 'grp1' });
    d.request(3, { kind: 'join', member: '#bob#d3', group: 'grp1' });
    d.run(1000);
    for (const id of IDS) {
      expect(d.tables.get(id)!.groups().get('grp1')?.members).toEqual(['#alice#d1', '#dave#d2', '#bob#d3']);
      expect(d.tables.get(id)!.exchanging()).toBe(false);
    }
    expect(d.views(2)).toEqual(d.views(1));
    expect(d.views(3)).toEqual(d.views(1));
    const before = d.framesFor(1, '#alice#d1').length;

    d.h.partition([[1], [2, 3]]);
    d.run(3000);
    expect(d.h.node(1).status().members).toEqual([1]);
    expect(d.h.node(2).status().members).toEqual([2, 3]);
    const split = d.framesFor(1, '#alice#d1').slice(before);
    expect(split.map((f) => f.type)).toEqual([MessageType.TRANSITION_MESS, NET]);
    expect(split[1]!.members).toEqual(['#alice#d1']);
    expect(d.views(3)).toEqual(d.views(2));
    expect(d.tables.get(2)!.groups().get('grp1')?.members).toEqual(['#dave#d2', '#bob#d3']);

    // Messages sent on both sides while partitioned reach only that side.
    d.request(1, { kind: 'data', frame: clientFrame(MessageType.SAFE_MESS, '#alice#d1', ['grp1'], 0, 'alice alone') });
    d.request(3, { kind: 'data', frame: clientFrame(MessageType.SAFE_MESS, '#bob#d3', ['grp1'], 0, 'bob and dave') });
    d.run(500);
    const afterSplit = d.framesFor(1, '#alice#d1').length;

    d.h.heal();
    d.run(4000);
    expect(d.h.node(1).status().members).toEqual(IDS);
    const merged = d.framesFor(1, '#alice#d1').slice(afterSplit);
    // A pure merge: the network view alone, with the two sides as two vs_sets.
    expect(merged.map((f) => f.type)).toEqual([NET]);
    expect(merged[0]!.members).toEqual(['#alice#d1', '#dave#d2', '#bob#d3']);
    expect(merged[0]!.vsSets?.map((s) => [...s].sort())).toEqual(
      expect.arrayContaining([['#alice#d1'], ['#bob#d3', '#dave#d2']]),
    );
    expect(merged[0]!.vsSets?.[merged[0]!.localSetIndex!]).toEqual(['#alice#d1']);
    for (const id of IDS) expect(d.tables.get(id)!.exchanging()).toBe(false);
    expect(d.views(2)).toEqual(d.views(1));
    expect(d.views(3)).toEqual(d.views(1));

    // After the merge, one message reaches all three.
    d.request(2, { kind: 'data', frame: clientFrame(MessageType.AGREED_MESS, '#dave#d2', ['grp1'], 0, 'together again') });
    d.run(500);
    for (const [id, who] of [
      [1, '#alice#d1'],
      [2, '#dave#d2'],
      [3, '#bob#d3'],
    ] as const) {
      const last = d.framesFor(id, who).at(-1)!;
      expect(last.type).toBe(MessageType.AGREED_MESS);
    }
    for (const id of IDS) expect(d.tables.get(id)!.stats().malformedPayloads).toBe(0);
  });

  it('converge after random joins, leaves, kills, partitions and heals (seeded)', () => {
    let transitions = 0;
    for (const seed of [1, 2, 3, 4]) {
      const d = new Driver();
      let x = seed * 2654435761;
      const rand = (n: number): number => {
        x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
        return x % n;
      };
      const sessions = IDS.flatMap((id) => ['a', 'b', 'c'].map((n) => ({ id, name: `#${n}${seed}#d${id}` })));
      const groups = ['g1', 'g2', 'g3'];
      d.run(2000);
      for (let step = 0; step < 30; step++) {
        const s = sessions[rand(sessions.length)]!;
        const op = rand(10);
        if (op < 5) d.request(s.id, { kind: 'join', member: s.name, group: groups[rand(groups.length)]! });
        else if (op < 8) d.request(s.id, { kind: 'leave', member: s.name, group: groups[rand(groups.length)]! });
        else if (op < 9) d.request(s.id, { kind: 'kill', member: s.name });
        else if (rand(2) === 0) {
          const alone = 1 + rand(3);
          d.h.partition([[alone], IDS.filter((i) => i !== alone)]);
        } else d.h.heal();
        d.run(50 + rand(400));
      }
      d.h.heal();
      d.run(5000);
      for (const id of IDS) {
        expect(d.h.node(id).status().members).toEqual(IDS);
        expect(d.tables.get(id)!.exchanging()).toBe(false);
        expect(d.views(id)).toEqual(d.views(1));
      }
      // Every member's last membership message describes the view the tables hold.
      for (const [name, view] of d.tables.get(1)!.groups()) {
        for (const m of view.members) {
          const id = Number(m.slice(m.lastIndexOf('#d') + 2));
          const frames = d.framesFor(id, m).filter((f) => f.group === name && (f.type & MessageType.REG_MEMB_MESS) !== 0);
          const last = frames.at(-1)!;
          expect(last.members).toEqual(view.members);
          expect(last.groupId).toEqual(view.groupId);
        }
      }
      for (const outs of d.outputs.values()) {
        transitions += outs.filter((o) => o.kind === 'deliver' && describe(o.frame).type === MessageType.TRANSITION_MESS).length;
      }
    }
    // The runs did go through configuration changes that cut groups.
    expect(transitions).toBeGreaterThan(0);
  });
});
