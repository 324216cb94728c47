/**
 * Raw Spread-protocol connections for tests that must control every byte a client sends: a TCP
 * or Unix socket that records everything the daemon sends, bounded waits on what arrived, and a
 * splitter of the daemon→client stream into its records (spec §3 handshake records, §4 messages).
 */
import net from 'node:net';
import { encodeAuthChoice, encodeConnectRequest, encodeMessage, makeHint } from '../../src/session/codec.js';
import { MessageType } from '../../src/session/protocol.js';

export type ServerRecordKind = 'auth-list' | 'accept' | 'reject' | 'message';

export interface ServerRecord {
  kind: ServerRecordKind;
  bytes: Buffer;
  /** Offset of the record in the stream. */
  offset: number;
}

export interface SplitOptions {
  /** The library version the client announced (default 5.0.1): decides which handshake records come. */
  version?: { major: number; minor: number; patch: number };
}

function versionNumber(v: { major: number; minor: number; patch: number }): number {
  return v.major * 10000 + v.minor * 100 + v.patch;
}

/**
 * Splits what a daemon sent on one connection into records: for a ≥ 3.16 client the auth list,
 * then the accept (or a reject byte), then messages. Returns the complete records and how many
 * bytes of an incomplete one trail them.
 */
export function splitServerStream(buf: Buffer, opts: SplitOptions = {}): { records: ServerRecord[]; partialBytes: number } {
  const v = versionNumber(opts.version ?? { major: 5, minor: 0, patch: 1 });
  const records: ServerRecord[] = [];
  let off = 0;
  const push = (kind: ServerRecordKind, len: number): boolean => {
    if (off + len > buf.length) return false;
    records.push({ kind, bytes: buf.subarray(off, off + len), offset: off });
    off += len;
    return true;
  };
  const signed = (b: number): number => (b >= 0x80 ? b - 0x100 : b);
  const done = (): { records: ServerRecord[]; partialBytes: number } => ({ records, partialBytes: buf.length - off });

  if (v >= 31600) {
    if (off >= buf.length) return done();
    const len = signed(buf[off]!);
    if (len < 0) {
      push('reject', 1);
      return done();
    }
    // An empty list is followed by REJECT_AUTH (§3.3).
    if (!push('auth-list', 1 + len)) return done();
    if (len === 0) {
      if (off < buf.length) push('reject', 1);
      return done();
    }
  }
  if (off >= buf.length) return done();
  if (signed(buf[off]!) < 0) {
    push('reject', 1);
    return done();
  }
  const withPatch = v >= 31500;
  const lenAt = off + (withPatch ? 4 : 3);
  if (lenAt >= buf.length) return done();
  if (!push('accept', lenAt - off + 1 + buf[lenAt]!)) return done();

  while (off + 48 <= buf.length) {
    const le = (buf[off]! & 0x80) !== 0;
    const type = le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
    const ng = le ? buf.readInt32LE(off + 36) : buf.readInt32BE(off + 36);
    const dl = le ? buf.readInt32LE(off + 44) : buf.readInt32BE(off + 44);
    if (ng < 0 || dl < 0) throw new Error(`daemon sent a header with negative lengths at offset ${off}`);
    const extra = (type & MessageType.REJECT_MESS) !== 0 ? 4 : 0;
    if (!push('message', 48 + extra + 32 * ng + dl)) break;
  }
  return done();
}

export interface RawConnection {
  socket: net.Socket;
  /** Everything the daemon sent so far. */
  received(): Buffer;
  /** Resolves once `pred` holds for what arrived, or rejects after `timeoutMs`. */
  waitFor(pred: (got: Buffer) => boolean, timeoutMs: number, what?: string): Promise<void>;
  /** Resolves true once at least `n` bytes arrived, false on timeout (never rejects). */
  waitBytes(n: number, timeoutMs: number): Promise<boolean>;
  /** The daemon ended the connection (FIN seen) or it was closed; resolves with how it ended. */
  closed: Promise<'end' | 'close'>;
  /** Resolves 'closed' if the connection ended within `timeoutMs`, else 'open'. */
  closedWithin(timeoutMs: number): Promise<'closed' | 'open'>;
  isClosed(): boolean;
  write(bytes: Uint8Array): Promise<void>;
}

export type RawTarget = { port: number; host?: string } | { path: string };

