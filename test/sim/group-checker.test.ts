import { describe, expect, it } from 'vitest';
import { checkGroupHistory, type GroupPropertyName } from '../../src/sim/group-checker.js';
import type { GroupHistory, SessionEvent, SessionHistory } from '../../src/sim/group-views.js';
import { MessageType } from '../../src/session/protocol.js';
import { Service, type ServiceLevel } from '../../src/util/service.js';

const A = '#a#d0';
const B = '#b#d1';
const C = '#c#d2';

function view(group: string, index: number, members: string[], cause: number = MessageType.CAUSED_BY_JOIN, vsSets: string[][] = [[members[0]!]], time = 7): SessionEvent {
  return { kind: 'view', atMs: index, group, groupId: { procId: 1, time, index }, members, cause, vsSets };
}

function data(id: string, sender: string, groups: string[], service: ServiceLevel = Service.AGREED, selfDiscard = false): SessionEvent {
  return { kind: 'data', atMs: 0, id, sender, groups, service, selfDiscard };
}

function session(name: string, events: SessionEvent[]): SessionHistory {
  return { name, daemon: 1, incarnation: 1, openedAtMs: 0, events };
}

function check(...sessions: SessionHistory[]): GroupPropertyName[] {
  const h: GroupHistory = { sessions, undecodable: [] };
  return checkGroupHistory(h).violated;
}

describe('group view checker', () => {
  it('accepts a consistent history', () => {
    const v1 = view('g', 1, [A, B]);
    const v2 = view('g', 2, [A, B, C]);
    const r = checkGroupHistory({
      sessions: [
        session(A, [v1, data('m1', A, ['g']), data('m2', B, ['g']), v2, data('m3', C, ['g'])]),
        session(B, [v1, data('m1', A, ['g']), data('m2', B, ['g']), v2, data('m3', C, ['g'])]),
        session(C, [v2, data('m3', C, ['g'])]),
      ],
      undecodable: [],
    });
    expect(r.violated).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.stats.comparedViewPairs).toBe(1);
  });

  it('names group-view-agreement when members of one view see different member lists', () => {
    expect(check(session(A, [view('g', 1, [A, B])]), session(B, [view('g', 1, [B, C])]))).toEqual(['group-view-agreement']);
  });

  it('names group-view-id-unique when one id names two different views', () => {
    expect(check(session(A, [view('g', 1, [A]), view('g', 1, [A, B])]))).toEqual(['group-view-id-unique']);
    expect(check(session(A, [view('g', 1, [A])]), session(B, [view('g', 1, [B])]))).toEqual(['group-view-id-unique']);
    // The same view installed twice by one session: the id came back for a later view.
    expect(check(session(A, [view('g', 1, [A]), view('g', 2, [A, B]), view('g', 1, [A])]))).toEqual(['group-view-id-unique']);
  });

  it('names group-view-self-inclusion when a session installs a view it is not in', () => {
    expect(check(session(A, [view('g', 1, [B])]))).toEqual(['group-view-self-inclusion']);
  });

  it('names group-view-messages when two members go from one view to the next with different messages', () => {
    const v1 = view('g', 1, [A, B]);
    const v2 = view('g', 2, [A, B, C]);
    expect(check(session(A, [v1, data('m1', C, ['g']), v2]), session(B, [v1, v2]))).toEqual(['group-view-messages']);
    // Unreliable messages may be missing, and a member's own SELF_DISCARD message is not expected back.
    expect(check(session(A, [v1, data('u', C, ['g'], Service.UNRELIABLE), data('s', B, ['g'], Service.AGREED, true), v2]), session(B, [v1, v2]))).toEqual([]);
  });

  it('compares network views only between members that moved together (same vs_set)', () => {
    const v1 = view('g', 1, [A, B]);
    const apart = view('g', 1, [A, B], MessageType.CAUSED_BY_NETWORK, [[A], [B]], 9);
    const together = view('g', 1, [A, B], MessageType.CAUSED_BY_NETWORK, [[A, B]], 9);
    expect(check(session(A, [v1, data('m1', C, ['g']), apart]), session(B, [v1, apart]))).toEqual([]);
    expect(check(session(A, [v1, data('m1', C, ['g']), together]), session(B, [v1, together]))).toEqual(['group-view-messages']);
  });

  it('names group-view-order when AGREED messages come in different orders', () => {
    const v1 = view('g', 1, [A, B]);
    const v2 = view('g', 2, [A, B, C]);
    const m1 = data('m1', C, ['g']);
    const m2 = data('m2', C, ['g'], Service.SAFE);
    expect(check(session(A, [v1, m1, m2, v2]), session(B, [v1, m2, m1, v2]))).toEqual(['group-view-order']);
    // FIFO messages from different senders may interleave differently.
    const f1 = data('f1', C, ['g'], Service.FIFO);
    const f2 = data('f2', '#d#d3', ['g'], Service.FIFO);
    expect(check(session(A, [v1, f1, f2, v2]), session(B, [v1, f2, f1, v2]))).toEqual([]);
  });

  it('names group-delivery-membership for a message received outside every destination group', () => {
    expect(check(session(A, [data('m1', B, ['g'])]))).toEqual(['group-delivery-membership']);
    const left: SessionEvent = { kind: 'selfLeave', atMs: 2, group: 'g' };
    expect(check(session(A, [view('g', 1, [A]), left, data('m1', B, ['g'])]))).toEqual(['group-delivery-membership']);
    // Addressed to the session's private group: fine without any group.
    expect(check(session(A, [data('m1', B, ['h', A])]))).toEqual([]);
  });

  it('names group-self-discard and group-duplicate', () => {
    expect(check(session(A, [view('g', 1, [A]), data('m1', A, ['g'], Service.AGREED, true)]))).toEqual(['group-self-discard']);
    expect(check(session(A, [view('g', 1, [A]), data('m1', B, ['g']), data('m1', B, ['g'])]))).toEqual(['group-duplicate']);
  });

  it('names group-frame for an undecodable frame, and ignores what it is told to', () => {
    const h: GroupHistory = { sessions: [session(A, [view('g', 1, [A]), view('g', 1, [A, B])])], undecodable: [{ atMs: 1, session: A, problem: 'short' }] };
    expect(checkGroupHistory(h).violated).toEqual(['group-view-id-unique', 'group-frame']);
    const r = checkGroupHistory(h, { ignore: ['group-view-id-unique'] });
    expect(r.violated).toEqual(['group-frame']);
    expect(r.ignored).toEqual(['group-view-id-unique']);
  });
});
