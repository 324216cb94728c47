/** `ringcast monitor` against the mini daemon: membership events and message counts. */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runMonitor } from '../../src/cli/monitor-command.js';
import { connect } from '../../src/client/index.js';
import { runCli } from '../helpers/daemons.js';
import { startMiniDaemon, type MiniDaemon } from './mini-daemon.js';

let daemon: MiniDaemon | undefined;
afterEach(async () => {
  await daemon?.close();
  daemon = undefined;
});

describe('ringcast monitor', () => {
  it('reports joins, disconnects and per-group message counts as JSON lines', async () => {
    daemon = await startMiniDaemon();
    const address = `${daemon.port}@127.0.0.1`;
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const ac = new AbortController();
    const run = runMonitor({ address, groups: ['g1', 'g2'], intervalMs: 100, json: true, name: 'mon', out, errors: process.stderr, signal: ac.signal });
    const bob = await connect(address, { name: 'bob', membership: false });
    await new Promise((r) => setTimeout(r, 100));
    await bob.join('g1');
    await bob.multicast('AGREED', 'g1', 'one');
    await bob.multicast('AGREED', ['g1', 'g2'], 'two');
    await bob.multicast('AGREED', 'g2', 'three');
    await bob.multicast('AGREED', 'other', 'not counted');
    await new Promise((r) => setTimeout(r, 300));
    await bob.disconnect();
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    expect(await run).toBe(0);
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ event: 'connected', privateGroup: '#mon#d1', groups: ['g1', 'g2'] });
    const memberships = events.filter((e) => e.event === 'membership');
    expect(memberships.map((e) => [e.group, e.reason, e.changed])).toEqual([
      ['g1', 'join', '#mon#d1'],
      ['g2', 'join', '#mon#d1'],
      ['g1', 'join', '#bob#d1'],
      ['g1', 'disconnect', '#bob#d1'],
    ]);
    expect(events.some((e) => e.event === 'counts')).toBe(true);
    const final = events[events.length - 1] as { event: string; groups: Record<string, { members: number; messages: number; bytes: number }> };
    expect(final.event).toBe('final');
    expect(final.groups.g1).toMatchObject({ members: 1, messages: 2, bytes: 6 });
    expect(final.groups.g2).toMatchObject({ members: 1, messages: 2, bytes: 8 });
  });

  it('stops after --duration, and needs at least one group', async () => {
    daemon = await startMiniDaemon();
    const ok = await runCli(['monitor', '-s', `${daemon.port}@127.0.0.1`, '-g', 'g1', '--duration', '300', '--interval', '100'], { timeoutMs: 30_000 });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/g1 JOIN of #r\d+#d1: 1 member\(s\)/);
    expect(ok.stdout).toMatch(/final counts \| g1: 1 member\(s\), 0 message\(s\)/);
    const bad = await runCli(['monitor', '-s', `${daemon.port}@127.0.0.1`], { timeoutMs: 30_000 });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/at least one group/);
  });
});
