/** Ring payloads of the group layer: round trips, splitting of large states, hostile input. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeGroupPayload,
  encodeGroupRequest,
  encodeStateParts,
  type GroupStatePayload,
  type LocalGroupState,
} from '../../src/groups/index.js';
import { MessageType } from '../../src/session/protocol.js';
import { clientFrame } from './harness.js';

describe('group payloads', () => {
  it('round-trips every request kind', () => {
    const frame = clientFrame(MessageType.AGREED_MESS | MessageType.SELF_DISCARD, '#a#d1', ['g1', '#b#d2'], 5, 'data');
    for (const r of [
      { kind: 'join', member: '#alice#d1', group: 'grp1' },
      { kind: 'leave', member: '#alice#d1', group: 'grp1' },
      { kind: 'kill', member: '#r7833-12#d1' },
    ] as const) {
      expect(decodeGroupPayload(encodeGroupRequest(r))).toEqual(r);
    }
    const d = decodeGroupPayload(encodeGroupRequest({ kind: 'data', frame }));
    expect(d?.kind).toBe('data');
    expect(Buffer.from((d as { frame: Uint8Array }).frame)).toEqual(frame);
  });

  it('is compact: a join of a 9-character member to a 4-character group takes 17 bytes', () => {
    expect(encodeGroupRequest({ kind: 'join', member: '#alice#d1', group: 'grp1' }).length).toBe(17);
  });

  it('refuses to encode names that cannot be Spread names', () => {
    expect(() => encodeGroupRequest({ kind: 'join', member: '#a#d1', group: 'x'.repeat(32) })).toThrow(/1\.\.31/);
    expect(() => encodeGroupRequest({ kind: 'kill', member: '' })).toThrow();
  });

  it('rejects malformed requests', () => {
    const bad: Uint8Array[] = [
      new Uint8Array([]),
      new Uint8Array([2, 1, 0]), // unknown version
      new Uint8Array([1, 9]), // unknown kind
      Buffer.concat([Buffer.from([1, 1, 4]), Buffer.from('grp1'), Buffer.from([4]), Buffer.from('grp1')]), // member not private
      Buffer.concat([Buffer.from([1, 1, 5]), Buffer.from('#a#d1'), Buffer.from([4]), Buffer.from('#g#x')]), // group with '#'
      Buffer.concat([Buffer.from([1, 1, 5]), Buffer.from('#a#d1'), Buffer.from([9]), Buffer.from('grp1')]), // length past the end
      Buffer.concat([Buffer.from([1, 3, 5]), Buffer.from('#a#d1'), Buffer.from([0])]), // trailing byte
      Buffer.concat([Buffer.from([1, 3, 13]), Buffer.from('#abcdefghijk#d')]), // private name of 11
      Buffer.concat([Buffer.from([1, 4]), clientFrame(MessageType.AGREED_MESS, '#a#d1', ['g'], 0, 'x').subarray(0, 60)]), // truncated frame
      Buffer.concat([Buffer.from([1, 4]), clientFrame(MessageType.AGREED_MESS | MessageType.SAFE_MESS, '#a#d1', ['g'], 0, 'x')]), // two services
      Buffer.concat([Buffer.from([1, 4]), clientFrame(MessageType.JOIN_MESS, '#a#d1', ['g'], 0, '')]), // not data
    ];
    for (const b of bad) expect(decodeGroupPayload(b)).toBeUndefined();
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        decodeGroupPayload(b);
        // Also with a valid prefix, to reach the inner decoders.
        for (const kind of [1, 2, 3, 4, 5]) decodeGroupPayload(Buffer.concat([Buffer.from([1, kind]), b]));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on corrupted state messages', () => {
    const state: LocalGroupState[] = [
      { group: 'grp1', groupId: { procId: -5, time: 7, index: 3 }, changed: true, viewSize: 4, members: ['alice', 'bob'] },
      { group: 'grp2', groupId: { procId: 1, time: 2, index: 1 }, changed: false, viewSize: 1, members: ['carol'] },
    ];
    const [p] = encodeStateParts({ rep: 9, seq: 12 }, state, 60_000);
    fc.assert(
      fc.property(fc.nat({ max: p!.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: p!.length }), (at, value, cut) => {
        const q = Buffer.from(p!);
        q[at] = value;
        decodeGroupPayload(q.subarray(0, cut));
        decodeGroupPayload(q);
      }),
      { numRuns: 1000 },
    );
  });

  it('splits a large state into bounded messages that decode back to the same state', () => {
    const state: LocalGroupState[] = [];
    for (let i = 0; i < 10_000; i++) {
      state.push({
        group: `group-${i}`,
        groupId: { procId: i, time: -i | 0, index: i % 7 },
        changed: i % 3 === 0,
        viewSize: 3 + (i % 5),
        members: ['m1', `m${i % 100}x`, 'zz'],
      });
    }
    // One group with more members than fit in one message.
    const big = Array.from({ length: 3122 }, (_, i) => `u${i}`);
    state.push({ group: 'big', groupId: { procId: 1, time: 1, index: 1 }, changed: false, viewSize: 3122, members: big });
    const bytesMax = 8_000;
    const parts = encodeStateParts({ rep: 0xfffffffe, seq: 2 ** 40 }, state, bytesMax);
    expect(parts.length).toBeGreaterThan(40);
    const decoded = parts.map((p) => decodeGroupPayload(p) as GroupStatePayload);
    decoded.forEach((d, i) => {
      expect(parts[i]!.length).toBeLessThanOrEqual(bytesMax);
      expect(d).toMatchObject({ kind: 'state', ring: { rep: 0xfffffffe, seq: 2 ** 40 }, part: i, parts: parts.length });
    });
    const merged = new Map<string, LocalGroupState>();
    for (const d of decoded) {
      for (const e of d.entries) {
        const m = merged.get(e.group);
        if (m) (m.members as string[]).push(...e.members);
        else merged.set(e.group, { group: e.group, groupId: e.groupId, changed: e.changed, viewSize: e.viewSize, members: [...e.members] });
      }
    }
    expect([...merged.values()]).toEqual(state);
  });

  it('sends one message for an empty state, so that the sender is counted', () => {
    const parts = encodeStateParts({ rep: 1, seq: 1 }, [], 60_000);
    expect(parts).toHaveLength(1);
    expect(decodeGroupPayload(parts[0]!)).toEqual({ kind: 'state', ring: { rep: 1, seq: 1 }, part: 0, parts: 1, entries: [] });
  });
});
