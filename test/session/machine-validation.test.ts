import { describe, expect, it } from 'vitest';
import { ClientSession, type SessionHost, type SessionRequest } from '../../src/session/machine.js';
import { encodeMessage, makeHint } from '../../src/session/codec.js';
import { MessageType as T } from '../../src/session/protocol.js';
import * as V from './vectors.js';

function openSession(opts: { requestsQueuedMax?: number } = {}): ClientSession {
  const names = new Set<string>();
  const host: SessionHost = {
    daemonName: 'd1',
    allowedAuthMethods: ['NULL'],
    requiredAuthMethods: [],
    peer: { kind: 'unix' },
    tryReserveName: (n) => !names.has(n) && (names.add(n), true),
    assignName: () => 'r1-1',
    authenticate: () => 'ok',
  };
  const s = new ClientSession(host, opts);
  s.receive(V.concat(V.aliceConnect, V.authChoiceNull));
  while (s.pollOutput()) {
    /* handshake bytes */
  }
  expect(s.state).toBe('open');
  return s;
}

function drain(s: ClientSession): SessionRequest[] {
  const out: SessionRequest[] = [];
  for (let r = s.pollRequest(); r; r = s.pollRequest()) out.push(r);
  return out;
}

/** A raw little-endian header with any field values. */
function header(f: { type: number; sender?: Uint8Array; numGroups: number; hint?: number; dataLen: number }): Uint8Array {
  const b = Buffer.alloc(48);
  b.writeUInt32LE((f.type | T.ENDIAN_MARKER) >>> 0, 0);
  b.set(f.sender ?? V.nameField('#alice#d1'), 4);
  b.writeInt32LE(f.numGroups, 36);
  b.writeUInt32LE((f.hint ?? makeHint(0)) >>> 0, 40);
  b.writeInt32LE(f.dataLen, 44);
  return Uint8Array.from(b);
}

function frame(type: number, groups: string[], data: Uint8Array, hint?: number): Uint8Array {
  return Uint8Array.from(encodeMessage({ type, sender: '#alice#d1', groups, data, ...(hint === undefined ? {} : { hint }) }));
}

/** Feeds `bytes` one at a time and all at once; returns the requests and final state of each. */
function both(bytes: Uint8Array): { reqs: SessionRequest[]; s: ClientSession }[] {
  const results: { reqs: SessionRequest[]; s: ClientSession }[] = [];
  const whole = openSession();
  whole.receive(bytes);
  results.push({ reqs: drain(whole), s: whole });
  const single = openSession();
  const reqs: SessionRequest[] = [];
  for (const b of bytes) {
    single.receive(Uint8Array.of(b));
    reqs.push(...drain(single));
  }
  results.push({ reqs, s: single });
  return results;
}

function expectKilled(bytes: Uint8Array, detail: RegExp): void {
  for (const { reqs, s } of both(bytes)) {
    expect(reqs).toEqual([{ kind: 'kill' }]);
    expect(s.state).toBe('closed');
    expect(s.closeReason?.kind).toBe('invalid-header');
    expect(s.closeReason && 'detail' in s.closeReason ? s.closeReason.detail : '').toMatch(detail);
    expect(s.pollOutput()).toBeUndefined(); // no error byte (§5)
  }
}

function expectAccepted(bytes: Uint8Array): SessionRequest {
  let first: SessionRequest | undefined;
  for (const { reqs, s } of both(bytes)) {
    expect(s.state).toBe('open');
    expect(reqs).toHaveLength(1);
    first = reqs[0];
  }
  if (first === undefined) throw new Error('no request');
  return first;
}

const data = (n: number): Uint8Array => new Uint8Array(n).fill(0x42);

