import { describe, expect, it } from 'vitest';
import { ClientSession, type AuthOutcome, type SessionHost, type SessionRequest } from '../../src/session/machine.js';
import { encodeAuthChoice } from '../../src/session/codec.js';
import * as V from './vectors.js';

interface TestHost extends SessionHost {
  names: Set<string>;
  authCalls: string[][];
}

function makeHost(over: Partial<Omit<TestHost, 'names' | 'authCalls'>> & { names?: Set<string>; auth?: AuthOutcome } = {}): TestHost {
  const names = over.names ?? new Set<string>();
  const authCalls: string[][] = [];
  return {
    daemonName: over.daemonName ?? 'd1',
    allowedAuthMethods: over.allowedAuthMethods ?? ['NULL'],
    requiredAuthMethods: over.requiredAuthMethods ?? [],
    peer: over.peer ?? { kind: 'tcp', address: '127.0.0.1' },
    names,
    authCalls,
    tryReserveName:
      over.tryReserveName ??
      ((n) => {
        if (names.has(n)) return false;
        names.add(n);
        return true;
      }),
    assignName:
      over.assignName ??
      (() => {
        names.add('r7833-12');
        return 'r7833-12';
      }),
    authenticate:
      over.authenticate ??
      ((m) => {
        authCalls.push([...m]);
        return over.auth ?? 'ok';
      }),
  };
}

function drainOutput(s: ClientSession): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let o = s.pollOutput(); o; o = s.pollOutput()) parts.push(o);
  return V.concat(...parts);
}

function drainRequests(s: ClientSession): SessionRequest[] {
  const out: SessionRequest[] = [];
  for (let r = s.pollRequest(); r; r = s.pollRequest()) out.push(r);
  return out;
}

type Feed = 'whole' | 'bytes' | 'records';

/** Runs a conversation, feeding the client's records whole, one byte at a time, or record by record. */
function run(host: SessionHost, records: Uint8Array[], feed: Feed): { s: ClientSession; out: Uint8Array; reqs: SessionRequest[] } {
  const s = new ClientSession(host);
  const outs: Uint8Array[] = [];
  const reqs: SessionRequest[] = [];
  const drain = (): void => {
    outs.push(drainOutput(s));
    reqs.push(...drainRequests(s));
  };
  if (feed === 'whole') {
    s.receive(V.concat(...records));
    drain();
  } else if (feed === 'records') {
    for (const r of records) {
      s.receive(r);
      drain();
    }
  } else {
    for (const b of V.concat(...records)) {
      s.receive(Uint8Array.of(b));
      drain();
    }
  }
  return { s, out: V.concat(...outs), reqs };
}

const FEEDS: Feed[] = ['whole', 'bytes', 'records'];

