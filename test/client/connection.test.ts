/**
 * Client behaviour against scripted fake daemons: reject codes, older library versions, a
 * pluggable authentication exchange, abort and timeout, EOF, the bounded receive queue with
 * socket backpressure, invalid daemon data, local argument checks and event delivery.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeMessage, encodeRegMembBody, makeHint, MessageType } from '../../src/session/index.js';
import {
  connect,
  resolveAddress,
  SpreadError,
  type ClientAuthMethod,
  type DataMessage,
  type MembershipMessage,
  type Received,
  type SelfLeaveMessage,
  type TransitionalMessage,
} from '../../src/client/index.js';
import { acceptHandshake, fakeDaemon, ScriptedPeer, type FakeDaemon } from './fake-daemon.js';

let daemon: FakeDaemon | undefined;
afterEach(async () => {
  await daemon?.close();
  daemon = undefined;
});

const PG = '#me#d1';
const at = (d: FakeDaemon): { host: string; port: number } => ({ host: '127.0.0.1', port: d.port });

function dataFrame(seq: number, size = 8, sender = '#other#d1'): Buffer {
  const data = Buffer.alloc(size, 0x61);
  data.writeUInt32LE(seq, 0);
  return encodeMessage({ type: MessageType.AGREED_MESS, sender, groups: ['g'], hint: makeHint(7), data });
}

async function rejected(p: Promise<unknown>): Promise<SpreadError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SpreadError);
  return e as SpreadError;
}

describe('handshake rejects', () => {
  const codes: [number, string][] = [
    [-3, 'REJECT_QUOTA'],
    [-5, 'REJECT_ILLEGAL_NAME'],
    [-6, 'REJECT_NOT_UNIQUE'],
    [-7, 'REJECT_VERSION'],
    [-9, 'REJECT_AUTH'],
  ];
  for (const [code, name] of codes) {
    it(`${name} in place of the auth list`, async () => {
      daemon = await fakeDaemon(async (peer) => {
        await peer.read(5 + 2);
        await peer.write(Buffer.from([code & 0xff]));
        peer.socket.end();
      });
      const e = await rejected(connect(at(daemon), { name: 'me' }));
      expect(e.code).toBe(name);
      expect(e.spreadCode).toBe(code);
    });
  }

  it('REJECT_AUTH in place of the accept, after the 90-byte choice', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await peer.read(7);
      await peer.write(Buffer.from('\x05NULL ', 'latin1'));
      const choice = await peer.read(90);
      expect(choice.subarray(0, 5).toString('latin1')).toBe('NULL\0');
      await peer.write(Buffer.from([0xf7]));
      peer.socket.end();
    });
    const e = await rejected(connect(at(daemon), { name: 'me' }));
    expect(e.code).toBe('REJECT_AUTH');
    await daemon.sessions[0];
  });

  it('a method the daemon does not offer fails locally without sending the choice', async () => {
    let after: Buffer = Buffer.alloc(0);
    daemon = await fakeDaemon(async (peer) => {
      await peer.read(7);
      await peer.write(Buffer.from('\x05NULL ', 'latin1'));
      after = await peer.readToEnd();
    });
    const e = await rejected(connect(at(daemon), { name: 'me', authMethods: ['IP'] }));
    expect(e.code).toBe('REJECT_AUTH');
    expect(e.message).toMatch(/does not offer authentication method IP; it offers NULL/);
    await daemon.sessions[0];
    expect(after.length).toBe(0);
  });

  it('EOF in the middle of the accept is CONNECTION_CLOSED', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await peer.read(7);
      await peer.write(Buffer.from('\x05NULL ', 'latin1'));
      await peer.read(90);
      await peer.write(Buffer.from([1, 5, 0]));
      peer.socket.end();
    });
    expect((await rejected(connect(at(daemon), { name: 'me' }))).code).toBe('CONNECTION_CLOSED');
  });

  it('refuses an invalid private name before connecting, and cuts long names to 10 like libspread', async () => {
    expect((await rejected(connect({ host: '127.0.0.1', port: 1 }, { name: 'a b' }))).code).toBe('REJECT_ILLEGAL_NAME');
    let seen = '';
    daemon = await fakeDaemon(async (peer) => {
      seen = (await acceptHandshake(peer, '#abcdefghij#d1')).name;
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'abcdefghijklmnop' });
    expect(seen).toBe('abcdefghij');
    await conn.disconnect();
  });

  it('COULD_NOT_CONNECT when nothing listens', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const e = await rejected(connect({ host: '127.0.0.1', port }));
    expect(e.code).toBe('COULD_NOT_CONNECT');
    expect(e.message).toContain(`${port}@127.0.0.1`);
  });
});

describe('handshake variants', () => {
  it('announces 3.13: no patch byte, no negotiation, accept without patch byte (capture C probe)', async () => {
    let request: Buffer = Buffer.alloc(0);
    daemon = await fakeDaemon(async (peer) => {
      request = await peer.read(4 + 6);
      await peer.write(Buffer.from('0105000a236f6c6433313323643100', 'hex').subarray(0, 14));
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'old313', libraryVersion: { major: 3, minor: 13, patch: 0 } });
    expect(request.toString('hex')).toBe('030d0106' + Buffer.from('old313').toString('hex'));
    expect(conn.privateGroup).toBe('#old313#d1');
    expect(conn.daemonVersion).toEqual({ major: 5, minor: 0, patch: undefined });
    await conn.disconnect();
  });

  it('announces 3.15.0: patch byte both ways, no negotiation (capture C probe)', async () => {
    let request: Buffer = Buffer.alloc(0);
    daemon = await fakeDaemon(async (peer) => {
      request = await peer.read(5 + 6);
      await peer.write(Buffer.from('010500010a236f6c64333135236431', 'hex'));
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'old315', libraryVersion: { major: 3, minor: 15, patch: 0 } });
    expect(request.toString('hex')).toBe('030f000106' + Buffer.from('old315').toString('hex'));
    expect(conn.privateGroup).toBe('#old315#d1');
    expect(conn.daemonVersion).toEqual({ major: 5, minor: 0, patch: 1 });
    await conn.disconnect();
  });

  it('priority is announced as bit 4; membership off clears bit 0', async () => {
    let flags = -1;
    daemon = await fakeDaemon(async (peer) => {
      flags = (await acceptHandshake(peer, PG)).flags;
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me', priority: 3, membership: false });
    expect(flags).toBe(0x10);
    await conn.disconnect();
  });

  it('runs a pluggable method exchange after the choice, in one write per record', async () => {
    const token: ClientAuthMethod = {
      name: 'TOKEN',
      async exchange({ channel, privateName, daemonMethods }) {
        expect(privateName).toBe('me');
        expect(daemonMethods).toEqual(['NULL', 'TOKEN']);
        await channel.write(Buffer.from('secret'));
        const ok = await channel.read(1);
        if (ok[0] !== 1) throw new SpreadError(-9, 'token refused');
      },
    };
    const log: string[] = [];
    daemon = await fakeDaemon(async (peer) => {
      await peer.read(7);
      await peer.write(Buffer.from('\x0bNULL TOKEN ', 'latin1'));
      const choice = await peer.read(90);
      log.push(choice.subarray(0, 6).toString('latin1'), choice.subarray(30, 36).toString('latin1'));
      log.push((await peer.read(6)).toString());
      await peer.writeBytewise(Buffer.concat([Buffer.from([1]), Buffer.from([1, 5, 0, 1, PG.length]), Buffer.from(PG)]));
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me', authMethods: ['NULL', token] });
    expect(log).toEqual(['NULL\0\0', 'TOKEN\0', 'secret']);
    expect(conn.privateGroup).toBe(PG);
    await conn.disconnect();
  });

  it('a method that keys the session protects every later byte, the accept included', async () => {
    // A toy protection: u16 length prefix, payload XOR 0x5a. Real methods use keyed frames.
    const seal = (r: Uint8Array): Uint8Array => {
      const out = Buffer.alloc(2 + r.length);
      out.writeUInt16BE(r.length, 0);
      for (let i = 0; i < r.length; i++) out[2 + i] = r[i]! ^ 0x5a;
      return out;
    };
    const opener = (): ((b: Uint8Array) => Uint8Array[]) => {
      let buf = Buffer.alloc(0);
      return (b) => {
        buf = Buffer.concat([buf, b]);
        const out: Uint8Array[] = [];
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const n = buf.readUInt16BE(0);
          out.push(Uint8Array.from(buf.subarray(2, 2 + n), (x) => x ^ 0x5a));
          buf = buf.subarray(2 + n);
        }
        return out;
      };
    };
    const xor: ClientAuthMethod = {
      name: 'XOR',
      async exchange({ channel }) {
        await channel.write(Buffer.from('k'));
        expect(Buffer.from(await channel.read(1)).toString()).toBe('K');
        return { transport: { seal, open: opener() } };
      },
    };
    const got: Buffer[] = [];
    daemon = await fakeDaemon(async (peer) => {
      await peer.read(7);
      await peer.write(Buffer.from('\x04XOR ', 'latin1'));
      await peer.read(90);
      expect((await peer.read(1)).toString()).toBe('k');
      await peer.write(Buffer.from('K'));
      const accept = seal(Buffer.concat([Buffer.from([1, 5, 0, 1, PG.length]), Buffer.from(PG)]));
      await peer.writeBytewise(Buffer.concat([accept, seal(dataFrame(5))]));
      const open = opener();
      let plain: Uint8Array[] = [];
      while (plain.length < 2) plain = plain.concat(open(await peer.read(1)));
      got.push(...plain.map((p) => Buffer.from(p)));
      peer.socket.end();
    });
    const conn = await connect(at(daemon), { name: 'me', authMethods: [xor] });
    expect(conn.privateGroup).toBe(PG);
    const m = (await conn.receive()) as DataMessage;
    expect(Buffer.from(m.data).readUInt32LE(0)).toBe(5);
    await conn.join('grp');
    await conn.disconnect();
    await daemon.sessions[0];
    expect(got[0]!.equals(encodeMessage({ type: MessageType.JOIN_MESS, sender: PG, groups: ['grp'], data: new Uint8Array(0) }))).toBe(true);
    expect(got[1]!.readUInt32LE(0)).toBe(0x80040080);
  });

  it('rejects bad method lists before connecting', async () => {
    const addr = { host: '127.0.0.1', port: 1 };
    expect((await rejected(connect(addr, { authMethods: ['FOO'] }))).code).toBe('REJECT_AUTH');
    expect((await rejected(connect(addr, { authMethods: [] }))).code).toBe('REJECT_AUTH');
    expect((await rejected(connect(addr, { authMethods: ['NULL', 'NULL'] }))).code).toBe('REJECT_AUTH');
  });

  it('keeps bytes that arrive together with the accept', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await peer.read(7);
      await peer.write(Buffer.from('\x05NULL ', 'latin1'));
      await peer.read(90);
      await peer.write(Buffer.concat([Buffer.from([1, 5, 0, 1, PG.length]), Buffer.from(PG), dataFrame(1), dataFrame(2)]));
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    const a = (await conn.receive()) as DataMessage;
    const b = (await conn.receive()) as DataMessage;
    expect([Buffer.from(a.data).readUInt32LE(0), Buffer.from(b.data).readUInt32LE(0)]).toEqual([1, 2]);
    expect(a.messType).toBe(7);
    await conn.disconnect();
  });
});

describe('abort and timeout', () => {
  it('aborting connect while the daemon is silent rejects with the abort reason', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await peer.readToEnd();
    });
    const ac = new AbortController();
    const p = connect(at(daemon), { name: 'me', signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user gave up')), 50);
    await expect(p).rejects.toThrow('user gave up');
    await daemon.sessions[0];
  });

  it('a silent daemon makes connect fail after timeoutMs', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await peer.readToEnd();
    });
    const e = await rejected(connect(at(daemon), { name: 'me', timeoutMs: 100 }));
    expect(e.code).toBe('COULD_NOT_CONNECT');
    expect(e.message).toMatch(/within 100 ms/);
  });

  it('aborting a pending receive rejects it and loses no message', async () => {
    let peerRef: ScriptedPeer | undefined;
    daemon = await fakeDaemon(async (peer) => {
      peerRef = peer;
      await acceptHandshake(peer, PG);
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    const ac = new AbortController();
    const pending = conn.receive({ signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await expect(conn.receive({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    await peerRef!.write(dataFrame(42));
    const m = (await conn.receive()) as DataMessage;
    expect(Buffer.from(m.data).readUInt32LE(0)).toBe(42);
    await conn.disconnect();
  });
});

describe('end of connection', () => {
  it('EOF: queued messages stay receivable, then CONNECTION_CLOSED; close event; sends fail', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await acceptHandshake(peer, PG);
      await peer.write(Buffer.concat([dataFrame(1), dataFrame(2)]));
      peer.socket.end();
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    const closed = new Promise<SpreadError | undefined>((r) => conn.once('close', r));
    const reason = await closed;
    expect(reason?.code).toBe('CONNECTION_CLOSED');
    expect(((await conn.receive()) as DataMessage).kind).toBe('data');
    expect(((await conn.receive()) as DataMessage).kind).toBe('data');
    expect((await rejected(conn.receive())).code).toBe('CONNECTION_CLOSED');
    expect((await rejected(conn.multicast('AGREED', 'g', 'x'))).code).toBe('NET_ERROR_ON_SESSION');
    expect((await rejected(conn.join('g'))).code).toBe('NET_ERROR_ON_SESSION');
    await conn.disconnect();
  });

  it('a daemon that closes together with the accept still delivers what it sent, then CONNECTION_CLOSED', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await peer.read(7);
      await peer.write(Buffer.from('\x05NULL ', 'latin1'));
      await peer.read(90);
      peer.socket.end(Buffer.concat([Buffer.from([1, 5, 0, 1, PG.length]), Buffer.from(PG), dataFrame(9)]));
    });
    const conn = await connect(at(daemon), { name: 'me' });
    const m = (await conn.receive()) as DataMessage;
    expect(Buffer.from(m.data).readUInt32LE(0)).toBe(9);
    expect((await rejected(conn.receive())).code).toBe('CONNECTION_CLOSED');
    expect(conn.isClosed).toBe(true);
  });

  it('a pending receive fails with CONNECTION_CLOSED when the daemon goes away', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await acceptHandshake(peer, PG);
      await new Promise((r) => setTimeout(r, 30));
      peer.socket.destroy();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    expect((await rejected(conn.receive())).code).toBe('CONNECTION_CLOSED');
  });

  it('the async iterator ends when the daemon closes', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await acceptHandshake(peer, PG);
      for (let i = 0; i < 5; i++) await peer.write(dataFrame(i));
      peer.socket.end();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    const seqs: number[] = [];
    for await (const m of conn) if (m.kind === 'data') seqs.push(Buffer.from(m.data).readUInt32LE(0));
    expect(seqs).toEqual([0, 1, 2, 3, 4]);
  });

  it('disconnect sends KILL with the own private group, rejects pending receives, and is idempotent', async () => {
    let kill: Buffer = Buffer.alloc(0);
    daemon = await fakeDaemon(async (peer) => {
      await acceptHandshake(peer, PG);
      kill = await peer.read(80);
      peer.socket.end();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    const pending = rejected(conn.receive());
    const closeArgs: unknown[] = [];
    conn.on('close', (e) => closeArgs.push(e));
    await Promise.all([conn.disconnect(), conn.disconnect()]);
    expect((await pending).code).toBe('ILLEGAL_SESSION');
    expect(kill.equals(encodeMessage({ type: MessageType.KILL_MESS, sender: PG, groups: [PG], data: new Uint8Array(0) }))).toBe(true);
    expect(closeArgs).toEqual([undefined]);
    expect((await rejected(conn.multicast('AGREED', 'g', 'x'))).code).toBe('ILLEGAL_SESSION');
  });

  it('invalid data from the daemon closes the connection with ILLEGAL_MESSAGE and an error event', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await acceptHandshake(peer, PG);
      const bad = dataFrame(1);
      bad[0] = 0x90;
      bad[3] = 0x00; // garbled endian marker: low half set, high half clear
      await peer.write(bad);
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    const errors: SpreadError[] = [];
    conn.on('error', (e) => errors.push(e));
    expect((await rejected(conn.receive())).code).toBe('ILLEGAL_MESSAGE');
    expect(errors.map((e) => e.code)).toEqual(['ILLEGAL_MESSAGE']);
  });
});

describe('bounded receive queue', () => {
  it('stops reading the socket when the queue is full and resumes as the application reads', async () => {
    const COUNT = 600;
    const SIZE = 32 * 1024;
    let peerRef: ScriptedPeer | undefined;
    let allWritten = false;
    daemon = await fakeDaemon(async (peer) => {
      peerRef = peer;
      await acceptHandshake(peer, PG);
      for (let i = 0; i < COUNT; i++) peer.socket.write(dataFrame(i, SIZE));
      await peer.write(new Uint8Array(0));
      allWritten = true;
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me', receiveQueueMessagesMax: 4 });
    await new Promise((r) => setTimeout(r, 300));
    // The client holds at most 4 messages and has stopped reading: about 19 MB stay unsent.
    expect(conn.receiveQueueLength).toBe(4);
    expect(allWritten).toBe(false);
    expect(peerRef!.socket.writableLength).toBeGreaterThan(8 * 1024 * 1024);
    for (let i = 0; i < COUNT; i++) {
      const m = (await conn.receive()) as DataMessage;
      expect(Buffer.from(m.data).readUInt32LE(0)).toBe(i);
      expect(conn.receiveQueueLength).toBeLessThanOrEqual(4);
    }
    await vi.waitFor(() => expect(allWritten).toBe(true));
    await conn.disconnect();
  });
});

describe('events', () => {
  it('a listener receives queued and later messages; memberships go to their own event', async () => {
    let peerRef: ScriptedPeer | undefined;
    daemon = await fakeDaemon(async (peer) => {
      peerRef = peer;
      await acceptHandshake(peer, PG);
      await peer.write(dataFrame(1));
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    await new Promise((r) => setTimeout(r, 50));
    expect(conn.receiveQueueLength).toBe(1);
    const messages: DataMessage[] = [];
    const memberships: (MembershipMessage | TransitionalMessage | SelfLeaveMessage)[] = [];
    conn.on('message', (m) => {
      if (m.kind === 'data') messages.push(m);
    });
    conn.on('membership', (m) => memberships.push(m));
    const gid = { procId: -5, time: 77, index: 1 };
    await peerRef!.write(
      Buffer.concat([
        dataFrame(2),
        encodeMessage({ type: MessageType.TRANSITION_MESS, sender: 'g', groups: [], data: Buffer.from([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]) }),
        encodeMessage({
          type: MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_NETWORK,
          sender: 'g',
          groups: ['#a#d2', PG],
          data: encodeRegMembBody(gid, [['#a#d2'], [PG]], 1),
        }),
      ]),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(messages.map((m) => Buffer.from(m.data).readUInt32LE(0))).toEqual([1, 2]);
    expect(memberships[0]).toEqual({ kind: 'transitional', group: 'g', groupId: { procId: 1, time: 2, index: 3 } });
    const reg = memberships[1] as MembershipMessage;
    expect(reg.reason).toBe('network');
    expect(reg.changed).toBeUndefined();
    expect(reg.vsSets).toEqual([['#a#d2'], [PG]]);
    expect(reg.localVsSet).toEqual([PG]);
    expect(reg.ownIndex).toBe(1);
    expect(reg.groupId).toEqual(gid);
    expect((await rejected(conn.receive())).code).toBe('ILLEGAL_SESSION');
    await conn.disconnect();
  });

  it('attaching a listener fails a pending receive, which would otherwise never be served', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await acceptHandshake(peer, PG);
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    const pending = rejected(conn.receive());
    conn.on('message', () => {});
    expect((await pending).code).toBe('ILLEGAL_SESSION');
    await conn.disconnect();
  });

  it('decodes frames from a big-endian daemon: headers, membership bodies and the sender\'s byte order', async () => {
    const name = (n: string): Buffer => {
      const b = Buffer.alloc(32);
      b.write(n, 'latin1');
      return b;
    };
    const header = (type: number, sender: string, numGroups: number, hint: number, dataLen: number): Buffer => {
      const h = Buffer.alloc(48);
      h.writeUInt32BE(type, 0);
      name(sender).copy(h, 4);
      h.writeInt32BE(numGroups, 36);
      h.writeUInt32BE(hint, 40);
      h.writeInt32BE(dataLen, 44);
      return h;
    };
    const body = Buffer.alloc(56);
    body.writeInt32BE(-7, 0);
    body.writeInt32BE(99, 4);
    body.writeInt32BE(4, 8);
    body.writeUInt32BE(1, 12);
    body.writeUInt32BE(0, 16);
    body.writeUInt32BE(1, 20);
    name(PG).copy(body, 24);
    const memb = Buffer.concat([header(MessageType.REG_MEMB_MESS | MessageType.CAUSED_BY_JOIN, 'g', 1, 0, 56), name(PG), body]);
    // A big-endian sender's AGREED message, mess_type 0x1234 (hint bytes 00 12 34 00 as on the wire).
    const data = Buffer.concat([header(MessageType.AGREED_MESS, '#be#d1', 1, 0x00123400, 2), name('g'), Buffer.from('be')]);
    daemon = await fakeDaemon(async (peer) => {
      await acceptHandshake(peer, PG);
      await peer.write(Buffer.concat([memb, data]));
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    expect(await conn.receive()).toMatchObject({ kind: 'membership', reason: 'join', group: 'g', members: [PG], changed: PG, groupId: { procId: -7, time: 99, index: 4 }, ownIndex: 0 });
    expect(await conn.receive()).toMatchObject({ kind: 'data', service: 0x10, sender: '#be#d1', messType: 0x1234, endianMismatch: true, groups: ['g'] });
    await conn.disconnect();
  });

  it('decodes a reject message and the SELF_DISCARD bit', async () => {
    daemon = await fakeDaemon(async (peer) => {
      await acceptHandshake(peer, PG);
      await peer.write(
        encodeMessage({ type: MessageType.REJECT_MESS, sender: PG, groups: ['g', PG], hint: makeHint(3), data: Buffer.from('hi'), oldType: MessageType.AGREED_MESS }),
      );
      await peer.write(encodeMessage({ type: MessageType.SAFE_MESS | MessageType.SELF_DISCARD, sender: '#x#d1', groups: ['g'], data: Buffer.from('sd') }));
      await peer.readToEnd();
    });
    const conn = await connect(at(daemon), { name: 'me' });
    const r = await conn.receive();
    expect(r).toMatchObject({ kind: 'reject', originalType: MessageType.AGREED_MESS, messType: 3, sender: PG, groups: ['g', PG] });
    const d = (await conn.receive()) as Received;
    expect(d).toMatchObject({ kind: 'data', service: 0x20, selfDiscard: true, sender: '#x#d1' });
    await conn.disconnect();
  });
});

describe('local checks like libspread', () => {
  it('join/leave names, service levels, group counts, sizes, mess types', async () => {
    const written: Buffer[] = [];
    daemon = await fakeDaemon(async (peer) => {
      await acceptHandshake(peer, PG);
      written.push(await peer.readToEnd());
    });
    const conn = await connect(at(daemon), { name: 'me' });
    expect((await rejected(conn.join('#priv#d1'))).code).toBe('ILLEGAL_GROUP');
    expect((await rejected(conn.join(''))).code).toBe('ILLEGAL_GROUP');
    expect((await rejected(conn.leave('x'.repeat(32)))).code).toBe('ILLEGAL_GROUP');
    expect((await rejected(conn.join('has space'))).code).toBe('ILLEGAL_GROUP');
    expect((await rejected(conn.multicast('ORDERED' as 'AGREED', 'g', 'x'))).code).toBe('ILLEGAL_SERVICE');
    expect((await rejected(conn.multicast(0x30 as 0x20, 'g', 'x'))).code).toBe('ILLEGAL_SERVICE');
    expect((await rejected(conn.multicast('AGREED', [], 'x'))).code).toBe('ILLEGAL_GROUP');
    const many = Array.from({ length: 101 }, (_, i) => `g${i}`);
    expect((await rejected(conn.multicast('AGREED', many, 'x'))).code).toBe('ILLEGAL_GROUP');
    expect((await rejected(conn.multicast('AGREED', 'g', new Uint8Array(144000 - 32 + 1)))).code).toBe('MESSAGE_TOO_LONG');
    expect((await rejected(conn.multicast('AGREED', ['a', 'b'], new Uint8Array(144000 - 64 + 1)))).code).toBe('MESSAGE_TOO_LONG');
    expect((await rejected(conn.multicast('AGREED', 'g', 'x', { messType: 40000 }))).code).toBe('ILLEGAL_MESSAGE');
    // The largest libspread allows goes out, as do private-group destinations and lower-case names.
    await conn.multicast('agreed' as 'AGREED', ['g', '#you#d1'], new Uint8Array(144000 - 64), { messType: -1 });
    await conn.disconnect();
    await daemon.sessions[0];
    const first = written[0]!;
    expect(first.length).toBe(48 + 64 + 144000 - 64 + 80);
    expect(first.readUInt32LE(0)).toBe(0x80000090);
    expect(first.readUInt32LE(40)).toBe(makeHint(-1));
  });
});

describe('addresses', () => {
  it('parses Spread address syntax', () => {
    expect(resolveAddress('4803')).toEqual({ kind: 'unix', path: '/tmp/4803' });
    expect(resolveAddress('')).toEqual({ kind: 'unix', path: '/tmp/4803' });
    expect(resolveAddress('4804@10.0.0.1')).toEqual({ kind: 'tcp', host: '10.0.0.1', port: 4804 });
    expect(resolveAddress('4803@::1')).toEqual({ kind: 'tcp', host: '::1', port: 4803 });
    expect(resolveAddress({ path: '/run/x' })).toEqual({ kind: 'unix', path: '/run/x' });
    expect(resolveAddress('/run/ringcast/d1.sock')).toEqual({ kind: 'unix', path: '/run/ringcast/d1.sock' });
    for (const bad of ['host', '70000', '48x3@h', '@host']) {
      expect(() => resolveAddress(bad)).toThrow(SpreadError);
    }
  });

  it('connects over a Unix socket', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcast-client-'));
    const sock = path.join(dir, '4803');
    const server = net.createServer((s) => {
      const peer = new ScriptedPeer(s);
      void acceptHandshake(peer, PG).then(() => peer.readToEnd());
    });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const conn = await connect({ path: sock }, { name: 'me' });
      expect(conn.privateGroup).toBe(PG);
      await conn.disconnect();
      const byString = await connect(sock, { name: 'me' });
      expect(byString.address).toEqual({ kind: 'unix', path: sock });
      await byString.disconnect();
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
