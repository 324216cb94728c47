/**
 * In-process fake daemons for client tests: a TCP listener on 127.0.0.1 whose connections are
 * driven by a script (exact reads, writes), plus a replayer of captured real-daemon sessions.
 */
import net from 'node:net';
import type { Segment } from './fixtures/capture-a.js';

export class ScriptedPeer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.buffered += c.length;
      this.wake?.();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  /** Exactly n bytes; rejects if the client closes first. */
  async read(n: number): Promise<Buffer> {
    while (this.buffered < n) {
      if (this.ended) throw new Error(`client closed after ${this.buffered} of ${n} expected bytes`);
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    const all = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [all.subarray(n)];
    this.buffered -= n;
    return Buffer.from(all.subarray(0, n));
  }

  /** Resolves with any bytes that arrived before the client's EOF. */
  async readToEnd(): Promise<Buffer> {
    while (!this.ended) {
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    const all = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    return all;
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (e) => (e ? reject(e) : resolve())));
  }

  /** Writes one byte at a time, yielding to the event loop between writes. */
  async writeBytewise(bytes: Uint8Array): Promise<void> {
    for (const b of bytes) {
      await this.write(Uint8Array.of(b));
      await new Promise((r) => setImmediate(r));
    }
  }
}

export interface FakeDaemon {
  port: number;
  /** Settles with the script's outcome for each accepted connection, in accept order. */
  sessions: Promise<void>[];
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:<ephemeral>; every accepted connection runs `script`. */
export async function fakeDaemon(script: (peer: ScriptedPeer, index: number) => Promise<void>): Promise<FakeDaemon> {
  const sessions: Promise<void>[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const p = script(new ScriptedPeer(socket), sessions.length);
    p.catch(() => socket.destroy());
    sessions.push(p);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    sessions,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The daemon side of a libspread 5.0.1 handshake with NULL authentication; returns the connect request fields. */
export async function acceptHandshake(peer: ScriptedPeer, privateGroup: string, methods = 'NULL '): Promise<{ flags: number; name: string }> {
  const head = await peer.read(5);
  const name = (await peer.read(head[4]!)).toString('latin1');
  await peer.write(Buffer.concat([Buffer.from([methods.length]), Buffer.from(methods, 'latin1')]));
  await peer.read(90);
  await peer.write(Buffer.concat([Buffer.from([1, 5, 0, 1, privateGroup.length]), Buffer.from(privateGroup, 'latin1')]));
  return { flags: head[3]!, name };
}

export type ReplayMode = 'as-captured' | 'bytewise' | 'coalesced';

/**
 * libspread copies its private group into the KILL record's group slot with strcpy into a stack
 * buffer, so the bytes after the NUL are stack garbage (spec §6.4). The client library zero-pads;
 * the expected bytes are the captured ones with that garbage zeroed.
 */
export function zeroKillGarbage(seg: Buffer): Buffer {
  const out = Buffer.from(seg);
  if (out.length === 80 && out.readUInt32LE(0) === 0x80040080) {
    const nul = out.indexOf(0, 48);
    if (nul >= 48 && nul < 80) out.fill(0, nul, 80);
  }
  return out;
}

/**
 * Plays the daemon's side of a captured session: each run of client segments must arrive
 * byte-identical (KILL garbage aside), each run of daemon segments is then written back
 * (as captured, one byte per write, or as one write). After the script the client must close
 * without sending anything more.
 */
export function replayScript(segments: readonly Segment[], mode: ReplayMode): (peer: ScriptedPeer) => Promise<void> {
  return async (peer) => {
    let i = 0;
    while (i < segments.length) {
      const dir = segments[i]!.dir;
      const run: Buffer[] = [];
      while (i < segments.length && segments[i]!.dir === dir) run.push(zeroKillGarbage(Buffer.from(segments[i++]!.hex, 'hex')));
      if (dir === 'c') {
        const expected = Buffer.concat(run);
        const got = await peer.read(expected.length);
        if (!got.equals(expected)) {
          throw new Error(`client bytes differ from libspread's at segment ${i}:\n expected ${expected.toString('hex')}\n got      ${got.toString('hex')}`);
        }
      } else if (mode === 'as-captured') {
        for (const seg of run) await peer.write(seg);
      } else if (mode === 'bytewise') {
        await peer.writeBytewise(Buffer.concat(run));
      } else {
        await peer.write(Buffer.concat(run));
      }
    }
    // The real daemon closes its side once the KILL is processed.
    peer.socket.end();
    const extra = await peer.readToEnd();
    if (extra.length > 0) throw new Error(`client sent ${extra.length} unexpected bytes after the script: ${extra.toString('hex')}`);
  };
}
