/**
 * Parser and validator of the spread.conf language plus Ringcast's options. Pure: text in,
 * configuration out, or a ConfigError naming the file, the line and the problem.
 */
import { ConfigError } from '../util/errors.js';
import type { DaemonId } from '../util/ids.js';
import { DAEMON_PUBLIC_KEY_PREFIX, parseDaemonPublicKey, type DaemonPublicKey } from '../../keys/daemon-public-key.js';
import { configurationHash, daemonIdFromName } from './identity.js';
import {
  type IpAddress,
  ipv4ToU32,
  isIPv4Mapped,
  isLoopback,
  isMulticast,
  isUnspecified,
  parseIPv4,
  parseIp,
} from './ip.js';
import { describeToken, type Token, tokenize } from './lexer.js';
import {
  ACCELERATED_WINDOW_DEFAULT,
  ACCESS_CONTROL_POLICIES_KNOWN,
  AUTH_METHOD_NAME_CHARS_MAX,
  AUTH_METHODS_KNOWN,
  AUTH_METHODS_MAX,
  AUTH_HANDSHAKE_TIMEOUT_MS_DEFAULT,
  AUTH_HANDSHAKE_TIMEOUT_MS_MAX,
  AUTH_HANDSHAKE_TIMEOUT_MS_MIN,
  KEYED_AUTH_METHODS_KNOWN,
  CONFIG_TEXT_CHARS_MAX,
  DAEMON_GROUP_DEFAULT,
  DAEMON_INTERFACES_MAX,
  DAEMON_NAME_CHARS_MAX,
  DAEMON_USER_DEFAULT,
  DAEMONS_MAX,
  EPOCH_REKEY_PACKETS_DEFAULT,
  EPOCH_REKEY_PACKETS_MAX,
  EPOCH_REKEY_PACKETS_MIN,
  EPOCH_REKEY_SECONDS_DEFAULT,
  EPOCH_REKEY_SECONDS_MAX,
  EPOCH_REKEY_SECONDS_MIN,
  DEBUG_FLAG_NAMES,
  DEBUG_FLAGS_DEFAULT,
  DEFAULT_PORT,
  EVENT_PRIORITIES,
  EVENT_PRIORITY_DEFAULT,
  LAN_TIMEOUTS,
  MAX_SESSION_MESSAGES_DEFAULT,
  MAX_SESSION_MESSAGES_MAX,
  MULTICAST_TTL_DEFAULT,
  MULTICAST_TTL_MAX,
  PACKET_BYTES_DEFAULT_IPV4,
  PACKET_BYTES_DEFAULT_LOOPBACK,
  PACKET_BYTES_DEFAULT_IPV6,
  PACKET_BYTES_MAX,
  PACKET_BYTES_MIN,
  PERSONAL_WINDOW_DEFAULT,
  PORT_MAX,
  RUNTIME_DIR_DEFAULT,
  SEGMENTS_MAX,
  TIMEOUT_KEYWORDS,
  TIMEOUT_MS_MAX,
  TIMEOUT_MS_MIN,
  UNIX_SOCKET_PATH_BYTES_MAX,
  UNIX_SOCKET_PATH_DEFAULT,
  UNIX_SOCKET_PATH_SHARED_PORT_DEFAULT,
  WAN_TIMEOUTS,
  WINDOW_DEFAULT,
  WINDOW_MAX,
} from './limits.js';
import { badSocketPathEscape, expandSocketPath } from './templates.js';
import type {
  ChrootMode,
  CryptoMode,
  DaemonEntry,
  DaemonInterface,
  Dissemination,
  EventPriority,
  InterfaceKind,
  MembershipTimeouts,
  RingcastConfig,
  SegmentEntry,
  SocketPortReuse,
} from './types.js';

interface RawDaemon {
  name: string;
  named: boolean;
  ip: IpAddress;
  line: number;
  interfaces: DaemonInterface[];
}

interface RawSegment {
  ip: IpAddress;
  port: number;
  line: number;
  daemons: RawDaemon[];
}

/** An option as written: its value and the line it was on. */
interface Setting<T> {
  value: T;
  line: number;
}

interface Options {
  debugFlags?: Setting<Set<string>>;
  eventPriority?: Setting<EventPriority>;
  eventLogFile?: Setting<string>;
  eventTimeStamp?: Setting<string>;
  dangerousMonitor?: Setting<boolean>;
  socketPortReuse?: Setting<SocketPortReuse>;
  runtimeDir?: Setting<string>;
  daemonUser?: Setting<string>;
  daemonGroup?: Setting<string>;
  maxSessionMessages?: Setting<number>;
  window?: Setting<number>;
  personalWindow?: Setting<number>;
  acceleratedRing?: Setting<boolean>;
  anticipateReplies?: Setting<boolean>;
  acceleratedWindow?: Setting<number>;
  wideAreaNetwork?: Setting<boolean>;
  accessControlPolicy?: Setting<string>;
  packetBytesMax?: Setting<number>;
  unixSocketPath?: Setting<string>;
  cryptoMode?: Setting<CryptoMode>;
  clusterKeyFile?: Setting<string>;
  accessIpFile?: Setting<string>;
  passwordFile?: Setting<string>;
  authorizedKeysFile?: Setting<string>;
  accessControlFile?: Setting<string>;
  authHandshakeTimeoutMs?: Setting<number>;
  chroot?: Setting<ChrootMode>;
  allowRunAsRoot?: Setting<boolean>;
  daemonIdentityFile?: Setting<string>;
  epochRekeySeconds?: Setting<number>;
  epochRekeyPackets?: Setting<number>;
  segmentBroadcast?: Setting<boolean>;
  multicastTtl?: Setting<number>;
  multicastLoop?: Setting<boolean>;
}

/** A `DaemonPublicKey` line before its daemon name is resolved against the segments. */
interface DaemonKeyLine {
  name: string;
  key: DaemonPublicKey;
  line: number;
}

/** Which authentication list a directive fills. */
type AuthListKey = 'global' | 'tcp' | 'unix';

const NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;
const ACCOUNT_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;
const AUTH_NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Per-listener authentication directives, lower case, and the list each one fills. */
const LISTENER_AUTH_KEYWORDS: ReadonlyMap<string, { listener: 'tcp' | 'unix'; allowed: boolean }> = new Map([
  ['tcpallowedauthmethods', { listener: 'tcp', allowed: true }],
  ['tcprequiredauthmethods', { listener: 'tcp', allowed: false }],
  ['unixallowedauthmethods', { listener: 'unix', allowed: true }],
  ['unixrequiredauthmethods', { listener: 'unix', allowed: false }],
] as const);
const INTERFACE_KINDS_PATTERN = /^[DCMdcm]{1,3}$/;