describe('handshake against captured bytes', () => {
  for (const feed of FEEDS) {
    it(`libspread 5.0.1 (alice, capture A stream 0), fed ${feed}`, () => {
      const host = makeHost();
      const { s, out } = run(host, [V.aliceConnect, V.authChoiceNull], feed);
      expect(Buffer.from(out).toString('hex')).toBe(Buffer.from(V.concat(V.authListNull, V.aliceAccept)).toString('hex'));
      expect(s.state).toBe('open');
      expect(s.privateGroup).toBe('#alice#d1');
      expect(s.name).toBe('alice');
      expect(s.membership).toBe(true);
      expect(s.priority).toBe(0);
      expect(s.clientVersion).toEqual({ major: 5, minor: 0, patch: 1 });
      expect(host.authCalls).toEqual([['NULL']]);
      expect(host.names.has('alice')).toBe(true);
    });

    it(`the whole of alice's capture, fed ${feed}`, () => {
      const { s, out, reqs } = run(
        makeHost(),
        [V.aliceConnect, V.authChoiceNull, V.aliceJoinGrp1, V.aliceSafeGrp1, V.aliceSafeToBob, V.aliceLeaveGrp1, V.aliceKill],
        feed,
      );
      expect(out).toEqual(V.concat(V.authListNull, V.aliceAccept));
      expect(reqs).toEqual([
        { kind: 'join', group: 'grp1' },
        { kind: 'data', frame: V.aliceSafeGrp1, service: 0x20, selfDiscard: false, groups: ['grp1'] },
        { kind: 'data', frame: V.aliceSafeToBob, service: 0x20, selfDiscard: false, groups: ['#bob#d1'] },
        { kind: 'leave', group: 'grp1' },
        { kind: 'kill' },
      ]);
      expect(s.state).toBe('closed');
      expect(s.closeReason).toEqual({ kind: 'disconnect' });
    });

    it(`carol (membership off) pipelines two AGREED and a KILL (capture A stream 2), fed ${feed}`, () => {
      const { s, out, reqs } = run(makeHost(), [V.carolConnect, V.authChoiceNull, V.carolAgreed(1), V.carolAgreed(2), V.carolKill], feed);
      expect(out).toEqual(V.concat(V.authListNull, V.carolAccept));
      expect(s.membership).toBe(false);
      expect(reqs.map((r) => r.kind)).toEqual(['data', 'data', 'kill']);
      expect(reqs[0]).toMatchObject({ service: 0x10, groups: ['grp1'], frame: V.carolAgreed(1) });
      expect(reqs[1]).toMatchObject({ frame: V.carolAgreed(2) });
    });

    it(`name_len 0 gets an assigned name (capture A stream 3), fed ${feed}`, () => {
      const host = makeHost();
      const { s, out } = run(host, [V.randomConnect, V.authChoiceNull], feed);
      expect(out).toEqual(V.concat(V.authListNull, V.randomAccept));
      expect(s.privateGroup).toBe('#r7833-12#d1');
    });

    it(`3.13 client: no auth exchange, accept without patch byte (probe 1), fed ${feed}`, () => {
      const host = makeHost();
      const { s, out } = run(host, [V.v313Connect], feed);
      expect(out).toEqual(V.v313Accept);
      expect(s.state).toBe('open');
      expect(s.clientVersion).toEqual({ major: 3, minor: 13, patch: 0 });
      expect(host.authCalls).toEqual([['NULL']]);
    });

    it(`3.15.0 client: no auth exchange, accept with patch byte (probe 2), fed ${feed}`, () => {
      const { s, out } = run(makeHost(), [V.v315Connect], feed);
      expect(out).toEqual(V.v315Accept);
      expect(s.state).toBe('open');
    });

    it(`3.16.0 client: full negotiation (probe 3), fed ${feed}`, () => {
      const { s, out } = run(makeHost(), [V.v316Connect, V.authChoiceNull], feed);
      expect(out).toEqual(V.concat(V.authListNull, V.v316Accept));
      expect(s.state).toBe('open');
    });
  }

  it('a 30-byte auth choice is waited for, not refused (the 5.0.1 single-recv quirk is not copied)', () => {
    const s = new ClientSession(makeHost());
    s.receive(V.aliceConnect);
    expect(drainOutput(s)).toEqual(V.authListNull);
    s.receive(V.authChoiceNull.subarray(0, 30));
    expect(s.pollOutput()).toBeUndefined();
    expect(s.state).toBe('auth');
    s.receive(V.authChoiceNull.subarray(30));
    expect(drainOutput(s)).toEqual(V.aliceAccept);
  });

  it('connect request, choice and messages pipelined in one chunk (probe 8 got -5 from 5.0.1; Ringcast accepts)', () => {
    const { s, out, reqs } = run(makeHost(), [V.concat(V.aliceConnect, V.authChoiceNull, V.aliceJoinGrp1)], 'whole');
    expect(out).toEqual(V.concat(V.authListNull, V.aliceAccept));
    expect(reqs).toEqual([{ kind: 'join', group: 'grp1' }]);
    expect(s.state).toBe('open');
  });
});

