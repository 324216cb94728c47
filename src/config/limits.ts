/**
 * Defaults and limits of the configuration, in one place. Values marked "Spread" are the ones the
 * Spread 5.0.1 daemon uses, so a spread.conf means the same thing to Ringcast.
 */
import type { MembershipTimeouts } from './types.js';

/** DEFAULT_SPREAD_PORT. */
export const DEFAULT_PORT = 4803;
/** The token port is the data port + 1, so the data port can be at most 65534. */
export const PORT_MAX = 65534;
/** MAX_PROCS_RING (Spread). */
export const DAEMONS_MAX = 128;
/** MAX_SEGMENTS (Spread). */
export const SEGMENTS_MAX = 20;
/** `MulticastTTL` default: multicast stays on the segment's own link, as a Spread segment does. */
export const MULTICAST_TTL_DEFAULT = 1;
/** The IP TTL / IPv6 hop limit field is one byte. */
export const MULTICAST_TTL_MAX = 255;
/** MAX_PROC_NAME 20 including the NUL (Spread). */
export const DAEMON_NAME_CHARS_MAX = 19;
/** Interface lines in one daemon's `{ D … C … M … }` block. */
export const DAEMON_INTERFACES_MAX = 16;
/** A configuration file larger than this is refused before parsing. */
export const CONFIG_TEXT_CHARS_MAX = 1 << 20;
/** An access_ip file larger than this is refused before parsing. */
export const ACCESS_IP_TEXT_CHARS_MAX = 1 << 20;
/** sockaddr_un.sun_path is 108 bytes on Linux, including the NUL. */
export const UNIX_SOCKET_PATH_BYTES_MAX = 107;

/** MAX_AUTH_NAME 30 including the NUL (Spread). */
export const AUTH_METHOD_NAME_CHARS_MAX = 29;
/** MAX_AUTH_METHODS: slots in the client's auth choice record (Spread). */
export const AUTH_METHODS_MAX = 3;
/** Methods a Ringcast daemon implements, in the order they are offered to clients. */
export const AUTH_METHODS_KNOWN: readonly string[] = ['NULL', 'IP', 'RC-PASSWORD', 'RC-PUBKEY'];
/** Methods that key the session; at most one of them runs per session. */
export const KEYED_AUTH_METHODS_KNOWN: readonly string[] = ['RC-PASSWORD', 'RC-PUBKEY'];
/** Default bound on a client's handshake, authentication included (AuthHandshakeTimeout). */
export const AUTH_HANDSHAKE_TIMEOUT_MS_DEFAULT = 10_000;
export const AUTH_HANDSHAKE_TIMEOUT_MS_MIN = 100;
export const AUTH_HANDSHAKE_TIMEOUT_MS_MAX = 600_000;
export const ACCESS_CONTROL_POLICIES_KNOWN: readonly string[] = ['PERMIT'];

/** Spread's flow-control defaults. */
export const WINDOW_DEFAULT = 160;
export const PERSONAL_WINDOW_DEFAULT = 20;
export const ACCELERATED_WINDOW_DEFAULT = 15;
/** Upper bound on Window: messages a token round may carry; keeps retransmission state bounded. */
export const WINDOW_MAX = 20000;

export const MAX_SESSION_MESSAGES_DEFAULT = 1000;
export const MAX_SESSION_MESSAGES_MAX = 1_000_000;

/** 1500-byte Ethernet MTU − 20 (IPv4) − 8 (UDP). */
export const PACKET_BYTES_DEFAULT_IPV4 = 1472;
/** 1500-byte Ethernet MTU − 40 (IPv6) − 8 (UDP). */
export const PACKET_BYTES_DEFAULT_IPV6 = 1452;
/** IPv4's minimum reassembly size (576) − 28: below this a packet header plus payload is impractical. */
export const PACKET_BYTES_MIN = 548;
/**
 * Default when every daemon is on a loopback address: the loopback MTU is 64 KiB, so nothing is
 * fragmented, and more client messages per datagram is what moves the most messages per token
 * rotation (each datagram costs a system call on both sides).
 */
