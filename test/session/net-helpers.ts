/** A raw client for listener tests: writes exact bytes, records every byte and the close. */
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClientListener, type ClientListenerOptions, type SessionHandle, type SessionRequest } from '../../src/session/listener.js';
import * as V from './vectors.js';


export type Target = { port: number; host?: string } | { path: string };

export class RawClient {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  private total = 0;
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.total += c.length;
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(target: Target): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = 'path' in target ? net.connect({ path: target.path }) : net.connect({ port: target.port, host: target.host ?? '127.0.0.1' });
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  get length(): number {
    return this.total;
  }

  bytes(): Buffer {
    const b = Buffer.concat(this.chunks);
    this.chunks = [b];
    return b;
  }

  /** Forgets what was received so far (counts restart at 0). */
  drop(): void {
    this.chunks = [];
    this.total = 0;
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once `cond` holds; rejects after `timeoutMs`. */
  until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = (): void => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  async waitBytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    await this.until(() => this.total >= n || this.closed, timeoutMs, `${n} bytes`);
    return this.bytes();
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    return this.until(() => this.closed, timeoutMs, 'close');
  }

  close(): void {
    this.socket.destroy();
  }
}

/** libspread 5.0.1 handshake; resolves with the private group the daemon gave. */
export async function handshake(target: Target, name: string, membership = true): Promise<{ c: RawClient; privateGroup: string }> {
  const c = await RawClient.connect(target);
  const n = V.ascii(name);
  c.send(V.concat(Uint8Array.of(5, 0, 1, membership ? 1 : 0, n.length), n));
  const list = await c.waitBytes(1);
  if (list[0] === undefined || list[0] >= 0x80) throw new Error(`rejected with ${list[0]}`);
  await c.waitBytes(1 + (list[0] ?? 0));
  c.send(V.authChoiceNull);
  const head = 1 + (list[0] ?? 0);
  await c.waitBytes(head + 5);
  const b = c.bytes();
  if (b[head] !== 1) throw new Error(`rejected with ${b[head]}`);
  const len = b[head + 4] ?? 0;
  const all = await c.waitBytes(head + 5 + len);
  const privateGroup = all.subarray(head + 5, head + 5 + len).toString('latin1');
  c.drop();
  return { c, privateGroup };
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rc-session-'));
}

export interface Harness {
  listener: ClientListener;
  requests: { s: SessionHandle; r: SessionRequest }[];
  logs: string[];
  tcp: Target;
  unix: Target;
  unixPath: string;
  dir: string;
  stop(): Promise<void>;
}

/** A listener on 127.0.0.1:0 and a Unix socket in a temp dir; kills are "ordered" (released) on the next turn unless autoRelease is false. */
export async function startHarness(over: Partial<ClientListenerOptions> = {}, autoRelease = true): Promise<Harness> {
  const dir = tmpDir();
  const unixPath = path.join(dir, 'sock');
  const requests: { s: SessionHandle; r: SessionRequest }[] = [];
  const logs: string[] = [];
  let listener!: ClientListener;
  listener = new ClientListener(
    {
      daemonName: 'd1',
      tcp: [{ host: '127.0.0.1', port: 0 }],
      unixPath,
      allowedAuthMethods: ['NULL'],
      requiredAuthMethods: [],
      ipAllowed: () => true,
      sessionQueueMessagesMax: 1000,
      sessionsMax: 997,
      handshakeTimeoutMs: 10_000,
      socketPortReuse: 'AUTO',
      log: (level, msg) => logs.push(`${level}: ${msg}`),
      ...over,
    },
    {
      onRequest: (s, r) => {
        requests.push({ s, r });
        if (r.kind === 'kill' && autoRelease) setImmediate(() => listener.release(s.privateGroup));
      },
    },
  );
  await listener.listen();
  const port = listener.addresses().tcp[0]?.port ?? 0;
  return {
    listener,
    requests,
    logs,
    tcp: { port },
    unix: { path: unixPath },
    unixPath,
    dir,
    stop: async () => {
      await listener.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 5 ms until it holds, or fails after `timeoutMs`. */
export async function eventually(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

export { pseudoRandomBytes } from '../helpers/xorshift.js';
