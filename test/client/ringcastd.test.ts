/** The client library and tools against a real ringcastd process (one daemon, TCP and Unix socket). */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlood } from '../../src/cli/flood-command.js';
import { connect, SpreadError, type DataMessage, type MembershipMessage } from '../../src/client/index.js';
import { freePort, startDaemonProcess, tempDir, type DaemonProcess } from '../helpers/daemons.js';

let daemon: DaemonProcess;
let port: number;
let socketPath: string;
let cleanup: () => void;

beforeAll(async () => {
  const t = tempDir('ringcast-client-');
  cleanup = t.cleanup;
  port = await freePort();
  socketPath = path.join(t.dir, 'client.sock');
  daemon = await startDaemonProcess(['-p', String(port), '--unix-socket', socketPath]);
});

afterAll(async () => {
  await daemon?.stop();
  cleanup?.();
});

describe('client against ringcastd', () => {
  it('joins, multicasts, leaves and disconnects over TCP and the Unix socket', async () => {
    const alice = await connect(`${port}@127.0.0.1`, { name: 'alice' });
    const bob = await connect(socketPath, { name: 'bob' });
    expect(alice.privateGroup).toMatch(/^#alice#/);
    await alice.join('g');
    const a1 = (await alice.receive()) as MembershipMessage;
    expect(a1).toMatchObject({ kind: 'membership', reason: 'join', group: 'g', members: [alice.privateGroup], changed: alice.privateGroup, ownIndex: 0 });
    await bob.join('g');
    const a2 = (await alice.receive()) as MembershipMessage;
    const b2 = (await bob.receive()) as MembershipMessage;
    expect(a2.members.sort()).toEqual([alice.privateGroup, bob.privateGroup].sort());
    expect(b2.groupId).toEqual(a2.groupId);
    expect(a2.groupId.index).toBe(a1.groupId.index + 1);
    await bob.multicast('SAFE', 'g', 'hello', { messType: 12 });
    for (const c of [alice, bob]) {
      const m = (await c.receive()) as DataMessage;
      expect(m).toMatchObject({ kind: 'data', service: 0x20, sender: bob.privateGroup, groups: ['g'], messType: 12 });
      expect(Buffer.from(m.data).toString()).toBe('hello');
    }
    await bob.multicast('AGREED', alice.privateGroup, 'just you');
    expect(Buffer.from(((await alice.receive()) as DataMessage).data).toString()).toBe('just you');
    await alice.leave('g');
    expect(await alice.receive()).toEqual({ kind: 'self-leave', group: 'g' });
    expect(await bob.receive()).toMatchObject({ kind: 'membership', reason: 'leave', changed: alice.privateGroup, members: [bob.privateGroup] });
    const dup = await connect(`${port}@127.0.0.1`, { name: 'alice' }).catch((e: unknown) => e);
    expect((dup as SpreadError).code).toBe('REJECT_NOT_UNIQUE');
    await alice.disconnect();
    await bob.disconnect();
  });

  it('floods 2000 messages through the daemon', async () => {
    const r = await runFlood({
      address: `${port}@127.0.0.1`,
      messages: 2000,
      size: 2000,
      service: 0x10,
      groups: ['f-0', 'f-1'],
      sender: true,
      receiver: true,
      timeoutMs: 30_000,
      windowMessages: 200,
    });
    expect(r.timedOut).toBe(false);
    expect(r.received?.messages).toBe(2000);
  });
});
