/**
 * The client listener: the IO adapter that runs one `ClientSession` per TCP or Unix-socket
 * connection (spec: shared/protocol/spread-client-protocol.md §1 transport, §3 handshake, §9
 * session death, §11 limits, §12 configuration).
 *
 * Every socket event is guarded: an exception ends that connection only, never the daemon.
 * `onRequest` is never called from inside `deliver()` or `release()`; a kill ordered there (slow
 * reader) reaches the handler on a later microtask.
 */
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import {
  createServerAuth,
  isKeyedAuthMethod,
  keyedMethodOf,
  KeyedFrameError,
  KeyedStreamDecoder,
  pumpServerAuth,
  type ServerAuth,
  type ServerAuthContext,
  type SessionKeys,
} from '../../crypto/session/index.js';
import type { AclAction, AclDecision } from '../acl/policy.js';
import { sendActionFor } from '../acl/policy.js';
import { sessionIdentity } from '../acl/identity.js';
import { RingcastError } from '../util/errors.js';
import { decodeMessage, encodeRejectMessage, makeHint, type DecodedMessage } from './codec.js';
import {
  ClientSession,
  describeCloseReason,
  type CloseReason,
  type SessionHost,
  type SessionPeer,
  type SessionRequest,
} from './machine.js';
import { MessageType, SpreadCode, SpreadLimits } from './protocol.js';

export type { SessionPeer, SessionRequest } from './machine.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ClientListenerOptions {
  daemonName: string;
  /** Client TCP listeners (IPv4 or IPv6 literals or host names; port 0 picks a free port). */
  tcp: { host: string; port: number }[];
  /** Unix socket path, e.g. /tmp/4803: a stale socket file is replaced, the new one is mode 0666 (§1). */
  unixPath: string | undefined;
  /** Methods offered and enforced on every listener that has no policy of its own below. */
  allowedAuthMethods: string[];
  requiredAuthMethods: string[];
  /** The TCP listeners' own methods (TcpAllowedAuthMethods / TcpRequiredAuthMethods). */
  tcpAuth?: ListenerAuth;
  /** The Unix socket's own methods (UnixAllowedAuthMethods / UnixRequiredAuthMethods). */
  unixAuth?: ListenerAuth;
  /**
   * Admit a TCP session from a non-loopback peer on NULL alone. Default false: such a session is
   * refused with REJECT_AUTH (NULL stays usable on the Unix socket and from loopback peers).
   */
  nullAuthFromNetwork?: boolean;
  /** What RC-PASSWORD and RC-PUBKEY check against; required when either is enabled. */
  keyedAuth?: ServerAuthContext;
  /** Group access control, asked before a join or a send reaches the daemon; absent: everything is allowed. */
  accessControl?: AccessControl;
  /** The IP method's check of a peer (the access rules of src/config). */
  ipAllowed: (peer: SessionPeer) => boolean;
  /** Frames handed to a session's socket and not yet flushed to the kernel; beyond, the session is killed (§9). */
  sessionQueueMessagesMax: number;
  /**
   * Bytes queued to a session and not yet flushed; beyond, the session is killed as a slow reader
   * too. MaxSessionMessages alone lets one non-reading session pin 1000 × 144 KB. Default 32 MiB.
   */
  sessionQueueBytesMax?: number;
  /**
   * Connections from one peer address still in the handshake at once; beyond, REJECT_QUOTA. Keeps
   * one host from holding every session slot with connections that never finish. Default 256.
   */
  handshakesPerPeerMax?: number;
  /** Connections held at once (handshaking, open, or killed and not yet released); beyond, REJECT_QUOTA. */
  sessionsMax: number;
  /** A connection still in the handshake after this long is dropped without a reply. */
  handshakeTimeoutMs: number;
  /** §12. Node always sets SO_REUSEADDR on TCP listeners (on Linux that never allows a second live listener). */
  socketPortReuse: 'AUTO' | 'ON' | 'OFF';
  log: (level: LogLevel, msg: string) => void;
}

export interface ListenerAuth {
  readonly allowed: readonly string[];
  readonly required: readonly string[];
}

export interface AccessControl {
  decide(identity: string, action: AclAction, group: string): AclDecision;
}

export interface SessionHandle {
  /** '#name#daemon' */
  readonly privateGroup: string;
  /** The private name alone. */
  readonly name: string;
  /** The client asked for membership messages. */
  readonly membership: boolean;
  /** 'a.b.c.d:port', '[v6]:port' or 'unix:<path>', for logs. */
  readonly peer: string;
  /** What access control knows the session as: `password:<user>`, `key:<identity>`, `ip:<address>` or `null`. */
  readonly identity: string;
}

export interface SessionRequestHandler {
  onRequest(s: SessionHandle, r: SessionRequest): void;
}

