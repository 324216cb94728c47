/**
 * `ringcast user` driven through stdin as a pipe, against the mini daemon: in-process for the
 * command set, and once as a real process.
 */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runUserSession } from '../../src/cli/user-command.js';
import { connect } from '../../src/client/index.js';
import { runCli } from '../helpers/daemons.js';
import { startMiniDaemon, type MiniDaemon } from './mini-daemon.js';

let daemon: MiniDaemon | undefined;
afterEach(async () => {
  await daemon?.close();
  daemon = undefined;
});

async function runScript(address: string, name: string | undefined, script: string): Promise<{ code: number; out: string; err: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  const errors = new PassThrough();
  let out = '';
  let err = '';
  output.on('data', (d: Buffer) => (out += d.toString()));
  errors.on('data', (d: Buffer) => (err += d.toString()));
  input.end(script);
  const code = await runUserSession({ address, name, input, output, errors, interactive: false });
  return { code, out, err };
}

describe('ringcast user', () => {
  it('joins, sends with the chosen service, multigroup-sends, bursts, leaves and quits', async () => {
    daemon = await startMiniDaemon();
    const address = `${daemon.port}@127.0.0.1`;
    const script = ['j grp', 'r', 'service SAFE', 's grp', 'hello there', 'r', 'm grp other', 'multi', 'r', 'd', 'b grp 3', 'p', 'r', 'r', 'r', 'e', 'l grp', 'r', 'bogus', 'q', ''].join('\n');
    const { code, out, err } = await runScript(address, 'alice', script);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain(`connected to ${address} with private group #alice#d1`);
    expect(out).toContain('received REGULAR membership for group grp with 1 member(s), where I am member 0:\n\t#alice#d1\ngroup id is 1 1 1\ndue to the JOIN of #alice#d1');
    expect(out).toContain('service is SAFE');
    expect(out).toContain('received SAFE message from #alice#d1, mess_type 1, endian mismatch 0, to 1 group(s): grp\n(11 bytes): hello there');
    expect(out).toContain('to 2 group(s): grp other\n(5 bytes): multi');
    expect(out).toContain('sent 3 messages to grp');
    expect(out).toMatch(/\d message\(s\) waiting/);
    expect(out).toContain('burst message 3 of 3 from #alice#d1');
    expect(out).toContain('received self-leave: this session has left group grp');
    expect(out).toContain('unknown command "bogus"');
    expect(out.trimEnd().endsWith('Bye.')).toBe(true);
  });

  it('prints other members\' messages and memberships, and reports errors without quitting', async () => {
    daemon = await startMiniDaemon();
    const address = `${daemon.port}@127.0.0.1`;
    const bob = await connect(address, { name: 'bob' });
    await bob.join('grp');
    const script = ['j grp', 'r', 'j #bad', 'w 50', 'q', ''].join('\n');
    const run = runScript(address, 'alice', script);
    const joined = await bob.receive();
    expect(joined.kind).toBe('membership');
    await bob.receive(); // alice's join
    await bob.multicast('FIFO', 'grp', 'from bob', { messType: 9 });
    const { code, out } = await run;
    expect(code).toBe(0);
    expect(out).toContain('where I am member 0:\n\t#alice#d1\n\t#bob#d1');
    expect(out).toContain("error: cannot join \"#bad\"");
    await bob.disconnect();
  });

  it('fails with a clear message when the name is taken', async () => {
    daemon = await startMiniDaemon();
    const address = `${daemon.port}@127.0.0.1`;
    const first = await connect(address, { name: 'alice' });
    const { code, err } = await runScript(address, 'alice', 'q\n');
    expect(code).toBe(1);
    expect(err).toMatch(/already connected/);
    await first.disconnect();
  });

  it('exits with status 1 when the daemon goes away', async () => {
    daemon = await startMiniDaemon();
    const d = daemon;
    const input = new PassThrough();
    const output = new PassThrough();
    const errors = new PassThrough();
    let err = '';
    errors.on('data', (c: Buffer) => (err += c.toString()));
    output.resume();
    const run = runUserSession({ address: `${d.port}@127.0.0.1`, name: 'alice', input, output, errors, interactive: false });
    input.write('j grp\n');
    await new Promise((r) => setTimeout(r, 100));
    await d.close();
    daemon = undefined;
    expect(await run).toBe(1);
    expect(err).toMatch(/closed the connection/);
  });

  it('works as a process with stdin as a pipe', async () => {
    daemon = await startMiniDaemon();
    const r = await runCli(['user', '-s', `${daemon.port}@127.0.0.1`, '-u', 'carol'], { input: 'j grp\nr\ns grp\nhi\nr\nq\n', timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('with private group #carol#d1');
    expect(r.stdout).toContain('received AGREED message from #carol#d1, mess_type 1');
    expect(r.stdout).toContain('(2 bytes): hi');
  });
});