/** Every top-level keyword, lower case, so a missing `}` can be recognised. */
const TOP_KEYWORDS = new Set(
  [
    'spread_segment',
    'debugflags',
    'eventlogfile',
    'eventtimestamp',
    'eventpriority',
    'dangerousmonitor',
    'socketportreuse',
    'runtimedir',
    'daemonuser',
    'daemongroup',
    'maxsessionmessages',
    'window',
    'personalwindow',
    'acceleratedring',
    'anticipatereplies',
    'acceleratedwindow',
    'wideareanetwork',
    'requiredauthmethods',
    'allowedauthmethods',
    'accesscontrolpolicy',
    'maxpacketbytes',
    'unixsocketpath',
    'crypto',
    'clusterkeyfile',
    'accessipfile',
    'passwordfile',
    'authorizedkeysfile',
    'accesscontrolfile',
    'authhandshaketimeout',
    'chroot',
    'allowrunasroot',
    'daemonidentityfile',
    'daemonpublickey',
    'epochrekeyseconds',
    'epochrekeypackets',
    'segmentbroadcast',
    'multicastttl',
    'multicastloop',
  ].concat(TIMEOUT_KEYWORDS.map(([k]) => k.toLowerCase())),
);

class Parser {
  private pos = 0;
  private readonly segments: RawSegment[] = [];
  private daemonCount = 0;
  private readonly byAddress = new Map<string, RawDaemon>();
  private readonly byName = new Map<string, RawDaemon>();
  private readonly opts: Options = {};
  private readonly seenAt = new Map<string, number>();
  private readonly timeouts = new Map<keyof MembershipTimeouts, Setting<number>>();
  private auth: { allowed: string[]; required: string[]; line: number } | undefined;
  /** `DaemonPublicKey` lines in order; names are checked once every segment is known. */
  private readonly daemonKeyLines: DaemonKeyLine[] = [];
  /** Per-listener overrides: each list, once given, replaces the global one for that listener. */
  private readonly listenerAuth: { tcp: { allowed?: Setting<string[]>; required?: Setting<string[]> }; unix: { allowed?: Setting<string[]>; required?: Setting<string[]> } } = { tcp: {}, unix: {} };

  constructor(
    private readonly tokens: readonly Token[],
    private readonly file: string,
    private readonly lastLine: number,
  ) {}

