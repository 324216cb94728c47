/**
 * A client session with a Spread-protocol daemon (Ringcast's ringcastd or a real Spread daemon).
 *
 * Received messages reach the application in one of two ways. With no 'message' or 'membership'
 * listener attached, they wait in a bounded queue for receive() or for-await; when the queue is
 * full the socket is paused, so the daemon's own per-session limit takes over instead of this
 * process growing without bound (a Spread daemon drops sessions that stop reading). As soon as a
 * 'message' or 'membership' listener is attached, every message is emitted instead (data and
 * reject messages as 'message', memberships, transitional and self-leave notices as
 * 'membership'), starting with whatever was queued.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { encodeMessage, makeHint, MessageReader } from '../session/codec.js';
import { isValidGroupName, MessageType, SpreadCode, SpreadLimits } from '../session/protocol.js';
import { parseServiceName, type ServiceLevel } from '../util/service.js';
import { formatAddress, type ResolvedAddress } from './address.js';
import type { RecordTransport } from './auth.js';
import { SpreadError } from './errors.js';
import type { DaemonVersion, HandshakeResult } from './handshake.js';
import {
  toReceived,
  type DataMessage,
  type MembershipMessage,
  type Received,
  type RejectMessage,
  type SelfLeaveMessage,
  type TransitionalMessage,
} from './received.js';

export type ServiceName = 'UNRELIABLE' | 'RELIABLE' | 'FIFO' | 'CAUSAL' | 'AGREED' | 'SAFE';

export interface MulticastOptions {
  /** 16-bit application message type (-32768..32767), default 0. */
  messType?: number;
  /** Do not deliver this message back to this connection. */
  selfDiscard?: boolean;
}

export interface ReceiveOptions {
  signal?: AbortSignal;
}

export interface SpreadConnectionEvents {
  message: [message: DataMessage | RejectMessage];
  membership: [message: MembershipMessage | TransitionalMessage | SelfLeaveMessage];
  /** The connection is closed; `error` is undefined after disconnect(), otherwise why it ended. */
  close: [error: SpreadError | undefined];
  /** The connection failed (socket error, invalid data from the daemon); 'close' follows. */
  error: [error: SpreadError];
}

export interface ConnectionSettings {
  address: ResolvedAddress;
  receiveQueueMessagesMax: number;
  disconnectTimeoutMs: number;
}

interface Waiter {
  resolve: (r: Received) => void;
  reject: (e: unknown) => void;
  detach: () => void;
}

type State = 'open' | 'disconnecting' | 'closed';

const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();

/** Destination names for multicast: like group names, but private groups ('#name#daemon') are allowed. */
function isValidDestination(name: string): boolean {
  if (name.length < 1 || name.length >= SpreadLimits.GROUP_NAME_BYTES) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x23 || c > 0x7e) return false;
  }
  return true;
}

function serviceBits(service: ServiceLevel | ServiceName): number {
  if (typeof service === 'string') {
    const s = parseServiceName(service);
    if (s === undefined) throw new SpreadError(SpreadCode.ILLEGAL_SERVICE, `unknown service "${service}": use UNRELIABLE, RELIABLE, FIFO, CAUSAL, AGREED or SAFE`);
    return s;
  }
  const ok = service === 0x01 || service === 0x02 || service === 0x04 || service === 0x08 || service === 0x10 || service === 0x20;
  if (!ok) throw new SpreadError(SpreadCode.ILLEGAL_SERVICE, `service 0x${Number(service).toString(16)} is not exactly one service level`);
  return service;
}

export class SpreadConnection extends EventEmitter<SpreadConnectionEvents> implements AsyncIterable<Received> {
  /** This connection's private group, '#name#daemon'. */
  readonly privateGroup: string;
  readonly daemonVersion: DaemonVersion;
  /** Authentication methods the daemon offered during the handshake. */
  readonly daemonAuthMethods: readonly string[];
  readonly address: ResolvedAddress;