export interface ClientListenerStats {
  /** Connections holding a slot now (see sessionsMax). */
  sessions: number;
  /** Handshakes that ended in an accept. */
  accepted: number;
  /** Handshakes that ended otherwise, by Spread code name (REJECT_QUOTA, REJECT_AUTH, ...) or HANDSHAKE_TIMEOUT / HOST_ERROR. */
  rejected: Record<string, number>;
  /** Sessions killed for not reading. */
  killedSlow: number;
  /** Sessions killed for an invalid message header. */
  invalidFrames: number;
  /** Keyed sessions ended because a frame failed authentication, replay or order checks. */
  keyedFramesRejected: number;
  /** Joins and sends refused by access control (each answered with REJECT_MESS). */
  aclRefusals: number;
}

/** How long a closing connection may take to read our FIN before it is destroyed. */
const CLOSE_LINGER_MS = 1000;
/** The methods this daemon can run (Spread's clear-text PWORD is not provided). */
const SUPPORTED_AUTH_METHODS: readonly string[] = ['NULL', 'IP', 'RC-PASSWORD', 'RC-PUBKEY'];
/** §3.2: assigned names are at most 9 characters. */
const ASSIGNED_NAME_CHARS_MAX = 9;

interface Entry {
  readonly id: number;
  readonly socket: net.Socket;
  readonly peer: SessionPeer;
  readonly peerText: string;
  readonly machine: ClientSession;
  /** The private name this connection holds in `names`. */
  name: string | undefined;
  handle: SessionHandle | undefined;
  released: boolean;
  socketClosed: boolean;
  finished: boolean;
  /** No more deliveries: the session was killed or the socket is being closed. */
  writesClosed: boolean;
  pumping: boolean;
  closeNote: string;
  handshakeTimer: NodeJS.Timeout | undefined;
  lingerTimer: NodeJS.Timeout | undefined;
  /** The keyed method running for this connection, until it finishes. */
  auth: ServerAuth | undefined;
  /** Set when a keyed method succeeded: every later byte in both directions is a sealed frame. */
  keys: SessionKeys | undefined;
  decoder: KeyedStreamDecoder | undefined;
  keyedIdentity: string | undefined;
  /** The IP method ran and admitted this peer. */
  ipAdmitted: boolean;
  /** Write accounting: cumulative end offsets of the chunks written, and the total. */
  writeEnds: number[];
  writeHead: number;
  bytesQueued: number;
  /** Writes are corked until the next flush (one system call for a burst of frames). */
  corked: boolean;
  /** Frames not flushed when the current batch began: the slow-reader test looks at these only. */
  unflushedAtBatchStart: number;
  /** Key of the per-peer handshake count while this connection is in the handshake. */
  handshakeKey: string | undefined;
}

export const SESSION_QUEUE_BYTES_MAX_DEFAULT = 32 * 1024 * 1024;
export const HANDSHAKES_PER_PEER_MAX_DEFAULT = 256;

