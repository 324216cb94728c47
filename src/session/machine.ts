/**
 * The daemon side of one Spread client session, sans-IO (spec: shared/protocol/
 * spread-client-protocol.md §3 handshake, §5 header validation, §6 requests, §9 session death).
 *
 * The adapter feeds bytes with `receive()` in any segmentation (one byte at a time, or the connect
 * request, auth choice and first messages in one chunk) and drains `pollOutput()` (bytes to write)
 * and `pollRequest()` (what the session asks of the daemon). No sockets, no clocks: the adapter
 * owns the handshake timer and calls `terminate('handshake-timeout')`.
 *
 * Unlike the 5.0.1 daemon, handshake records are reassembled from any segmentation (§3.6, §14.10),
 * but every reply byte is the one Spread sends.
 */
import type { ServiceLevel } from '../util/service.js';
import { RingcastError } from '../util/errors.js';
import { ByteQueue } from './byte-queue.js';
import {
  decodeAuthChoice,
  decodeHeader,
  decodeMessage,
  encodeAccept,
  encodeAuthList,
  normaliseFrame,
  sendsPatchByte,
  type MessageHeader,
} from './codec.js';
import {
  MessageType,
  SpreadCode,
  SpreadLimits,
  isValidGroupName,
  isValidPrivateName,
  privateGroupName,
  spreadCodeName,
} from './protocol.js';

export type SessionState = 'connect' | 'auth' | 'open' | 'closed';

export type SessionPeer = { kind: 'tcp'; address: string } | { kind: 'unix' };

/** 'pending': the method finishes later; the adapter then calls `authResult()`. */
export type AuthOutcome = 'ok' | 'denied' | 'pending';

export type SessionRequest =
  | { kind: 'join'; group: string }
  | { kind: 'leave'; group: string }
  | {
      kind: 'data';
      /** The whole client record, re-encoded little-endian if the client wrote big-endian (hint untouched). */
      frame: Uint8Array;
      service: ServiceLevel;
      selfDiscard: boolean;
      groups: string[];
    }
  /** KILL_MESS, an invalid header, EOF, or a kill ordered by the adapter (§9). Emitted at most once. */
  | { kind: 'kill' };

/** What the session needs from the daemon during the handshake. Every call is synchronous. */
export interface SessionHost {
  readonly daemonName: string;
  /** Enabled methods, in the order they are announced (§3.3, §12). */
  readonly allowedAuthMethods: readonly string[];
  /** Methods run whatever the client picked; they need not be in the allowed list (§12). */
  readonly requiredAuthMethods: readonly string[];
  readonly peer: SessionPeer;
  /** Reserve a client-chosen private name on this daemon; false if it is taken (REJECT_NOT_UNIQUE). */
  tryReserveName(name: string): boolean;
  /** A fresh unique private name for name_len 0 (§3.2 step 3), already reserved. */
  assignName(): string;
  /** Run these methods (client's choice plus required ones) for this peer. */
  authenticate(methods: readonly string[]): AuthOutcome;
}

/** 'frame-rejected': a keyed session's stream failed authentication, replay or order checks. */
export type TerminateCause = 'handshake-timeout' | 'not-reading' | 'socket-error' | 'shutdown' | 'frame-rejected';

export type RejectCodeName =
  | 'REJECT_ILLEGAL_NAME'
  | 'REJECT_NOT_UNIQUE'
  | 'REJECT_VERSION'
  | 'REJECT_AUTH';

export type CloseReason =
  /** A single reject byte was sent during the handshake (§3.2, §3.4, §3.6). */
  | { kind: 'rejected'; code: number; codeName: RejectCodeName; detail: string }
  /** A message header (or JOIN/LEAVE group) failed §5 validation: closed without an error byte. */
  | { kind: 'invalid-header'; detail: string }
  /** The client sent KILL_MESS (SP_disconnect, §6.4). */
  | { kind: 'disconnect' }
  /** The client closed the connection (or it broke). */
  | { kind: 'eof'; during: 'handshake' | 'session' }
  /** The adapter ended the session. */
  | { kind: 'terminated'; cause: TerminateCause }
  /** The host broke its contract (threw, or assigned an unusable name); no reply byte. */
  | { kind: 'host-error'; detail: string };

