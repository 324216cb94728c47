import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientListener } from '../../src/session/listener.js';
import { encodeMessage, makeHint } from '../../src/session/codec.js';
import { MessageType as T } from '../../src/session/protocol.js';
import * as V from './vectors.js';
import { RawClient, delay, eventually, handshake, pseudoRandomBytes, startHarness, tmpDir, type Harness } from './net-helpers.js';

let h: Harness | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await h?.stop();
  h = undefined;
});

async function open(target: Parameters<typeof handshake>[0], name: string, membership = true): Promise<{ c: RawClient; privateGroup: string }> {
  const r = await handshake(target, name, membership);
  clients.push(r.c);
  return r;
}

async function raw(target: Parameters<typeof RawClient.connect>[0]): Promise<RawClient> {
  const c = await RawClient.connect(target);
  clients.push(c);
  return c;
}

function dataFrame(sender: string, group: string, size: number, fill = 0x61): Uint8Array {
  return Uint8Array.from(encodeMessage({ type: T.AGREED_MESS, sender, groups: [group], hint: makeHint(1), data: new Uint8Array(size).fill(fill) }));
}

describe('ClientListener handshake and requests over real sockets', () => {
  it('answers a 5.0.1 client byte for byte over TCP and passes requests with the session handle', async () => {
    h = await startHarness();
    const c = await raw(h.tcp);
    c.send(V.aliceConnect);
    expect(await c.waitBytes(6)).toEqual(Buffer.from(V.authListNull));
    c.send(V.authChoiceNull);
    expect(await c.waitBytes(6 + V.aliceAccept.length)).toEqual(Buffer.from(V.concat(V.authListNull, V.aliceAccept)));
    c.send(V.concat(V.aliceJoinGrp1, V.aliceSafeGrp1));
    await eventually(() => h!.requests.length === 2);
    const [first, second] = h.requests;
    expect(first?.r).toEqual({ kind: 'join', group: 'grp1' });
    expect(second?.r).toMatchObject({ kind: 'data', service: 0x20, groups: ['grp1'] });
    expect(first?.s).toMatchObject({ privateGroup: '#alice#d1', name: 'alice', membership: true });
    expect(first?.s.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(h.listener.stats()).toMatchObject({ sessions: 1, accepted: 1 });
  });

  it('the whole handshake and first messages pipelined in one write over the Unix socket', async () => {
    h = await startHarness();
    const c = await raw(h.unix);
    c.send(V.concat(V.carolConnect, V.authChoiceNull, V.carolAgreed(1), V.carolAgreed(2), V.carolKill));
    expect(await c.waitBytes(6 + V.carolAccept.length)).toEqual(Buffer.from(V.concat(V.authListNull, V.carolAccept)));
    await eventually(() => h!.requests.length === 3);
    expect(h.requests.map((x) => x.r.kind)).toEqual(['data', 'data', 'kill']);
    expect(h.requests[0]?.s.peer).toBe(`unix:${h.unixPath}`);
    expect(h.requests[0]?.s.membership).toBe(false);
    // released after the kill is "ordered": the daemon closes the connection
    await c.waitClosed();
    await eventually(() => h!.listener.stats().sessions === 0);
  });

  it('deliver writes frames; membership frames skip sessions without the flag; unknown names are ignored', async () => {
    h = await startHarness();
    const a = await open(h.tcp, 'alice', true);
    const b = await open(h.unix, 'bob', false);
    const memb = dataFrame('grp1', '#alice#d1', 10, 0x6d);
    const msg = dataFrame('#alice#d1', 'grp1', 20, 0x64);
    h.listener.deliver('#alice#d1', memb, true);
    h.listener.deliver('#bob#d1', memb, true);
    h.listener.deliver('#alice#d1', msg, false);
    h.listener.deliver('#bob#d1', msg, false);
    h.listener.deliver('#nobody#d1', msg, false);
    await a.c.waitBytes(memb.length + msg.length);
    await b.c.waitBytes(msg.length);
    await delay(50);
    expect(a.c.bytes()).toEqual(Buffer.from(V.concat(memb, msg)));
    expect(b.c.bytes()).toEqual(Buffer.from(msg));
  });

  it('EOF without KILL: one kill, and the name stays reserved until release()', async () => {
    h = await startHarness({}, false);
    const a = await open(h.tcp, 'alice');
    a.c.socket.end();
    await eventually(() => h!.requests.some((x) => x.r.kind === 'kill'));
    await delay(50);
    expect(h.requests.filter((x) => x.r.kind === 'kill')).toHaveLength(1);
    const again = await raw(h.unix);
    again.send(V.aliceConnect);
    expect(await again.waitBytes(1)).toEqual(Buffer.from(V.rejectNotUnique));
    await again.waitClosed();
    h.listener.release('#alice#d1');
    await open(h.unix, 'alice');
  });

  it('a reset connection is an implicit kill too', async () => {
    h = await startHarness();
    const a = await open(h.tcp, 'alice');
    a.c.socket.resetAndDestroy();
    await eventually(() => h!.requests.some((x) => x.r.kind === 'kill' && x.s.privateGroup === '#alice#d1'));
  });

  it('assigns r<N>-<k> names for name_len 0, unique and at most 9 characters', async () => {
    h = await startHarness();
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const c = await raw(h.tcp);
      c.send(V.concat(V.randomConnect, V.authChoiceNull));
      const b = await c.waitBytes(6 + 5);
      const all = await c.waitBytes(11 + (b[10] ?? 0));
      const group = all.subarray(11).toString('latin1');
      expect(group).toMatch(/^#r\d{1,4}-\d*#d1$/);
      expect(group.length - 4).toBeLessThanOrEqual(9);
      seen.add(group);
    }
    expect(seen.size).toBe(5);
  });
});

describe('ClientListener limits and failures', () => {
  it('not-unique across TCP and Unix: REJECT_NOT_UNIQUE then close', async () => {
    h = await startHarness();
    await open(h.tcp, 'alice');
    const dup = await raw(h.unix);
    dup.send(V.aliceConnect);
    expect(await dup.waitBytes(1)).toEqual(Buffer.from([0xfa]));
    await dup.waitClosed();
    const dup2 = await raw(h.tcp);
    dup2.send(V.concat(V.aliceConnect, V.authChoiceNull)); // pipelined bytes after a reject must not turn into a reset
    expect(await dup2.waitBytes(1)).toEqual(Buffer.from([0xfa]));
    await dup2.waitClosed();
    expect(h.listener.stats().rejected).toEqual({ REJECT_NOT_UNIQUE: 2 });
    expect(h.logs.some((l) => l.includes('REJECT_NOT_UNIQUE') && l.includes('127.0.0.1'))).toBe(true);
  });

  it('sessionsMax: the next connection gets REJECT_QUOTA (fd) and is closed', async () => {
    h = await startHarness({ sessionsMax: 2 });
    await open(h.tcp, 'a1');
    const pending = await raw(h.unix); // a handshaking connection holds a slot too
    await eventually(() => h!.listener.stats().sessions === 2);
    const over = await raw(h.tcp);
    expect(await over.waitBytes(1)).toEqual(Buffer.from([0xfd]));
    await over.waitClosed();
    expect(h.listener.stats().rejected.REJECT_QUOTA).toBe(1);
    // once a slot frees, connections are accepted again
    pending.close();
    await eventually(() => h!.listener.stats().sessions === 1);
    await open(h.tcp, 'a2');
  });

  it('a stalled handshake is dropped after handshakeTimeoutMs and its name freed', async () => {
    h = await startHarness({ handshakeTimeoutMs: 300 });
    const stalled = await raw(h.tcp);
    stalled.send(V.aliceConnect); // never sends the auth choice
    expect(await stalled.waitBytes(6)).toEqual(Buffer.from(V.authListNull));
    const silent = await raw(h.unix);
    await stalled.waitClosed(3000);
    await silent.waitClosed(3000);
    expect(stalled.bytes()).toEqual(Buffer.from(V.authListNull)); // nothing after the list: no reply byte
    expect(silent.length).toBe(0);
    expect(h.listener.stats().rejected.HANDSHAKE_TIMEOUT).toBe(2);
    expect(h.listener.stats().sessions).toBe(0);
    expect(h.requests).toEqual([]);
    await open(h.tcp, 'alice');
  });

  it('a slow reader is killed while another session keeps receiving everything', async () => {
    h = await startHarness({ sessionQueueMessagesMax: 20 });
    const slow = await open(h.tcp, 'slow');
    const fast = await open(h.unix, 'fast');
    slow.c.socket.pause();
    const frame = dataFrame('#x#d1', 'g', 60_000);
    let toFast = 0;
    // The fast reader is kept within a few frames of what it was sent; the slow one never reads.
    for (let i = 0; i < 4000 && h.listener.stats().killedSlow === 0; i++) {
      h.listener.deliver('#slow#d1', frame, false);
      h.listener.deliver('#fast#d1', frame, false);
      toFast++;
      await fast.c.until(() => fast.c.length >= (toFast - 4) * frame.length, 10_000, 'the fast reader to keep up');
    }
    expect(h.listener.stats().killedSlow).toBe(1);
    for (let i = 0; i < 10; i++) {
      h.listener.deliver('#fast#d1', frame, false);
      toFast++;
    }
    await fast.c.until(() => fast.c.length === toFast * frame.length, 20_000, 'all frames at the fast reader');
    await eventually(() => h!.requests.some((x) => x.r.kind === 'kill'));
    expect(h.requests.filter((x) => x.r.kind === 'kill').map((x) => x.s.privateGroup)).toEqual(['#slow#d1']);
    expect(h.logs.some((l) => l.startsWith('warn') && l.includes('#slow#d1') && l.includes('not-reading'))).toBe(true);
    // the fast session is still open and usable
    fast.c.send(Uint8Array.from(encodeMessage({ type: T.JOIN_MESS, sender: '#fast#d1', groups: ['g'], data: new Uint8Array(0) })));
    await eventually(() => h!.requests.some((x) => x.r.kind === 'join' && x.s.privateGroup === '#fast#d1'));
  }, 60_000);

  it('a slow reader is also killed on the byte bound, before the frame count is reached', async () => {
    h = await startHarness({ sessionQueueMessagesMax: 1000, sessionQueueBytesMax: 2_000_000 });
    const slow = await open(h.tcp, 'slow');
    slow.c.socket.pause();
    const frame = dataFrame('#x#d1', 'g', 100_000);
    let sent = 0;
    for (let i = 0; i < 200 && h.listener.stats().killedSlow === 0; i++) {
      h.listener.deliver('#slow#d1', frame, false);
      sent++;
      await delay(1);
    }
    expect(h.listener.stats().killedSlow).toBe(1);
    // Far fewer frames than MaxSessionMessages: the byte bound ended it.
    expect(sent).toBeLessThan(200);
    expect(h.logs.some((l) => l.includes('#slow#d1') && /bytes not flushed/.test(l))).toBe(true);
    await eventually(() => h!.requests.some((x) => x.r.kind === 'kill'));
  }, 30_000);

  it('a burst of frames within one tick is written in one batch and does not count as slow reading', async () => {
    h = await startHarness({ sessionQueueMessagesMax: 20 });
    const reader = await open(h.tcp, 'reader');
    const frame = dataFrame('#x#d1', 'g', 200);
    for (let i = 0; i < 100; i++) h.listener.deliver('#reader#d1', frame, false);
    await reader.c.until(() => reader.c.length >= 100 * frame.length, 10_000, 'the whole burst');
    expect(h.listener.stats().killedSlow).toBe(0);
  });

  it('one peer cannot hold more than handshakesPerPeerMax connections in the handshake', async () => {
    h = await startHarness({ handshakesPerPeerMax: 3 });
    const idle = [await raw(h.tcp), await raw(h.tcp), await raw(h.tcp)];
    await eventually(() => h!.listener.stats().sessions === 3);
    const refused = await raw(h.tcp);
    expect(await refused.waitBytes(1)).toEqual(Buffer.from([0xfd])); // REJECT_QUOTA
    expect(h.logs.some((l) => l.includes('still in the handshake'))).toBe(true);
    // The Unix socket is another peer: still admitted; and a finished handshake frees a place.
    await open(h.unix, 'local');
    idle[0]!.close();
    await eventually(() => h!.listener.stats().sessions === 3);
    await open(h.tcp, 'alice');
  });

  it('random bytes end only the session that sent them', async () => {
    h = await startHarness();
    const good = await open(h.tcp, 'good');
    const bad = await open(h.unix, 'bad');
    bad.c.send(pseudoRandomBytes(1234, 4096));
    await bad.c.waitClosed();
    await eventually(() => h!.requests.some((x) => x.r.kind === 'kill'));
    expect(h.requests.filter((x) => x.r.kind === 'kill').map((x) => x.s.privateGroup)).toEqual(['#bad#d1']);
    expect(h.listener.stats().invalidFrames).toBe(1);
    // random bytes from the very first byte: closed, with at most a reject byte
    for (let seed = 1; seed <= 20; seed++) {
      const junk = await raw(seed % 2 ? h.tcp : h.unix);
      junk.send(pseudoRandomBytes(seed * 7919, 2048));
      await junk.waitClosed();
      expect(junk.length).toBeLessThanOrEqual(1 + 127 + 64);
    }
    // the good session is unaffected in both directions
    const frame = dataFrame('#x#d1', 'g', 100);
    h.listener.deliver('#good#d1', frame, false);
    expect(await good.c.waitBytes(frame.length)).toEqual(Buffer.from(frame));
    good.c.send(Uint8Array.from(encodeMessage({ type: T.JOIN_MESS, sender: '#good#d1', groups: ['g'], data: new Uint8Array(0) })));
    await eventually(() => h!.requests.some((x) => x.r.kind === 'join' && x.s.privateGroup === '#good#d1'));
    expect(good.c.closed).toBe(false);
  });

  it('an exception in the request handler is logged and does not stop the listener', async () => {
    const logs: string[] = [];
    const dir = tmpDir();
    const listener = new ClientListener(
      {
        daemonName: 'd1',
        tcp: [{ host: '127.0.0.1', port: 0 }],
        unixPath: undefined,
        allowedAuthMethods: ['NULL'],
        requiredAuthMethods: [],
        ipAllowed: () => true,
        sessionQueueMessagesMax: 10,
        sessionsMax: 10,
        handshakeTimeoutMs: 5000,
        socketPortReuse: 'AUTO',
        log: (l, m) => logs.push(`${l}: ${m}`),
      },
      {
        onRequest: () => {
          throw new Error('daemon bug');
        },
      },
    );
    await listener.listen();
    try {
      const port = listener.addresses().tcp[0]?.port ?? 0;
      const a = await handshake({ port }, 'alice');
      clients.push(a.c);
      a.c.send(V.aliceJoinGrp1);
      await eventually(() => logs.some((l) => l.includes('daemon bug')));
      const b = await handshake({ port }, 'bob');
      clients.push(b.c);
    } finally {
      await listener.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ClientListener authentication', () => {
  it('IP method: the TCP peer passes the access check, the Unix peer does not', async () => {
    h = await startHarness({ allowedAuthMethods: ['IP'], ipAllowed: (p) => p.kind === 'tcp' && p.address === '127.0.0.1' });
    const t = await raw(h.tcp);
    t.send(V.concat(V.aliceConnect, V.authChoiceFromNames(['IP'])));
    const expected = V.concat(V.hex('03'), V.ascii('IP '), V.aliceAccept);
    expect(await t.waitBytes(expected.length)).toEqual(Buffer.from(expected));
    const u = await raw(h.unix);
    u.send(V.concat(V.hex('05 00 01 01 03 62 6f 62'), V.authChoiceFromNames(['IP'])));
    expect(await u.waitBytes(5)).toEqual(Buffer.from(V.concat(V.hex('03'), V.ascii('IP '), V.hex('f7'))));
    await u.waitClosed();
  });

  it('required IP with allowed NULL: a NULL client from a refused address is rejected', async () => {
    h = await startHarness({ allowedAuthMethods: ['NULL'], requiredAuthMethods: ['IP'], ipAllowed: () => false });
    const c = await raw(h.tcp);
    c.send(V.concat(V.aliceConnect, V.authChoiceNull));
    expect(await c.waitBytes(7)).toEqual(Buffer.from(V.concat(V.authListNull, V.hex('f7'))));
    await c.waitClosed();
    expect(h.listener.stats().rejected.REJECT_AUTH).toBe(1);
  });

  it('refuses methods it cannot run', () => {
    expect(
      () =>
        new ClientListener(
          {
            daemonName: 'd1',
            tcp: [],
            unixPath: '/nonexistent/x',
            allowedAuthMethods: ['PWORD'],
            requiredAuthMethods: [],
            ipAllowed: () => true,
            sessionQueueMessagesMax: 1,
            sessionsMax: 1,
            handshakeTimeoutMs: 1,
            socketPortReuse: 'AUTO',
            log: () => undefined,
          },
          { onRequest: () => undefined },
        ),
    ).toThrow(/PWORD/);
  });
});

describe('ClientListener sockets', () => {
  it('Unix socket: mode 0666, a stale file is replaced, close() removes it', async () => {
    const dir = tmpDir();
    const p = path.join(dir, '4803');
    // A stale socket left by a dead daemon: bound once, nobody listening any more. (Closing a
    // Unix server unlinks its path, so keep a second link to the socket file and put it back.)
    const stale = net.createServer();
    await new Promise<void>((r) => stale.listen(p, r));
    fs.linkSync(p, `${p}.keep`);
    await new Promise<void>((r) => stale.close(() => r()));
    fs.renameSync(`${p}.keep`, p);
    expect(fs.lstatSync(p).isSocket()).toBe(true);

    h = await startHarness({ unixPath: p, tcp: [] });
    expect(fs.lstatSync(p).mode & 0o777).toBe(0o666);
    await open({ path: p }, 'alice');
    // a second listener on the same live path is refused
    const second = new ClientListener(
      {
        daemonName: 'd1',
        tcp: [],
        unixPath: p,
        allowedAuthMethods: ['NULL'],
        requiredAuthMethods: [],
        ipAllowed: () => true,
        sessionQueueMessagesMax: 1,
        sessionsMax: 1,
        handshakeTimeoutMs: 1000,
        socketPortReuse: 'AUTO',
        log: () => undefined,
      },
      { onRequest: () => undefined },
    );
    await expect(second.listen()).rejects.toThrow(/in use/);
    await h.listener.close();
    expect(fs.existsSync(p)).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a Unix path that is not a socket', async () => {
    const dir = tmpDir();
    const p = path.join(dir, 'plain');
    fs.writeFileSync(p, 'x');
    h = undefined;
    const l = new ClientListener(
      {
        daemonName: 'd1',
        tcp: [],
        unixPath: p,
        allowedAuthMethods: ['NULL'],
        requiredAuthMethods: [],
        ipAllowed: () => true,
        sessionQueueMessagesMax: 1,
        sessionsMax: 1,
        handshakeTimeoutMs: 1000,
        socketPortReuse: 'AUTO',
        log: () => undefined,
      },
      { onRequest: () => undefined },
    );
    await expect(l.listen()).rejects.toThrow(/not a socket/);
    expect(fs.readFileSync(p, 'utf8')).toBe('x');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a port already taken is a clear listen error', async () => {
    h = await startHarness();
    const port = h.listener.addresses().tcp[0]?.port ?? 0;
    const l = new ClientListener(
      {
        daemonName: 'd2',
        tcp: [{ host: '127.0.0.1', port }],
        unixPath: undefined,
        allowedAuthMethods: ['NULL'],
        requiredAuthMethods: [],
        ipAllowed: () => true,
        sessionQueueMessagesMax: 1,
        sessionsMax: 1,
        handshakeTimeoutMs: 1000,
        socketPortReuse: 'ON',
        log: () => undefined,
      },
      { onRequest: () => undefined },
    );
    await expect(l.listen()).rejects.toThrow(/cannot listen for clients on 127\.0\.0\.1/);
  });

  it('IPv6 loopback works where the host has it', async () => {
    const probe = net.createServer();
    const has6 = await new Promise<boolean>((r) => {
      probe.once('error', () => r(false));
      probe.listen({ host: '::1', port: 0 }, () => probe.close(() => r(true)));
    });
    if (!has6) return;
    h = await startHarness({ tcp: [{ host: '::1', port: 0 }] });
    const port = h.listener.addresses().tcp[0]?.port ?? 0;
    const a = await open({ host: '::1', port }, 'six');
    a.c.send(Uint8Array.from(encodeMessage({ type: T.JOIN_MESS, sender: '#six#d1', groups: ['g'], data: new Uint8Array(0) })));
    await eventually(() => h!.requests.length === 1);
    expect(h.requests[0]?.s.peer).toMatch(/^\[::1\]:\d+$/);
  });

  it('setReadingPaused holds requests of open sessions until resumed', async () => {
    h = await startHarness();
    const a = await open(h.tcp, 'alice');
    h.listener.setReadingPaused(true);
    a.c.send(V.aliceJoinGrp1);
    await delay(100);
    expect(h.requests).toEqual([]);
    h.listener.setReadingPaused(false);
    await eventually(() => h!.requests.length === 1);
    expect(h.requests[0]?.r).toEqual({ kind: 'join', group: 'grp1' });
  });
});