describe('handshake rejects', () => {
  function expectReject(records: Uint8Array[], code: number, codeName: string, host = () => makeHost(), prefix = new Uint8Array(0)): void {
    for (const feed of FEEDS) {
      const { s, out, reqs } = run(host(), records, feed);
      expect(out).toEqual(V.concat(prefix, Uint8Array.of(code & 0xff)));
      expect(s.state).toBe('closed');
      expect(s.closeReason).toMatchObject({ kind: 'rejected', code, codeName });
      expect(reqs).toEqual([]);
      expect(s.opened).toBe(false);
    }
  }

  it('library older than 3.1.0 -> REJECT_VERSION f9 (probe 4)', () => {
    expectReject([V.v30Connect], -7, 'REJECT_VERSION');
    expectReject([V.hex('02 63 01 00')], -7, 'REJECT_VERSION');
  });

  it('3.1.0 is the oldest accepted', () => {
    const { s, out } = run(makeHost(), [V.hex('03 01 00 02 6f 6b')], 'bytes');
    expect(out).toEqual(V.hex('01 05 00 06 23 6f 6b 23 64 31'));
    expect(s.state).toBe('open');
  });

  it('name with a space -> REJECT_ILLEGAL_NAME fb (probe 5)', () => {
    expectReject([V.spaceNameConnect], -5, 'REJECT_ILLEGAL_NAME');
  });

  it('11-character name -> REJECT_ILLEGAL_NAME (probe 6), before the name bytes arrive', () => {
    expectReject([V.longNameConnect], -5, 'REJECT_ILLEGAL_NAME');
    const s = new ClientSession(makeHost());
    s.receive(V.longNameConnect.subarray(0, 5));
    expect(drainOutput(s)).toEqual(V.hex('fb'));
  });

  it('negative name_len -> REJECT_ILLEGAL_NAME', () => {
    expectReject([V.hex('05 00 01 01 ff')], -5, 'REJECT_ILLEGAL_NAME');
    expectReject([V.hex('05 00 01 01 80')], -5, 'REJECT_ILLEGAL_NAME');
  });

  it("names with '#', control bytes or DEL -> REJECT_ILLEGAL_NAME; '$' and '~' are fine", () => {
    expectReject([V.hex('05 00 01 01 03 61 23 62')], -5, 'REJECT_ILLEGAL_NAME');
    expectReject([V.hex('05 00 01 01 02 61 00')], -5, 'REJECT_ILLEGAL_NAME');
    expectReject([V.hex('05 00 01 01 02 61 7f')], -5, 'REJECT_ILLEGAL_NAME');
    const { s } = run(makeHost(), [V.hex('05 00 01 01 02 24 7e'), V.authChoiceNull], 'whole');
    expect(s.privateGroup).toBe('#$~#d1');
  });

  it('name in use -> REJECT_NOT_UNIQUE fa instead of the auth list (capture A stream 4)', () => {
    expectReject([V.aliceConnect], -6, 'REJECT_NOT_UNIQUE', () => makeHost({ names: new Set(['alice']) }));
  });

  it('unknown method chosen -> REJECT_AUTH f7 after the list (probe 9)', () => {
    expectReject([V.aliceConnect, V.authChoiceFoo], -9, 'REJECT_AUTH', () => makeHost(), V.authListNull);
  });

  it('no method chosen -> REJECT_AUTH (probe 11)', () => {
    expectReject([V.aliceConnect, V.authChoiceEmpty], -9, 'REJECT_AUTH', () => makeHost(), V.authListNull);
  });

  it('a chosen method that is not enabled, even next to an enabled one -> REJECT_AUTH', () => {
    expectReject([V.aliceConnect, encodeAuthChoice(['NULL', 'IP'])], -9, 'REJECT_AUTH', () => makeHost(), V.authListNull);
  });

  it('authentication denied -> REJECT_AUTH', () => {
    expectReject([V.aliceConnect, V.authChoiceNull], -9, 'REJECT_AUTH', () => makeHost({ auth: 'denied' }), V.authListNull);
  });

  it('no method enabled -> list length 00 then f7 (§3.3)', () => {
    for (const feed of FEEDS) {
      const { s, out } = run(makeHost({ allowedAuthMethods: [] }), [V.aliceConnect], feed);
      expect(out).toEqual(V.hex('00 f7'));
      expect(s.closeReason).toMatchObject({ kind: 'rejected', codeName: 'REJECT_AUTH' });
    }
  });

  it('old client with neither IP nor NULL enabled -> REJECT_AUTH', () => {
    expectReject([V.v313Connect], -9, 'REJECT_AUTH', () => makeHost({ allowedAuthMethods: [] }));
  });
});