  private readonly socket: Socket;
  private readonly transport: RecordTransport | undefined;
  private readonly reader = new MessageReader({ direction: 'daemon-to-client' });
  private readonly queue: Received[] = [];
  private queueHead = 0;
  private readonly waiters: Waiter[] = [];
  private readonly receiveQueueMessagesMax: number;
  private readonly disconnectTimeoutMs: number;
  private state: State = 'open';
  private closeReason: SpreadError | undefined;
  private readerBroken = false;
  private pumping = false;
  private paused = false;
  private disconnectTimer: NodeJS.Timeout | undefined;
  private readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  /** Use connect(); this wraps a socket whose handshake has completed. */
  constructor(socket: Socket, handshake: HandshakeResult, leftover: Uint8Array, settings: ConnectionSettings) {
    super();
    if (!Number.isInteger(settings.receiveQueueMessagesMax) || settings.receiveQueueMessagesMax < 1) {
      throw new SpreadError(SpreadCode.SP_BUG, `receiveQueueMessagesMax must be a positive integer, got ${settings.receiveQueueMessagesMax}`);
    }
    this.socket = socket;
    this.privateGroup = handshake.privateGroup;
    this.daemonVersion = handshake.daemonVersion;
    this.daemonAuthMethods = handshake.daemonMethods;
    this.address = settings.address;
    this.receiveQueueMessagesMax = settings.receiveQueueMessagesMax;
    this.disconnectTimeoutMs = settings.disconnectTimeoutMs;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));

    this.transport = handshake.transport;
    socket.on('data', (chunk: Buffer) => {
      if (this.state !== 'open' || this.readerBroken) return; // after disconnect(): read and drop, so our close is a FIN, not an RST
      if (this.transport) {
        let plain: Uint8Array[];
        try {
          plain = this.transport.open(chunk);
        } catch (e) {
          this.readerBroken = true;
          this.fail(new SpreadError(SpreadCode.ILLEGAL_MESSAGE, `the protected session stream failed: ${e instanceof Error ? e.message : String(e)}; the connection is closed`, { cause: e }));
          return;
        }
        for (const p of plain) this.reader.push(p);
      } else {
        this.reader.push(chunk);
      }
      this.pump();
    });
    socket.on('error', (e: Error) => {
      this.fail(new SpreadError(SpreadCode.CONNECTION_CLOSED, `connection to daemon ${formatAddress(this.address)} failed: ${e.message}`, { cause: e }));
    });
    socket.on('close', () => this.finish());
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event !== 'message' && event !== 'membership') return;
      // Listeners take over delivery: pending receive() calls would never be served.
      this.rejectWaiters(new SpreadError(SpreadCode.ILLEGAL_SESSION, `a '${event}' listener was attached: messages are now delivered as events`));
      queueMicrotask(() => this.pump());
    });
    if (leftover.length > 0) this.reader.push(leftover);
    this.pump();
    // A daemon that closed right after the accept may have done so before these listeners existed.
    if (socket.destroyed) queueMicrotask(() => this.finish());
  }

  /** Messages waiting for receive(). Never more than receiveQueueMessagesMax. */
  get receiveQueueLength(): number {
    return this.queue.length - this.queueHead;
  }

  /** True once the connection has ended (by disconnect(), by the daemon, or by an error). */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Joins `group` (1..31 characters '$'..'~'). Resolves once the request is written; the membership message confirms it. */
  join(group: string): Promise<void> {
    return this.groupRequest(MessageType.JOIN_MESS, group, 'join');
  }

  /** Leaves `group`. Resolves once the request is written; a self-leave message confirms it. */
  leave(group: string): Promise<void> {
    return this.groupRequest(MessageType.LEAVE_MESS, group, 'leave');
  }

  /**
   * Sends `data` to one group or up to 100 groups (ordinary or private '#name#daemon' groups).
   * Checks as libspread does: one service level, data + 32 x groups ≤ 144000 bytes.
   */
  multicast(service: ServiceLevel | ServiceName, groups: string | readonly string[], data: Uint8Array | string, opts: MulticastOptions = {}): Promise<void> {
    try {
      const type = serviceBits(service) | (opts.selfDiscard ? MessageType.SELF_DISCARD : 0);
      const list = typeof groups === 'string' ? [groups] : [...groups];
      if (list.length < 1 || list.length > SpreadLimits.GROUPS_PER_MESSAGE_MAX) {
        throw new SpreadError(SpreadCode.ILLEGAL_GROUP, `a message goes to 1..${SpreadLimits.GROUPS_PER_MESSAGE_MAX} groups, got ${list.length}`);
      }
      for (const g of list) {
        if (!isValidDestination(g)) throw new SpreadError(SpreadCode.ILLEGAL_GROUP, `destination "${g}" is not a group name: use 1..31 characters from '#' to '~'`);
      }
      const bytes = typeof data === 'string' ? textEncoder.encode(data) : data;
      const body = bytes.length + SpreadLimits.GROUP_NAME_BYTES * list.length;
      if (body > SpreadLimits.MESSAGE_BODY_BYTES_MAX) {
        throw new SpreadError(
          SpreadCode.MESSAGE_TOO_LONG,
          `message of ${bytes.length} bytes to ${list.length} group(s) needs ${body} bytes; data + 32 x groups may be at most ${SpreadLimits.MESSAGE_BODY_BYTES_MAX}`,
        );
      }
      const messType = opts.messType ?? 0;
      if (!Number.isInteger(messType) || messType < -32768 || messType > 32767) {
        throw new SpreadError(SpreadCode.ILLEGAL_MESSAGE, `messType ${messType} is not a 16-bit integer (-32768..32767)`);
      }
      return this.send(encodeMessage({ type, sender: this.privateGroup, groups: list, hint: makeHint(messType), data: bytes }));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The next message. Rejects with CONNECTION_CLOSED once the daemon has closed and the queue is empty. */
  receive(opts: ReceiveOptions = {}): Promise<Received> {
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.receiveQueueLength === 0) this.pump();
    const queued = this.dequeue();
    if (queued !== undefined) {
      this.pump();
      return Promise.resolve(queued);
    }
    if (this.state !== 'open' || this.readerBroken) return Promise.reject(this.receiveError());
    if (this.flowing()) {
      return Promise.reject(new SpreadError(SpreadCode.ILLEGAL_SESSION, "messages are delivered as 'message'/'membership' events while such a listener is attached; remove it to use receive()"));
    }
    return new Promise<Received>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = { resolve, reject, detach: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Receives until the connection closes; breaking out of the loop leaves the connection open. */
  [Symbol.asyncIterator](): AsyncIterator<Received> {
    return {
      next: async (): Promise<IteratorResult<Received>> => {
        try {
          return { value: await this.receive(), done: false };
        } catch (e) {
          if (e instanceof SpreadError && this.state !== 'open' && (e.code === 'CONNECTION_CLOSED' || e.code === 'ILLEGAL_SESSION')) {
            return { value: undefined, done: true };
          }
          throw e;
        }
      },
      return: async (): Promise<IteratorResult<Received>> => ({ value: undefined, done: true }),
    };
  }

  /**
   * Ends the session as SP_disconnect does: sends KILL and closes. Keeps reading (and dropping)
   * until the daemon closes its side, so unread data cannot turn the close into a reset that
   * could lose the KILL (§9); gives up after disconnectTimeoutMs.
   */
  disconnect(): Promise<void> {
    if (this.state !== 'open') return this.closed;
    this.state = 'disconnecting';
    this.queue.length = 0;
    this.queueHead = 0;
    this.rejectWaiters(new SpreadError(SpreadCode.ILLEGAL_SESSION, 'the connection was disconnected'));
    const pg = this.privateGroup;
    const kill = encodeMessage({ type: MessageType.KILL_MESS, sender: pg, groups: [pg], data: EMPTY });
    try {
      this.socket.write(this.transport ? this.transport.seal(kill) : kill);
    } catch {
      // Could not protect the KILL: closing without it is the daemon's EOF disconnect (§9), same outcome.
    }
    this.socket.end();
    this.socket.resume();
    this.disconnectTimer = setTimeout(() => this.socket.destroy(), this.disconnectTimeoutMs);
    return this.closed;
  }

  private groupRequest(type: number, group: string, verb: string): Promise<void> {
    if (!isValidGroupName(group)) {
      return Promise.reject(new SpreadError(SpreadCode.ILLEGAL_GROUP, `cannot ${verb} "${group}": a group name is 1..31 characters from '$' to '~' (no spaces, no '#')`));
    }
    return this.send(encodeMessage({ type, sender: this.privateGroup, groups: [group], data: EMPTY }));
  }

  /** Writes one record in one socket write; resolves once it is handed to the kernel. */
  private send(record: Buffer): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.unusableError());
    let out: Uint8Array = record;
    if (this.transport) {
      try {
        out = this.transport.seal(record);
      } catch (e) {
        return Promise.reject(new SpreadError(SpreadCode.SP_BUG, `could not protect a record: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
      }
    }
    return new Promise((resolve, reject) => {
      this.socket.write(out, (err) => {
        if (err) reject(new SpreadError(SpreadCode.CONNECTION_CLOSED, `could not write to daemon ${formatAddress(this.address)}: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  private flowing(): boolean {
    return this.listenerCount('message') > 0 || this.listenerCount('membership') > 0;
  }

  private dequeue(): Received | undefined {
    if (this.queueHead >= this.queue.length) return undefined;
    const r = this.queue[this.queueHead];
    this.queue[this.queueHead] = undefined as unknown as Received;
    this.queueHead++;
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return r;
  }

  /** Moves complete frames from the reader to listeners, waiters or the queue, pausing the socket when the queue is full. */
  private pump(): void {
    if (this.pumping || this.state === 'disconnecting' || this.readerBroken) return;
    this.pumping = true;
    try {
      if (this.flowing()) {
        for (let r = this.dequeue(); r !== undefined; r = this.dequeue()) this.deliver(r);
      }
      while (this.receiveQueueLength < this.receiveQueueMessagesMax) {
        let r: Received;
        try {
          const m = this.reader.next();
          if (m === undefined) break;
          r = toReceived(m, this.privateGroup);
        } catch (e) {
          this.readerBroken = true;
          const err =
            e instanceof SpreadError
              ? e
              : new SpreadError(SpreadCode.ILLEGAL_MESSAGE, `the daemon sent an invalid message: ${e instanceof Error ? e.message : String(e)}; the connection is closed`, { cause: e });
          this.fail(err);
          return;
        }
        this.deliver(r);
        // A listener may have called disconnect() while handling the message.
        if ((this.state as State) === 'disconnecting') return;
      }
      const full = this.receiveQueueLength >= this.receiveQueueMessagesMax;
      if (full && !this.paused && this.state === 'open') {
        this.socket.pause();
        this.paused = true;
      } else if (!full && this.paused) {
        this.paused = false;
        if (this.state === 'open') this.socket.resume();
      }
    } finally {
      this.pumping = false;
    }
  }

  private deliver(r: Received): void {
    if (this.flowing()) {
      if (r.kind === 'data' || r.kind === 'reject') this.emit('message', r);
      else this.emit('membership', r);
      return;
    }
    const w = this.waiters.shift();
    if (w) {
      w.detach();
      w.resolve(r);
      return;
    }
    this.queue.push(r);
  }

  private fail(err: SpreadError): void {
    if (this.state === 'closed') return;
    if (this.closeReason === undefined && this.state === 'open') {
      this.closeReason = err;
      if (this.listenerCount('error') > 0) this.emit('error', err);
    }
    this.socket.destroy();
  }

  private finish(): void {
    if (this.state === 'closed') return;
    const byUser = this.state === 'disconnecting';
    this.state = 'closed';
    if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
    if (!byUser && this.closeReason === undefined) {
      this.closeReason = new SpreadError(SpreadCode.CONNECTION_CLOSED, `daemon ${formatAddress(this.address)} closed the connection`);
    }
    // Frames already read stay receivable; only waiters with nothing left to get are failed.
    if (!byUser) this.pump();
    this.rejectWaiters(this.receiveError());
    this.resolveClosed();
    this.emit('close', byUser ? undefined : this.closeReason);
  }

  private rejectWaiters(err: SpreadError): void {
    for (const w of this.waiters.splice(0)) {
      w.detach();
      w.reject(err);
    }
  }

  private receiveError(): SpreadError {
    if (this.closeReason) return this.closeReason;
    return new SpreadError(SpreadCode.ILLEGAL_SESSION, 'the connection was disconnected');
  }

  private unusableError(): SpreadError {
    if (this.closeReason) {
      return new SpreadError(SpreadCode.NET_ERROR_ON_SESSION, `the connection to daemon ${formatAddress(this.address)} has ended (${this.closeReason.message}); connect again`, {
        cause: this.closeReason,
      });
    }
    return new SpreadError(SpreadCode.ILLEGAL_SESSION, 'the connection was disconnected; connect again');
  }
}