/** 127.0.0.0/8 and ::1: peers on this host. */
function isLoopbackAddress(a: string): boolean {
  if (net.isIPv4(a)) return a.startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** IPv4 peers of a dual-stack listener arrive as ::ffff:a.b.c.d; rules and logs want a.b.c.d. */
function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

export class ClientListener {
  private readonly opts: ClientListenerOptions;
  private readonly handler: SessionRequestHandler;
  private readonly servers: net.Server[] = [];
  private readonly sessions = new Set<Entry>();
  private readonly byPrivateGroup = new Map<string, Entry>();
  /** Private names held on this daemon, TCP and Unix alike (§3.2: unique per daemon). */
  private readonly names = new Set<string>();
  /** Sockets on their way out that hold no slot (quota rejects, finished handshakes). */
  private readonly strays = new Set<net.Socket>();
  private unixInode: number | undefined;
  private connections = 0;
  private closing = false;
  private readingPaused = false;
  /** Sessions holding corked frames, uncorked together by flush(). */
  private corkedSessions: Entry[] = [];
  private flushQueued = false;
  /** Connections still in the handshake, per peer address ('unix' for the Unix socket). */
  private readonly handshakesByPeer = new Map<string, number>();
  private readonly queueBytesMax: number;
  private readonly handshakesPerPeerMax: number;
  private readonly counters = { accepted: 0, killedSlow: 0, invalidFrames: 0, keyedFramesRejected: 0, aclRefusals: 0 };
  private readonly rejected: Record<string, number> = {};

  constructor(opts: ClientListenerOptions, handler: SessionRequestHandler) {
    const d = opts.daemonName;
    if (d.length < 1 || d.length > SpreadLimits.DAEMON_NAME_CHARS_MAX || !/^[\x24-\x7e]+$/.test(d)) {
      throw new RingcastError(
        'SESSION_DAEMON_NAME',
        `daemon name "${d}" must be 1..${SpreadLimits.DAEMON_NAME_CHARS_MAX} characters from '$' to '~'`,
      );
    }
    const lists = [opts.allowedAuthMethods, opts.requiredAuthMethods, opts.tcpAuth?.allowed ?? [], opts.tcpAuth?.required ?? [], opts.unixAuth?.allowed ?? [], opts.unixAuth?.required ?? []];
    for (const m of lists.flat()) {
      if (!SUPPORTED_AUTH_METHODS.includes(m)) {
        throw new RingcastError(
          'SESSION_AUTH_METHOD',
          `authentication method "${m}" is not available; use ${SUPPORTED_AUTH_METHODS.join(', ')}`,
        );
      }
      if (m === 'RC-PASSWORD' && opts.keyedAuth?.passwords === undefined) {
        throw new RingcastError('SESSION_AUTH_METHOD', 'RC-PASSWORD is enabled but no password verifiers were loaded (PasswordFile)');
      }
      if (m === 'RC-PUBKEY' && opts.keyedAuth?.authorizedKeys === undefined) {
        throw new RingcastError('SESSION_AUTH_METHOD', 'RC-PUBKEY is enabled but no authorized keys were loaded (AuthorizedKeysFile)');
      }
    }
    this.queueBytesMax = opts.sessionQueueBytesMax ?? SESSION_QUEUE_BYTES_MAX_DEFAULT;
    this.handshakesPerPeerMax = opts.handshakesPerPeerMax ?? HANDSHAKES_PER_PEER_MAX_DEFAULT;
    const positive: [string, number][] = [
      ['sessionQueueBytesMax', this.queueBytesMax],
      ['handshakesPerPeerMax', this.handshakesPerPeerMax],
      ['sessionQueueMessagesMax', opts.sessionQueueMessagesMax],
      ['sessionsMax', opts.sessionsMax],
      ['handshakeTimeoutMs', opts.handshakeTimeoutMs],
    ];
    for (const [k, v] of positive) {
      if (!Number.isInteger(v) || v < 1) throw new RingcastError('SESSION_OPTIONS', `${k} must be a positive integer, got ${v}`);
    }
    for (const t of opts.tcp) {
      if (!Number.isInteger(t.port) || t.port < 0 || t.port > 65535) {
        throw new RingcastError('SESSION_OPTIONS', `client port ${t.port} for ${t.host} is not a TCP port`);
      }
    }
    if (opts.tcp.length === 0 && opts.unixPath === undefined) {
      throw new RingcastError('SESSION_OPTIONS', 'no client listener configured: give a TCP address or a Unix socket path');
    }
    this.opts = opts;
    this.handler = handler;
  }

  // ---- lifecycle ----

  async listen(): Promise<void> {
    if (this.servers.length > 0 || this.closing) throw new RingcastError('SESSION_LISTEN', 'the client listener was already started');
    try {
      if (this.opts.socketPortReuse === 'OFF' && this.opts.tcp.length > 0) {
        this.opts.log('warn', 'SocketPortReuse OFF cannot be honoured: Node sets SO_REUSEADDR on every TCP listener (Linux still refuses a second live listener on the port)');
      }
      for (const t of this.opts.tcp) {
        await this.startServer({ host: t.host, port: t.port }, `${t.host}:${t.port}`, 'tcp');
      }
      const path = this.opts.unixPath;
      if (path !== undefined) {
        await this.clearStaleUnixSocket(path);
        await this.startServer({ path }, path, 'unix');
        fs.chmodSync(path, 0o666);
        this.unixInode = fs.lstatSync(path).ino;
      }
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** Stops listening, closes every connection (no kill requests are emitted), removes the Unix socket file. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = this.servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (!s.listening) return resolve();
          s.close(() => resolve());
        }),
    );
    for (const e of this.sessions) {
      this.clearTimers(e);
      e.socket.destroy();
    }
    this.sessions.clear();
    this.byPrivateGroup.clear();
    this.names.clear();
    for (const s of this.strays) s.destroy();
    this.strays.clear();
    await Promise.all(closed);
    this.servers.length = 0;
    const path = this.opts.unixPath;
    if (path !== undefined && this.unixInode !== undefined) {
      try {
        const st = fs.lstatSync(path);
        // Only our own socket: another daemon may have taken the path since.
        if (st.isSocket() && st.ino === this.unixInode) fs.unlinkSync(path);
      } catch {
        // already gone
      }
      this.unixInode = undefined;
    }
  }

  /** Where the listeners are bound (ports resolved when 0 was asked). */
  addresses(): { tcp: { host: string; port: number }[]; unix: string | undefined } {
    const tcp: { host: string; port: number }[] = [];
    let unix: string | undefined;
    for (const s of this.servers) {
      const a = s.address();
      if (a === null) continue;
      if (typeof a === 'string') unix = a;
      else tcp.push({ host: a.address, port: a.port });
    }
    return { tcp, unix };
  }

  // ---- commands from the daemon ----

  /** Write a frame to a local session by private group name; membership frames are skipped for sessions without the membership flag. Unknown names are ignored. */
  deliver(privateGroup: string, frame: Uint8Array, membership: boolean): void {
    const e = this.byPrivateGroup.get(privateGroup);
    if (e === undefined || e.handle === undefined) return;
    if (membership && !e.handle.membership) return;
    if (e.writesClosed || e.socket.destroyed || !e.socket.writable) return;
    // Frames of the batch being built this tick are not a sign of a slow reader: only what was
    // still unflushed when the batch began counts, plus a byte bound on everything queued.
    if (!e.corked) e.unflushedAtBatchStart = this.unflushedWrites(e);
    const queuedBytes = e.socket.writableLength;
    if (e.unflushedAtBatchStart >= this.opts.sessionQueueMessagesMax || queuedBytes + frame.length > this.queueBytesMax) {
      this.killSlowReader(e, e.unflushedAtBatchStart, queuedBytes);
      return;
    }
    this.write(e, frame);
  }

  /**
   * Hands every session's corked frames to its socket: one write per session for all the frames
   * delivered since the last flush. The daemon calls this when its delivery loop is done, so a
   * delivered frame is written before the packets that loop produced are sent; frames written
   * outside such a loop (handshakes, a delivery without a following flush) go at the end of the
   * current tick.
   */
  flush(): void {
    const corked = this.corkedSessions;
    if (corked.length === 0) return;
    this.corkedSessions = [];
    for (const e of corked) {
      e.corked = false;
      if (!e.socket.destroyed) e.socket.uncork();
    }
  }

  /** The kill of this session has been ordered: release its name for reuse and finish closing. */
  release(privateGroup: string): void {
    const e = this.byPrivateGroup.get(privateGroup);
    if (e === undefined) return;
    this.byPrivateGroup.delete(privateGroup);
    e.released = true;
    this.releaseName(e);
    // Released without a kill from this side (the daemon ended it): nothing more to report.
    e.machine.terminate('shutdown');
    if (!e.socket.destroyed) this.endSocket(e);
    this.forgetIfDone(e);
  }

  /** Flow control from the daemon: stop (or resume) reading requests from open sessions. */
  setReadingPaused(paused: boolean): void {
    if (this.readingPaused === paused) return;
    this.readingPaused = paused;
    for (const e of this.sessions) {
      if (e.handle === undefined || e.socket.destroyed) continue;
      if (paused) e.socket.pause();
      else e.socket.resume();
    }
    if (!paused) {
      // Requests parsed while paused: drain them outside the caller's stack.
      setImmediate(() => {
        for (const e of this.sessions) if (e.handle !== undefined) this.guard(e, () => this.pump(e));
      });
    }
  }

  stats(): ClientListenerStats {
    return {
      sessions: this.sessions.size,
      accepted: this.counters.accepted,
      rejected: { ...this.rejected },
      killedSlow: this.counters.killedSlow,
      invalidFrames: this.counters.invalidFrames,
      keyedFramesRejected: this.counters.keyedFramesRejected,
      aclRefusals: this.counters.aclRefusals,
    };
  }

  // ---- connections ----

  private startServer(addr: net.ListenOptions, text: string, kind: 'tcp' | 'unix'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // No Nagle: frames are already batched per session and tick, and a second batch must not wait
      // for the client's delayed ACK of the first.
      const server = net.createServer({ allowHalfOpen: false, noDelay: true }, (socket) => this.onConnection(socket, kind));
      const onError = (err: Error): void => {
        reject(new RingcastError('SESSION_LISTEN', `cannot listen for clients on ${text}: ${err.message}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen(addr, () => {
        server.off('error', onError);
        server.on('error', (err) => this.opts.log('error', `client listener ${text}: ${err.message}`));
        this.servers.push(server);
        this.opts.log('info', `listening for clients on ${kind === 'unix' ? `unix:${text}` : text}`);
        resolve();
      });
    });
  }

  /** A socket file left by a daemon that died is replaced; a live one, or any other file, is an error. */
  private async clearStaleUnixSocket(path: string): Promise<void> {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new RingcastError('SESSION_UNIX_PATH', `cannot inspect ${path}: ${errText(e)}`);
    }
    if (!st.isSocket()) {
      throw new RingcastError('SESSION_UNIX_PATH', `${path} exists and is not a socket; remove it or configure another client socket path`);
    }
    const live = await new Promise<boolean>((resolve) => {
      const probe = net.connect({ path });
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (live) {
      throw new RingcastError('SESSION_UNIX_PATH', `${path} is in use by a running daemon; stop it or configure another client socket path`);
    }
    fs.unlinkSync(path);
  }

  private onConnection(socket: net.Socket, kind: 'tcp' | 'unix'): void {
    socket.on('error', () => undefined); // replaced below for sessions; never let an 'error' go unhandled
    try {
      if (this.closing) {
        socket.destroy();
        return;
      }
      let peer: SessionPeer;
      let peerText: string;
      if (kind === 'tcp') {
        const address = plainAddress(socket.remoteAddress ?? '?');
        peer = { kind: 'tcp', address };
        peerText = net.isIPv6(address) ? `[${address}]:${socket.remotePort ?? 0}` : `${address}:${socket.remotePort ?? 0}`;
        socket.setNoDelay(true);
        socket.setKeepAlive(true);
      } else {
        peer = { kind: 'unix' };
        peerText = `unix:${this.opts.unixPath ?? ''}`;
      }
      const handshakeKey = peer.kind === 'tcp' ? peer.address : 'unix';
      const handshaking = this.handshakesByPeer.get(handshakeKey) ?? 0;
      if (this.sessions.size >= this.opts.sessionsMax || handshaking >= this.handshakesPerPeerMax) {
        this.count('REJECT_QUOTA');
        const why =
          this.sessions.size >= this.opts.sessionsMax
            ? `${this.sessions.size} sessions already`
            : `${handshaking} connections from this peer still in the handshake (limit ${this.handshakesPerPeerMax})`;
        this.opts.log('info', `client ${peerText} rejected: REJECT_QUOTA (${SpreadCode.REJECT_QUOTA}): ${why}`);
        this.strays.add(socket);
        socket.on('close', () => this.strays.delete(socket));
        socket.on('data', () => undefined);
        socket.end(Uint8Array.of(SpreadCode.REJECT_QUOTA & 0xff));
        setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref();
        return;
      }
      this.handshakesByPeer.set(handshakeKey, handshaking + 1);
      this.startSession(socket, peer, peerText, handshakeKey);
    } catch (err) {
      this.opts.log('error', `client connection setup failed: ${errText(err)}`);
      socket.destroy();
    }
  }

  private startSession(socket: net.Socket, peer: SessionPeer, peerText: string, handshakeKey: string): void {
    const id = ++this.connections;
    // The host's name callbacks run only once bytes arrive, after `e` is assigned below.
    let e!: Entry;
    const policy = (peer.kind === 'tcp' ? this.opts.tcpAuth : this.opts.unixAuth) ?? {
      allowed: this.opts.allowedAuthMethods,
      required: this.opts.requiredAuthMethods,
    };
    const host: SessionHost = {
      daemonName: this.opts.daemonName,
      allowedAuthMethods: policy.allowed,
      requiredAuthMethods: policy.required,
      peer,
      tryReserveName: (name) => {
        if (this.names.has(name)) return false;
        this.names.add(name);
        e.name = name;
        return true;
      },
      assignName: () => {
        const name = this.freshName(id);
        this.names.add(name);
        e.name = name;
        return name;
      },
      authenticate: (methods) => this.authenticate(e, methods),
    };
    e = {
      id,
      socket,
      peer,
      peerText,
      machine: new ClientSession(host),
      name: undefined,
      handle: undefined,
      released: false,
      socketClosed: false,
      finished: false,
      writesClosed: false,
      pumping: false,
      closeNote: '',
      handshakeTimer: undefined,
      lingerTimer: undefined,
      auth: undefined,
      keys: undefined,
      decoder: undefined,
      keyedIdentity: undefined,
      ipAdmitted: false,
      writeEnds: [],
      writeHead: 0,
      bytesQueued: 0,
      corked: false,
      unflushedAtBatchStart: 0,
      handshakeKey,
    };
    this.sessions.add(e);

    e.handshakeTimer = setTimeout(() => {
      this.guard(e, () => {
        e.handshakeTimer = undefined;
        if (e.machine.state === 'connect' || e.machine.state === 'auth') {
          e.machine.terminate('handshake-timeout');
          this.pump(e);
        }
      });
    }, this.opts.handshakeTimeoutMs);
    e.handshakeTimer.unref();

    socket.removeAllListeners('error');
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.guard(e, () => {
        this.opts.log('debug', `client ${e.handle?.privateGroup ?? e.peerText}: socket error ${err.code ?? err.message}`);
        // §9, §14.9: a reset is the same implicit kill as an EOF.
        e.machine.end();
        this.pump(e);
      });
    });
    socket.on('data', (chunk: Buffer) => {
      this.guard(e, () => {
        if (e.machine.state === 'closed') return; // closing: read and drop, so our FIN is not turned into a reset
        if (e.decoder !== undefined) this.receiveKeyed(e, chunk);
        else {
          e.machine.receive(chunk);
          this.driveKeyedAuth(e);
        }
        this.pump(e);
      });
    });
    socket.on('end', () => {
      this.guard(e, () => {
        e.machine.end();
        this.pump(e);
      });
    });
    socket.on('close', () => {
      this.guard(e, () => {
        e.socketClosed = true;
        e.writesClosed = true;
        this.endHandshake(e);
        this.clearTimers(e);
        e.machine.end();
        this.pump(e);
        this.forgetIfDone(e);
      });
    });
  }

  /** Drain the machine: handshake bytes to the socket, requests to the daemon, then act on a close. */
  private pump(e: Entry): void {
    if (e.pumping || this.closing) return;
    e.pumping = true;
    try {
      const m = e.machine;
      for (let progressed = true; progressed; ) {
        progressed = false;
        for (let out = m.pollOutput(); out !== undefined; out = m.pollOutput()) {
          progressed = true;
          if (!e.writesClosed && !e.socket.destroyed) this.write(e, out);
        }
        if (e.handle === undefined && m.opened) this.onOpened(e);
        const h = e.handle;
        while (h !== undefined && !this.readingPaused && !this.closing) {
          const r = m.pollRequest();
          if (r === undefined) break;
          progressed = true;
          if (!e.released && this.permitted(e, h, r)) this.dispatch(h, r);
        }
      }
      if (m.state === 'closed' && !e.finished) this.onMachineClosed(e, m.closeReason);
    } finally {
      e.pumping = false;
    }
  }

  /** The connection left the handshake (opened, rejected or gone): it no longer counts against its peer. */
  private endHandshake(e: Entry): void {
    const key = e.handshakeKey;
    if (key === undefined) return;
    e.handshakeKey = undefined;
    const n = (this.handshakesByPeer.get(key) ?? 1) - 1;
    if (n <= 0) this.handshakesByPeer.delete(key);
    else this.handshakesByPeer.set(key, n);
  }

  private onOpened(e: Entry): void {
    const m = e.machine;
    const privateGroup = m.privateGroup;
    const name = m.name;
    if (privateGroup === undefined || name === undefined) return;
    this.endHandshake(e);
    if (e.handshakeTimer !== undefined) {
      clearTimeout(e.handshakeTimer);
      e.handshakeTimer = undefined;
    }
    const identity = sessionIdentity({
      keyedIdentity: e.keyedIdentity,
      ipAddress: e.ipAdmitted && e.peer.kind === 'tcp' ? e.peer.address : undefined,
    });
    e.handle = Object.freeze({ privateGroup, name, membership: m.membership, peer: e.peerText, identity });
    this.byPrivateGroup.set(privateGroup, e);
    this.counters.accepted++;
    const v = m.clientVersion;
    this.opts.log(
      'debug',
      `session ${privateGroup} opened from ${e.peerText} (library ${v ? `${v.major}.${v.minor}.${v.patch}` : '?'}, auth ${m.authMethods.join(' ')}, identity ${identity}${e.keys ? ', keyed' : ''}${m.membership ? ', membership' : ''})`,
    );
    if (this.readingPaused) e.socket.pause();
  }

  private onMachineClosed(e: Entry, reason: CloseReason | undefined): void {
    e.finished = true;
    this.endHandshake(e);
    if (e.handshakeTimer !== undefined) {
      clearTimeout(e.handshakeTimer);
      e.handshakeTimer = undefined;
    }
    const who = e.handle !== undefined ? `session ${e.handle.privateGroup} (${e.peerText})` : `client ${e.peerText}`;
    const text = reason !== undefined ? describeCloseReason(reason) : 'closed';
    const note = e.closeNote !== '' ? ` (${e.closeNote})` : '';
    let level: LogLevel = 'info';
    if (reason?.kind === 'rejected') this.count(reason.codeName);
    else if (reason?.kind === 'invalid-header') {
      this.counters.invalidFrames++;
      level = 'warn';
    } else if (reason?.kind === 'terminated' && reason.cause === 'handshake-timeout') this.count('HANDSHAKE_TIMEOUT');
    else if (reason?.kind === 'terminated' && (reason.cause === 'not-reading' || reason.cause === 'frame-rejected')) level = 'warn';
    else if (reason?.kind === 'host-error') {
      this.count('HOST_ERROR');
      level = 'error';
    }
    // Released by the daemon: its closing was logged when the kill happened.
    if (!(reason?.kind === 'terminated' && reason.cause === 'shutdown')) this.opts.log(level, `${who}: ${text}${note}`);

    if (e.handle === undefined) {
      // Never opened: nothing was joined, so no kill; the name is free at once.
      this.releaseName(e);
      this.sessions.delete(e);
      if (!e.socket.destroyed) {
        this.strays.add(e.socket);
        e.socket.once('close', () => this.strays.delete(e.socket));
        if (reason?.kind === 'terminated' || reason?.kind === 'host-error') e.socket.destroy();
        else this.endSocket(e);
      }
      return;
    }
    switch (reason?.kind) {
      case 'disconnect':
        // §9: the socket stays until the kill is ordered (release), so earlier deliveries still go out.
        break;
      case 'eof':
        break;
      case 'terminated':
        e.writesClosed = true;
        if (reason.cause !== 'shutdown') e.socket.destroy();
        break;
      default:
        this.endSocket(e);
    }
  }

  private dispatch(h: SessionHandle, r: SessionRequest): void {
    try {
      this.handler.onRequest(h, r);
    } catch (err) {
      this.opts.log('error', `request ${r.kind} of ${h.privateGroup} failed in the daemon: ${errText(err)}`);
    }
  }

  private killSlowReader(e: Entry, unflushed: number, queuedBytes: number): void {
    this.counters.killedSlow++;
    e.writesClosed = true;
    e.closeNote = `${unflushed} frames and ${queuedBytes} bytes not flushed, limits ${this.opts.sessionQueueMessagesMax} frames, ${this.queueBytesMax} bytes`;
    e.machine.terminate('not-reading');
    e.socket.destroy();
    // The kill reaches the daemon after its current delivery loop, not inside it.
    queueMicrotask(() => this.guard(e, () => this.pump(e)));
  }

  // ---- helpers ----

  /**
   * The session machine's authenticate(): NULL and IP decide at once; a keyed method (at most one
   * per session) starts its handshake and finishes in driveKeyedAuth as its records arrive.
   */
  private authenticate(e: Entry, methods: readonly string[]): 'ok' | 'denied' | 'pending' {
    let keyed: string | undefined;
    try {
      keyed = keyedMethodOf(methods);
    } catch (err) {
      e.closeNote = errText(err);
      return 'denied';
    }
    for (const m of methods) {
      if (m === 'NULL' || isKeyedAuthMethod(m)) continue;
      if (m !== 'IP' || !this.ipCheck(e.peer)) {
        if (m === 'IP') e.closeNote = 'IP: the peer is not in the access list';
        return 'denied';
      }
      e.ipAdmitted = true;
    }
    if (methods.every((m) => m === 'NULL') && e.peer.kind === 'tcp' && !isLoopbackAddress(e.peer.address) && this.opts.nullAuthFromNetwork !== true) {
      e.closeNote = 'NULL is accepted on TCP from loopback peers only (TcpAllowedAuthMethods naming NULL admits it from any peer)';
      return 'denied';
    }
    if (keyed === undefined) return 'ok';
    const ctx = this.opts.keyedAuth;
    if (ctx === undefined) return 'denied';
    try {
      e.auth = createServerAuth(keyed, ctx);
    } catch (err) {
      this.opts.log('error', `${keyed} for ${e.peerText}: ${errText(err)}`);
      return 'denied';
    }
    return 'pending';
  }

  /** Runs the pending keyed method over the bytes buffered so far; switches to keyed framing when it succeeds. */
  private driveKeyedAuth(e: Entry): void {
    const m = e.machine;
    const auth = e.auth;
    if (auth === undefined || !m.authPending) return;
    const r = pumpServerAuth(auth, { read: (n) => m.authRead(n), write: (b) => m.authWrite(b) });
    // Handshake records go out in clear, ServerFinal included.
    for (let out = m.pollOutput(); out !== undefined; out = m.pollOutput()) if (!e.writesClosed && !e.socket.destroyed) this.write(e, out);
    if (r.status === 'pending') return;
    e.auth = undefined;
    if (r.status === 'rejected') {
      e.closeNote = `${auth.method}: ${r.reason}`;
      m.authResult(false);
      return;
    }
    const stray = m.bufferedBytes();
    if (stray > 0) {
      // A client sends nothing between its proof and the sealed accept, so these bytes were put on
      // the stream by someone else; run as records, they would act under the new identity.
      e.closeNote = `${auth.method}: ${stray} clear bytes followed the client's proof (injected); refused`;
      m.authResult(false);
      return;
    }
    e.keyedIdentity = r.identity;
    e.keys = r.keys;
    e.decoder = new KeyedStreamDecoder(r.keys.receive);
    m.authResult(true);
  }

  /** Keyed session input: frames are opened in order; the first bad one ends the session. */
  private receiveKeyed(e: Entry, chunk: Uint8Array): void {
    const decoder = e.decoder;
    if (decoder === undefined) return;
    decoder.push(chunk);
    try {
      for (let pt = decoder.next(); pt !== undefined; pt = decoder.next()) {
        e.machine.receive(pt);
        if (e.machine.state === 'closed') return;
      }
    } catch (err) {
      if (!(err instanceof KeyedFrameError)) throw err;
      this.counters.keyedFramesRejected++;
      e.closeNote = `${err.code}: ${err.message}`;
      e.machine.terminate('frame-rejected');
    }
  }

  /**
   * Access control before a request reaches the daemon: a join needs `join` on the group; a send
   * needs `send` (or `send-private` for '#name#daemon') on every destination. A refusal goes back
   * to the requester as REJECT_MESS (spec §7.5) and nothing of the request reaches any group.
   */
  private permitted(e: Entry, h: SessionHandle, r: SessionRequest): boolean {
    const acl = this.opts.accessControl;
    if (acl === undefined || (r.kind !== 'join' && r.kind !== 'data')) return true;
    let original: DecodedMessage;
    let refused: { action: AclAction; group: string; decision: AclDecision } | undefined;
    if (r.kind === 'join') {
      const decision = acl.decide(h.identity, 'join', r.group);
      if (decision.allowed) return true;
      refused = { action: 'join', group: r.group, decision };
      original = {
        header: { type: MessageType.JOIN_MESS, sender: h.privateGroup, numGroups: 1, hint: makeHint(0), dataLen: 0, littleEndian: true },
        oldType: undefined,
        groups: [r.group],
        data: new Uint8Array(0),
        frame: new Uint8Array(0),
      };
    } else {
      for (const group of r.groups) {
        const action = sendActionFor(group);
        const decision = acl.decide(h.identity, action, group);
        if (!decision.allowed) {
          refused = { action, group, decision };
          break;
        }
      }
      if (refused === undefined) return true;
      original = decodeMessage(r.frame, 'client-to-daemon');
    }
    this.counters.aclRefusals++;
    const rule = refused.decision.rule ? `rule ${refused.decision.rule.origin}` : 'no rule matched';
    this.opts.log('warn', `access control: session ${h.privateGroup} (${h.peer}, identity ${h.identity}) may not ${refused.action} group "${refused.group}" (${rule}); sent REJECT_MESS`);
    if (!e.writesClosed && !e.socket.destroyed) this.write(e, encodeRejectMessage(original, h.privateGroup));
    return false;
  }

  private ipCheck(peer: SessionPeer): boolean {
    try {
      return this.opts.ipAllowed(peer);
    } catch (err) {
      this.opts.log('error', `IP access check failed: ${errText(err)}`);
      return false;
    }
  }

  /** §3.2: 'r<N>-<k>' with N random in 0..9998 and k this connection's number, cut to 9 characters, unique. */
  private freshName(k: number): string {
    for (let attempt = 0; attempt < 32; attempt++) {
      const n = `r${randomInt(0, 9999)}-${k}`.slice(0, ASSIGNED_NAME_CHARS_MAX);
      if (!this.names.has(n)) return n;
    }
    for (let i = 0; ; i++) {
      const n = `r${i}`;
      if (!this.names.has(n)) return n;
    }
  }

  private releaseName(e: Entry): void {
    if (e.name !== undefined) {
      this.names.delete(e.name);
      e.name = undefined;
    }
  }

  /** One record per write; on a keyed session, one sealed frame per record. */
  private write(e: Entry, bytes: Uint8Array): void {
    let out: Uint8Array;
    try {
      out = e.keys !== undefined ? e.keys.send.seal(bytes) : bytes;
    } catch (err) {
      // Only a record beyond the frame bound or an exhausted counter gets here: end this session, not the caller's loop.
      this.opts.log('error', `client ${e.handle?.privateGroup ?? e.peerText}: cannot seal a ${bytes.length}-byte record (${errText(err)}); closing the session`);
      e.writesClosed = true;
      e.machine.terminate('frame-rejected');
      e.socket.destroy();
      queueMicrotask(() => this.guard(e, () => this.pump(e)));
      return;
    }
    e.bytesQueued += out.length;
    e.writeEnds.push(e.bytesQueued);
    if (!e.corked) {
      e.corked = true;
      e.socket.cork();
      this.corkedSessions.push(e);
      if (!this.flushQueued) {
        this.flushQueued = true;
        process.nextTick(() => {
          this.flushQueued = false;
          this.flush();
        });
      }
    }
    e.socket.write(out);
  }

  /** Chunks written to the socket whose bytes are still in Node's buffer (not yet taken by the kernel). */
  private unflushedWrites(e: Entry): number {
    const flushed = e.bytesQueued - e.socket.writableLength;
    while (e.writeHead < e.writeEnds.length && (e.writeEnds[e.writeHead] ?? Infinity) <= flushed) e.writeHead++;
    if (e.writeHead > 1024 && e.writeHead * 2 > e.writeEnds.length) {
      e.writeEnds = e.writeEnds.slice(e.writeHead);
      e.writeHead = 0;
    }
    return e.writeEnds.length - e.writeHead;
  }

  /** FIN after what is queued; keep reading (and dropping) so the peer is not reset, then destroy. */
  private endSocket(e: Entry): void {
    e.writesClosed = true;
    if (e.socket.destroyed) return;
    e.socket.resume();
    e.socket.end();
    if (e.lingerTimer === undefined) {
      e.lingerTimer = setTimeout(() => e.socket.destroy(), CLOSE_LINGER_MS);
      e.lingerTimer.unref();
    }
  }

  private forgetIfDone(e: Entry): void {
    if (e.socketClosed && (e.handle === undefined || e.released)) this.sessions.delete(e);
  }

  private clearTimers(e: Entry): void {
    if (e.handshakeTimer !== undefined) clearTimeout(e.handshakeTimer);
    if (e.lingerTimer !== undefined) clearTimeout(e.lingerTimer);
    e.handshakeTimer = undefined;
    e.lingerTimer = undefined;
  }

  private count(key: string): void {
    this.rejected[key] = (this.rejected[key] ?? 0) + 1;
  }

  private guard(e: Entry, f: () => void): void {
    try {
      f();
    } catch (err) {
      this.opts.log('error', `client ${e.handle?.privateGroup ?? e.peerText}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      try {
        e.socket.destroy();
      } catch {
        // nothing more to do for this connection
      }
    }
  }
}