describe('§5 service bits', () => {
  it('two service levels (probe 22: AGREED|SAFE) -> killed', () => {
    expectKilled(frame(T.AGREED_MESS | T.SAFE_MESS, ['g'], data(3)), /exactly one/);
  });
  it('no service level and no JOIN/LEAVE/KILL -> killed', () => {
    expectKilled(frame(0, ['g'], data(3)), /exactly one/);
    expectKilled(frame(T.SELF_DISCARD, ['g'], data(3)), /exactly one/);
  });
  it('a service level together with JOIN -> killed', () => {
    expectKilled(frame(T.JOIN_MESS | T.AGREED_MESS, ['g'], data(0)), /exactly one/);
  });
  it('JOIN|LEAVE -> killed', () => {
    expectKilled(frame(T.JOIN_MESS | T.LEAVE_MESS, ['g'], data(0)), /exactly one/);
  });
  it('bits no client request carries -> killed (Spread leaves them unchecked; Ringcast does not)', () => {
    for (const extra of [T.CAUSED_BY_JOIN, T.REG_MEMB_MESS, T.REJECT_MESS, 0x4000, 0x01000000, 0x20000000, 0x00000800]) {
      expectKilled(frame(T.AGREED_MESS | extra, ['g'], data(1)), /bits/);
    }
  });
  it('every single service level, with and without SELF_DISCARD, is accepted', () => {
    for (const svc of [1, 2, 4, 8, 16, 32]) {
      for (const sd of [0, T.SELF_DISCARD]) {
        const bytes = frame(svc | sd, ['grp1', '#bob#d1'], data(5), makeHint(7));
        const r = expectAccepted(bytes);
        expect(r).toEqual({ kind: 'data', frame: bytes, service: svc, selfDiscard: sd !== 0, groups: ['grp1', '#bob#d1'] });
      }
    }
  });
});

describe('§5 sender', () => {
  it("another session's private group (probe 23) -> killed", () => {
    expectKilled(V.concat(header({ type: T.AGREED_MESS, sender: V.nameField('#bob#d1'), numGroups: 0, dataLen: 0 })), /sender/);
  });
  it('own name at another daemon -> killed', () => {
    expectKilled(header({ type: T.AGREED_MESS, sender: V.nameField('#alice#d2'), numGroups: 0, dataLen: 0 }), /sender/);
  });
  it('a prefix or extension of the own name -> killed', () => {
    expectKilled(header({ type: T.AGREED_MESS, sender: V.nameField('#alice#d'), numGroups: 0, dataLen: 0 }), /sender/);
    expectKilled(header({ type: T.AGREED_MESS, sender: V.nameField('#alice#d11'), numGroups: 0, dataLen: 0 }), /sender/);
    expectKilled(header({ type: T.AGREED_MESS, sender: V.nameField('alice'), numGroups: 0, dataLen: 0 }), /sender/);
  });
  it('own name followed by garbage after the NUL is accepted (compare up to the first NUL)', () => {
    const sender = V.nameField('#alice#d1', V.hex('00 ee 1b 86 55 01 02 03'));
    const r = expectAccepted(header({ type: T.AGREED_MESS, sender, numGroups: 0, dataLen: 0 }));
    expect(r).toMatchObject({ kind: 'data', groups: [] });
  });
});

