/**
 * One daemon: the membership frames of capture A (spread-capture-annotated.md §3) byte for byte,
 * and the routing rules of §6 (multigroup dedup, private groups, SELF_DISCARD).
 */
import { describe as suite, expect, it } from 'vitest';
import { Service } from '../../src/util/service.js';
import { MessageType } from '../../src/session/protocol.js';
import { bytes, clientFrame, Cluster, describe, le32, name32 } from './harness.js';

const D1 = 1552775919; // 0x5c8d7aef, the proc_id in capture A's group ids
const RING = { rep: D1, seq: 1795331904 };
const ALL = [D1];
const ALICE = '#alice#d1';
const BOB = '#bob#d1';
const CAROL = '#carol#d1';
const DAVE = '#dave#d1';

/** REG_MEMB_MESS | cause, lightweight body, as capture A shows it. */
function lightweight(typeHex: string, members: string[], index: number, changed: string): Buffer {
  return bytes(
    typeHex,
    name32('grp1'),
    le32(members.length),
    '80 00 00 80',
    '38 00 00 00',
    ...members.map(name32),
    le32(1552775919),
    le32(1795331904),
    le32(index),
    le32(1),
    le32(0),
    le32(1),
    name32(changed),
  );
}

function setup(): Cluster {
  const c = new Cluster([{ id: D1, name: 'd1' }]);
  c.regular(ALL, RING);
  return c;
}

