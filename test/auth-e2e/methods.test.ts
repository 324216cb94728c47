/**
 * Every session-authentication method against a real ringcastd process: right credentials are
 * accepted; a wrong password, an unknown user or key, a replayed handshake transcript, a tampered
 * or replayed keyed frame and a stalled handshake are refused with the right error, while another
 * session keeps being served. The password never crosses the wire and never reaches the log.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initSessionCrypto, passwordAuthMethod, pubkeyAuthMethod, writeClientKeyFile } from '../../crypto/session/index.js';
import { connect, type Received, type SpreadConnection } from '../../src/client/index.js';
import { encodeAuthChoice, encodeConnectRequest } from '../../src/session/index.js';
import { REPO_ROOT, runCli, tempDir } from '../helpers/daemons.js';
import { startSingleDaemon, waitForLog, type SingleDaemon } from '../helpers/single-daemon.js';
import {
  ALICE_PASSWORD,
  bystander,
  clientHandshakePrefix,
  passwordEncodings,
  rawExchange,
  receiveMatching,
  roundTrip,
  TcpProxy,
  writeCredentials,
  type Credentials,
} from './helpers.js';

let d: SingleDaemon;
let creds: Credentials;
let files: { dir: string; cleanup: () => void };
let watcher: SpreadConnection;

const REJECT_AUTH_BYTE = 0xf7;

beforeAll(async () => {
  await initSessionCrypto();
  files = tempDir('ringcast-auth-');
  creds = await writeCredentials(files.dir);
  d = await startSingleDaemon({
    extraConfig: [
      'AllowedAuthMethods = "NULL IP RC-PASSWORD RC-PUBKEY"',
      `PasswordFile = ${creds.passwordFile}`,
      `AuthorizedKeysFile = ${creds.authorizedKeysFile}`,
      `AccessIpFile = ${creds.accessIpFile}`,
      // Long enough for a client's production-strength scrypt on a loaded machine.
      'AuthHandshakeTimeout = 3000',
      'EventPriority = DEBUG',
      'DebugFlags = { PRINT EXIT SESSION }',
    ].join('\n'),
  });
  watcher = await bystander(d.socketPath, 'watch');
});

afterAll(async () => {
  await watcher?.disconnect().catch(() => undefined);
  await d?.stop();
  files?.cleanup();
});

/** The watcher's messages up to and including its own marker multicast. */
async function watcherUntilMarker(marker: string): Promise<Received[]> {
  await watcher.multicast('AGREED', 'watch', marker);
  const seen: Received[] = [];
  await receiveMatching(watcher, (m) => {
    seen.push(m);
    return m.kind === 'data' && Buffer.from(m.data).toString() === marker;
  });
  return seen;
}

/** After every refusal: the other session is still served. */
async function othersStillServed(tag: string): Promise<void> {
  await roundTrip(watcher, 'watch', `still here after ${tag}`);
}