describe('§5 num_groups, hint, data_len', () => {
  it('num_groups 0 is accepted (probe 17) and 100 is accepted', () => {
    expect(expectAccepted(frame(T.AGREED_MESS, [], data(4)))).toMatchObject({ groups: [] });
    const groups = Array.from({ length: 100 }, (_, i) => `g${i}`);
    expect(expectAccepted(frame(T.SAFE_MESS, groups, data(10)))).toMatchObject({ groups });
  });
  it('num_groups 101 (probe 25) or negative -> killed at the header', () => {
    expectKilled(header({ type: T.AGREED_MESS, numGroups: 101, dataLen: 0 }), /num_groups/);
    expectKilled(header({ type: T.AGREED_MESS, numGroups: -1, dataLen: 0 }), /num_groups/);
    expectKilled(header({ type: T.AGREED_MESS, numGroups: -0x80000000, dataLen: 0 }), /num_groups/);
  });
  it('hint with a bit outside 0x80ffff80 (probe 24) -> killed', () => {
    for (const hint of [0x80000081, 0x81000080, 0x80000000 | 0x7f, 0x01000000, 0x40000000]) {
      expectKilled(header({ type: T.AGREED_MESS, numGroups: 0, hint, dataLen: 0 }), /hint/);
    }
  });
  it('any mess_type with either marker is accepted and the hint passed through', () => {
    for (const hint of [0x80ffff80, 0x00123400, 0x80000080, 0]) {
      const bytes = frame(T.AGREED_MESS, ['g'], data(1), hint);
      const r = expectAccepted(bytes);
      expect(r.kind === 'data' && Buffer.from(r.frame).readUInt32LE(40)).toBe(hint >>> 0);
    }
  });
  it('negative data_len -> killed', () => {
    expectKilled(header({ type: T.AGREED_MESS, numGroups: 1, dataLen: -1 }), /data_len/);
  });
  it('data_len + 32 x num_groups = 144000 is accepted (every body libspread can send)', () => {
    expect(expectAccepted(frame(T.AGREED_MESS, ['g'], data(144000 - 32)))).toMatchObject({ kind: 'data' });
    const groups = Array.from({ length: 100 }, (_, i) => `group-${i}`);
    const r = expectAccepted(frame(T.AGREED_MESS, groups, data(144000 - 3200)));
    expect(r.kind === 'data' && r.frame.length).toBe(48 + 144000);
    expect(expectAccepted(frame(T.AGREED_MESS, [], data(144000)))).toMatchObject({ kind: 'data' });
  });
  it('144001 -> killed as soon as the header is in, without waiting for the body', () => {
    expectKilled(header({ type: T.AGREED_MESS, numGroups: 1, dataLen: 144000 - 32 + 1 }), /144001 exceeds 144000/);
    expectKilled(header({ type: T.AGREED_MESS, numGroups: 100, dataLen: 144000 - 3200 + 1 }), /exceeds/);
    expectKilled(header({ type: T.AGREED_MESS, numGroups: 0, dataLen: 0x7fffffff }), /exceeds/);
    // probe 20: 1 group + 143921 is within Ringcast's limit
    expect(expectAccepted(frame(T.AGREED_MESS, ['g'], data(143921)))).toMatchObject({ kind: 'data' });
  });
  it('a garbled endian marker -> killed', () => {
    const b = frame(T.AGREED_MESS, ['g'], data(1));
    b[3] = 0x00; // low marker bit set, high one clear
    expectKilled(b, /endian marker/);
  });
});

describe('JOIN, LEAVE, KILL', () => {
  it('JOIN and LEAVE of one valid group', () => {
    expect(expectAccepted(V.aliceJoinGrp1)).toEqual({ kind: 'join', group: 'grp1' });
    expect(expectAccepted(V.aliceLeaveGrp1)).toEqual({ kind: 'leave', group: 'grp1' });
    const longest = 'x'.repeat(31);
    expect(expectAccepted(frame(T.JOIN_MESS, [longest], data(0)))).toEqual({ kind: 'join', group: longest });
    expect(expectAccepted(frame(T.LEAVE_MESS, ['$~'], data(0)))).toEqual({ kind: 'leave', group: '$~' });
  });
  it('JOIN/LEAVE with zero or two groups -> killed', () => {
    expectKilled(frame(T.JOIN_MESS, [], data(0)), /exactly one group/);
    expectKilled(frame(T.LEAVE_MESS, ['a', 'b'], data(0)), /exactly one group/);
  });
  it('JOIN/LEAVE of an invalid name -> killed', () => {
    expectKilled(frame(T.JOIN_MESS, ['#bob#d1'], data(0)), /group name/);
    expectKilled(frame(T.JOIN_MESS, [''], data(0)), /group name/);
    expectKilled(frame(T.LEAVE_MESS, ['a b'], data(0)), /group name/);
    const noNul = V.concat(header({ type: T.JOIN_MESS, numGroups: 1, dataLen: 0 }), V.ascii('y'.repeat(32)));
    expectKilled(noNul, /group name/);
  });
  it('KILL with garbage in its group slot (capture A) -> kill, closed', () => {
    for (const { reqs, s } of both(V.aliceKill)) {
      expect(reqs).toEqual([{ kind: 'kill' }]);
      expect(s.closeReason).toEqual({ kind: 'disconnect' });
    }
  });
});

