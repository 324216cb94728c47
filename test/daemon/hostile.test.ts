/**
 * Hostile and broken clients against a real ringcastd process. For every case: the offending
 * connection is dealt with as the spec says (reject byte, or the session closed without an error
 * byte), the daemon logs a line about it, it is still the same live process, and bystander
 * sessions connected all along still send and receive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Received, type SpreadConnection } from '../../src/client/index.js';
import { encodeAuthChoice, encodeConnectRequest } from '../../src/session/codec.js';
import { MessageType } from '../../src/session/protocol.js';
import {
  clientFrame,
  messagesOf,
  rawConnect,
  rawHeader,
  rawSession,
  sleep,
  type RawConnection,
  type RawSession,
} from '../helpers/raw-session.js';
import { pidAlive, startSingleDaemon, waitForLog, type SingleDaemon } from '../helpers/single-daemon.js';
import { pseudoRandomBytes } from '../helpers/xorshift.js';

/** The daemon's fixed handshake timeout (src/daemon/daemon.ts); a stalled handshake is dropped after it. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
const MAX_SESSION_MESSAGES = 50;
const CLOSE_WAIT_MS = 3000;

let d: SingleDaemon;
let pid: number;
let alpha: SpreadConnection;
let beta: SpreadConnection;
/** Sees memberships of the group hostile sessions join. */
let observer: SpreadConnection;
let stalledConnect: RawConnection;
let stalledAuth: RawConnection;
let stalledPeers: string[] = [];
let stallStartedAt = 0;
let round = 0;

beforeAll(async () => {
  d = await startSingleDaemon({
    name: 'd1',
    extraConfig: `MaxSessionMessages = ${MAX_SESSION_MESSAGES}\nEventPriority = DEBUG\nDebugFlags = { PRINT EXIT SESSION }\n`,
  });
  pid = d.daemon.pid;
  // The stalled handshakes run in the background for the whole file, so the 10 s timeout costs no extra time.
  stallStartedAt = Date.now();
  stalledConnect = await rawConnect({ port: d.port });
  await stalledConnect.write(Buffer.from([5, 0, 1])); // half a connect request
  stalledAuth = await rawConnect({ port: d.port });
  await stalledAuth.write(encodeConnectRequest({ major: 5, minor: 0, patch: 1, membership: true, priority: 0, name: 'stalled' }));
  await stalledAuth.waitBytes(6, 3000); // the auth list came; the choice never will
  stalledPeers = [peerOf(stalledConnect), peerOf(stalledAuth)];

  alpha = await connect(d.tcpAddress, { name: 'alpha', membership: false, timeoutMs: 5000 });
  beta = await connect(d.socketPath, { name: 'beta', membership: false, timeoutMs: 5000 });
  observer = await connect(d.tcpAddress, { name: 'observer', timeoutMs: 5000 });
  await alpha.join('watch');
  await beta.join('watch');
  await observer.join('hgrp');
  await nextMatching(observer, (m) => m.kind === 'membership');
}, 30_000);

afterAll(async () => {
  for (const c of [alpha, beta, observer]) await c?.disconnect().catch(() => undefined);
  stalledConnect?.socket.destroy();
  stalledAuth?.socket.destroy();
  await d?.stop();
});

/** Next received message satisfying `pred`, skipping others (bounded). */
async function nextMatching(c: SpreadConnection, pred: (m: Received) => boolean, ms = 5000): Promise<Received> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error('no matching message in time');
    const m = await c.receive({ signal: AbortSignal.timeout(left) });
    if (pred(m)) return m;
  }
}

/** The daemon is the same live process, and the bystanders still send and receive. */
async function expectUnaffected(): Promise<void> {
  expect(d.daemon.proc.exitCode).toBeNull();
  expect(pidAlive(pid)).toBe(true);
  expect(d.daemon.pid).toBe(pid);
  const token = `round-${++round}`;
  await beta.multicast('AGREED', 'watch', token);
  for (const c of [alpha, beta]) {
    const m = await nextMatching(c, (x) => x.kind === 'data' && Buffer.from(x.data).toString() === token);
    expect(m.kind).toBe('data');
  }
}

/** The log line about a connection, found by its peer address (127.0.0.1:<its port>) or its private group. */
async function logAbout(key: string, re: RegExp): Promise<string | undefined> {
  return waitForLog(d.daemon, new RegExp(`${key.replace(/[.*+?^${}()|[\]\\#]/g, '\\$&')}.*${re.source}`), 3000);
}

