/**
 * Opening a session: TCP or Unix socket, then the libspread 5.0.1 handshake, bounded by a
 * timeout and an optional AbortSignal.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { SpreadCode, SpreadLimits } from '../session/protocol.js';
import { formatAddress, resolveAddress, type Address, type ResolvedAddress } from './address.js';
import { resolveAuthMethods, type ClientAuthMethod } from './auth.js';
import { SpreadConnection } from './connection.js';
import { SpreadError } from './errors.js';
import { HandshakeIO } from './handshake-io.js';
import { LIBRARY_VERSION, performHandshake, type LibraryVersion } from './handshake.js';

export interface ConnectOptions {
  /**
   * Private name, 1..10 characters from '$' to '~'. Longer names are cut to 10 characters, as
   * libspread does. Empty or absent: the daemon assigns a unique name.
   */
  name?: string;
  /** Receive membership messages (default true). */
  membership?: boolean;
  /** Session priority; as in libspread only "above zero" is announced, and daemons ignore it. */
  priority?: number;
  /** Authentication methods to use, by built-in name ('NULL', 'IP') or as objects (default ['NULL']). */
  authMethods?: ReadonlyArray<string | ClientAuthMethod>;
  signal?: AbortSignal;
  /** Bound on connecting plus the handshake (default 10000). */
  timeoutMs?: number;
  /** Bound on messages waiting for receive() before the socket is paused (default 1000). */
  receiveQueueMessagesMax?: number;
  /** How long disconnect() waits for the daemon to close its side (default 2000). */
  disconnectTimeoutMs?: number;
  /** Library version announced in the connect request (default 5.0.1); older ones change the handshake (§3.7). */
  libraryVersion?: LibraryVersion;
}

export const CONNECT_TIMEOUT_MS_DEFAULT = 10_000;
export const RECEIVE_QUEUE_MESSAGES_MAX_DEFAULT = 1000;
export const DISCONNECT_TIMEOUT_MS_DEFAULT = 2000;

function positiveInt(value: number | undefined, fallback: number, what: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new SpreadError(SpreadCode.ILLEGAL_TIME, `${what} must be a positive integer, got ${value}`);
  return v;
}

function checkName(name: string | undefined): string {
  // libspread cuts longer names to MAX_PRIVATE_NAME; the daemon then judges the characters.
  const n = (name ?? '').slice(0, SpreadLimits.PRIVATE_NAME_CHARS_MAX);
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c < 0x24 || c > 0x7e) {
      throw new SpreadError(SpreadCode.REJECT_ILLEGAL_NAME, `private name "${n}" is invalid: use 1..10 characters from '$' to '~' (no spaces, no '#')`);
    }
  }
  return n;
}

function checkVersion(v: LibraryVersion): LibraryVersion {
  for (const part of [v.major, v.minor, v.patch]) {
    if (!Number.isInteger(part) || part < 0 || part > 127) {
      throw new SpreadError(SpreadCode.REJECT_VERSION, `library version ${v.major}.${v.minor}.${v.patch}: each part must be an integer 0..127`);
    }
  }
  return v;
}

function openSocket(a: ResolvedAddress): Socket {
  return a.kind === 'tcp'
    ? netConnect({ host: a.host, port: a.port, noDelay: true, keepAlive: true })
    : netConnect({ path: a.path });
}

function whenConnected(socket: Socket, where: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onConnect = (): void => {
      socket.off('error', onError);
      resolve();
    };
    const onError = (e: Error): void => {
      socket.off('connect', onConnect);
      reject(new SpreadError(SpreadCode.COULD_NOT_CONNECT, `could not connect to daemon ${where}: ${e.message}; is the daemon running and listening there?`, { cause: e }));
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
  });
}

/**
 * Connects to a daemon. `address` uses Spread's syntax ("4803" → Unix socket /tmp/4803,
 * "4803@host" → TCP) or an object; the default is "4803".
 */
export async function connect(address: Address = '', opts: ConnectOptions = {}): Promise<SpreadConnection> {
  const resolved = resolveAddress(address);
  const where = formatAddress(resolved);
  const name = checkName(opts.name);
  const methods = resolveAuthMethods(opts.authMethods);
  const version = checkVersion(opts.libraryVersion ?? LIBRARY_VERSION);
  const priority = opts.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0) throw new SpreadError(SpreadCode.ILLEGAL_SESSION, `priority must be a non-negative integer, got ${priority}`);
  const timeoutMs = positiveInt(opts.timeoutMs, CONNECT_TIMEOUT_MS_DEFAULT, 'timeoutMs');
  const receiveQueueMessagesMax = positiveInt(opts.receiveQueueMessagesMax, RECEIVE_QUEUE_MESSAGES_MAX_DEFAULT, 'receiveQueueMessagesMax');
  const disconnectTimeoutMs = positiveInt(opts.disconnectTimeoutMs, DISCONNECT_TIMEOUT_MS_DEFAULT, 'disconnectTimeoutMs');
  const { signal } = opts;
  signal?.throwIfAborted();

  const socket = openSocket(resolved);
  const io = new HandshakeIO(socket);
  const work = (async () => {
    await whenConnected(socket, where);
    return performHandshake(io, { name, membership: opts.membership ?? true, priority, version, methods, address: resolved });
  })();
  work.catch(() => {});

  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new SpreadError(SpreadCode.COULD_NOT_CONNECT, `no session with daemon ${where} within ${timeoutMs} ms; is it a Spread-protocol daemon, and is it overloaded?`)),
      timeoutMs,
    );
    if (signal) {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  stop.catch(() => {});

  try {
    const handshake = await Promise.race([work, stop]);
    // Synchronously hand the socket over: no 'data' event can fall between release and the new listener.
    const leftover = io.release();
    return new SpreadConnection(socket, handshake, leftover, { address: resolved, receiveQueueMessagesMax, disconnectTimeoutMs });
  } catch (e) {
    io.release();
    socket.on('error', () => {});
    socket.destroy();
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
