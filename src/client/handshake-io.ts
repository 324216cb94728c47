/**
 * Exact-length reads and single-write records over a socket, for the handshake and for the
 * method-specific authentication exchanges. The daemon may split its replies arbitrarily (the
 * 5.0.1 daemon sends every accept field in its own send()), so reads reassemble; writes put one
 * record in one socket write, because the 5.0.1 daemon reads each record with a single recv (§3.6).
 */
import type { Socket } from 'node:net';
import { SpreadCode } from '../session/protocol.js';
import type { RecordTransport } from './auth.js';
import { SpreadError } from './errors.js';

/** Largest single handshake read a method may ask for; bounds the handshake buffer. */
export const HANDSHAKE_READ_BYTES_MAX = 64 * 1024;

/** What an authentication method sees of the connection: exact reads and one-write records. */
export interface AuthChannel {
  /** Sends `bytes` in a single socket write; resolves once handed to the kernel. */
  write(bytes: Uint8Array): Promise<void>;
  /** Resolves with exactly `n` bytes, however the daemon segmented them. */
  read(n: number): Promise<Uint8Array>;
}

interface PendingRead {
  n: number;
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
}

export class HandshakeIO implements AuthChannel {
  private readonly socket: Socket;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private pending: PendingRead | undefined;
  private failure: Error | undefined;
  private transport: RecordTransport | undefined;
  private readonly onData = (c: Buffer): void => {
    this.accept(c);
    this.settle();
  };
  private readonly onEnd = (): void => this.fail(new SpreadError(SpreadCode.CONNECTION_CLOSED, 'the daemon closed the connection during the handshake'));
  private readonly onError = (e: Error): void =>
    this.fail(new SpreadError(SpreadCode.CONNECTION_CLOSED, `connection failed during the handshake: ${e.message}`, { cause: e }));

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  /**
   * From now on, reads see the plaintext of `t` and writes are sealed with it. Bytes already
   * received (beyond what was read) are the first protected bytes.
   */
  protect(t: RecordTransport): void {
    const raw = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    this.transport = t;
    this.accept(raw);
    this.settle();
  }

  private accept(raw: Buffer): void {
    if (this.failure) return;
    if (!this.transport) {
      this.chunks.push(raw);
      this.buffered += raw.length;
      return;
    }
    if (raw.length === 0) return;
    try {
      for (const p of this.transport.open(raw)) {
        const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
        this.chunks.push(b);
        this.buffered += b.length;
      }
    } catch (e) {
      this.fail(new SpreadError(SpreadCode.CONNECTION_CLOSED, `the protected session stream failed during the handshake: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    }
  }

  /** Fails the pending and every later read with `e` (first failure wins). */
  fail(e: Error): void {
    if (this.failure === undefined) this.failure = e;
    this.settle();
  }

  read(n: number): Promise<Uint8Array> {
    if (!Number.isInteger(n) || n < 0 || n > HANDSHAKE_READ_BYTES_MAX) {
      return Promise.reject(new SpreadError(SpreadCode.SP_BUG, `handshake read of ${n} bytes is outside 0..${HANDSHAKE_READ_BYTES_MAX}`));
    }
    if (this.pending) return Promise.reject(new SpreadError(SpreadCode.SP_BUG, 'a handshake read is already pending'));
    return new Promise((resolve, reject) => {
      this.pending = { n, resolve, reject };
      this.settle();
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    let out: Uint8Array;
    try {
      out = this.transport ? this.transport.seal(bytes) : bytes;
    } catch (e) {
      return Promise.reject(new SpreadError(SpreadCode.SP_BUG, `could not protect a handshake record: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    }
    return new Promise((resolve, reject) => {
      this.socket.write(out, (err) => {
        if (err) reject(new SpreadError(SpreadCode.CONNECTION_CLOSED, `could not write to the daemon: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  /** Stops listening and returns the bytes received beyond the handshake (start of the message stream, as plaintext). */
  release(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    const rest = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    return rest;
  }

  private settle(): void {
    const p = this.pending;
    if (!p) return;
    if (this.buffered >= p.n) {
      this.pending = undefined;
      p.resolve(this.take(p.n));
    } else if (this.failure) {
      this.pending = undefined;
      p.reject(this.failure);
    }
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    const out = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}