function peerOf(c: RawConnection): string {
  return `127.0.0.1:${c.socket.localPort}`;
}

/** A raw session that joined `hgrp` (the observer sees its join). */
async function hostileMember(name: string): Promise<RawSession> {
  const s = await rawSession({ port: d.port }, name);
  await s.write(clientFrame(MessageType.JOIN_MESS, s.privateGroup, ['hgrp']));
  await nextMatching(observer, (m) => m.kind === 'membership' && m.changed === s.privateGroup);
  // Its own copy of the join membership is the last thing it is owed.
  await s.waitFor(() => messagesOf(s).length >= 1, 3000, 'its own join membership');
  return s;
}

/** The session was killed: closed by the daemon without an error byte, the observer saw CAUSED_BY_DISCONNECT. */
async function expectKilled(s: RawSession): Promise<void> {
  const before = s.received().length;
  expect(await s.closedWithin(CLOSE_WAIT_MS)).toBe('closed');
  const m = await nextMatching(observer, (x) => x.kind === 'membership' && x.changed === s.privateGroup);
  expect(m).toMatchObject({ reason: 'disconnect' });
  // Nothing but what was already queued (its own join membership) came after the bad frame.
  expect(s.received().length).toBe(before);
}

function pseudoRandom(seed: number, n: number): Buffer {
  return Buffer.from(pseudoRandomBytes(seed, n));
}

