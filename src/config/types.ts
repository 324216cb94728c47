/**
 * The shape of a parsed configuration. Importing this module pulls in nothing but types, so the
 * sans-IO cores can depend on it freely.
 */
import type { DaemonId } from '../util/ids.js';
import type { DaemonPublicKey } from '../../keys/daemon-public-key.js';

export type InterfaceKind = 'D' | 'C' | 'M';

export interface DaemonInterface {
  /** Canonical address text. */
  address: string;
  /** D: daemon (UDP) traffic, C: client TCP listener, M: monitor. An untyped line means all three. */
  kinds: Set<InterfaceKind>;
}

export interface DaemonEntry {
  /** The configured name or, if absent, the address text; at most 19 characters (MAX_PROC_NAME 20 with the NUL). */
  name: string;
  id: DaemonId;
  /** IPv4 or IPv6 text, canonical (dotted quad / RFC 5952). */
  address: string;
  family: 4 | 6;
  /** The segment's port: UDP data port and client TCP port; the token port is port + 1. */
  port: number;
  /** Index of its Spread_Segment in `RingcastConfig.segments`. */
  segment: number;
  /** Position in the configuration, counted across all segments in order of appearance. */
  index: number;
  /** From an optional `{ D a  C b  M c }` block; empty means every interface. */
  interfaces: DaemonInterface[];
}

/**
 * How one send reaches the daemons of a segment: `multicast` to the segment's group address (an
 * IPv4 class-D or IPv6 ff00::/8 segment address), `broadcast` to its IPv4 broadcast address
 * (`SegmentBroadcast = true`), or `unicast`, one datagram per daemon.
 */
export type Dissemination = 'unicast' | 'multicast' | 'broadcast';

export interface SegmentEntry {
  /** Broadcast or multicast address of the segment, canonical text. */
  address: string;
  port: number;
  family: 4 | 6;
  daemons: DaemonEntry[];
  /** Derived from the address, the number of daemons and `SegmentBroadcast`; a one-daemon segment is always unicast. */
  dissemination: Dissemination;
  /** `MulticastTTL`: hop limit of this segment's multicast datagrams (0 keeps them on this host). */
  multicastTtl: number;
  /** `MulticastLoop`: multicast datagrams are looped back to this host's other receivers. */
  multicastLoop: boolean;
}

/** Spread's nine membership timeouts, in milliseconds. */
export interface MembershipTimeouts {
  tokenMs: number;
  hurryMs: number;
  aliveMs: number;
  joinMs: number;
  repMs: number;
  segMs: number;
  gatherMs: number;
  formMs: number;
  lookupMs: number;
}

export type CryptoMode = 'none' | 'integrity' | 'encrypt';
export type EventPriority = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL' | 'FATAL';
export type SocketPortReuse = 'AUTO' | 'ON' | 'OFF';
export type ChrootMode = 'required' | 'if-available' | 'off';

/** The authentication methods one client listener offers and enforces. */
export interface ListenerAuthPolicy {
  /** Methods announced to clients, in order. */
  allowed: string[];
  /** Methods run whatever the client picked. */
  required: string[];
}