export function describeCloseReason(r: CloseReason): string {
  switch (r.kind) {
    case 'rejected':
      return `${r.codeName} (${r.code}): ${r.detail}`;
    case 'invalid-header':
      return `invalid-header: ${r.detail}`;
    case 'disconnect':
      return 'disconnect: client sent KILL_MESS';
    case 'eof':
      return r.during === 'handshake' ? 'eof: connection closed during the handshake' : 'eof: connection closed without KILL_MESS';
    case 'terminated':
      return `terminated: ${r.cause}`;
    case 'host-error':
      return `host-error: ${r.detail}`;
  }
}

export interface ClientVersion {
  major: number;
  minor: number;
  /** 0 for libraries up to 3.14, which do not send it. */
  patch: number;
}

export interface ClientSessionOptions {
  /** Requests parsed ahead of `pollRequest()`; input beyond waits in the byte queue. Default 64. */
  requestsQueuedMax?: number;
}

const HEADER_BYTES = SpreadLimits.HEADER_BYTES;
const NAME_BYTES = SpreadLimits.GROUP_NAME_BYTES;
const AUTH_CHOICE_BYTES = SpreadLimits.AUTH_NAME_BYTES * SpreadLimits.AUTH_METHODS_MAX;
const REQUESTS_QUEUED_DEFAULT = 64;

/** Oldest library accepted (§3.2 check 1), as major·10000 + minor·100 + patch. */
const VERSION_MIN = 30100;
/** From this version on the client expects the patch byte in the accept (§3.6, §3.7). */
const VERSION_ACCEPT_PATCH = 31500;
/** From this version on the auth list and the 90-byte choice are exchanged (§3.7). */
const VERSION_AUTH_NEGOTIATION = 31600;

const SERVICE_BITS = MessageType.REGULAR_MESS;
const CONTROL_BITS = MessageType.JOIN_MESS | MessageType.LEAVE_MESS | MessageType.KILL_MESS;
/** Every bit a client request may carry; §5 leaves the rest unchecked, Ringcast rejects them. */
const CLIENT_TYPE_BITS = SERVICE_BITS | MessageType.SELF_DISCARD | CONTROL_BITS;
/** §4.2: hint = endian marker | mess_type << 8; anything else kills the session. */
const HINT_BITS = 0x80ffff80;

function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v &= v - 1) n++;
  return n;
}