export async function rawConnect(target: RawTarget, timeoutMs = 5000): Promise<RawConnection> {
  const socket = 'path' in target ? net.connect({ path: target.path }) : net.connect({ port: target.port, host: target.host ?? '127.0.0.1', noDelay: true });
  let buf = Buffer.alloc(0);
  let ended = false;
  const listeners = new Set<() => void>();
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (const l of [...listeners]) l();
  });
  const closed = new Promise<'end' | 'close'>((resolve) => {
    socket.once('end', () => {
      ended = true;
      resolve('end');
      for (const l of [...listeners]) l();
    });
    socket.once('close', () => {
      ended = true;
      resolve('close');
      for (const l of [...listeners]) l();
    });
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('raw connect timed out')), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(t);
      resolve();
    });
    socket.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
  const waitFor = (pred: (got: Buffer) => boolean, ms: number, what = 'bytes from the daemon'): Promise<void> =>
    new Promise((resolve, reject) => {
      if (pred(buf)) return resolve();
      const check = (): void => {
        if (pred(buf)) {
          cleanup();
          resolve();
        } else if (ended) {
          cleanup();
          reject(new Error(`connection closed while waiting for ${what}; got ${buf.length} bytes: ${buf.subarray(0, 64).toString('hex')}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; got ${buf.length} bytes: ${buf.subarray(0, 64).toString('hex')}`));
      }, ms);
      const cleanup = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      if (ended) check();
    });
  return {
    socket,
    received: () => buf,
    waitFor,
    waitBytes: (n, ms) => waitFor((b) => b.length >= n, ms).then(() => true, () => false),
    closed,
    closedWithin: (ms) =>
      Promise.race([closed.then(() => 'closed' as const), new Promise<'open'>((r) => setTimeout(() => r('open'), ms))]),
    isClosed: () => ended,
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        socket.write(bytes, (err) => (err ? reject(err) : resolve()));
      }),
  };
}

export interface RawSession extends RawConnection {
  privateGroup: string;
}

/** A raw connection through a 5.0.1 handshake with the NULL method; throws unless accepted. */
export async function rawSession(target: RawTarget, name: string, opts: { membership?: boolean; timeoutMs?: number } = {}): Promise<RawSession> {
  const ms = opts.timeoutMs ?? 5000;
  const c = await rawConnect(target, ms);
  await c.write(encodeConnectRequest({ major: 5, minor: 0, patch: 1, membership: opts.membership ?? true, priority: 0, name }));
  await c.waitFor((b) => b.length >= 1 && (b[0]! >= 0x80 || b.length >= 1 + b[0]!), ms, 'the auth list');
  if (c.received()[0]! >= 0x80) throw new Error(`connect of "${name}" rejected with ${c.received()[0]! - 0x100}`);
  const listLen = 1 + c.received()[0]!;
  await c.write(encodeAuthChoice(['NULL']));
  await c.waitFor((b) => b.length >= listLen + 5 && b.length >= listLen + 5 + b[listLen + 4]!, ms, 'the accept');
  const b = c.received();
  if (b[listLen] !== 1) throw new Error(`handshake of "${name}" ended with ${b[listLen]}`);
  const privateGroup = b.subarray(listLen + 5, listLen + 5 + b[listLen + 4]!).toString('latin1');
  return Object.assign(c, { privateGroup });
}

/** The messages (after the handshake) received so far on a raw session. */
export function messagesOf(c: RawConnection): Buffer[] {
  return splitServerStream(c.received()).records.filter((r) => r.kind === 'message').map((r) => r.bytes);
}

/** A client record as libspread writes it (little-endian, marker set). */
export function clientFrame(type: number, sender: string, groups: readonly string[], data: Uint8Array | string = '', messType = 0): Buffer {
  return encodeMessage({ type, sender, groups, hint: makeHint(messType), data: typeof data === 'string' ? Buffer.from(data) : data });
}

/** A raw 48-byte header with arbitrary (possibly invalid) fields, little-endian writer. */
export function rawHeader(f: { type: number; sender: string; numGroups: number; hint?: number; dataLen: number }): Buffer {
  const h = Buffer.alloc(48);
  h.writeUInt32LE((f.type | MessageType.ENDIAN_MARKER) >>> 0, 0);
  h.write(f.sender.slice(0, 32), 4, 'latin1');
  h.writeInt32LE(f.numGroups, 36);
  h.writeUInt32LE((f.hint ?? 0x80000080) >>> 0, 40);
  h.writeInt32LE(f.dataLen, 44);
  return h;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