  private fail(line: number, problem: string): never {
    throw new ConfigError(this.file, line, problem);
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private next(): Token | undefined {
    const t = this.tokens[this.pos];
    if (t !== undefined) this.pos++;
    return t;
  }

  private lineOf(t: Token | undefined): number {
    return t === undefined ? this.lastLine : t.line;
  }

  parse(): RingcastConfig {
    for (let t = this.next(); t !== undefined; t = this.next()) {
      if (t.kind !== 'word') this.fail(t.line, `expected a keyword such as Spread_Segment, found ${describeToken(t)}`);
      this.statement(t);
    }
    return this.finish();
  }

  private statement(key: Token): void {
    const k = key.text.toLowerCase();
    if (k === 'spread_segment') return this.segment(key);
    if (k === 'requiredauthmethods' || k === 'allowedauthmethods') return this.authMethods(key, k === 'allowedauthmethods');
    const perListener = LISTENER_AUTH_KEYWORDS.get(k);
    if (perListener !== undefined) return this.listenerAuthMethods(key, perListener.listener, perListener.allowed);
    if (k === 'daemonpublickey') return this.daemonPublicKey(key);
    if (!TOP_KEYWORDS.has(k)) {
      this.fail(key.line, `unknown keyword ${describeToken(key)} (see CONFIGURATION.md for the options Ringcast accepts)`);
    }
    const first = this.seenAt.get(k);
    if (first !== undefined) this.fail(key.line, `${key.text} is given twice (first on line ${first})`);
    this.seenAt.set(k, key.line);
    const line = key.line;
    const o = this.opts;
    switch (k) {
      case 'debugflags':
        o.debugFlags = { value: this.debugFlags(), line };
        return;
      case 'eventtimestamp':
        // Spread: the bare keyword turns time stamps on with the default format.
        if (this.peek()?.kind === '=') {
          this.next();
          o.eventTimeStamp = { value: this.rawValue(key), line };
        } else {
          o.eventTimeStamp = { value: '', line };
        }
        return;
      case 'eventlogfile':
        o.eventLogFile = { value: this.pathValue(key), line };
        return;
      case 'eventpriority':
        o.eventPriority = { value: this.choice(key, EVENT_PRIORITIES), line };
        return;
      case 'dangerousmonitor':
        o.dangerousMonitor = { value: this.bool(key), line };
        return;
      case 'socketportreuse':
        o.socketPortReuse = { value: this.choice(key, ['AUTO', 'ON', 'OFF'] as const), line };
        return;
      case 'runtimedir': {
        const dir = this.pathValue(key);
        if (!dir.startsWith('/')) this.fail(line, `RuntimeDir must be an absolute path (got '${dir}')`);
        o.runtimeDir = { value: dir, line };
        return;
      }
      case 'daemonuser':
        o.daemonUser = { value: this.account(key), line };
        return;
      case 'daemongroup':
        o.daemonGroup = { value: this.account(key), line };
        return;
      case 'maxsessionmessages':
        o.maxSessionMessages = { value: this.integer(key, 1, MAX_SESSION_MESSAGES_MAX), line };
        return;
      case 'window':
        o.window = { value: this.integer(key, 1, WINDOW_MAX), line };
        return;
      case 'personalwindow':
        o.personalWindow = { value: this.integer(key, 1, WINDOW_MAX), line };
        return;
      case 'acceleratedwindow':
        o.acceleratedWindow = { value: this.integer(key, 0, WINDOW_MAX), line };
        return;
      case 'acceleratedring':
        o.acceleratedRing = { value: this.bool(key), line };
        return;
      case 'anticipatereplies':
        o.anticipateReplies = { value: this.bool(key), line };
        return;
      case 'wideareanetwork':
        o.wideAreaNetwork = { value: this.bool(key), line };
        return;
      case 'accesscontrolpolicy':
        o.accessControlPolicy = { value: this.choice(key, ACCESS_CONTROL_POLICIES_KNOWN), line };
        return;
      case 'maxpacketbytes':
        o.packetBytesMax = { value: this.integer(key, PACKET_BYTES_MIN, PACKET_BYTES_MAX), line };
        return;
      case 'unixsocketpath': {
        const path = this.pathValue(key);
        const bad = badSocketPathEscape(path);
        if (bad !== undefined) this.fail(line, `UnixSocketPath: unknown escape '${bad}' (use %p for the port, %n for the daemon name, %% for a percent sign)`);
        if (!path.startsWith('/')) this.fail(line, `UnixSocketPath must be an absolute path (got '${path}')`);
        o.unixSocketPath = { value: path, line };
        return;
      }
      case 'crypto': {
        const mode = this.choice(key, ['NONE', 'INTEGRITY', 'ENCRYPT'] as const);
        o.cryptoMode = { value: mode.toLowerCase() as CryptoMode, line };
        return;
      }
      case 'clusterkeyfile':
        o.clusterKeyFile = { value: this.pathValue(key), line };
        return;
      case 'accessipfile':
        o.accessIpFile = { value: this.pathValue(key), line };
        return;
      case 'passwordfile':
        o.passwordFile = { value: this.absolutePath(key), line };
        return;
      case 'authorizedkeysfile':
        o.authorizedKeysFile = { value: this.absolutePath(key), line };
        return;
      case 'accesscontrolfile':
        o.accessControlFile = { value: this.absolutePath(key), line };
        return;
      case 'authhandshaketimeout':
        o.authHandshakeTimeoutMs = { value: this.integer(key, AUTH_HANDSHAKE_TIMEOUT_MS_MIN, AUTH_HANDSHAKE_TIMEOUT_MS_MAX), line };
        return;
      case 'chroot':
        o.chroot = { value: this.choice(key, ['required', 'if-available', 'off'] as const), line };
        return;
      case 'allowrunasroot':
        o.allowRunAsRoot = { value: this.bool(key), line };
        return;
      case 'daemonidentityfile':
        o.daemonIdentityFile = { value: this.pathValue(key), line };
        return;
      case 'epochrekeyseconds':
        o.epochRekeySeconds = { value: this.wholeNumber(key, EPOCH_REKEY_SECONDS_MIN, EPOCH_REKEY_SECONDS_MAX), line };
        return;
      case 'epochrekeypackets':
        o.epochRekeyPackets = { value: this.wholeNumber(key, EPOCH_REKEY_PACKETS_MIN, EPOCH_REKEY_PACKETS_MAX), line };
        return;
      case 'segmentbroadcast':
        o.segmentBroadcast = { value: this.bool(key), line };
        return;
      case 'multicastttl':
        o.multicastTtl = { value: this.integer(key, 0, MULTICAST_TTL_MAX), line };
        return;
      case 'multicastloop':
        o.multicastLoop = { value: this.bool(key), line };
        return;
      default: {
        const timeout = TIMEOUT_KEYWORDS.find(([kw]) => kw.toLowerCase() === k);
        if (timeout === undefined) this.fail(line, `unknown keyword ${describeToken(key)}`);
        this.timeouts.set(timeout[1], { value: this.integer(key, TIMEOUT_MS_MIN, TIMEOUT_MS_MAX), line });
      }
    }
  }

  // ---- values -------------------------------------------------------------------------------

  /** `= value` where value is a bare word or a quoted string. */
  private value(key: Token): string {
    const eq = this.next();
    if (eq?.kind !== '=') this.fail(this.lineOf(eq), `expected '=' after ${key.text}, found ${describeToken(eq)}`);
    return this.rawValue(key);
  }

  private rawValue(key: Token): string {
    const v = this.next();
    if (v === undefined || (v.kind !== 'word' && v.kind !== 'string')) {
      this.fail(this.lineOf(v), `expected a value for ${key.text}, found ${describeToken(v)}`);
    }
    return v.text;
  }

  private pathValue(key: Token): string {
    const v = this.value(key);
    if (v.length === 0) this.fail(key.line, `${key.text} must not be empty`);
    if (v.includes('\0')) this.fail(key.line, `${key.text} must not contain a NUL character`);
    return v;
  }

  /** Credential and rule files are named absolutely: after the chroot a relative path would mean something else. */
  private absolutePath(key: Token): string {
    const v = this.pathValue(key);
    if (!v.startsWith('/')) this.fail(key.line, `${key.text} must be an absolute path (got '${v}')`);
    return v;
  }

  private choice<T extends string>(key: Token, allowed: readonly T[]): T {
    const v = this.value(key).toUpperCase();
    const found = allowed.find((a) => a.toUpperCase() === v);
    if (found === undefined) this.fail(key.line, `${key.text} must be one of ${allowed.join(', ')} (got '${v}')`);
    return found;
  }

  private bool(key: Token): boolean {
    const v = this.value(key).toLowerCase();
    if (v === 'true' || v === 'yes' || v === 'on') return true;
    if (v === 'false' || v === 'no' || v === 'off') return false;
    this.fail(key.line, `${key.text} must be true or false (also accepted: yes/no, on/off), got '${v}'`);
  }

  private integer(key: Token, min: number, max: number): number {
    const v = this.value(key);
    if (!/^[0-9]{1,10}$/.test(v)) this.fail(key.line, `${key.text} must be a whole number, got '${v}'`);
    const n = Number(v);
    if (n < min || n > max) this.fail(key.line, `${key.text} = ${n} is out of range (${min} to ${max})`);
    return n;
  }

  /** Like integer(), for ranges beyond ten digits (up to 2^53). */
  private wholeNumber(key: Token, min: number, max: number): number {
    const v = this.value(key);
    if (!/^[0-9]{1,16}$/.test(v)) this.fail(key.line, `${key.text} must be a whole number, got '${v}'`);
    const n = Number(v);
    if (n < min || n > max) this.fail(key.line, `${key.text} = ${n} is out of range (${min} to ${max})`);
    return n;
  }

  /**
   * `DaemonPublicKey = <daemon name> <key>`: one line per trusted daemon. The name is resolved in
   * finish(), since segments may come after this line.
   */
  private daemonPublicKey(key: Token): void {
    const eq = this.next();
    if (eq?.kind !== '=') this.fail(this.lineOf(eq), `expected '=' after ${key.text}, found ${describeToken(eq)}`);
    const nameToken = this.next();
    if (nameToken === undefined || (nameToken.kind !== 'word' && nameToken.kind !== 'string')) {
      this.fail(this.lineOf(nameToken), `expected a daemon name after '${key.text} =', found ${describeToken(nameToken)}`);
    }
    const name = nameToken.text;
    if (name.startsWith(DAEMON_PUBLIC_KEY_PREFIX)) {
      this.fail(nameToken.line, `${key.text} names the daemon before its key: ${key.text} = <daemon name> rcd1:…`);
    }
    const keyToken = this.peek();
    // A keyword here means the key was left out; it is not taken as the key, so the message says so.
    if (keyToken === undefined || keyToken.kind !== 'word' || TOP_KEYWORDS.has(keyToken.text.toLowerCase())) {
      this.fail(this.lineOf(keyToken), `${key.text} for daemon '${name}' has no key: write ${key.text} = ${name} rcd1:… with the line that 'ringcast keygen --identity --name ${name}' printed on that daemon's host`);
    }
    this.next();
    const publicKey = parseDaemonPublicKey(keyToken.text);
    if (publicKey === undefined) {
      this.fail(
        keyToken.line,
        `${key.text} for daemon '${name}': ${describeToken(keyToken)} is not a daemon public key (rcd1: followed by 86 characters of base64url); ` +
          `run 'ringcast keygen --identity --name ${name}' on that daemon's host and copy the line it prints`,
      );
    }
    const first = this.daemonKeyLines.find((d) => d.name === name);
    if (first !== undefined) this.fail(key.line, `daemon '${name}' has a ${key.text} line already (line ${first.line}): keep one line per daemon`);
    if (this.daemonKeyLines.length >= DAEMONS_MAX) this.fail(key.line, `too many ${key.text} lines (at most one for each of ${DAEMONS_MAX} daemons)`);
    this.daemonKeyLines.push({ name, key: publicKey, line: key.line });
  }

  private account(key: Token): string {
    const v = this.value(key);
    if (!ACCOUNT_PATTERN.test(v)) this.fail(key.line, `${key.text} must be a user or group name such as 'spread' (got '${v}')`);
    return v;
  }

  private debugFlags(): Set<string> {
    const eq = this.next();
    if (eq?.kind !== '=') this.fail(this.lineOf(eq), `expected '=' after DebugFlags, found ${describeToken(eq)}`);
    const open = this.next();
    if (open?.kind !== '{') this.fail(this.lineOf(open), `DebugFlags takes a list in braces, e.g. DebugFlags = { PRINT EXIT }; found ${describeToken(open)}`);
    const flags = new Set<string>();
    let negateNext = false;
    for (;;) {
      const t = this.next();
      if (t === undefined) this.fail(this.lastLine, `DebugFlags list opened on line ${open.line} is missing its closing '}'`);
      if (t.kind === '}') break;
      if (t.kind !== 'word') this.fail(t.line, `unexpected ${describeToken(t)} in DebugFlags`);
      let word = t.text;
      let negate = negateNext;
      negateNext = false;
      if (word === '!') {
        if (negate) this.fail(t.line, `'!' given twice in DebugFlags`);
        negateNext = true;
        continue;
      }
      if (word.startsWith('!')) {
        if (negate) this.fail(t.line, `'!' given twice in DebugFlags`);
        negate = true;
        word = word.slice(1);
      }
      const name = word.toUpperCase();
      if (name === 'ALL' || name === 'NONE') {
        if (negate) this.fail(t.line, `write NONE instead of !ALL and ALL instead of !NONE in DebugFlags`);
        flags.clear();
        if (name === 'ALL') for (const f of DEBUG_FLAG_NAMES) flags.add(f);
        continue;
      }
      if (!DEBUG_FLAG_NAMES.includes(name)) {
        this.fail(t.line, `unknown debug flag '${word}' (known: ${DEBUG_FLAG_NAMES.join(' ')} ALL NONE)`);
      }
      if (negate) flags.delete(name);
      else flags.add(name);
    }
    if (negateNext) this.fail(this.lineOf(this.tokens[this.pos - 1]), `'!' at the end of DebugFlags names no flag`);
    return flags;
  }

  /**
   * Spread's rule: the first Allowed/Required directive switches the default NULL method off;
   * later directives add to the lists.
   */
  private authMethods(key: Token, allowed: boolean): void {
    const names = this.methodNames(key);
    if (this.auth === undefined) this.auth = { allowed: [], required: [], line: key.line };
    const list = allowed ? this.auth.allowed : this.auth.required;
    for (const name of names) if (!list.includes(name)) list.push(name);
    this.checkRequired(key.line, this.auth.required);
  }

  /** `TcpAllowedAuthMethods` and friends: given once each, replacing the global list for that listener. */
  private listenerAuthMethods(key: Token, listener: 'tcp' | 'unix', allowed: boolean): void {
    const slot = this.listenerAuth[listener];
    const field = allowed ? 'allowed' : 'required';
    const earlier = slot[field];
    if (earlier !== undefined) this.fail(key.line, `${key.text} is given twice (first on line ${earlier.line})`);
    const names = [...new Set(this.methodNames(key))];
    if (!allowed) this.checkRequired(key.line, names);
    slot[field] = { value: names, line: key.line };
  }

  /** A quoted, space-separated list of known method names, upper case. */
  private methodNames(key: Token): string[] {
    const text = this.value(key);
    const out: string[] = [];
    for (const raw of text.split(/\s+/).filter((s) => s.length > 0)) {
      if (raw.length > AUTH_METHOD_NAME_CHARS_MAX || !AUTH_NAME_PATTERN.test(raw)) {
        this.fail(key.line, `${key.text}: '${raw}' is not a valid method name`);
      }
      const name = raw.toUpperCase();
      if (!AUTH_METHODS_KNOWN.includes(name)) {
        this.fail(key.line, `${key.text}: unknown authentication method '${raw}' (Ringcast implements ${AUTH_METHODS_KNOWN.join(', ')})`);
      }
      out.push(name);
    }
    return out;
  }

  private checkRequired(line: number, required: readonly string[]): void {
    if (required.length > AUTH_METHODS_MAX) {
      this.fail(line, `at most ${AUTH_METHODS_MAX} methods can be required (a client's choice has ${AUTH_METHODS_MAX} slots)`);
    }
    const keyed = required.filter((m) => KEYED_AUTH_METHODS_KNOWN.includes(m));
    if (keyed.length > 1) this.fail(line, `${keyed.join(' and ')} cannot both be required: a session runs at most one method that keys it`);
  }

  /** The effective lists of each listener, and the files the keyed methods need. */
  private listenerPolicies(): { tcp: { allowed: string[]; required: string[] }; unix: { allowed: string[]; required: string[] }; nullAuthFromNetwork: boolean } {
    const globalAllowed = this.auth === undefined ? ['NULL'] : [...this.auth.allowed];
    const globalRequired = this.auth === undefined ? [] : [...this.auth.required];
    const resolve = (l: 'tcp' | 'unix') => ({
      allowed: this.listenerAuth[l].allowed?.value.slice() ?? globalAllowed.slice(),
      required: this.listenerAuth[l].required?.value.slice() ?? globalRequired.slice(),
    });
    const tcp = resolve('tcp');
    const unix = resolve('unix');
    const o = this.opts;
    const lineOf = (m: string): number => {
      for (const l of ['tcp', 'unix'] as const) {
        for (const f of ['allowed', 'required'] as const) {
          const s = this.listenerAuth[l][f];
          if (s !== undefined && s.value.includes(m)) return s.line;
        }
      }
      return this.auth?.line ?? this.lastLine;
    };
    const used = new Set([...tcp.allowed, ...tcp.required, ...unix.allowed, ...unix.required]);
    if (used.has('RC-PASSWORD') && o.passwordFile === undefined) {
      this.fail(lineOf('RC-PASSWORD'), 'RC-PASSWORD is enabled but no PasswordFile is set (create one with: ringcast passwd --file <path> <user>)');
    }
    if (used.has('RC-PUBKEY') && o.authorizedKeysFile === undefined) {
      this.fail(lineOf('RC-PUBKEY'), 'RC-PUBKEY is enabled but no AuthorizedKeysFile is set (lines "<identity> <base64 key>"; ringcast keygen --client writes them)');
    }
    return { tcp, unix, nullAuthFromNetwork: this.listenerAuth.tcp.allowed?.value.includes('NULL') ?? false };
  }

  // ---- segments ------------------------------------------------------------------------------

  private segment(key: Token): void {
    const addrTok = this.next();
    if (addrTok?.kind !== 'word') {
      this.fail(this.lineOf(addrTok), `expected the segment address (e.g. 192.168.1.255:4803) after Spread_Segment, found ${describeToken(addrTok)}`);
    }
    const { ip, port } = this.segmentAddress(addrTok);
    if (this.segments.length >= SEGMENTS_MAX) this.fail(key.line, `too many Spread_Segment blocks (at most ${SEGMENTS_MAX})`);
    const open = this.next();
    if (open?.kind !== '{') this.fail(this.lineOf(open), `expected '{' after the Spread_Segment address, found ${describeToken(open)}`);
    const seg: RawSegment = { ip, port, line: key.line, daemons: [] };
    for (;;) {
      const t = this.next();
      if (t === undefined) this.fail(this.lastLine, `the Spread_Segment opened on line ${key.line} is missing its closing '}'`);
      if (t.kind === '}') break;
      if (t.kind !== 'word') this.fail(t.line, `expected a daemon (name and address) in the Spread_Segment, found ${describeToken(t)}`);
      if (TOP_KEYWORDS.has(t.text.toLowerCase())) {
        this.fail(t.line, `${t.text} inside a Spread_Segment: the Spread_Segment opened on line ${key.line} is missing its closing '}'`);
      }
      this.daemon(t, seg);
    }
    if (seg.daemons.length === 0) this.fail(key.line, `the Spread_Segment on line ${key.line} lists no daemons`);
    this.segments.push(seg);
  }

  private segmentAddress(t: Token): { ip: IpAddress; port: number } {
    const text = t.text;
    let host: string;
    let portText: string | undefined;
    if (text.startsWith('[')) {
      const close = text.indexOf(']');
      if (close < 0) this.fail(t.line, `segment address '${text}' is missing its ']'`);
      host = text.slice(1, close);
      const rest = text.slice(close + 1);
      if (rest !== '') {
        if (!rest.startsWith(':')) this.fail(t.line, `segment address '${text}': expected ':port' after ']'`);
        portText = rest.slice(1);
      }
    } else if ((text.match(/:/g) ?? []).length >= 2) {
      host = text; // bare IPv6, default port
    } else {
      const colon = text.indexOf(':');
      host = colon < 0 ? text : text.slice(0, colon);
      portText = colon < 0 ? undefined : text.slice(colon + 1);
    }
    const ip = parseIp(host.includes(':') ? `[${host}]` : host);
    if (ip === undefined) this.fail(t.line, `'${host}' is not an IPv4 or IPv6 address (segment addresses are written a.b.c.d:port or [v6]:port)`);
    this.checkUsable(ip, t.line, 'segment address', false);
    let port = DEFAULT_PORT;
    if (portText !== undefined) {
      if (!/^[0-9]{1,5}$/.test(portText)) this.fail(t.line, `segment port '${portText}' is not a number`);
      port = Number(portText);
      if (port < 1 || port > PORT_MAX) this.fail(t.line, `segment port ${port} is out of range (1 to ${PORT_MAX}; port + 1 is the token port)`);
    }
    return { ip, port };
  }

  private checkUsable(ip: IpAddress, line: number, what: string, unicast: boolean): void {
    if (ip.family === 6 && isIPv4Mapped(ip.bytes)) this.fail(line, `${what} ${ip.text}: write IPv4 addresses in dotted form, not IPv4-mapped IPv6`);
    if (isUnspecified(ip)) this.fail(line, `${what} ${ip.text} is the unspecified address`);
    if (unicast && isMulticast(ip)) this.fail(line, `${what} ${ip.text} is a multicast address; a daemon needs its own unicast address`);
    if (unicast && ip.family === 4 && ip.bytes.every((b) => b === 255)) this.fail(line, `${what} 255.255.255.255 is the broadcast address`);
  }

  private daemonAddress(t: Token, what: string): IpAddress {
    const ip = parseIp(t.text);
    if (ip !== undefined) return ip;
    const colon = t.text.lastIndexOf(':');
    if (colon > 0 && /^[0-9]+$/.test(t.text.slice(colon + 1)) && (parseIPv4(t.text.slice(0, colon)) !== undefined || t.text.startsWith('['))) {
      this.fail(t.line, `${what} '${t.text}' carries a port: daemons use their segment's port`);
    }
    this.fail(t.line, `'${t.text}' is not an IPv4 or IPv6 address (${what})`);
  }

  private daemon(first: Token, seg: RawSegment): void {
    let name: string;
    let named: boolean;
    let ip: IpAddress | undefined = parseIp(first.text);
    if (ip !== undefined) {
      name = ip.text;
      named = false;
      if (name.length > DAEMON_NAME_CHARS_MAX) {
        this.fail(first.line, `the daemon ${ip.text} has no name and its address is longer than ${DAEMON_NAME_CHARS_MAX} characters: give it a name ('name ${ip.text}')`);
      }
    } else {
      name = first.text;
      named = true;
      if (!NAME_PATTERN.test(name)) {
        this.fail(first.line, `'${name}' is neither an IP address nor a valid daemon name (letters, digits, '_', '-', '.')`);
      }
      if (name.length > DAEMON_NAME_CHARS_MAX) {
        this.fail(first.line, `daemon name '${name}' is longer than ${DAEMON_NAME_CHARS_MAX} characters`);
      }
      const at = this.next();
      if (at?.kind !== 'word') this.fail(this.lineOf(at), `expected the IP address of daemon '${name}', found ${describeToken(at)}`);
      ip = this.daemonAddress(at, `address of daemon '${name}'`);
    }
    this.checkUsable(ip, first.line, `address of daemon '${name}'`, true);
    if (ip.family !== seg.ip.family) {
      this.fail(first.line, `daemon '${name}' is IPv${ip.family} but its Spread_Segment (line ${seg.line}) is IPv${seg.ip.family}`);
    }
    const addrKey = `${ip.text} ${seg.port}`;
    const sameAddr = this.byAddress.get(addrKey);
    if (sameAddr !== undefined) {
      this.fail(first.line, `daemon address ${ip.text} port ${seg.port} is configured twice (first on line ${sameAddr.line})`);
    }
    const sameName = this.byName.get(name);
    if (sameName !== undefined) {
      this.fail(first.line, `daemon name '${name}' is used twice (first on line ${sameName.line})${named ? '' : '; give the daemons distinct names'}`);
    }
    if (this.daemonCount >= DAEMONS_MAX) this.fail(first.line, `too many daemons (at most ${DAEMONS_MAX})`);
    const d: RawDaemon = { name, named, ip, line: first.line, interfaces: [] };
    if (this.peek()?.kind === '{') d.interfaces = this.interfaces(d);
    this.byAddress.set(addrKey, d);
    this.byName.set(name, d);
    seg.daemons.push(d);
    this.daemonCount++;
  }

  private interfaces(d: RawDaemon): DaemonInterface[] {
    const open = this.next() as Token;
    const out: DaemonInterface[] = [];
    for (;;) {
      let t = this.next();
      if (t === undefined) this.fail(this.lastLine, `the interface block of daemon '${d.name}' opened on line ${open.line} is missing its closing '}'`);
      if (t.kind === '}') break;
      if (t.kind !== 'word') this.fail(t.line, `expected an interface (D, C or M and an address) for daemon '${d.name}', found ${describeToken(t)}`);
      let kinds: Set<InterfaceKind>;
      if (INTERFACE_KINDS_PATTERN.test(t.text)) {
        kinds = new Set();
        for (const ch of t.text.toUpperCase()) {
          const k = ch as InterfaceKind;
          if (kinds.has(k)) this.fail(t.line, `interface type '${k}' repeated in '${t.text}'`);
          kinds.add(k);
        }
        const at = this.next();
        if (at?.kind !== 'word') this.fail(this.lineOf(at), `expected an address after interface type '${t.text}', found ${describeToken(at)}`);
        t = at;
      } else {
        kinds = new Set<InterfaceKind>(['D', 'C', 'M']);
      }
      const ip = this.daemonAddress(t, `interface of daemon '${d.name}'`);
      this.checkUsable(ip, t.line, `interface of daemon '${d.name}'`, true);
      if (out.some((i) => i.address === ip.text)) this.fail(t.line, `interface ${ip.text} is listed twice for daemon '${d.name}'; combine the types (e.g. 'DC ${ip.text}')`);
      if (out.length >= DAEMON_INTERFACES_MAX) this.fail(t.line, `too many interfaces for daemon '${d.name}' (at most ${DAEMON_INTERFACES_MAX})`);
      out.push({ address: ip.text, kinds });
    }
    if (out.length === 0) this.fail(open.line, `the interface block of daemon '${d.name}' is empty; leave the block out to use every interface`);
    return out;
  }

  // ---- whole-file checks -----------------------------------------------------------------------

  private finish(): RingcastConfig {
    if (this.daemonCount === 0) {
      this.fail(this.lastLine, 'no daemons configured: add a Spread_Segment block listing at least one daemon, e.g. Spread_Segment 127.0.0.1:4803 { localhost 127.0.0.1 }');
    }
    const o = this.opts;
    const raw = this.segments.flatMap((s) => s.daemons);
    const ids = this.daemonIds(raw);

    const segmentBroadcast = o.segmentBroadcast?.value ?? false;
    const multicastTtl = o.multicastTtl?.value ?? MULTICAST_TTL_DEFAULT;
    const multicastLoop = o.multicastLoop?.value ?? true;
    const segments: SegmentEntry[] = [];
    const daemons: DaemonEntry[] = [];
    this.segments.forEach((s, si) => {
      const seg: SegmentEntry = {
        address: s.ip.text,
        port: s.port,
        family: s.ip.family,
        daemons: [],
        dissemination: this.dissemination(s, segmentBroadcast),
        multicastTtl,
        multicastLoop,
      };
      for (const r of s.daemons) {
        const d: DaemonEntry = {
          name: r.name,
          id: ids[daemons.length] as DaemonId,
          address: r.ip.text,
          family: r.ip.family,
          port: s.port,
          segment: si,
          index: daemons.length,
          interfaces: r.interfaces,
        };
        seg.daemons.push(d);
        daemons.push(d);
      }
      segments.push(seg);
    });

    const wideAreaNetwork = o.wideAreaNetwork?.value ?? segments.length > 1;
    const window = o.window?.value ?? WINDOW_DEFAULT;
    const personalWindow = o.personalWindow?.value ?? Math.min(PERSONAL_WINDOW_DEFAULT, window);
    if (personalWindow > window) {
      this.fail(o.personalWindow?.line ?? this.lastLine, `PersonalWindow (${personalWindow}) must not exceed Window (${window})`);
    }
    const acceleratedWindow = o.acceleratedWindow?.value ?? Math.min(ACCELERATED_WINDOW_DEFAULT, personalWindow);
    if (acceleratedWindow > personalWindow) {
      this.fail(o.acceleratedWindow?.line ?? this.lastLine, `AcceleratedWindow (${acceleratedWindow}) must not exceed PersonalWindow (${personalWindow})`);
    }

    const cryptoMode = o.cryptoMode?.value ?? 'none';
    if (cryptoMode !== 'none' && o.clusterKeyFile === undefined) {
      this.fail(o.cryptoMode?.line ?? this.lastLine, `Crypto = ${cryptoMode} needs ClusterKeyFile = <path of the cluster key>`);
    }

    const daemonPublicKeys = this.trustedDaemonKeys(daemons);
    if (cryptoMode === 'none') {
      // Epoch keys are keys of the packet protection layer: without it they would protect nothing.
      const identity = o.daemonIdentityFile;
      const keyLine = this.daemonKeyLines[0];
      const what = identity !== undefined ? { keyword: 'DaemonIdentityFile', line: identity.line } : keyLine !== undefined ? { keyword: 'DaemonPublicKey', line: keyLine.line } : undefined;
      if (what !== undefined) {
        this.fail(
          what.line,
          `${what.keyword} is for per-configuration epoch keys, which need packet protection, but Crypto is none${o.cryptoMode === undefined ? ' (the default)' : ` (line ${o.cryptoMode.line})`}: set Crypto = encrypt or Crypto = integrity, with ClusterKeyFile`,
        );
      }
    }

    const unixSocketPath = this.socketPath(daemons);
    const policies = this.listenerPolicies();

    return {
      file: this.file,
      segments,
      daemons,
      debugFlags: o.debugFlags?.value ?? new Set(DEBUG_FLAGS_DEFAULT),
      eventPriority: o.eventPriority?.value ?? EVENT_PRIORITY_DEFAULT,
      eventLogFile: o.eventLogFile?.value,
      eventTimeStamp: o.eventTimeStamp?.value,
      dangerousMonitor: o.dangerousMonitor?.value ?? false,
      socketPortReuse: o.socketPortReuse?.value ?? 'AUTO',
      runtimeDir: o.runtimeDir?.value ?? RUNTIME_DIR_DEFAULT,
      daemonUser: o.daemonUser?.value ?? DAEMON_USER_DEFAULT,
      daemonGroup: o.daemonGroup?.value ?? DAEMON_GROUP_DEFAULT,
      maxSessionMessages: o.maxSessionMessages?.value ?? MAX_SESSION_MESSAGES_DEFAULT,
      window,
      personalWindow,
      acceleratedRing: o.acceleratedRing?.value ?? !wideAreaNetwork,
      anticipateReplies: o.anticipateReplies?.value ?? true,
      acceleratedWindow,
      wideAreaNetwork,
      timeouts: this.membershipTimeouts(wideAreaNetwork),
      allowedAuthMethods: this.auth === undefined ? ['NULL'] : [...this.auth.allowed],
      requiredAuthMethods: this.auth === undefined ? [] : [...this.auth.required],
      tcpAuth: policies.tcp,
      unixAuth: policies.unix,
      nullAuthFromNetwork: policies.nullAuthFromNetwork,
      passwordFile: o.passwordFile?.value,
      authorizedKeysFile: o.authorizedKeysFile?.value,
      accessControlFile: o.accessControlFile?.value,
      authHandshakeTimeoutMs: o.authHandshakeTimeoutMs?.value ?? AUTH_HANDSHAKE_TIMEOUT_MS_DEFAULT,
      chroot: o.chroot?.value ?? 'required',
      allowRunAsRoot: o.allowRunAsRoot?.value ?? false,
      accessControlPolicy: o.accessControlPolicy?.value ?? 'PERMIT',
      packetBytesMax:
        o.packetBytesMax?.value ??
        (segments.every((s) => s.daemons.every((d) => isLoopbackText(d.address)))
          ? PACKET_BYTES_DEFAULT_LOOPBACK
          : segments.some((s) => s.family === 6)
            ? PACKET_BYTES_DEFAULT_IPV6
            : PACKET_BYTES_DEFAULT_IPV4),
      unixSocketPath,
      cryptoMode,
      clusterKeyFile: o.clusterKeyFile?.value,
      accessIpFile: o.accessIpFile?.value,
      daemonIdentityFile: o.daemonIdentityFile?.value,
      daemonPublicKeys,
      epochRekeyMs: (o.epochRekeySeconds?.value ?? EPOCH_REKEY_SECONDS_DEFAULT) * 1000,
      epochRekeyPackets: o.epochRekeyPackets?.value ?? EPOCH_REKEY_PACKETS_DEFAULT,
      segmentBroadcast,
      multicastTtl,
      multicastLoop,
      hash: configurationHash(segments),
    };
  }

  /**
   * A segment of one daemon needs no send within it. Otherwise a group address means IP multicast
   * (Spread's reading of a class-D segment address). Broadcast is asked for explicitly, because
   * Ringcast also reads an ordinary address as "unicast to each daemon", and the segment address
   * must then really be the broadcast address of a network holding every daemon of the segment:
   * a broadcast that misses a daemon would leave it to live on retransmissions alone.
   */
  private dissemination(s: RawSegment, segmentBroadcast: boolean): Dissemination {
    if (s.daemons.length < 2) return 'unicast';
    if (isMulticast(s.ip)) return 'multicast';
    if (!segmentBroadcast || s.ip.family !== 4) return 'unicast';
    const bcast = ipv4ToU32(s.ip.bytes);
    const addrs = s.daemons.map((d) => ipv4ToU32(d.ip.bytes));
    // The smallest network holding every daemon: its prefix is the bits they all share.
    let shared = 32;
    for (const a of addrs) shared = Math.min(shared, Math.clz32((a ^ (addrs[0] as number)) >>> 0));
    for (let prefix = 0; prefix <= Math.min(shared, 30); prefix++) {
      const host = prefix === 0 ? 0xffffffff : (0xffffffff >>> prefix) >>> 0;
      const network = ((addrs[0] as number) & ~host) >>> 0;
      if (((network | host) >>> 0) === bcast && addrs.every((a) => a !== bcast)) return 'broadcast';
    }
    const prefix = Math.min(shared, 30);
    const host = prefix === 0 ? 0xffffffff : (0xffffffff >>> prefix) >>> 0;
    const example = formatU32(((addrs[0] as number) | host) >>> 0);
    const network = formatU32(((addrs[0] as number) & ~host) >>> 0);
    this.fail(
      s.line,
      `SegmentBroadcast (line ${this.opts.segmentBroadcast?.line ?? s.line}): segment address ${s.ip.text} is not the broadcast address of a network holding all of its daemons; ` +
        `write the segment's broadcast address (${example} for ${network}/${prefix}), a multicast group address, or turn SegmentBroadcast off for unicast`,
    );
  }

  /** The `DaemonPublicKey` lines as a map in configuration order; every name must be a configured daemon. */
  private trustedDaemonKeys(daemons: readonly DaemonEntry[]): ReadonlyMap<string, DaemonPublicKey> {
    const byName = new Map<string, DaemonKeyLine>();
    for (const l of this.daemonKeyLines) {
      if (!daemons.some((d) => d.name === l.name)) {
        const names = daemons.map((d) => d.name);
        const shown = names.length > 20 ? `${names.slice(0, 20).join(', ')}, … (${names.length} in all)` : names.join(', ');
        this.fail(l.line, `DaemonPublicKey names '${l.name}', which is not a configured daemon; the daemons are: ${shown}`);
      }
      byName.set(l.name, l);
    }
    const keys = new Map<string, DaemonPublicKey>();
    for (const d of daemons) {
      const l = byName.get(d.name);
      if (l !== undefined) keys.set(d.name, l.key);
    }
    return keys;
  }

  /**
   * Spread's proc_id when every daemon has its own IPv4 address; otherwise a hash of the name,
   * which is unique because names are.
   */
  private daemonIds(raw: readonly RawDaemon[]): DaemonId[] {
    const addresses = new Set(raw.map((d) => d.ip.text));
    const byAddress = raw.every((d) => d.ip.family === 4) && addresses.size === raw.length;
    const ids: DaemonId[] = [];
    const owner = new Map<DaemonId, RawDaemon>();
    for (const d of raw) {
      const id = byAddress ? ipv4ToU32(d.ip.bytes) : daemonIdFromName(d.name);
      const other = owner.get(id);
      if (other !== undefined) {
        this.fail(d.line, `daemon '${d.name}' gets the same id as daemon '${other.name}' (line ${other.line}); rename one of them`);
      }
      if (id === 0) this.fail(d.line, `daemon '${d.name}' gets the reserved id 0; rename it`);
      owner.set(id, d);
      ids.push(id);
    }
    return ids;
  }

  /** Spread enforces all nine timeouts or none; so does Ringcast. */
  private membershipTimeouts(wideAreaNetwork: boolean): MembershipTimeouts {
    if (this.timeouts.size === 0) return { ...(wideAreaNetwork ? WAN_TIMEOUTS : LAN_TIMEOUTS) };
    const missing = TIMEOUT_KEYWORDS.filter(([, field]) => !this.timeouts.has(field)).map(([kw]) => kw);
    if (missing.length > 0) {
      const firstLine = Math.min(...[...this.timeouts.values()].map((s) => s.line));
      this.fail(firstLine, `membership timeouts must be set all nine or none; missing ${missing.join(', ')}`);
    }
    const t = {} as MembershipTimeouts;
    for (const [, field] of TIMEOUT_KEYWORDS) t[field] = (this.timeouts.get(field) as Setting<number>).value;
    return t;
  }

  /**
   * Spread's client socket is /tmp/<port>. Daemons with loopback addresses and a common port run
   * on one host, where that path would clash, so the default then carries the daemon name too.
   */
  private socketPath(daemons: readonly DaemonEntry[]): string {
    const local = daemons.filter((d) => {
      const ip = parseIp(d.address);
      return ip !== undefined && isLoopback(ip);
    });
    const sharedPort = local.some((a, i) => local.some((b, j) => j > i && a.port === b.port));
    const setting = this.opts.unixSocketPath;
    const template = setting?.value ?? (sharedPort ? UNIX_SOCKET_PATH_SHARED_PORT_DEFAULT : UNIX_SOCKET_PATH_DEFAULT);
    const line = setting?.line ?? this.lastLine;
    const seen = new Map<string, DaemonEntry>();
    const encoder = new TextEncoder();
    for (const d of daemons) {
      const path = expandSocketPath(template, d.port, d.name);
      if (encoder.encode(path).length > UNIX_SOCKET_PATH_BYTES_MAX) {
        this.fail(line, `UnixSocketPath for daemon '${d.name}' is '${path}', longer than ${UNIX_SOCKET_PATH_BYTES_MAX} bytes`);
      }
      if (local.includes(d)) {
        const clash = seen.get(path);
        if (clash !== undefined) {
          this.fail(line, `UnixSocketPath gives daemons '${clash.name}' and '${d.name}', which run on one host, the same socket '${path}'; include %n`);
        }
        seen.set(path, d);
      }
    }
    return template;
  }
}

/** Parse a configuration text; `file` names it in error messages. Throws ConfigError. */
export function parseConfig(text: string, file: string): RingcastConfig {
  if (text.length > CONFIG_TEXT_CHARS_MAX) {
    throw new ConfigError(file, 0, `the configuration is larger than ${CONFIG_TEXT_CHARS_MAX} characters`);
  }
  const tokens = tokenize(text, file);
  let lastLine = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lastLine++;
  if (text.endsWith('\n') && lastLine > 1) lastLine--;
  return new Parser(tokens, file, lastLine).parse();
}

const DEFAULT_TEXT = 'Spread_Segment 127.0.0.1:4803 {\n  localhost 127.0.0.1\n}\n';

/** One segment 127.0.0.1:4803 with one daemon `localhost 127.0.0.1`; every option at its default. */
export function defaultConfig(): RingcastConfig {
  return { ...parseConfig(DEFAULT_TEXT, 'built-in default configuration'), file: undefined };
}

function formatU32(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** 127.0.0.0/8 or ::1. */
function isLoopbackText(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}