describe('hostile clients against ringcastd', () => {
  it('truncated frames then close: the session ends as a disconnect, nothing else changes', async () => {
    const s1 = await hostileMember('trunc1');
    await s1.write(clientFrame(MessageType.AGREED_MESS, s1.privateGroup, ['hgrp'], 'x'.repeat(100)).subarray(0, 30));
    await sleep(50);
    s1.socket.end();
    await nextMatching(observer, (m) => m.kind === 'membership' && m.changed === s1.privateGroup && m.reason === 'disconnect');
    expect(await logAbout(s1.privateGroup, /eof: connection closed without KILL_MESS/)).toBeDefined();

    // Header complete, body cut short.
    const s2 = await hostileMember('trunc2');
    await s2.write(clientFrame(MessageType.AGREED_MESS, s2.privateGroup, ['hgrp'], 'y'.repeat(1000)).subarray(0, 48 + 32 + 10));
    await sleep(50);
    s2.socket.destroy();
    await nextMatching(observer, (m) => m.kind === 'membership' && m.changed === s2.privateGroup && m.reason === 'disconnect');
    expect(await logAbout(s2.privateGroup, /eof|socket error/)).toBeDefined();

    // Truncated connect request.
    const c = await rawConnect({ port: d.port });
    await c.write(Buffer.from([5, 0, 1, 1, 5, 0x61]));
    const peer = peerOf(c);
    c.socket.end();
    expect(await c.closedWithin(CLOSE_WAIT_MS)).toBe('closed');
    expect(c.received().length).toBe(0);
    expect(await logAbout(peer, /eof: connection closed during the handshake/)).toBeDefined();
    await expectUnaffected();
  });

  it('a reset (client closing with unread data) is an implicit disconnect', async () => {
    const s = await hostileMember('resetter');
    // Unread frames wait in its receive buffer, so closing sends RST rather than FIN.
    await alpha.multicast('AGREED', ['hgrp'], 'unread');
    await s.waitFor(() => messagesOf(s).length >= 2, 3000, 'an unread message');
    s.socket.pause();
    s.socket.resetAndDestroy();
    const m = await nextMatching(observer, (x) => x.kind === 'membership' && x.changed === s.privateGroup);
    expect(m).toMatchObject({ reason: 'disconnect' });
    expect(await logAbout(s.privateGroup, /socket error ECONNRESET/)).toBeDefined();
    await expectUnaffected();
  });

  it('data_len above the maximum kills the session (no crash); the 5.0.1 crash band is delivered', async () => {
    const s = await hostileMember('toolong');
    await s.write(rawHeader({ type: MessageType.AGREED_MESS, sender: s.privateGroup, numGroups: 1, dataLen: 144_000 - 32 + 1 }));
    await expectKilled(s);
    expect(await logAbout(s.privateGroup, /invalid-header: data_len \+ 32 x num_groups = 144001 exceeds 144000/)).toBeDefined();

    const huge = await hostileMember('huge');
    await huge.write(rawHeader({ type: MessageType.SAFE_MESS, sender: huge.privateGroup, numGroups: 0, dataLen: 0x7fffffff }));
    await expectKilled(huge);
    expect(await logAbout(huge.privateGroup, /invalid-header: .*exceeds 144000/)).toBeDefined();

    // 143,153..143,952 bytes of body aborted Spread 5.0.1; here they are ordinary messages.
    const sender = await hostileMember('band');
    for (const body of [143_153, 143_500, 143_952]) {
      const data = pseudoRandom(body, body - 32);
      await sender.write(clientFrame(MessageType.AGREED_MESS, sender.privateGroup, ['hgrp'], data));
      const m = await nextMatching(observer, (x) => x.kind === 'data' && x.sender === sender.privateGroup, 8000);
      expect(m.kind === 'data' && Buffer.from(m.data).equals(data)).toBe(true);
    }
    expect(sender.isClosed()).toBe(false);
    sender.socket.destroy();
    await nextMatching(observer, (m) => m.kind === 'membership' && m.changed === sender.privateGroup);
    await expectUnaffected();
  });

  it('negative lengths kill the session', async () => {
    const a = await hostileMember('negdata');
    await a.write(rawHeader({ type: MessageType.AGREED_MESS, sender: a.privateGroup, numGroups: 1, dataLen: -1 }));
    await expectKilled(a);
    expect(await logAbout(a.privateGroup, /invalid-header: data_len -1 is negative/)).toBeDefined();
    const b = await hostileMember('neggroups');
    await b.write(rawHeader({ type: MessageType.AGREED_MESS, sender: b.privateGroup, numGroups: -1, dataLen: 10 }));
    await expectKilled(b);
    expect(await logAbout(b.privateGroup, /invalid-header: num_groups -1 is outside 0\.\.100/)).toBeDefined();
    const c = await hostileMember('negboth');
    await c.write(rawHeader({ type: MessageType.JOIN_MESS, sender: c.privateGroup, numGroups: -2147483648, dataLen: -2147483648 }));
    await expectKilled(c);
    expect(await logAbout(c.privateGroup, /invalid-header/)).toBeDefined();
    await expectUnaffected();
  });

  it('bad or too long private names in the connect request get REJECT_ILLEGAL_NAME', async () => {
    const requests: Buffer[] = [
      Buffer.concat([Buffer.from([5, 0, 1, 1, 5]), Buffer.from('a b c')]), // space
      Buffer.concat([Buffer.from([5, 0, 1, 1, 11]), Buffer.from('elevenchars')]), // 11 > 10
      Buffer.from([5, 0, 1, 1, 0xff]), // -1
      Buffer.from([5, 0, 1, 1, 0x80]), // -128
      Buffer.concat([Buffer.from([5, 0, 1, 1, 3]), Buffer.from([0x61, 0x23, 0x62])]), // '#'
      Buffer.concat([Buffer.from([5, 0, 1, 1, 2]), Buffer.from([0x61, 0x7f])]), // DEL
      Buffer.concat([Buffer.from([5, 0, 1, 1, 3]), Buffer.from([0x61, 0x00, 0x62])]), // NUL
    ];
    for (const req of requests) {
      const c = await rawConnect({ port: d.port });
      const peer = peerOf(c);
      await c.write(req);
      await c.waitBytes(1, CLOSE_WAIT_MS);
      expect(c.received().toString('hex'), req.toString('hex')).toBe('fb');
      expect(await c.closedWithin(CLOSE_WAIT_MS)).toBe('closed');
      expect(await logAbout(peer, /REJECT_ILLEGAL_NAME \(-5\)/), req.toString('hex')).toBeDefined();
    }
    await expectUnaffected();
  });

  it('101 groups kill the session', async () => {
    const s = await hostileMember('g101');
    const groups = Array.from({ length: 101 }, (_, i) => `hgrp${i}`);
    await s.write(clientFrame(MessageType.AGREED_MESS, s.privateGroup, groups, 'too many'));
    await expectKilled(s);
    expect(await logAbout(s.privateGroup, /invalid-header: num_groups 101 is outside 0\.\.100/)).toBeDefined();
    await expectUnaffected();
  });

  it('a spoofed sender name kills the session, and nothing is delivered in the victim\'s name', async () => {
    const s = await hostileMember('spoofer');
    await s.write(clientFrame(MessageType.AGREED_MESS, alpha.privateGroup, ['hgrp', 'watch'], 'forged'));
    await expectKilled(s);
    expect(await logAbout(s.privateGroup, /invalid-header: sender "#alpha#d1" is not this session's private group/)).toBeDefined();
    // Another daemon's name for the same private name is refused too.
    const t = await hostileMember('spoof2');
    await t.write(clientFrame(MessageType.AGREED_MESS, '#spoof2#d2', ['hgrp'], 'forged'));
    await expectKilled(t);
    expect(await logAbout(t.privateGroup, /invalid-header: sender "#spoof2#d2"/)).toBeDefined();
    await expectUnaffected();
    // The bystanders' next message is a fresh one: 'forged' never reached them.
    await alpha.multicast('AGREED', 'watch', 'after forgery');
    for (const c of [alpha, beta]) {
      const m = await nextMatching(c, (x) => x.kind === 'data');
      expect(m.kind === 'data' && Buffer.from(m.data).toString()).toBe('after forgery');
    }
  });

  it('unknown type bits, two service levels, no service, or stray hint bits kill the session', async () => {
    const cases: { name: string; type: number; hint?: number; log: RegExp }[] = [
      { name: 'bit23', type: MessageType.AGREED_MESS | 0x00800000, log: /has bits 0x00800000 that no client request carries/ },
      { name: 'rejbit', type: MessageType.AGREED_MESS | MessageType.REJECT_MESS, log: /has bits 0x00400000/ },
      { name: 'membbit', type: MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_JOIN, log: /has bits 0x00001100/ },
      { name: 'twosvc', type: MessageType.AGREED_MESS | MessageType.SAFE_MESS, log: /must carry exactly one service level/ },
      { name: 'nosvc', type: MessageType.SELF_DISCARD, log: /must carry exactly one service level/ },
      { name: 'joinkill', type: MessageType.JOIN_MESS | MessageType.KILL_MESS, log: /must carry exactly one service level/ },
      { name: 'hintbit', type: MessageType.AGREED_MESS, hint: 0x80000081, log: /hint 0x80000081 has bits 0x00000001 outside 0x80ffff80/ },
    ];
    for (const c of cases) {
      const s = await hostileMember(c.name);
      const frame = clientFrame(MessageType.AGREED_MESS, s.privateGroup, ['hgrp'], 'odd');
      frame.writeUInt32LE((c.type | MessageType.ENDIAN_MARKER) >>> 0, 0);
      if (c.hint !== undefined) frame.writeUInt32LE(c.hint >>> 0, 40);
      await s.write(frame);
      await expectKilled(s);
      expect(await logAbout(s.privateGroup, c.log), c.name).toBeDefined();
    }
    // A garbled endian marker (only one half of 0x80000080) is refused as well.
    const g = await hostileMember('garbled');
    const frame = clientFrame(MessageType.AGREED_MESS, g.privateGroup, ['hgrp'], 'odd');
    frame[3] = frame[3]! & 0x7f;
    await g.write(frame);
    await expectKilled(g);
    expect(await logAbout(g.privateGroup, /invalid-header: .*endian marker/)).toBeDefined();
    await expectUnaffected();
  });

  it(`a client that never reads is disconnected after MaxSessionMessages (${MAX_SESSION_MESSAGES}); the others carry on`, async () => {
    const slow = await rawSession({ port: d.port }, 'sloth');
    await slow.write(clientFrame(MessageType.JOIN_MESS, slow.privateGroup, ['flood']));
    const reader = await connect(d.tcpAddress, { name: 'reader', timeoutMs: 5000 });
    const flooder = await connect(d.socketPath, { name: 'flooder', membership: false, timeoutMs: 5000 });
    try {
      await reader.join('flood');
      await nextMatching(reader, (m) => m.kind === 'membership' && m.members.length === 2);
      slow.socket.pause();
      const messages = 200;
      const payload = Buffer.alloc(100_000, 0x5a);
      const received: number[] = [];
      let sawSlowGo = false;
      const readAll = (async () => {
        while (received.length < messages) {
          const m = await reader.receive({ signal: AbortSignal.timeout(15_000) });
          if (m.kind === 'data') received.push(m.messType);
          else if (m.kind === 'membership' && m.reason === 'disconnect' && m.changed === slow.privateGroup) sawSlowGo = true;
        }
      })();
      for (let i = 0; i < messages; i++) await flooder.multicast('AGREED', 'flood', payload, { messType: i });
      await readAll;
      expect(received).toEqual(Array.from({ length: messages }, (_, i) => i));
      if (!sawSlowGo) await nextMatching(reader, (m) => m.kind === 'membership' && m.changed === slow.privateGroup);
      expect(
        await logAbout(slow.privateGroup, new RegExp(`terminated: not-reading \\(\\d+ frames and \\d+ bytes not flushed, limits ${MAX_SESSION_MESSAGES} frames`)),
      ).toBeDefined();
      slow.socket.resume();
      expect(await slow.closedWithin(CLOSE_WAIT_MS)).toBe('closed');
      // It got fewer than all the messages: the daemon stopped writing to it.
      const dataFrames = messagesOf(slow).filter((f) => (f.readUInt32LE(0) & MessageType.AGREED_MESS) !== 0);
      expect(dataFrames.length).toBeLessThan(messages);
    } finally {
      slow.socket.destroy();
      await reader.disconnect();
      await flooder.disconnect();
    }
    await expectUnaffected();
  });

  it('random bytes as a connection are refused or dropped, never more', async () => {
    for (let seed = 1; seed <= 24; seed++) {
      const c = await rawConnect({ port: d.port });
      const peer = peerOf(c);
      const bytes = pseudoRandom(seed * 7919, 2000);
      await c.write(bytes.subarray(0, 1000));
      await sleep(5);
      if (!c.isClosed()) await c.write(bytes.subarray(1000)).catch(() => undefined);
      const state = await c.closedWithin(1500);
      if (state === 'open') c.socket.end();
      expect(await c.closedWithin(CLOSE_WAIT_MS)).toBe('closed');
      // At most a reject byte, an auth list and an accept came back; never a message.
      const got = c.received();
      const rejected = got.length === 1 && got[0]! >= 0x80;
      expect(rejected || got.length <= 1 + 127 + 5 + 31, `seed ${seed}: ${got.toString('hex')}`).toBe(true);
      expect(await logAbout(peer, /REJECT_|eof|invalid-header|terminated/), `seed ${seed}`).toBeDefined();
    }
    await expectUnaffected();
  });

  it('a handshake split into 1-byte writes with pauses is accepted', async () => {
    const c = await rawConnect({ port: d.port });
    for (const b of encodeConnectRequest({ major: 5, minor: 0, patch: 1, membership: true, priority: 0, name: 'dribble' })) {
      await c.write(Buffer.from([b]));
      await sleep(15);
    }
    await c.waitBytes(6, 3000);
    expect(c.received().toString('latin1')).toBe('\x05NULL ');
    for (const b of encodeAuthChoice(['NULL'])) {
      await c.write(Buffer.from([b]));
      await sleep(1);
    }
    await c.waitBytes(6 + 14, 3000);
    expect(c.received().subarray(6).toString('hex')).toBe(Buffer.concat([Buffer.from([1, 5, 0, 1, 11]), Buffer.from('#dribble#d1')]).toString('hex'));
    // The first message, one byte at a time too.
    const join = clientFrame(MessageType.JOIN_MESS, '#dribble#d1', ['hgrp']);
    for (let i = 0; i < join.length; i += 7) {
      await c.write(join.subarray(i, i + 7));
      await sleep(2);
    }
    const m = await nextMatching(observer, (x) => x.kind === 'membership' && x.changed === '#dribble#d1');
    expect(m).toMatchObject({ reason: 'join' });
    expect(await logAbout('#dribble#d1', /opened from/)).toBeDefined();
    c.socket.end();
    await nextMatching(observer, (x) => x.kind === 'membership' && x.changed === '#dribble#d1');
    await expectUnaffected();
  });

  it('200 concurrent connects are all accepted, with unique names, and work', async () => {
    const conns = await Promise.all(
      Array.from({ length: 200 }, (_, i) => connect(i % 2 ? d.tcpAddress : d.socketPath, { name: `cc${i}`, membership: false, timeoutMs: 15_000 })),
    );
    try {
      expect(new Set(conns.map((c) => c.privateGroup)).size).toBe(200);
      // Each joins, then sends itself a note: once the note is back, its join has been ordered.
      await Promise.all(
        conns.map(async (c) => {
          await c.join('crowd');
          await c.multicast('AGREED', c.privateGroup, 'joined');
          await nextMatching(c, (m) => m.kind === 'data', 10_000);
        }),
      );
      await conns[0]!.multicast('AGREED', 'crowd', 'hello crowd');
      const got = await Promise.all(conns.map((c) => nextMatching(c, (m) => m.kind === 'data', 10_000)));
      expect(got.every((m) => m.kind === 'data' && Buffer.from(m.data).toString() === 'hello crowd')).toBe(true);
      for (const i of [0, 99, 199]) expect(await logAbout(`#cc${i}#d1`, /opened from/)).toBeDefined();
    } finally {
      await Promise.all(conns.map((c) => c.disconnect()));
    }
    await expectUnaffected();
  }, 40_000);

  it('at most 997 sessions: further connections get REJECT_QUOTA, and a slot frees when a session leaves', async () => {
    const conns: RawConnection[] = [];
    const hello = (i: number): Buffer =>
      Buffer.concat([encodeConnectRequest({ major: 5, minor: 0, patch: 1, membership: false, priority: 0, name: `q${i}` }), encodeAuthChoice(['NULL'])]);
    const isAnswered = (b: Buffer): boolean => b.length >= 1 && (b[0] === 0xfd || (b.length >= 11 && b.length >= 11 + b[10]!));
    try {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, async (_, j) => {
            const c = await rawConnect({ port: d.port });
            conns.push(c);
            // Ringcast takes a pipelined handshake: request and choice in one write.
            await c.write(hello(batch * 100 + j)).catch(() => undefined);
          }),
        );
      }
      await Promise.all(conns.map((c) => c.waitFor(isAnswered, 10_000, 'an accept or REJECT_QUOTA')));
      const rejected = conns.filter((c) => c.received()[0] === 0xfd);
      const accepted = conns.filter((c) => c.received()[0] === 5);
      expect(accepted.length + rejected.length).toBe(1000);
      // alpha, beta, observer and the two stalled handshakes hold five of the 997 slots.
      expect(accepted.length).toBeLessThanOrEqual(992);
      expect(accepted.length).toBeGreaterThanOrEqual(980);
      for (const c of rejected) {
        expect(c.received().toString('hex')).toBe('fd');
        expect(await c.closedWithin(CLOSE_WAIT_MS)).toBe('closed');
      }
      expect(await waitForLog(d.daemon, /rejected: REJECT_QUOTA \(-3\): 997 sessions already/)).toBeDefined();
      // One session leaves; a new one gets in once its slot is released.
      accepted[0]!.socket.end();
      let again: RawSession | undefined;
      for (let attempt = 0; attempt < 20 && again === undefined; attempt++) {
        await sleep(100);
        again = await rawSession({ port: d.port }, 'q-again').catch(() => undefined);
      }
      expect(again?.privateGroup).toBe('#q-again#d1');
      again?.socket.destroy();
    } finally {
      for (const c of conns) c.socket.destroy();
    }
    // Every slot is released again: 200 more sessions can connect.
    await sleep(300);
    const more = await Promise.all(Array.from({ length: 200 }, (_, i) => rawSession({ port: d.port }, `m${i}`)));
    expect(more.every((m) => m.privateGroup.startsWith('#m'))).toBe(true);
    for (const m of more) m.socket.destroy();
    await expectUnaffected();
  }, 30_000);

  it(`a client stalled mid-handshake is dropped after the handshake timeout (${HANDSHAKE_TIMEOUT_MS / 1000} s)`, async () => {
    const deadline = stallStartedAt + HANDSHAKE_TIMEOUT_MS + 3000;
    for (const [c, what] of [
      [stalledConnect, 'connect request'],
      [stalledAuth, 'auth choice'],
    ] as const) {
      const state = await c.closedWithin(Math.max(0, deadline - Date.now()));
      expect(state, `stalled in the ${what}`).toBe('closed');
    }
    // Not before the timeout.
    expect(Date.now() - stallStartedAt).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 100);
    expect(stalledConnect.received().length).toBe(0);
    expect(stalledAuth.received().toString('latin1')).toBe('\x05NULL ');
    for (const peer of stalledPeers) expect(await logAbout(peer, /terminated: handshake-timeout/)).toBeDefined();
    // Its name is free again.
    const again = await connect(d.tcpAddress, { name: 'stalled', timeoutMs: 5000 });
    expect(again.privateGroup).toBe('#stalled#d1');
    await again.disconnect();
    await expectUnaffected();
  }, 20_000);
});
