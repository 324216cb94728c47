/**
 * A minimal Spread-protocol session for load generation: the 5.0.1 handshake with the NULL
 * method, then frames written as prepared and received frames split with as little work as
 * possible (little-endian daemon headers, no decoding beyond the lengths). It keeps the load
 * generator's own cost small, so a benchmark measures the daemon rather than the client.
 */
import net from 'node:net';
import { encodeAuthChoice, encodeConnectRequest, encodeMessage, makeHint } from '../../src/session/codec.js';
import { MessageType } from '../../src/session/protocol.js';

const HANDSHAKE_TIMEOUT_MS = 20_000;

/** Called with the buffer holding a whole frame, the frame's offset, and where its data starts. */
export type FrameHandler = (buf: Buffer, frameOffset: number, dataOffset: number, dataLen: number) => void;

export type LeanTarget = { port: number } | { path: string };

export class LeanSession {
  onFrame: FrameHandler = () => undefined;
  private pending: Buffer = Buffer.alloc(0);
  private pendingOffset = 0;

  private constructor(
    readonly socket: net.Socket,
    readonly privateGroup: string,
  ) {}

  /** Connects and completes the handshake; rejects with the daemon's reject code if refused. */
  static open(target: LeanTarget, name: string, opts: { membership?: boolean } = {}): Promise<LeanSession> {
    return new Promise((resolve, reject) => {
      const socket = 'path' in target ? net.connect({ path: target.path }) : net.connect({ port: target.port, host: '127.0.0.1', noDelay: true });
      let buf = Buffer.alloc(0);
      let step: 'list' | 'accept' = 'list';
      const timer = setTimeout(() => fail(new Error(`handshake of ${name} timed out`)), HANDSHAKE_TIMEOUT_MS);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      const signed = (b: number): number => (b >= 0x80 ? b - 0x100 : b);
      const onData = (chunk: Buffer): void => {
        buf = Buffer.concat([buf, chunk]);
        if (step === 'list') {
          if (buf.length < 1) return;
          if (signed(buf[0]!) < 0) return fail(Object.assign(new Error(`${name} rejected: ${signed(buf[0]!)}`), { spreadCode: signed(buf[0]!) }));
          if (buf.length < 1 + buf[0]!) return;
          buf = buf.subarray(1 + buf[0]!);
          step = 'accept';
          socket.write(encodeAuthChoice(['NULL']));
        }
        if (buf.length < 1) return;
        if (signed(buf[0]!) < 0) return fail(Object.assign(new Error(`${name} rejected: ${signed(buf[0]!)}`), { spreadCode: signed(buf[0]!) }));
        if (buf.length < 5 || buf.length < 5 + buf[4]!) return;
        const group = buf.subarray(5, 5 + buf[4]!).toString('latin1');
        const rest = buf.subarray(5 + buf[4]!);
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', fail);
        socket.on('error', () => undefined);
        const s = new LeanSession(socket, group);
        socket.on('data', (c: Buffer) => s.receive(c));
        if (rest.length > 0) s.receive(rest);
        resolve(s);
      };
      socket.on('data', onData);
      socket.on('error', fail);
      socket.on('close', () => fail(new Error(`${name}: connection closed during the handshake`)));
      socket.once('connect', () =>
        socket.write(encodeConnectRequest({ major: 5, minor: 0, patch: 1, membership: opts.membership ?? false, priority: 0, name })),
      );
    });
  }

  join(group: string): void {
    this.socket.write(encodeMessage({ type: MessageType.JOIN_MESS, sender: this.privateGroup, groups: [group], data: Buffer.alloc(0) }));
  }

  /** A data frame from this session, ready to be written (possibly many times, patched in place). */
  frame(service: number, groups: readonly string[], data: Uint8Array, messType = 0): Buffer {
    return encodeMessage({ type: service, sender: this.privateGroup, groups, hint: makeHint(messType), data });
  }

  write(frame: Uint8Array): void {
    this.socket.write(frame);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.write(encodeMessage({ type: MessageType.KILL_MESS, sender: this.privateGroup, groups: [this.privateGroup], data: Buffer.alloc(0) }));
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    });
  }

  private receive(chunk: Buffer): void {
    let buf: Buffer;
    let off: number;
    if (this.pendingOffset >= this.pending.length) {
      buf = chunk;
      off = 0;
    } else {
      buf = Buffer.concat([this.pending.subarray(this.pendingOffset), chunk]);
      off = 0;
    }
    while (buf.length - off >= 48) {
      const type = buf.readUInt32LE(off);
      const extra = (type & MessageType.REJECT_MESS) !== 0 ? 4 : 0;
      const ng = buf.readInt32LE(off + 36);
      const dl = buf.readInt32LE(off + 44);
      const dataOffset = off + 48 + extra + 32 * ng;
      const size = dataOffset - off + dl;
      if (buf.length - off < size) break;
      this.onFrame(buf, off, dataOffset, dl);
      off += size;
    }
    this.pending = buf;
    this.pendingOffset = off;
  }
}
