/**
 * The single-daemon product end to end: a real ringcastd process (one-daemon ring named d1),
 * driven through the client library over TCP and the Unix socket, through raw sockets where the
 * exact bytes matter, and through `ringcast user` on a pipe.
 */
import { existsSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  Service,
  SpreadError,
  type DataMessage,
  type MembershipMessage,
  type Received,
  type ServiceName,
  type SpreadConnection,
} from '../../src/client/index.js';
import { encodeAuthChoice, encodeConnectRequest } from '../../src/session/codec.js';
import { MessageType } from '../../src/session/protocol.js';
import { runCli } from '../helpers/daemons.js';
import { clientFrame, messagesOf, rawConnect, rawSession, sleep } from '../helpers/raw-session.js';
import { startSingleDaemon, type SingleDaemon } from '../helpers/single-daemon.js';

const RECEIVE_MS = 5000;

let d: SingleDaemon;
const open: SpreadConnection[] = [];

beforeAll(async () => {
  d = await startSingleDaemon({ name: 'd1' });
}, 30_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect().catch(() => undefined)));
  await d?.stop();
});

async function session(name: string, opts: { unix?: boolean; membership?: boolean } = {}): Promise<SpreadConnection> {
  const c = await connect(opts.unix ? d.socketPath : d.tcpAddress, { name, membership: opts.membership ?? true, timeoutMs: 5000 });
  open.push(c);
  return c;
}

function recv(c: SpreadConnection, ms = RECEIVE_MS): Promise<Received> {
  return c.receive({ signal: AbortSignal.timeout(ms) });
}

/** Resolves 'nothing' if no message arrives within `ms`. */
async function nothingWithin(c: SpreadConnection, ms: number): Promise<Received | 'nothing'> {
  return c.receive({ signal: AbortSignal.timeout(ms) }).catch(() => 'nothing' as const);
}

async function recvData(c: SpreadConnection): Promise<DataMessage> {
  const m = await recv(c);
  if (m.kind !== 'data') throw new Error(`expected a data message, got ${JSON.stringify(m)}`);
  return m;
}

async function recvMembership(c: SpreadConnection): Promise<MembershipMessage> {
  const m = await recv(c);
  if (m.kind !== 'membership') throw new Error(`expected a membership message, got ${JSON.stringify(m)}`);
  return m;
}

const text = (m: DataMessage): string => Buffer.from(m.data).toString('latin1');

/** Joins and consumes the membership each listed member receives for it. */
async function joinAll(group: string, members: SpreadConnection[]): Promise<MembershipMessage[]> {
  const seen: SpreadConnection[] = [];
  let last: MembershipMessage[] = [];
  for (const c of members) {
    await c.join(group);
    seen.push(c);
    last = [];
    for (const s of seen) last.push(await recvMembership(s));
  }
  return last;
}