describe('session lifecycle after the handshake', () => {
  it('EOF without KILL emits one kill (§9)', () => {
    const s = openSession();
    s.end();
    s.end();
    s.terminate('socket-error');
    expect(drain(s)).toEqual([{ kind: 'kill' }]);
    expect(s.closeReason).toEqual({ kind: 'eof', during: 'session' });
  });
  it('terminate (slow reader) emits one kill', () => {
    const s = openSession();
    s.terminate('not-reading');
    s.end();
    expect(drain(s)).toEqual([{ kind: 'kill' }]);
    expect(s.closeReason).toEqual({ kind: 'terminated', cause: 'not-reading' });
  });
  it('requests before an invalid header are kept, then the kill; later bytes are ignored', () => {
    const s = openSession();
    const bad = header({ type: T.AGREED_MESS, numGroups: 101, dataLen: 0 });
    s.receive(V.concat(V.aliceJoinGrp1, V.aliceSafeGrp1, bad, V.aliceLeaveGrp1));
    s.receive(V.aliceJoinGrp1);
    expect(drain(s).map((r) => r.kind)).toEqual(['join', 'data', 'kill']);
    expect(s.bufferedBytes()).toBe(0);
  });
  it('a big-endian writer is normalised to little-endian, hint untouched (probe 15)', () => {
    const be = Buffer.alloc(48 + 32 + 15);
    be.writeUInt32BE(T.AGREED_MESS, 0);
    be.set(V.nameField('#alice#d1'), 4);
    be.writeInt32BE(1, 36);
    be.set(V.hex('00 12 34 00'), 40);
    be.writeInt32BE(15, 44);
    be.set(V.nameField('grp1'), 48);
    be.write('from-big-endian', 80, 'latin1');
    const r = expectAccepted(Uint8Array.from(be));
    if (r.kind !== 'data') throw new Error('expected data');
    const f = Buffer.from(r.frame);
    expect(f.readUInt32LE(0)).toBe(0x80000090);
    expect(f.readInt32LE(36)).toBe(1);
    expect(f.subarray(40, 44)).toEqual(Buffer.from([0x00, 0x12, 0x34, 0x00]));
    expect(f.readInt32LE(44)).toBe(15);
    expect(f.subarray(80).toString('latin1')).toBe('from-big-endian');
    expect(r.groups).toEqual(['grp1']);
  });
  it('parses ahead at most requestsQueuedMax requests; the rest waits in the byte queue', () => {
    const s = openSession({ requestsQueuedMax: 8 });
    const frames = Array.from({ length: 500 }, (_, i) => frame(T.FIFO_MESS, ['g'], V.ascii(`m${i}`)));
    s.receive(V.concat(...frames));
    // 8 parsed, the rest still raw
    const perFrame = frames[0]?.length ?? 0;
    expect(s.bufferedBytes()).toBeGreaterThanOrEqual((500 - 8 - 1) * perFrame);
    const got = drain(s);
    expect(got).toHaveLength(500);
    expect(got.map((r) => (r.kind === 'data' ? Buffer.from(r.frame.subarray(80)).toString() : ''))).toEqual(
      frames.map((_, i) => `m${i}`),
    );
    expect(s.bufferedBytes()).toBe(0);
  });
});