function hex(x: number): string {
  return `0x${(x >>> 0).toString(16).padStart(8, '0')}`;
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

type Phase = 'connect' | 'auth-choice' | 'auth-pending' | 'open' | 'closed';

export class ClientSession {
  private readonly host: SessionHost;
  private readonly requestsQueuedMax: number;
  private readonly input = new ByteQueue();
  private readonly outputs: Uint8Array[] = [];
  private readonly requests: SessionRequest[] = [];
  private phase: Phase = 'connect';
  private reason: CloseReason | undefined;
  private version: ClientVersion | undefined;
  private wantsMembership = false;
  private clientPriority = 0;
  private privateName: string | undefined;
  private group: string | undefined;
  private methods: readonly string[] = [];
  private wasOpened = false;
  private killEmitted = false;
  /** Size of the record whose header was validated and whose body is still arriving (0: none). */
  private pendingRecordBytes = 0;

  constructor(host: SessionHost, opts: ClientSessionOptions = {}) {
    const d = host.daemonName;
    if (d.length < 1 || d.length > SpreadLimits.DAEMON_NAME_CHARS_MAX || !/^[\x24-\x7e]+$/.test(d)) {
      throw new RingcastError(
        'SESSION_DAEMON_NAME',
        `daemon name "${d}" must be 1..${SpreadLimits.DAEMON_NAME_CHARS_MAX} characters from '$' to '~' (it forms private group names)`,
      );
    }
    const max = opts.requestsQueuedMax ?? REQUESTS_QUEUED_DEFAULT;
    if (!Number.isInteger(max) || max < 1) {
      throw new RingcastError('SESSION_OPTIONS', `requestsQueuedMax must be a positive integer, got ${max}`);
    }
    this.host = host;
    this.requestsQueuedMax = max;
  }

  // ---- getters ----

  get state(): SessionState {
    switch (this.phase) {
      case 'connect':
        return 'connect';
      case 'auth-choice':
      case 'auth-pending':
        return 'auth';
      case 'open':
        return 'open';
      case 'closed':
        return 'closed';
    }
  }

  get closeReason(): CloseReason | undefined {
    return this.reason;
  }

  /** True while an authentication method is running (`authResult()` expected). */
  get authPending(): boolean {
    return this.phase === 'auth-pending';
  }

  /** The private name this session holds (reserved through the host), once the connect request is through. */
  get name(): string | undefined {
    return this.privateName;
  }

  /** '#name#daemon', once the connect request is through. */
  get privateGroup(): string | undefined {
    return this.group;
  }

  /** The client asked for membership messages (flags bit 0). */
  get membership(): boolean {
    return this.wantsMembership;
  }

  /** flags / 16 (§3.2); stored, not used by Spread 5.0.1 either. */
  get priority(): number {
    return this.clientPriority;
  }

  get clientVersion(): ClientVersion | undefined {
    return this.version;
  }

  /** The methods that were run for this session (client's choice, then required ones). */
  get authMethods(): readonly string[] {
    return this.methods;
  }

  /** The session reached 'open' (it may be closed now). */
  get opened(): boolean {
    return this.wasOpened;
  }

  /** Received bytes not yet consumed (the adapter may pause reading above its own bound). */
  bufferedBytes(): number {
    return this.input.length;
  }

  // ---- inputs ----

  receive(bytes: Uint8Array): void {
    if (this.phase === 'closed' || bytes.length === 0) return;
    this.input.push(bytes);
    this.advance();
  }

  /** The peer closed the connection, or it failed: Spread's implicit kill if the session was open (§9). */
  end(): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'open') {
      this.emitKill();
      this.close({ kind: 'eof', during: 'session' });
    } else {
      this.close({ kind: 'eof', during: 'handshake' });
    }
  }

  /** The adapter ends the session (timeout, slow reader, socket error, shutdown). No reply byte. */
  terminate(cause: TerminateCause): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'open') this.emitKill();
    this.close({ kind: 'terminated', cause });
  }

  /** Completes a method that returned 'pending'. False if no method was pending. */
  authResult(ok: boolean): boolean {
    if (this.phase !== 'auth-pending') return false;
    if (ok) this.accept();
    else this.reject(SpreadCode.REJECT_AUTH, `authentication (${this.methods.join(', ')}) denied`);
    this.advance();
    return true;
  }

  /** For a pending method's own exchange (e.g. PWORD's 40 bytes): exactly `n` received bytes, or undefined until they are there. */
  authRead(n: number): Uint8Array | undefined {
    if (this.phase !== 'auth-pending') return undefined;
    return this.input.take(n);
  }

  /** For a pending method's own exchange: bytes to send to the client (e.g. PWORD's 1-byte verdict). */
  authWrite(bytes: Uint8Array): void {
    if (this.phase !== 'auth-pending' || bytes.length === 0) return;
    this.outputs.push(Uint8Array.from(bytes));
  }

  // ---- outputs ----

  /** Next bytes to write, in order; each handshake record is one chunk. */
  pollOutput(): Uint8Array | undefined {
    return this.outputs.shift();
  }

  /** Next request for the daemon. Parses more buffered input as the queue empties. */
  pollRequest(): SessionRequest | undefined {
    if (this.requests.length === 0) this.advance();
    return this.requests.shift();
  }

  // ---- the machine ----

  private advance(): void {
    for (;;) {
      let progressed: boolean;
      switch (this.phase) {
        case 'connect':
          progressed = this.parseConnectRequest();
          break;
        case 'auth-choice':
          progressed = this.parseAuthChoice();
          break;
        case 'open':
          progressed = this.requests.length < this.requestsQueuedMax && this.parseMessage();
          break;
        case 'auth-pending':
        case 'closed':
          return;
      }
      if (!progressed) return;
    }
  }

  /** §3.2: major, minor, [patch], flags, name_len, name. */
  private parseConnectRequest(): boolean {
    const major = this.input.at(0);
    const minor = this.input.at(1);
    if (major === undefined || minor === undefined) return false;
    const hasPatch = sendsPatchByte(major, minor);
    const fixed = hasPatch ? 5 : 4;
    if (this.input.length < fixed) return false;
    const patch = hasPatch ? (this.input.at(2) ?? 0) : 0;
    const flags = this.input.at(fixed - 2) ?? 0;
    const lenByte = this.input.at(fixed - 1) ?? 0;
    const nameLen = lenByte >= 0x80 ? lenByte - 0x100 : lenByte;
    this.version = { major, minor, patch };
    const v = major * 10000 + minor * 100 + patch;

    if (v < VERSION_MIN) {
      this.reject(SpreadCode.REJECT_VERSION, `client library ${major}.${minor}.${patch} is older than 3.1.0`);
      return true;
    }
    if (nameLen < 0 || nameLen > SpreadLimits.PRIVATE_NAME_CHARS_MAX) {
      this.reject(SpreadCode.REJECT_ILLEGAL_NAME, `private name length ${nameLen} is outside 0..${SpreadLimits.PRIVATE_NAME_CHARS_MAX}`);
      return true;
    }
    if (this.input.length < fixed + nameLen) return false;
    const record = this.input.take(fixed + nameLen);
    if (record === undefined) return false;
    this.wantsMembership = (flags & 1) === 1;
    this.clientPriority = flags >> 4;

    let name: string;
    if (nameLen === 0) {
      const assigned = this.callHost(() => this.host.assignName());
      if (assigned === undefined) return true;
      if (!isValidPrivateName(assigned)) {
        this.close({ kind: 'host-error', detail: `assigned private name "${assigned}" is not a valid name` });
        return true;
      }
      name = assigned;
      this.privateName = name;
    } else {
      const bytes = record.subarray(fixed);
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i] ?? 0;
        if (b < 0x24 || b > 0x7e) {
          this.reject(SpreadCode.REJECT_ILLEGAL_NAME, `private name byte ${i} is 0x${b.toString(16).padStart(2, '0')}, outside '$'..'~'`);
          return true;
        }
      }
      name = latin1(bytes);
      const reserved = this.callHost(() => this.host.tryReserveName(name));
      if (reserved === undefined) return true;
      if (!reserved) {
        this.reject(SpreadCode.REJECT_NOT_UNIQUE, `private name "${name}" is in use on this daemon`);
        return true;
      }
      this.privateName = name;
    }
    this.group = privateGroupName(name, this.host.daemonName);

    if (v >= VERSION_AUTH_NEGOTIATION) {
      const allowed = this.host.allowedAuthMethods;
      if (allowed.length === 0) {
        // §3.3: an empty list, then REJECT_AUTH; libspread has already given up by then.
        this.outputs.push(Uint8Array.of(0x00));
        this.reject(SpreadCode.REJECT_AUTH, 'no authentication method is enabled');
        return true;
      }
      const list = this.callHost(() => encodeAuthList(allowed));
      if (list === undefined) return true;
      this.outputs.push(list);
      this.phase = 'auth-choice';
      return true;
    }

    // §3.7: libraries before 3.16 skip the negotiation; IP applies implicitly if enabled, else NULL.
    const allowed = this.host.allowedAuthMethods;
    let implicit: string;
    if (allowed.includes('IP')) implicit = 'IP';
    else if (allowed.includes('NULL')) implicit = 'NULL';
    else {
      this.reject(SpreadCode.REJECT_AUTH, `client library ${major}.${minor}.${patch} cannot negotiate, and neither IP nor NULL is enabled`);
      return true;
    }
    this.startAuth([implicit]);
    return true;
  }

  /** §3.4: 90 bytes, up to three 30-byte NUL-padded names; every one must be enabled. */
  private parseAuthChoice(): boolean {
    const record = this.input.take(AUTH_CHOICE_BYTES);
    if (record === undefined) return false;
    const names = decodeAuthChoice(record);
    if (names.length === 0) {
      this.reject(SpreadCode.REJECT_AUTH, 'the authentication choice names no method');
      return true;
    }
    for (const n of names) {
      if (!this.host.allowedAuthMethods.includes(n)) {
        this.reject(SpreadCode.REJECT_AUTH, `authentication method "${n}" is not enabled`);
        return true;
      }
    }
    this.startAuth(names);
    return true;
  }

  /** Adds the required methods the client did not name (§3.4, §12) and runs them all. */
  private startAuth(chosen: readonly string[]): void {
    const methods: string[] = [];
    for (const m of [...chosen, ...this.host.requiredAuthMethods]) if (!methods.includes(m)) methods.push(m);
    this.methods = methods;
    this.phase = 'auth-pending';
    const outcome = this.callHost(() => this.host.authenticate(methods));
    if (outcome === undefined || outcome === 'pending') return;
    if (outcome === 'ok') this.accept();
    else this.reject(SpreadCode.REJECT_AUTH, `authentication (${methods.join(', ')}) denied`);
  }

  /** §3.6: 1, daemon major, minor, [patch for libraries ≥ 3.15], len, '#name#daemon'. One chunk. */
  private accept(): void {
    const v = this.version;
    const group = this.group;
    if (v === undefined || group === undefined) {
      this.close({ kind: 'host-error', detail: 'accept without a connect request' });
      return;
    }
    const d = SpreadLimits.DAEMON_VERSION;
    const withPatch = v.major * 10000 + v.minor * 100 + v.patch >= VERSION_ACCEPT_PATCH;
    this.outputs.push(encodeAccept({ major: d.major, minor: d.minor, patch: withPatch ? d.patch : undefined, privateGroup: group }));
    this.phase = 'open';
    this.wasOpened = true;
  }

  /** One client record (§4): validate the header as soon as it is complete (§5), then wait for the body. */
  private parseMessage(): boolean {
    if (this.pendingRecordBytes > 0 && this.input.length < this.pendingRecordBytes) return false;
    this.pendingRecordBytes = 0;
    const headerBytes = this.input.peek(HEADER_BYTES);
    if (headerBytes === undefined) return false;
    let header: MessageHeader;
    try {
      header = decodeHeader(headerBytes);
    } catch (e) {
      this.invalid(e instanceof Error ? e.message : 'undecodable header');
      return true;
    }
    const problem = this.checkHeader(header);
    if (problem !== undefined) {
      this.invalid(problem);
      return true;
    }
    const size = HEADER_BYTES + NAME_BYTES * header.numGroups + header.dataLen;
    const raw = this.input.take(size);
    if (raw === undefined) {
      this.pendingRecordBytes = size;
      return false;
    }

    let frame: Uint8Array;
    let groups: string[];
    try {
      frame = normaliseFrame(raw);
      groups = decodeMessage(frame, 'client-to-daemon').groups;
    } catch (e) {
      this.invalid(e instanceof Error ? e.message : 'undecodable frame');
      return true;
    }

    const type = header.type;
    if ((type & (MessageType.JOIN_MESS | MessageType.LEAVE_MESS)) !== 0) {
      const kind = (type & MessageType.JOIN_MESS) !== 0 ? 'join' : 'leave';
      const group = groups[0];
      if (groups.length !== 1 || group === undefined) {
        this.invalid(`${kind.toUpperCase()} must name exactly one group, got ${groups.length}`);
        return true;
      }
      if (!isValidGroupName(group)) {
        this.invalid(`${kind.toUpperCase()} group name "${group}" must be 1..31 characters from '$' to '~'`);
        return true;
      }
      this.requests.push({ kind, group });
    } else if ((type & MessageType.KILL_MESS) !== 0) {
      // §6.4: the group slot holds the client's own name followed by garbage; ignored.
      this.emitKill();
      this.close({ kind: 'disconnect' });
    } else {
      this.requests.push({
        kind: 'data',
        frame,
        service: (type & SERVICE_BITS) as ServiceLevel,
        selfDiscard: (type & MessageType.SELF_DISCARD) !== 0,
        groups,
      });
    }
    return true;
  }

  /** §5, plus rejection of bits §5 leaves unchecked. Returns the problem, or undefined if valid. */
  private checkHeader(h: MessageHeader): string | undefined {
    const type = h.type >>> 0;
    const unknown = (type & ~CLIENT_TYPE_BITS) >>> 0;
    if (unknown !== 0) return `type ${hex(type)} has bits ${hex(unknown)} that no client request carries`;
    const s = popcount(type & SERVICE_BITS);
    const j = popcount(type & CONTROL_BITS);
    if (s + j !== 1) return `type ${hex(type)} must carry exactly one service level or one of JOIN/LEAVE/KILL`;
    // The daemon forces a NUL at byte 31 before comparing (§5).
    const sender = h.sender.slice(0, NAME_BYTES - 1);
    if (sender !== this.group) return `sender "${sender}" is not this session's private group "${this.group ?? ''}"`;
    if (h.numGroups < 0 || h.numGroups > SpreadLimits.GROUPS_PER_MESSAGE_MAX) {
      return `num_groups ${h.numGroups} is outside 0..${SpreadLimits.GROUPS_PER_MESSAGE_MAX}`;
    }
    const hintExtra = (h.hint & ~HINT_BITS) >>> 0;
    if (hintExtra !== 0) return `hint ${hex(h.hint)} has bits ${hex(hintExtra)} outside 0x80ffff80`;
    if (h.dataLen < 0) return `data_len ${h.dataLen} is negative`;
    const body = h.dataLen + NAME_BYTES * h.numGroups;
    if (body > SpreadLimits.MESSAGE_BODY_BYTES_MAX) {
      return `data_len + 32 x num_groups = ${body} exceeds ${SpreadLimits.MESSAGE_BODY_BYTES_MAX}`;
    }
    return undefined;
  }

  private invalid(detail: string): void {
    if (this.phase === 'open') this.emitKill();
    this.close({ kind: 'invalid-header', detail });
  }

  private emitKill(): void {
    if (this.killEmitted) return;
    this.killEmitted = true;
    this.requests.push({ kind: 'kill' });
  }

  /** One signed byte in place of the next record, then close (§3.2, §3.6). */
  private reject(code: number, detail: string): void {
    this.outputs.push(Uint8Array.of(code & 0xff));
    this.close({ kind: 'rejected', code, codeName: spreadCodeName(code) as RejectCodeName, detail });
  }

  private close(reason: CloseReason): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.reason = reason;
    this.input.clear();
  }

  /** Host calls never let an exception out of the machine: a broken host closes this session only. */
  private callHost<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch (e) {
      this.close({ kind: 'host-error', detail: e instanceof Error ? e.message : String(e) });
      return undefined;
    }
  }
}