describe('single ringcastd: sessions', () => {
  it('accepts sessions over TCP and over the Unix socket, with private groups #name#d1', async () => {
    const t = await session('tcp1');
    const u = await session('unix1', { unix: true });
    expect(t.privateGroup).toBe('#tcp1#d1');
    expect(u.privateGroup).toBe('#unix1#d1');
    expect(t.daemonVersion).toEqual({ major: 5, minor: 0, patch: 1 });
    expect(t.daemonAuthMethods).toEqual(['NULL']);
    await joinAll('both', [t, u]);
    await u.multicast('AGREED', 'both', 'over unix');
    expect(text(await recvData(t))).toBe('over unix');
    expect(text(await recvData(u))).toBe('over unix');
    await t.disconnect();
    await u.disconnect();
  });

  it('refuses a second session with a name in use (REJECT_NOT_UNIQUE), TCP and Unix alike', async () => {
    const a = await session('uniq');
    for (const addr of [d.tcpAddress, d.socketPath]) {
      const err = await connect(addr, { name: 'uniq', timeoutMs: 5000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SpreadError);
      expect((err as SpreadError).code).toBe('REJECT_NOT_UNIQUE');
    }
    await a.disconnect();
    // Once released, the name can be taken again.
    const again = await session('uniq');
    expect(again.privateGroup).toBe('#uniq#d1');
    await again.disconnect();
  });

  it('answers 3.13 and 3.15 libraries with their own accept layout (no auth exchange, patch byte from 3.15)', async () => {
    const c313 = await rawConnect({ port: d.port });
    await c313.write(encodeConnectRequest({ major: 3, minor: 13, patch: 0, membership: true, priority: 0, name: 'old313' }));
    await c313.waitBytes(14, 3000);
    expect(c313.received().toString('hex')).toBe(Buffer.concat([Buffer.from([1, 5, 0, 10]), Buffer.from('#old313#d1')]).toString('hex'));
    const c315 = await rawConnect({ port: d.port });
    await c315.write(encodeConnectRequest({ major: 3, minor: 15, patch: 0, membership: true, priority: 0, name: 'old315' }));
    await c315.waitBytes(15, 3000);
    expect(c315.received().toString('hex')).toBe(Buffer.concat([Buffer.from([1, 5, 0, 1, 10]), Buffer.from('#old315#d1')]).toString('hex'));
    c313.socket.destroy();
    c315.socket.destroy();

    // The same through the client library, then a message each way.
    const v13 = await connect(d.tcpAddress, { name: 'lib313', libraryVersion: { major: 3, minor: 13, patch: 0 }, timeoutMs: 5000 });
    const v15 = await connect(d.socketPath, { name: 'lib315', libraryVersion: { major: 3, minor: 15, patch: 0 }, timeoutMs: 5000 });
    open.push(v13, v15);
    expect(v13.daemonVersion).toEqual({ major: 5, minor: 0, patch: undefined });
    expect(v15.daemonVersion).toEqual({ major: 5, minor: 0, patch: 1 });
    await joinAll('oldlibs', [v13, v15]);
    await v13.multicast('FIFO', 'oldlibs', 'from 3.13');
    for (const c of [v13, v15]) expect(text(await recvData(c))).toBe('from 3.13');
    await v13.disconnect();
    await v15.disconnect();
  });
});

describe('single ringcastd: messages', () => {
  it('delivers each of the six service levels to every member, sender included, in order', async () => {
    const a = await session('svc-a');
    const b = await session('svc-b', { unix: true });
    await joinAll('svc', [a, b]);
    const levels: ServiceName[] = ['UNRELIABLE', 'RELIABLE', 'FIFO', 'CAUSAL', 'AGREED', 'SAFE'];
    for (const [i, level] of levels.entries()) await a.multicast(level, 'svc', `level ${level}`, { messType: i + 1 });
    for (const c of [a, b]) {
      for (const [i, level] of levels.entries()) {
        const m = await recvData(c);
        expect(m).toMatchObject({ service: Service[level], sender: a.privateGroup, groups: ['svc'], messType: i + 1, selfDiscard: false, endianMismatch: false });
        expect(text(m)).toBe(`level ${level}`);
      }
    }
    await a.disconnect();
    await b.disconnect();
  });

  it('SELF_DISCARD: the sender gets no copy, the others get it with the bit set', async () => {
    const a = await session('sd-a');
    const b = await session('sd-b');
    await joinAll('sd', [a, b]);
    await a.multicast('SAFE', 'sd', 'not for me', { selfDiscard: true });
    await a.multicast('AGREED', 'sd', 'marker');
    const got = await recvData(b);
    expect(got).toMatchObject({ service: Service.SAFE, selfDiscard: true, sender: a.privateGroup });
    expect(text(got)).toBe('not for me');
    expect(text(await recvData(b))).toBe('marker');
    // The sender's next message is the marker: its own discarded copy never came.
    const own = await recvData(a);
    expect(text(own)).toBe('marker');
    expect(own.selfDiscard).toBe(false);
    await a.disconnect();
    await b.disconnect();
  });

  it('multigroup multicast to 100 groups: one copy per session, carrying the full group list', async () => {
    const all = await session('mg-all');
    const few = await session('mg-few', { unix: true });
    const sender = await session('mg-send');
    const groups = Array.from({ length: 100 }, (_, i) => `mg-${i}`);
    for (const g of groups) await all.join(g);
    for (let i = 0; i < groups.length; i++) await recvMembership(all);
    for (const g of ['mg-7', 'mg-70']) {
      await few.join(g);
      await recvMembership(few);
      await recvMembership(all);
    }
    await sender.multicast('AGREED', groups, 'to a hundred groups', { messType: 100 });
    await sender.multicast('AGREED', ['mg-0', 'mg-7'], 'marker');
    for (const c of [all, few]) {
      const m = await recvData(c);
      expect(m.groups).toEqual(groups);
      expect(text(m)).toBe('to a hundred groups');
      // No second copy: the next message is the marker.
      const next = await recvData(c);
      expect(text(next)).toBe('marker');
      expect(next.groups).toEqual(['mg-0', 'mg-7']);
    }
    // The sender is in none of the groups: it gets nothing back.
    expect(await nothingWithin(sender, 300)).toBe('nothing');
    await Promise.all([all.disconnect(), few.disconnect(), sender.disconnect()]);
  });

  it('unicast to a private group reaches that session only', async () => {
    const a = await session('uc-a');
    const b = await session('uc-b', { unix: true });
    const c = await session('uc-c');
    await joinAll('uc', [a, b, c]);
    await a.multicast('RELIABLE', b.privateGroup, 'just b', { messType: 7 });
    const m = await recvData(b);
    expect(m).toMatchObject({ sender: a.privateGroup, groups: [b.privateGroup], messType: 7 });
    expect(text(m)).toBe('just b');
    // A multicast afterwards is the first thing a and c see.
    await b.multicast('AGREED', 'uc', 'after');
    for (const x of [a, c]) expect(text(await recvData(x))).toBe('after');
    expect(text(await recvData(b))).toBe('after');
    // Unknown private groups are dropped silently; the sender's session carries on.
    await a.multicast('AGREED', '#nobody#d1', 'lost');
    await a.multicast('AGREED', 'uc', 'still here');
    for (const x of [a, b, c]) expect(text(await recvData(x))).toBe('still here');
    await Promise.all([a.disconnect(), b.disconnect(), c.disconnect()]);
  });

  it('delivers a 144,000-byte body (data + 32 x groups, the most libspread sends) intact', async () => {
    const a = await session('big-a');
    const b = await session('big-b', { unix: true });
    await joinAll('big', [a, b]);
    const data = Buffer.alloc(144_000 - 32);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
    await a.multicast('SAFE', 'big', data);
    // The band that aborts Spread 5.0.1 (143,153..143,952 bytes of body) must simply be delivered.
    const band = Buffer.alloc(143_200 - 32, 0x42);
    await a.multicast('AGREED', 'big', band);
    for (const c of [a, b]) {
      const m = await recvData(c);
      expect(m.data.length).toBe(data.length);
      expect(Buffer.from(m.data).equals(data)).toBe(true);
      const m2 = await recvData(c);
      expect(Buffer.from(m2.data).equals(band)).toBe(true);
    }
    // One byte more is refused by the library before sending.
    const err = await a.multicast('SAFE', 'big', Buffer.alloc(144_000 - 31)).catch((e: unknown) => e);
    expect((err as SpreadError).code).toBe('MESSAGE_TOO_LONG');
    await a.disconnect();
    await b.disconnect();
  });
});

describe('single ringcastd: membership', () => {
  it('reports joins, leaves and disconnects with ordered members, group ids +1 and the changed member', async () => {
    // Created out of name order, joined in yet another order: member lists must still be sorted.
    const carol = await session('m-carol');
    const alice = await session('m-alice', { unix: true });
    const bob = await session('m-bob');
    const quiet = await session('m-quiet', { membership: false });

    await carol.join('mg');
    const j1 = await recvMembership(carol);
    expect(j1).toMatchObject({ reason: 'join', group: 'mg', members: ['#m-carol#d1'], changed: '#m-carol#d1', vsSets: [['#m-carol#d1']], localVsSet: ['#m-carol#d1'], ownIndex: 0 });

    await alice.join('mg');
    const j2c = await recvMembership(carol);
    const j2a = await recvMembership(alice);
    for (const m of [j2c, j2a]) {
      expect(m).toMatchObject({ reason: 'join', group: 'mg', members: ['#m-alice#d1', '#m-carol#d1'], changed: '#m-alice#d1', vsSets: [['#m-alice#d1']] });
    }
    expect(j2c.ownIndex).toBe(1);
    expect(j2a.ownIndex).toBe(0);
    expect(j2a.groupId).toEqual(j2c.groupId);
    expect(j2a.groupId).toEqual({ ...j1.groupId, index: j1.groupId.index + 1 });

    await bob.join('mg');
    const j3 = await Promise.all([carol, alice, bob].map(recvMembership));
    for (const m of j3) {
      expect(m.members).toEqual(['#m-alice#d1', '#m-bob#d1', '#m-carol#d1']);
      expect(m.changed).toBe('#m-bob#d1');
      expect(m.groupId).toEqual({ ...j1.groupId, index: j1.groupId.index + 2 });
    }
    expect(j3.map((m) => m.ownIndex)).toEqual([2, 0, 1]);

    // A session without the membership flag joins silently, and still gets data.
    await quiet.join('mg');
    const jq = await Promise.all([carol, alice, bob].map(recvMembership));
    for (const m of jq) expect(m.members).toContain('#m-quiet#d1');
    await bob.multicast('AGREED', 'mg', 'to all four');
    expect(text(await recvData(quiet))).toBe('to all four');
    for (const c of [carol, alice, bob]) expect(text(await recvData(c))).toBe('to all four');

    // Leave: the leaver gets the self-leave notice only, the others CAUSED_BY_LEAVE naming it.
    await alice.leave('mg');
    expect(await recv(alice)).toEqual({ kind: 'self-leave', group: 'mg' });
    const l = await Promise.all([carol, bob].map(recvMembership));
    for (const m of l) {
      expect(m).toMatchObject({ reason: 'leave', members: ['#m-bob#d1', '#m-carol#d1', '#m-quiet#d1'], changed: '#m-alice#d1', vsSets: [['#m-alice#d1']] });
      expect(m.groupId.index).toBe(j1.groupId.index + 4);
    }
    // After leaving, nothing more from the group reaches alice.
    await carol.multicast('AGREED', 'mg', 'after leave');
    for (const c of [carol, bob, quiet]) expect(text(await recvData(c))).toBe('after leave');
    expect(await nothingWithin(alice, 300)).toBe('nothing');

    // Disconnect with KILL (bob) and without (carol's socket simply closes): CAUSED_BY_DISCONNECT.
    await bob.disconnect();
    const dis = await recvMembership(carol);
    expect(dis).toMatchObject({ reason: 'disconnect', members: ['#m-carol#d1', '#m-quiet#d1'], changed: '#m-bob#d1', vsSets: [['#m-bob#d1']] });
    expect(dis.groupId.index).toBe(j1.groupId.index + 5);

    // Without KILL: a raw session joins, then its socket is simply destroyed.
    const raw = await rawSession({ port: d.port }, 'm-raw');
    await raw.write(clientFrame(MessageType.JOIN_MESS, raw.privateGroup, ['mg']));
    expect((await recvMembership(carol)).changed).toBe('#m-raw#d1');
    raw.socket.destroy();
    const gone = await recvMembership(carol);
    expect(gone).toMatchObject({ reason: 'disconnect', changed: '#m-raw#d1', members: ['#m-carol#d1', '#m-quiet#d1'] });
    expect(gone.groupId.index).toBe(j1.groupId.index + 7);
    await Promise.all([alice.disconnect(), quiet.disconnect(), carol.disconnect()]);
  });

  it('sends a session without the membership flag no self-leave either', async () => {
    const quiet = await session('q-leave', { membership: false });
    const other = await session('q-other');
    await quiet.join('qgrp');
    await quiet.leave('qgrp');
    await other.multicast('AGREED', quiet.privateGroup, 'first thing');
    const m = await recv(quiet);
    expect(m.kind).toBe('data');
    expect(m.kind === 'data' && text(m)).toBe('first thing');
    await quiet.disconnect();
    await other.disconnect();
  });

  it('assigns a private name of Spread\'s form when none is given', async () => {
    const c = await connect(d.tcpAddress, { timeoutMs: 5000 });
    open.push(c);
    expect(c.privateGroup).toMatch(/^#r\d{1,4}-\d+#d1$/);
    expect(c.privateGroup.length).toBeLessThanOrEqual(9 + 5);
    await c.join('anon');
    expect(await recvMembership(c)).toMatchObject({ members: [c.privateGroup], changed: c.privateGroup });
    await c.disconnect();
  });
});

describe('single ringcastd: ringcast user through a pipe', () => {
  it('joins, sends and receives', async () => {
    const peer = await session('u-peer');
    await peer.join('ugrp');
    await recvMembership(peer);
    const script = 'j ugrp\nr\ns ugrp\nhello from the pipe\nr\nw 200\nr\nq\n';
    const run = runCli(['user', '-s', d.tcpAddress, '-u', 'piped'], { input: script, timeoutMs: 20_000 });
    // The piped session's join reaches the peer; the peer then sends it something.
    const j = await recvMembership(peer);
    expect(j.changed).toBe('#piped#d1');
    expect(text(await recvData(peer))).toBe('hello from the pipe');
    await peer.multicast('AGREED', 'ugrp', 'reply to the pipe');
    expect(text(await recvData(peer))).toBe('reply to the pipe');
    const r = await run;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('#piped#d1');
    expect(r.stdout).toContain('hello from the pipe');
    expect(r.stdout).toContain('reply to the pipe');
    // The tool quit: the peer sees it go.
    expect(await recvMembership(peer)).toMatchObject({ reason: 'disconnect', changed: '#piped#d1' });
    await peer.disconnect();
  });
});

describe('single ringcastd: protocol details seen on the wire (capture C probes)', () => {
  it('rejects libraries older than 3.1.0 (REJECT_VERSION) and unknown or empty auth choices (REJECT_AUTH)', async () => {
    const old = await rawConnect({ port: d.port });
    await old.write(Buffer.from([3, 0, 1, 5, 0x61, 0x62, 0x63, 0x64, 0x65]));
    await old.waitBytes(1, 3000);
    expect(old.received().toString('hex')).toBe('f9');
    expect(await old.closedWithin(3000)).toBe('closed');
    for (const choice of [encodeAuthChoice(['FOO']), Buffer.alloc(90)]) {
      const c = await rawConnect({ port: d.port });
      await c.write(encodeConnectRequest({ major: 5, minor: 0, patch: 1, membership: true, priority: 0, name: 'authx' }));
      await c.waitBytes(6, 3000);
      await c.write(choice);
      await c.waitBytes(7, 3000);
      expect(c.received().subarray(6).toString('hex')).toBe('f7');
      expect(await c.closedWithin(3000)).toBe('closed');
    }
  });

  it('ignores a duplicate join and the leave of a group not joined; a message to no group goes nowhere', async () => {
    const a = await rawSession({ port: d.port }, 'dup-a');
    const b = await session('dup-b');
    await a.write(clientFrame(MessageType.JOIN_MESS, a.privateGroup, ['dupg']));
    await a.write(clientFrame(MessageType.JOIN_MESS, a.privateGroup, ['dupg']));
    await a.write(clientFrame(MessageType.LEAVE_MESS, a.privateGroup, ['never-joined']));
    await a.write(clientFrame(MessageType.AGREED_MESS, a.privateGroup, [], 'to nobody'));
    await a.write(clientFrame(MessageType.AGREED_MESS, a.privateGroup, ['dupg'], 'marker'));
    await a.waitFor(() => messagesOf(a).length >= 2, 3000, 'join membership and marker');
    await sleep(100);
    const frames = messagesOf(a);
    expect(frames).toHaveLength(2);
    expect(frames[0]!.readUInt32LE(0)).toBe((MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_JOIN | MessageType.ENDIAN_MARKER) >>> 0);
    expect(frames[1]!.subarray(48 + 32).toString()).toBe('marker');
    expect(a.isClosed()).toBe(false);
    await b.join('dupg');
    expect((await recvMembership(b)).members).toEqual(['#dup-a#d1', '#dup-b#d1']);
    a.socket.destroy();
    await b.disconnect();
  });

  it('converts a big-endian client\'s header to little-endian for receivers and passes its hint untouched', async () => {
    const be = await rawSession({ port: d.port }, 'bigend');
    const le = await session('littleend');
    await le.join('endian');
    await recvMembership(le);
    const frame = clientFrame(MessageType.AGREED_MESS, be.privateGroup, ['endian'], 'from-big-endian');
    frame.writeUInt32BE(MessageType.AGREED_MESS, 0);
    frame.writeInt32BE(1, 36);
    frame.writeUInt32BE(0x00123400, 40); // big-endian writer: marker clear, mess_type 0x1234
    frame.writeInt32BE(15, 44);
    await be.write(frame);
    const m = await recvData(le);
    expect(m).toMatchObject({ service: Service.AGREED, sender: '#bigend#d1', groups: ['endian'], messType: 0x1234, endianMismatch: true });
    expect(text(m)).toBe('from-big-endian');
    be.socket.destroy();
    await le.disconnect();
  });

  it('delivers one copy to a session reached through a group and its private group at once', async () => {
    const a = await session('ov-a');
    const b = await session('ov-b');
    await joinAll('overlap', [b]);
    await a.multicast('AGREED', ['overlap', b.privateGroup, 'overlap'], 'once');
    await a.multicast('AGREED', b.privateGroup, 'marker');
    const m = await recvData(b);
    expect(m.groups).toEqual(['overlap', b.privateGroup, 'overlap']);
    expect(text(await recvData(b))).toBe('marker');
    await a.disconnect();
    await b.disconnect();
  });
});

describe('single ringcastd: shutdown', () => {
  it('on SIGTERM closes every session, removes its Unix socket and exits 0', async () => {
    const own = await startSingleDaemon({ name: 'd1' });
    try {
      expect(statSync(own.socketPath).isSocket()).toBe(true);
      expect(statSync(own.socketPath).mode & 0o777).toBe(0o666);
      const t = await connect(own.tcpAddress, { name: 'st', timeoutMs: 5000 });
      const u = await connect(own.socketPath, { name: 'su', timeoutMs: 5000 });
      const closed = [t, u].map((c) => new Promise<string | undefined>((resolve) => c.once('close', (e) => resolve(e?.code))));
      own.daemon.proc.kill('SIGTERM');
      const code = await Promise.race([own.daemon.exited, sleep(5000).then(() => 'timeout')]);
      expect(code).toBe(0);
      expect(await Promise.all(closed)).toEqual(['CONNECTION_CLOSED', 'CONNECTION_CLOSED']);
      expect(existsSync(own.socketPath)).toBe(false);
      expect(own.daemon.output()).toMatch(/daemon d1 stopped/);
    } finally {
      await own.stop();
    }
  });
});

describe('single ringcastd: client interfaces (spec §1, §12)', () => {
  it('listens for clients on the C interface of the daemon\'s interface block', async () => {
    // conf/spread.conf documents this layout: ring traffic on one address, clients on another.
    const own = await startSingleDaemon({ name: 'd1', interfaces: '{ D 127.0.0.1  C 127.0.0.2 }' });
    try {
      const c = await connect(`${own.port}@127.0.0.2`, { name: 'iface', timeoutMs: 3000 }).catch((e: unknown) => e);
      expect(c, 'TCP connect to the C interface 127.0.0.2').not.toBeInstanceOf(Error);
      if (!(c instanceof Error)) await (c as SpreadConnection).disconnect();
    } finally {
      await own.stop();
    }
  });
});