suite('single daemon: capture A', () => {
  it('reproduces the membership frames of capture A byte for byte', () => {
    const c = setup();
    const n = c.node(D1);

    c.request(ALL, RING, D1, { kind: 'join', member: ALICE, group: 'grp1' });
    let outs = n.take();
    expect(outs).toHaveLength(1);
    const joinAlice = outs[0]!;
    expect(joinAlice.kind).toBe('deliver');
    if (joinAlice.kind !== 'deliver') return;
    expect(joinAlice.to).toEqual([ALICE]);
    expect(joinAlice.membership).toBe(true);
    expect(joinAlice.frame.length).toBe(136);
    expect(Buffer.from(joinAlice.frame)).toEqual(lightweight('80 11 00 80', [ALICE], 1, ALICE));

    c.request(ALL, RING, D1, { kind: 'join', member: BOB, group: 'grp1' });
    outs = n.take();
    expect(outs).toHaveLength(1);
    const joinBob = outs[0]!;
    if (joinBob.kind !== 'deliver') throw new Error('expected a delivery');
    expect([...joinBob.to].sort()).toEqual([ALICE, BOB].sort());
    expect(joinBob.frame.length).toBe(168);
    expect(Buffer.from(joinBob.frame)).toEqual(lightweight('80 11 00 80', [ALICE, BOB], 2, BOB));

    // SAFE from alice to grp1: the same 97-byte record reaches alice (self) and bob.
    const hello = clientFrame(MessageType.SAFE_MESS, ALICE, ['grp1'], 1, 'hello from alice\n');
    expect(hello.length).toBe(97);
    expect(hello.subarray(0, 4)).toEqual(bytes('a0 00 00 80'));
    expect(hello.subarray(40, 44)).toEqual(bytes('80 01 00 80'));
    c.request(ALL, RING, D1, { kind: 'data', frame: hello }, Service.SAFE);
    outs = n.take();
    expect(outs).toHaveLength(1);
    const d = outs[0]!;
    if (d.kind !== 'deliver') throw new Error('expected a delivery');
    expect([...d.to].sort()).toEqual([ALICE, BOB].sort());
    expect(d.membership).toBe(false);
    expect(Buffer.from(d.frame)).toEqual(hello);

    // dave joins (index 3), then is SIGKILLed: the daemon generates his kill (index 4).
    c.request(ALL, RING, D1, { kind: 'join', member: DAVE, group: 'grp1' });
    outs = n.take();
    expect(outs).toHaveLength(1);
    expect(Buffer.from((outs[0] as { frame: Uint8Array }).frame)).toEqual(lightweight('80 11 00 80', [ALICE, BOB, DAVE], 3, DAVE));
    expect((outs[0] as { frame: Uint8Array }).frame.length).toBe(200);

    c.request(ALL, RING, D1, { kind: 'kill', member: DAVE }, Service.SAFE);
    outs = n.take();
    expect(outs).toHaveLength(2);
    const discDave = outs[0]!;
    if (discDave.kind !== 'deliver') throw new Error('expected a delivery');
    expect([...discDave.to].sort()).toEqual([ALICE, BOB].sort());
    expect(Buffer.from(discDave.frame)).toEqual(lightweight('80 14 00 80', [ALICE, BOB], 4, DAVE));
    expect(outs[1]).toEqual({ kind: 'killed', member: DAVE });

    // bob's SP_disconnect: alice gets CAUSED_BY_DISCONNECT, index 5.
    c.request(ALL, RING, D1, { kind: 'kill', member: BOB });
    outs = n.take();
    expect(outs).toHaveLength(2);
    const discBob = outs[0]!;
    if (discBob.kind !== 'deliver') throw new Error('expected a delivery');
    expect(discBob.to).toEqual([ALICE]);
    expect(discBob.frame.length).toBe(136);
    expect(Buffer.from(discBob.frame)).toEqual(lightweight('80 14 00 80', [ALICE], 5, BOB));
    expect(outs[1]).toEqual({ kind: 'killed', member: BOB });

    // alice leaves: self-leave, 48 bytes, and the group is gone.
    c.request(ALL, RING, D1, { kind: 'leave', member: ALICE, group: 'grp1' });
    outs = n.take();
    expect(outs).toHaveLength(1);
    const selfLeave = outs[0]!;
    if (selfLeave.kind !== 'deliver') throw new Error('expected a delivery');
    expect(selfLeave.to).toEqual([ALICE]);
    expect(selfLeave.membership).toBe(true);
    expect(Buffer.from(selfLeave.frame)).toEqual(bytes('80 02 00 80', name32('grp1'), '00 00 00 00', '80 00 00 80', '00 00 00 00'));
    expect(n.table.groups().size).toBe(0);

    c.request(ALL, RING, D1, { kind: 'kill', member: ALICE });
    expect(n.take()).toEqual([{ kind: 'killed', member: ALICE }]);
    expect(n.table.stats()).toEqual({ groups: 0, members: 0, malformedPayloads: 0, rejects: 0 });
  });

  it('delivers a multigroup message once per session, with the full group list', () => {
    const c = setup();
    const n = c.node(D1);
    c.request(ALL, RING, D1, { kind: 'join', member: ALICE, group: 'grp1' });
    c.request(ALL, RING, D1, { kind: 'join', member: BOB, group: 'grp1' });
    c.request(ALL, RING, D1, { kind: 'join', member: BOB, group: 'grp2' });
    n.take();
    const f = clientFrame(MessageType.SAFE_MESS, BOB, ['grp1', 'grp2'], 1, 'bob to grp1+grp2\n');
    expect(f.length).toBe(129);
    c.request(ALL, RING, D1, { kind: 'data', frame: f }, Service.SAFE);
    const outs = n.take();
    expect(outs).toHaveLength(1);
    const d = outs[0]!;
    if (d.kind !== 'deliver') throw new Error('expected a delivery');
    expect([...d.to].sort()).toEqual([ALICE, BOB].sort());
    expect(new Set(d.to).size).toBe(d.to.length);
    expect(Buffer.from(d.frame)).toEqual(f);
    expect(describe(d.frame).members).toEqual(['grp1', 'grp2']);
  });

  it('delivers to a private group only, and not to the sender who is not a member', () => {
    const c = setup();
    const n = c.node(D1);
    c.request(ALL, RING, D1, { kind: 'join', member: ALICE, group: 'grp1' });
    c.request(ALL, RING, D1, { kind: 'join', member: BOB, group: 'grp1' });
    n.take();
    const f = clientFrame(MessageType.SAFE_MESS, ALICE, [BOB], 1, 'private to bob\n');
    expect(f.length).toBe(95);
    c.request(ALL, RING, D1, { kind: 'data', frame: f }, Service.SAFE);
    const outs = n.take();
    expect(outs).toHaveLength(1);
    expect(outs[0]).toMatchObject({ kind: 'deliver', to: [BOB], membership: false });
    expect(Buffer.from((outs[0] as { frame: Uint8Array }).frame)).toEqual(f);

    // Private groups of other daemons and groups nobody is in are dropped silently.
    c.request(ALL, RING, D1, { kind: 'data', frame: clientFrame(MessageType.AGREED_MESS, ALICE, ['#x#d9', 'nogroup'], 0, 'x') });
    expect(n.take()).toEqual([]);
  });

  it('a private destination and a group containing the same session give one copy', () => {
    const c = setup();
    const n = c.node(D1);
    c.request(ALL, RING, D1, { kind: 'join', member: BOB, group: 'grp1' });
    n.take();
    c.request(ALL, RING, D1, { kind: 'data', frame: clientFrame(MessageType.FIFO_MESS, ALICE, ['grp1', BOB, BOB], 0, 'x') }, Service.FIFO);
    const outs = n.take();
    expect(outs).toHaveLength(1);
    expect(outs[0]).toMatchObject({ kind: 'deliver', to: [BOB] });
  });

  it('SELF_DISCARD keeps the message from its sender; the bit stays set for the others', () => {
    const c = setup();
    const n = c.node(D1);
    c.request(ALL, RING, D1, { kind: 'join', member: ALICE, group: 'grp1' });
    c.request(ALL, RING, D1, { kind: 'join', member: BOB, group: 'grp1' });
    n.take();
    const f = clientFrame(MessageType.SAFE_MESS | MessageType.SELF_DISCARD, ALICE, ['grp1'], 0, 'self-discard');
    c.request(ALL, RING, D1, { kind: 'data', frame: f }, Service.SAFE);
    const outs = n.take();
    expect(outs).toHaveLength(1);
    expect(outs[0]).toMatchObject({ kind: 'deliver', to: [BOB] });
    expect(Buffer.from((outs[0] as { frame: Uint8Array }).frame).readUInt32LE(0)).toBe(0x800000e0);

    // Alone in the group with SELF_DISCARD: nobody gets it.
    c.request(ALL, RING, D1, { kind: 'leave', member: BOB, group: 'grp1' });
    n.take();
    c.request(ALL, RING, D1, { kind: 'data', frame: f }, Service.SAFE);
    expect(n.take()).toEqual([]);
  });

  it('a member without groups still sends, and its messages arrive before its kill (capture A: carol)', () => {
    const c = setup();
    const n = c.node(D1);
    c.request(ALL, RING, D1, { kind: 'join', member: ALICE, group: 'grp1' });
    c.request(ALL, RING, D1, { kind: 'join', member: BOB, group: 'grp1' });
    n.take();
    const m1 = clientFrame(MessageType.AGREED_MESS, CAROL, ['grp1'], 0, bytes('01000000', Buffer.alloc(20, 0x78)));
    const m2 = clientFrame(MessageType.AGREED_MESS, CAROL, ['grp1'], 0, bytes('02000000', Buffer.alloc(20, 0x78)));
    expect(m1.length).toBe(104);
    c.request(ALL, RING, D1, { kind: 'data', frame: m1 });
    c.request(ALL, RING, D1, { kind: 'data', frame: m2 });
    c.request(ALL, RING, D1, { kind: 'kill', member: CAROL });
    const outs = n.take();
    expect(outs).toHaveLength(3);
    expect(Buffer.from((outs[0] as { frame: Uint8Array }).frame)).toEqual(m1);
    expect(Buffer.from((outs[1] as { frame: Uint8Array }).frame)).toEqual(m2);
    expect(outs[2]).toEqual({ kind: 'killed', member: CAROL });
  });

  it('ignores a join of a group one is in and a leave of one one is not in (§6.3)', () => {
    const c = setup();
    const n = c.node(D1);
    c.request(ALL, RING, D1, { kind: 'join', member: ALICE, group: 'grp1' });
    n.take();
    c.request(ALL, RING, D1, { kind: 'join', member: ALICE, group: 'grp1' });
    c.request(ALL, RING, D1, { kind: 'leave', member: ALICE, group: 'other' });
    c.request(ALL, RING, D1, { kind: 'leave', member: BOB, group: 'grp1' });
    expect(n.take()).toEqual([]);
    expect(n.table.groups().get('grp1')?.groupId.index).toBe(1);
  });

  it('the group id index counts every join, leave and disconnect', () => {
    const c = setup();
    const n = c.node(D1);
    c.request(ALL, RING, D1, { kind: 'join', member: ALICE, group: 'g' });
    c.request(ALL, RING, D1, { kind: 'join', member: BOB, group: 'g' });
    c.request(ALL, RING, D1, { kind: 'leave', member: BOB, group: 'g' });
    c.request(ALL, RING, D1, { kind: 'join', member: CAROL, group: 'g' });
    c.request(ALL, RING, D1, { kind: 'kill', member: CAROL });
    const frames = n.framesFor(ALICE);
    expect(frames.map((f) => describe(f).groupId?.index)).toEqual([1, 2, 3, 4, 5]);
    expect(frames.map((f) => describe(f).type)).toEqual([
      MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_JOIN,
      MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_JOIN,
      MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_LEAVE,
      MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_JOIN,
      MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_DISCONNECT,
    ]);
    // The leave names the leaver; bob got the self-leave and nothing from the group after it.
    expect(describe(frames[2]!).vsSets).toEqual([[BOB]]);
    const bobFrames = n.framesFor(BOB);
    expect(describe(bobFrames[bobFrames.length - 1]!).type).toBe(MessageType.CAUSED_BY_LEAVE);
  });

  it('a group that empties and is joined again continues its index: no two views share an id', () => {
    const c = setup();
    const n = c.node(D1);
    c.request(ALL, RING, D1, { kind: 'join', member: ALICE, group: 'g' });
    c.request(ALL, RING, D1, { kind: 'leave', member: ALICE, group: 'g' });
    c.request(ALL, RING, D1, { kind: 'join', member: BOB, group: 'g' });
    const alice = n.framesFor(ALICE).map((f) => describe(f).groupId?.index);
    const bob = n.framesFor(BOB).map((f) => describe(f).groupId?.index);
    expect(alice[0]).toBe(1);
    expect(bob).toEqual([2]);
  });
});