describe('authentication methods', () => {
  it('lists the allowed methods in order and runs required ones too (§3.4, §12)', () => {
    const host = makeHost({ allowedAuthMethods: ['NULL', 'IP'], requiredAuthMethods: ['IP'] });
    const { s, out } = run(host, [V.aliceConnect, V.authChoiceNull], 'whole');
    expect(out).toEqual(V.concat(V.hex('08'), V.ascii('NULL IP '), V.aliceAccept));
    expect(host.authCalls).toEqual([['NULL', 'IP']]);
    expect(s.authMethods).toEqual(['NULL', 'IP']);
  });

  it('a required method need not be allowed: NULL allowed + IP required lists only NULL and still runs IP', () => {
    const host = makeHost({ allowedAuthMethods: ['NULL'], requiredAuthMethods: ['IP'] });
    const { out } = run(host, [V.aliceConnect, V.authChoiceNull], 'whole');
    expect(out.subarray(0, 6)).toEqual(V.authListNull);
    expect(host.authCalls).toEqual([['NULL', 'IP']]);
  });

  it('old clients get IP implicitly when it is enabled (§3.7)', () => {
    const host = makeHost({ allowedAuthMethods: ['NULL', 'IP'] });
    run(host, [V.v315Connect], 'whole');
    expect(host.authCalls).toEqual([['IP']]);
  });

  it('an asynchronous method: input is held while pending, resumed by authResult', () => {
    const host = makeHost({ auth: 'pending' });
    const s = new ClientSession(host);
    s.receive(V.concat(V.aliceConnect, V.authChoiceNull, V.ascii('user-and-password'), V.aliceJoinGrp1));
    expect(drainOutput(s)).toEqual(V.authListNull);
    expect(s.state).toBe('auth');
    expect(s.authPending).toBe(true);
    expect(s.pollRequest()).toBeUndefined();
    // the method's own exchange
    expect(s.authRead(100)).toBeUndefined();
    expect(s.authRead(17)).toEqual(V.ascii('user-and-password'));
    s.authWrite(Uint8Array.of(1));
    expect(drainOutput(s)).toEqual(Uint8Array.of(1));
    expect(s.authResult(true)).toBe(true);
    expect(drainOutput(s)).toEqual(V.aliceAccept);
    expect(drainRequests(s)).toEqual([{ kind: 'join', group: 'grp1' }]);
    expect(s.authResult(true)).toBe(false);
  });

  it('an asynchronous method that fails -> REJECT_AUTH', () => {
    const s = new ClientSession(makeHost({ auth: 'pending' }));
    s.receive(V.concat(V.aliceConnect, V.authChoiceNull));
    drainOutput(s);
    s.authResult(false);
    expect(drainOutput(s)).toEqual(V.hex('f7'));
    expect(s.closeReason).toMatchObject({ kind: 'rejected', codeName: 'REJECT_AUTH' });
  });
});

describe('session end during the handshake and host failures', () => {
  it('EOF during the handshake closes without a kill', () => {
    const s = new ClientSession(makeHost());
    s.receive(V.aliceConnect);
    s.end();
    expect(s.closeReason).toEqual({ kind: 'eof', during: 'handshake' });
    drainOutput(s);
    expect(drainRequests(s)).toEqual([]);
  });

  it('terminate during the handshake (timeout) closes without a reply or kill', () => {
    const s = new ClientSession(makeHost());
    s.receive(V.aliceConnect.subarray(0, 3));
    s.terminate('handshake-timeout');
    expect(s.pollOutput()).toBeUndefined();
    expect(s.pollRequest()).toBeUndefined();
    expect(s.closeReason).toEqual({ kind: 'terminated', cause: 'handshake-timeout' });
  });

  it('a host that throws closes only this session', () => {
    const s = new ClientSession(
      makeHost({
        authenticate: () => {
          throw new Error('boom');
        },
      }),
    );
    expect(() => s.receive(V.concat(V.aliceConnect, V.authChoiceNull))).not.toThrow();
    expect(s.closeReason).toEqual({ kind: 'host-error', detail: 'boom' });
  });

  it('an assigned name that is not a valid private name is a host error', () => {
    const s = new ClientSession(makeHost({ assignName: () => 'much-too-long-name' }));
    s.receive(V.randomConnect);
    expect(s.closeReason?.kind).toBe('host-error');
  });

  it('refuses a daemon name that cannot form private groups', () => {
    expect(() => new ClientSession(makeHost({ daemonName: '' }))).toThrow(/daemon name/);
    expect(() => new ClientSession(makeHost({ daemonName: 'a'.repeat(20) }))).toThrow(/daemon name/);
    expect(() => new ClientSession(makeHost({ daemonName: 'd#1' }))).toThrow(/daemon name/);
  });
});