export interface RingcastConfig {
  /** The file it came from; undefined for the built-in default. */
  file: string | undefined;
  segments: SegmentEntry[];
  /** Every daemon, in configuration order (`daemons[i].index === i`). */
  daemons: DaemonEntry[];
  /** Upper-case flag names after `!` negation and ALL/NONE expansion. */
  debugFlags: ReadonlySet<string>;
  eventPriority: EventPriority;
  /** Raw value; `%h` is expanded by expandEventLogFile. Undefined: log to standard output. */
  eventLogFile: string | undefined;
  /** Undefined: no time stamps. "": the default format. Otherwise a strftime-style format. */
  eventTimeStamp: string | undefined;
  dangerousMonitor: boolean;
  socketPortReuse: SocketPortReuse;
  runtimeDir: string;
  daemonUser: string;
  daemonGroup: string;
  /** Per-session outbound queue limit (slow-consumer threshold). */
  maxSessionMessages: number;
  window: number;
  personalWindow: number;
  acceleratedRing: boolean;
  /** Hold the token a moment for a local client's reply to a message it was just given (TotemNode.anticipateReply). */
  anticipateReplies: boolean;
  acceleratedWindow: number;
  wideAreaNetwork: boolean;
  timeouts: MembershipTimeouts;
  /** Enabled methods, upper case, in the order they were listed. */
  allowedAuthMethods: string[];
  /** Methods always run whatever the client picked. */
  requiredAuthMethods: string[];
  /** TCP listener: `TcpAllowedAuthMethods`/`TcpRequiredAuthMethods`, each defaulting to the global list. */
  tcpAuth: ListenerAuthPolicy;
  /** Unix socket: `UnixAllowedAuthMethods`/`UnixRequiredAuthMethods`, each defaulting to the global list. */
  unixAuth: ListenerAuthPolicy;
  /**
   * A TCP session from a non-loopback peer admitted by NULL alone is refused (REJECT_AUTH) unless
   * this is true, which it is only when `TcpAllowedAuthMethods` names NULL explicitly.
   */
  nullAuthFromNetwork: boolean;
  /** RC-PASSWORD verifier file (`PasswordFile`). */
  passwordFile: string | undefined;
  /** RC-PUBKEY authorized keys (`AuthorizedKeysFile`). */
  authorizedKeysFile: string | undefined;
  /** Group access rules (`AccessControlFile`); undefined: every session may join and send anywhere, as in Spread. */
  accessControlFile: string | undefined;
  /** Bound on a client's whole handshake, authentication included (`AuthHandshakeTimeout`, ms). */
  authHandshakeTimeoutMs: number;
  /** `Chroot`: whether a daemon started as root must confine itself to RuntimeDir. */
  chroot: ChrootMode;
  /** `AllowRunAsRoot`: continue as root when the drop to DaemonUser/DaemonGroup is impossible. */
  allowRunAsRoot: boolean;
  accessControlPolicy: string;
  /** Largest UDP payload a daemon sends (`MaxPacketBytes`). */
  packetBytesMax: number;
  /** Template of the client Unix socket path: `%p` port, `%n` daemon name, `%%` a percent sign. */
  unixSocketPath: string;
  cryptoMode: CryptoMode;
  clusterKeyFile: string | undefined;
  /** `AccessIpFile`; undefined: search `spread.access_ip` in the working directory, then /etc/. */
  accessIpFile: string | undefined;
  /** `SegmentBroadcast`: IPv4 segments of several daemons are reached by one broadcast send. */
  segmentBroadcast: boolean;
  /** `MulticastTTL`, also copied into every segment. */
  multicastTtl: number;
  /** `MulticastLoop`, also copied into every segment. */
  multicastLoop: boolean;
  /** `DaemonIdentityFile`: this daemon's identity (X25519 and Ed25519 secrets), read at start-up. */
  daemonIdentityFile: string | undefined;
  /**
   * `DaemonPublicKey = <name> <key>` lines: the trusted public key of each daemon, by daemon name,
   * in configuration order. A daemon without a line is untrusted and takes no part in forming a
   * configuration. Reloaded on SIGHUP (loadTrustedDaemonKeys).
   */
  daemonPublicKeys: ReadonlyMap<string, DaemonPublicKey>;
  /** `EpochRekeySeconds` × 1000: a configuration's epoch key is replaced at least this often. */
  epochRekeyMs: number;
  /** `EpochRekeyPackets`: ... or after this many packets under one epoch key, whichever comes first. */
  epochRekeyPackets: number;
  /** u32 hash of the segment and daemon sections only; equal on every daemon of one ring. */
  hash: number;
}
