/**
 * The client against a fake daemon that replays capture A (a real Spread 5.0.1 daemon with stock
 * libspread clients): the client must write exactly libspread's bytes for connect, join,
 * multicast, leave and disconnect, and decode the daemon's bytes however they are segmented.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, Service, SpreadError, type Received, type SpreadConnection } from '../../src/client/index.js';
import { fakeDaemon, replayScript, type FakeDaemon, type ReplayMode } from './fake-daemon.js';
import * as capA from './fixtures/capture-a.js';

let daemon: FakeDaemon | undefined;
afterEach(async () => {
  await daemon?.close();
  daemon = undefined;
});

const GROUP_ID_PROC = 1552775919;
const GROUP_ID_TIME = 1795331904;
const text = (d: Uint8Array): string => Buffer.from(d).toString('latin1');

function expectMembership(m: Received, reason: string, members: string[], changed: string, index: number, ownIndex: number): void {
  expect(m.kind).toBe('membership');
  if (m.kind !== 'membership') return;
  expect(m.reason).toBe(reason);
  expect(m.group).toBe('grp1');
  expect(m.members).toEqual(members);
  expect(m.changed).toBe(changed);
  expect(m.groupId).toEqual({ procId: GROUP_ID_PROC, time: GROUP_ID_TIME, index });
  expect(m.vsSets).toEqual([[changed]]);
  expect(m.localVsSet).toEqual([changed]);
  expect(m.ownIndex).toBe(ownIndex);
}

function expectData(m: Received, service: number, sender: string, groups: string[], messType: number, data: string): void {
  expect(m.kind).toBe('data');
  if (m.kind !== 'data') return;
  expect(m.service).toBe(service);
  expect(m.sender).toBe(sender);
  expect(m.groups).toEqual(groups);
  expect(m.messType).toBe(messType);
  expect(m.selfDiscard).toBe(false);
  expect(m.endianMismatch).toBe(false);
  expect(text(m.data)).toBe(data);
}

const carolData = (n: number): string => String.fromCharCode(n, 0, 0, 0) + 'x'.repeat(20);

async function aliceSession(conn: SpreadConnection): Promise<void> {
  expect(conn.privateGroup).toBe('#alice#d1');
  expect(conn.daemonVersion).toEqual({ major: 5, minor: 0, patch: 1 });
  expect(conn.daemonAuthMethods).toEqual(['NULL']);
  await conn.join('grp1');
  expectMembership(await conn.receive(), 'join', ['#alice#d1'], '#alice#d1', 1, 0);
  expectMembership(await conn.receive(), 'join', ['#alice#d1', '#bob#d1'], '#bob#d1', 2, 0);
  await conn.multicast('SAFE', 'grp1', 'hello from alice\n', { messType: 1 });
  expectData(await conn.receive(), Service.SAFE, '#alice#d1', ['grp1'], 1, 'hello from alice\n');
  expectData(await conn.receive(), Service.SAFE, '#bob#d1', ['grp1', 'grp2'], 1, 'bob to grp1+grp2\n');
  await conn.multicast(Service.SAFE, ['#bob#d1'], Buffer.from('private to bob\n'), { messType: 1 });
  expectData(await conn.receive(), Service.AGREED, '#carol#d1', ['grp1'], 0, carolData(1));
  expectData(await conn.receive(), Service.AGREED, '#carol#d1', ['grp1'], 0, carolData(2));
  expectMembership(await conn.receive(), 'join', ['#alice#d1', '#bob#d1', '#dave#d1'], '#dave#d1', 3, 0);
  expectMembership(await conn.receive(), 'disconnect', ['#alice#d1', '#bob#d1'], '#dave#d1', 4, 0);
  expectMembership(await conn.receive(), 'disconnect', ['#alice#d1'], '#bob#d1', 5, 0);
  await conn.leave('grp1');
  expect(await conn.receive()).toEqual({ kind: 'self-leave', group: 'grp1' });
  await conn.disconnect();
  expect(conn.isClosed).toBe(true);
}

describe('client against captured real-daemon sessions', () => {
  for (const mode of ['as-captured', 'bytewise', 'coalesced'] as ReplayMode[]) {
    it(`alice: connect, join, multicast, private send, leave, disconnect (daemon bytes ${mode})`, async () => {
      daemon = await fakeDaemon(replayScript(capA.alice, mode));
      const conn = await connect({ host: '127.0.0.1', port: daemon.port }, { name: 'alice' });
      await aliceSession(conn);
      await daemon.sessions[0];
    });
  }

  it('bob: multigroup multicast to grp1 + grp2', async () => {
    daemon = await fakeDaemon(replayScript(capA.bob, 'as-captured'));
    const conn = await connect(`${daemon.port}@127.0.0.1`, { name: 'bob' });
    expect(conn.privateGroup).toBe('#bob#d1');
    await conn.join('grp1');
    expectMembership(await conn.receive(), 'join', ['#alice#d1', '#bob#d1'], '#bob#d1', 2, 1);
    expectData(await conn.receive(), Service.SAFE, '#alice#d1', ['grp1'], 1, 'hello from alice\n');
    await conn.multicast('SAFE', ['grp1', 'grp2'], 'bob to grp1+grp2\n', { messType: 1 });
    expectData(await conn.receive(), Service.SAFE, '#bob#d1', ['grp1', 'grp2'], 1, 'bob to grp1+grp2\n');
    expectData(await conn.receive(), Service.SAFE, '#alice#d1', ['#bob#d1'], 1, 'private to bob\n');
    expectData(await conn.receive(), Service.AGREED, '#carol#d1', ['grp1'], 0, carolData(1));
    expectData(await conn.receive(), Service.AGREED, '#carol#d1', ['grp1'], 0, carolData(2));
    expectMembership(await conn.receive(), 'join', ['#alice#d1', '#bob#d1', '#dave#d1'], '#dave#d1', 3, 1);
    expectMembership(await conn.receive(), 'disconnect', ['#alice#d1', '#bob#d1'], '#dave#d1', 4, 1);
    await conn.disconnect();
    await daemon.sessions[0];
  });

  it('carol: no membership flag, two AGREED messages sent back to back, then disconnect', async () => {
    daemon = await fakeDaemon(replayScript(capA.carol, 'as-captured'));
    const conn = await connect({ host: '127.0.0.1', port: daemon.port }, { name: 'carol', membership: false });
    const sends = [1, 2].map((n) => conn.multicast('AGREED', 'grp1', Buffer.from(carolData(n), 'latin1')));
    await Promise.all(sends);
    await conn.disconnect();
    await daemon.sessions[0];
  });

  it('no name: the daemon assigns the private group', async () => {
    daemon = await fakeDaemon(replayScript(capA.random, 'as-captured'));
    const conn = await connect({ host: '127.0.0.1', port: daemon.port });
    expect(conn.privateGroup).toBe('#r7833-12#d1');
    await conn.disconnect();
    await daemon.sessions[0];
  });

  it('duplicate name: REJECT_NOT_UNIQUE in place of the auth list', async () => {
    daemon = await fakeDaemon(replayScript(capA.duplicate, 'as-captured'));
    const err = await connect({ host: '127.0.0.1', port: daemon.port }, { name: 'alice' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpreadError);
    expect((err as SpreadError).code).toBe('REJECT_NOT_UNIQUE');
    expect((err as SpreadError).spreadCode).toBe(-6);
    expect((err as SpreadError).message).toMatch(/already connected/);
    await daemon.sessions[0];
  });
});