export const PACKET_BYTES_DEFAULT_LOOPBACK = 8972;
/** Below the 65507-byte UDP payload limit; only sensible on loopback or jumbo links. */
export const PACKET_BYTES_MAX = 65000;

/** Bounds for any membership timeout. */
export const TIMEOUT_MS_MIN = 1;
export const TIMEOUT_MS_MAX = 600_000;

/** Spread's single-segment (LAN) membership timeouts. */
export const LAN_TIMEOUTS: Readonly<MembershipTimeouts> = Object.freeze({
  tokenMs: 1250,
  hurryMs: 500,
  aliveMs: 250,
  joinMs: 250,
  repMs: 625,
  segMs: 500,
  gatherMs: 1250,
  formMs: 1250,
  lookupMs: 30000,
});

/** Spread's wide-area membership timeouts. */
export const WAN_TIMEOUTS: Readonly<MembershipTimeouts> = Object.freeze({
  tokenMs: 5000,
  hurryMs: 1500,
  aliveMs: 250,
  joinMs: 250,
  repMs: 1250,
  segMs: 500,
  gatherMs: 2500,
  formMs: 2500,
  lookupMs: 45000,
});

/** Config keyword of each timeout, in Spread's order. */
export const TIMEOUT_KEYWORDS: ReadonlyArray<readonly [keyword: string, field: keyof MembershipTimeouts]> = [
  ['TokenTimeout', 'tokenMs'],
  ['HurryTimeout', 'hurryMs'],
  ['AliveTimeout', 'aliveMs'],
  ['JoinTimeout', 'joinMs'],
  ['RepTimeout', 'repMs'],
  ['SegTimeout', 'segMs'],
  ['GatherTimeout', 'gatherMs'],
  ['FormTimeout', 'formMs'],
  ['LookupTimeout', 'lookupMs'],
];

/** Spread's event types (alarm.h) accepted in DebugFlags; ALL and NONE are handled apart. */
export const DEBUG_FLAG_NAMES: readonly string[] = [
  'PRINT',
  'EXIT',
  'DEBUG',
  'DATA_LINK',
  'NETWORK',
  'PROTOCOL',
  'SESSION',
  'CONF',
  'MEMBERSHIP',
  'FLOW_CONTROL',
  'STATUS',
  'EVENTS',
  'GROUPS',
  'HOP',
  'OBJ_HANDLER',
  'MEMORY',
  'ROUTE',
  'QOS',
  'RING',
  'TCP_HOP',
  'SKIPLIST',
  'ACM',
  'SECURITY',
];
export const DEBUG_FLAGS_DEFAULT: readonly string[] = ['PRINT', 'EXIT'];

export const EVENT_PRIORITIES = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL', 'FATAL'] as const;
export const EVENT_PRIORITY_DEFAULT = 'INFO';

export const RUNTIME_DIR_DEFAULT = '/var/run/spread';
export const DAEMON_USER_DEFAULT = 'spread';
export const DAEMON_GROUP_DEFAULT = 'spread';

export const UNIX_SOCKET_PATH_DEFAULT = '/tmp/%p';
/** Used instead when several configured daemons must run on one host with the same port. */
export const UNIX_SOCKET_PATH_SHARED_PORT_DEFAULT = '/tmp/%p-%n';

export const ACCESS_IP_FILE_NAME = 'spread.access_ip';
/** Searched in this order when AccessIpFile is not set: the working directory, then /etc. */
export const ACCESS_IP_SEARCH_DIRS: readonly string[] = ['.', '/etc'];
/** `EpochRekeySeconds`: default and range (seconds). */
export const EPOCH_REKEY_SECONDS_DEFAULT = 120;
export const EPOCH_REKEY_SECONDS_MIN = 1;
export const EPOCH_REKEY_SECONDS_MAX = 86_400;
/** `EpochRekeyPackets`: default and range (packets sealed under one epoch key). */
export const EPOCH_REKEY_PACKETS_DEFAULT = 1_000_000;
export const EPOCH_REKEY_PACKETS_MIN = 1000;
export const EPOCH_REKEY_PACKETS_MAX = 2 ** 40;