describe('RC-PASSWORD', () => {
  it('accepts the right password: keyed session, join and multicast through the sealed stream', async () => {
    const conn = await connect(d.tcpAddress, { name: 'alice', authMethods: [passwordAuthMethod({ user: 'alice', password: ALICE_PASSWORD })] });
    expect(conn.privateGroup).toBe('#alice#d1');
    await conn.join('chat');
    await receiveMatching(conn, (m) => m.kind === 'membership' && m.group === 'chat');
    await roundTrip(conn, 'chat', 'hello over a keyed session');
    expect(await waitForLog(d.daemon, /session #alice#d1 opened .*identity password:alice, keyed/)).toBeDefined();
    await conn.disconnect();
  });

  it('refuses a wrong password with REJECT_AUTH, and an unknown user the same way', async () => {
    for (const [user, password] of [
      ['alice', 'not-the-password'],
      ['mallory', ALICE_PASSWORD],
    ] as const) {
      const attempt = connect(d.tcpAddress, { name: 'guess', authMethods: [passwordAuthMethod({ user, password })] });
      await expect(attempt).rejects.toMatchObject({ code: 'REJECT_AUTH', spreadCode: -9 });
    }
    expect(await waitForLog(d.daemon, /REJECT_AUTH \(-9\).*RC-PASSWORD/)).toBeDefined();
    await othersStillServed('wrong passwords');
  });

  it('never puts the password on the wire (captured through a proxy) or in the log', async () => {
    const proxy = await TcpProxy.start(d.port);
    try {
      const conn = await connect(proxy.address, { name: 'alice2', authMethods: [passwordAuthMethod({ user: 'alice', password: ALICE_PASSWORD })] });
      await conn.join('chat');
      await roundTrip(conn, 'chat', 'a message');
      await conn.disconnect();
      await expect(connect(proxy.address, { name: 'alice3', authMethods: [passwordAuthMethod({ user: 'alice', password: `${ALICE_PASSWORD}x` })] })).rejects.toMatchObject({ code: 'REJECT_AUTH' });
      expect(proxy.connections.length).toBe(2);
      const wire = Buffer.concat(proxy.connections.flatMap((c) => [...c.fromClient, ...c.fromDaemon]));
      // The capture is real: the user name travels in ClientHello, the private name in the connect request.
      expect(wire.includes(Buffer.from('alice'))).toBe(true);
      expect(wire.includes(Buffer.from('a message'))).toBe(false);
      for (const enc of passwordEncodings(ALICE_PASSWORD)) expect(wire.includes(enc)).toBe(false);
      for (const enc of passwordEncodings(ALICE_PASSWORD)) expect(d.daemon.output().includes(enc.toString('latin1'))).toBe(false);
      expect(d.daemon.output()).not.toContain(ALICE_PASSWORD);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a replayed handshake transcript', async () => {
    const proxy = await TcpProxy.start(d.port);
    try {
      const conn = await connect(proxy.address, { name: 'alice4', authMethods: [passwordAuthMethod({ user: 'alice', password: ALICE_PASSWORD })] });
      await conn.disconnect();
      const recorded = clientHandshakePrefix(Buffer.concat(proxy.connections[0]!.fromClient));
      // The same bytes again: connect request, choice, ClientHello and the recorded ClientProof.
      const { received, closed } = await rawExchange(d.port, recorded);
      expect(closed).toBe(true);
      expect(received.at(-1)).toBe(REJECT_AUTH_BYTE);
      expect(received.includes(Buffer.from('#alice4#d1'))).toBe(false);
      await othersStillServed('a replayed RC-PASSWORD transcript');
    } finally {
      await proxy.close();
    }
  });
});

describe('RC-PUBKEY', () => {
  it('accepts an authorized key: identity key:ops', async () => {
    const conn = await connect(d.tcpAddress, { name: 'ops', authMethods: [pubkeyAuthMethod(creds.opsKey)] });
    await conn.join('ops-room');
    await roundTrip(conn, 'ops-room', 'signed in');
    expect(await waitForLog(d.daemon, /session #ops#d1 opened .*identity key:ops, keyed/)).toBeDefined();
    await conn.disconnect();
  });

  it('refuses an unknown key with REJECT_AUTH', async () => {
    await expect(connect(d.tcpAddress, { name: 'stranger', authMethods: [pubkeyAuthMethod(creds.strangerKey)] })).rejects.toMatchObject({ code: 'REJECT_AUTH', spreadCode: -9 });
    expect(await waitForLog(d.daemon, /REJECT_AUTH \(-9\).*RC-PUBKEY/)).toBeDefined();
    await othersStillServed('an unknown key');
  });

  it('refuses a replayed handshake transcript', async () => {
    const proxy = await TcpProxy.start(d.port);
    try {
      const conn = await connect(proxy.address, { name: 'ops2', authMethods: [pubkeyAuthMethod(creds.opsKey)] });
      await conn.disconnect();
      const recorded = clientHandshakePrefix(Buffer.concat(proxy.connections[0]!.fromClient));
      const { received, closed } = await rawExchange(d.port, recorded);
      expect(closed).toBe(true);
      expect(received.at(-1)).toBe(REJECT_AUTH_BYTE);
      await othersStillServed('a replayed RC-PUBKEY transcript');
    } finally {
      await proxy.close();
    }
  });
});

describe('the keyed session stream', () => {
  async function keyedThroughProxy(name: string): Promise<{ proxy: TcpProxy; conn: SpreadConnection; closed: Promise<void> }> {
    const proxy = await TcpProxy.start(d.port);
    const conn = await connect(proxy.address, { name, authMethods: [passwordAuthMethod({ user: 'alice', password: ALICE_PASSWORD })] });
    const closed = new Promise<void>((r) => conn.on('close', () => r()));
    conn.on('error', () => undefined);
    return { proxy, conn, closed };
  }

  it('a tampered frame ends the session (FRAME_TAMPERED); nothing of it reaches the group', async () => {
    const { proxy, conn, closed } = await keyedThroughProxy('tamper');
    try {
      proxy.alter = (chunk) => {
        const out = Buffer.from(chunk);
        out[out.length - 1] ^= 0x01;
        return [out];
      };
      await conn.join('watch').catch(() => undefined);
      await closed;
      expect(await waitForLog(d.daemon, /FRAME_TAMPERED/)).toBeDefined();
      // The tampered JOIN of 'watch' never ran: the watcher sees no member arrive before its marker.
      const seen = await watcherUntilMarker('after tamper');
      expect(seen.filter((m) => m.kind === 'membership')).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('a replayed frame ends the session (FRAME_REPLAYED)', async () => {
    const { proxy, conn, closed } = await keyedThroughProxy('replay');
    try {
      proxy.alter = (chunk) => [chunk, chunk];
      await conn.join('replayed').catch(() => undefined);
      await closed;
      expect(await waitForLog(d.daemon, /FRAME_REPLAYED/)).toBeDefined();
      await othersStillServed('a replayed frame');
    } finally {
      await proxy.close();
    }
  });
});

describe('NULL, IP and the handshake bound', () => {
  it('NULL from a loopback TCP peer and IP from a listed address are accepted, identities null and ip:127.0.0.1', async () => {
    const n = await connect(d.tcpAddress, { name: 'nul', authMethods: ['NULL'] });
    const ip = await connect(d.tcpAddress, { name: 'ipuser', authMethods: ['IP'] });
    await roundTrip(ip, ip.privateGroup, 'to myself');
    expect(await waitForLog(d.daemon, /session #nul#d1 opened .*identity null/)).toBeDefined();
    expect(await waitForLog(d.daemon, /session #ipuser#d1 opened .*identity ip:127\.0\.0\.1/)).toBeDefined();
    await n.disconnect();
    await ip.disconnect();
  });

  it('a client that stalls mid-handshake is dropped after AuthHandshakeTimeout; others are served meanwhile', async () => {
    const sock = net.connect({ host: '127.0.0.1', port: d.port });
    const received: Buffer[] = [];
    sock.on('data', (c) => received.push(c));
    sock.on('error', () => undefined);
    const closedAt = new Promise<number>((r) => sock.on('close', () => r(Date.now())));
    const start = Date.now();
    await new Promise<void>((r) => sock.once('connect', () => r()));
    // Connect request, the choice, and half of a ClientHello; then nothing.
    sock.write(Buffer.concat([encodeConnectRequest({ major: 5, minor: 0, patch: 1, membership: true, priority: 0, name: 'staller' }), encodeAuthChoice(['RC-PASSWORD']), Buffer.from([0x01, 0x00])]));
    await othersStillServed('a stalled handshake (while it stalls)');
    const end = await Promise.race([closedAt, new Promise<number>((r) => setTimeout(() => r(-1), 8000))]);
    expect(end).toBeGreaterThan(0);
    expect(end - start).toBeGreaterThanOrEqual(2900);
    // Nothing but the method list came back: no accept, no session.
    expect(Buffer.concat(received).toString('latin1')).not.toContain('#staller#');
    expect(await waitForLog(d.daemon, /client .*handshake-timeout/)).toBeDefined();
    await othersStillServed('a stalled handshake');
  });

  it('a session may run one keyed method only', async () => {
    const both = connect(d.tcpAddress, {
      name: 'both',
      authMethods: [passwordAuthMethod({ user: 'alice', password: ALICE_PASSWORD }), pubkeyAuthMethod(creds.opsKey)],
    });
    await expect(both).rejects.toMatchObject({ spreadCode: -9 });
  });
});

describe('ringcast user and flood with every method', () => {
  it('ringcast user: RC-PASSWORD with --password-file, RC-PUBKEY with a key file, IP and NULL', async () => {
    const pwFile = path.join(files.dir, 'alice.pw');
    writeFileSync(pwFile, `${ALICE_PASSWORD}\n`, { mode: 0o600 });
    const keyFile = path.join(files.dir, 'ops.key');
    writeClientKeyFile(keyFile, creds.opsKey, { identity: 'ops' });
    const script = 'j g\nw 300\ns g\nhi from the cli\nw 500\nq\n';
    for (const auth of [
      ['--auth', 'RC-PASSWORD', '--user-name', 'alice', '--password-file', pwFile],
      ['--auth', 'RC-PUBKEY', '--key', keyFile],
      ['--auth', 'IP'],
      ['--auth', 'NULL'],
    ]) {
      const r = await runCli(['user', '-s', d.tcpAddress, '-u', 'cli', ...auth], { input: script });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('hi from the cli');
    }
    const wrongFile = path.join(files.dir, 'wrong.pw');
    writeFileSync(wrongFile, 'guess\n', { mode: 0o600 });
    const wrong = await runCli(['user', '-s', d.tcpAddress, '-u', 'cli', '--auth', 'RC-PASSWORD', '--user-name', 'alice', '--password-file', wrongFile], { input: 'q\n' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/authentication failed/);
  });

  it('ringcast flood: RC-PASSWORD with the password from RINGCAST_PASSWORD', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/ringcast.ts'), 'flood', '-s', d.tcpAddress, '--messages', '200', '--size', '100', '--auth', 'RC-PASSWORD', '--user-name', 'alice', '--json'], {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_NO_WARNINGS: '1', RINGCAST_PASSWORD: ALICE_PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((r) => {
      const t = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      proc.on('exit', (c) => {
        clearTimeout(t);
        r(c);
      });
    });
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ received: { messages: 200 }, timedOut: false });
  });

  it('ringcast keygen --client writes a 0400 secret and a .pub authorized-keys line', async () => {
    const out = path.join(files.dir, 'new.key');
    const r = await runCli(['keygen', '--client', '--identity', 'newbie', '--out', out]);
    expect(r.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o400);
    expect(readFileSync(`${out}.pub`, 'utf8')).toMatch(/^newbie [A-Za-z0-9+/]{43}=/);
  });
});
