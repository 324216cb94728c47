/**
 * Constants and name rules of the Spread 4/5 client protocol (spec: shared/protocol/
 * spread-client-protocol.md §2, §4.1, §10, §11). Values are exactly those of Spread's sp.h.
 */

export const MessageType = {
  UNRELIABLE_MESS: 0x00000001,
  RELIABLE_MESS: 0x00000002,
  FIFO_MESS: 0x00000004,
  CAUSAL_MESS: 0x00000008,
  AGREED_MESS: 0x00000010,
  SAFE_MESS: 0x00000020,
  REGULAR_MESS: 0x0000003f,
  SELF_DISCARD: 0x00000040,
  CAUSED_BY_JOIN: 0x00000100,
  CAUSED_BY_LEAVE: 0x00000200,
  CAUSED_BY_DISCONNECT: 0x00000400,
  CAUSED_BY_NETWORK: 0x00000800,
  REG_MEMB_MESS: 0x00001000,
  TRANSITION_MESS: 0x00002000,
  MEMBERSHIP_MESS: 0x00003f00,
  JOIN_MESS: 0x00010000,
  LEAVE_MESS: 0x00020000,
  KILL_MESS: 0x00040000,
  REJECT_MESS: 0x00400000,
  ENDIAN_MARKER: 0x80000080,
} as const;

/** Spread result codes (§10). Only 1, -3, -5, -6, -7 and -9 ever travel on the wire. */
export const SpreadCode = {
  ACCEPT_SESSION: 1,
  ILLEGAL_SPREAD: -1,
  COULD_NOT_CONNECT: -2,
  REJECT_QUOTA: -3,
  REJECT_NO_NAME: -4,
  REJECT_ILLEGAL_NAME: -5,
  REJECT_NOT_UNIQUE: -6,
  REJECT_VERSION: -7,
  CONNECTION_CLOSED: -8,
  REJECT_AUTH: -9,
  ILLEGAL_SESSION: -11,
  ILLEGAL_SERVICE: -12,
  ILLEGAL_MESSAGE: -13,
  ILLEGAL_GROUP: -14,
  BUFFER_TOO_SHORT: -15,
  GROUPS_TOO_SHORT: -16,
  MESSAGE_TOO_LONG: -17,
  NET_ERROR_ON_SESSION: -18,
  SP_BUG: -19,
  ILLEGAL_TIME: -20,
} as const;

export type SpreadCodeName = keyof typeof SpreadCode;

export const SpreadLimits = {
  HEADER_BYTES: 48,
  GROUP_NAME_BYTES: 32,
  PRIVATE_NAME_CHARS_MAX: 10,
  DAEMON_NAME_CHARS_MAX: 19,
  GROUPS_PER_MESSAGE_MAX: 100,
  /** libspread's limit on data_len + 32 * num_groups (MESSAGE_TOO_LONG beyond). */
  MESSAGE_BODY_BYTES_MAX: 144000,
  AUTH_NAME_BYTES: 30,
  AUTH_METHODS_MAX: 3,
  SESSIONS_MAX: 997,
  DAEMON_VERSION: { major: 5, minor: 0, patch: 1 },
} as const;

const codeNames = new Map<number, SpreadCodeName>(
  (Object.entries(SpreadCode) as [SpreadCodeName, number][]).map(([n, c]) => [c, n]),
);

export function spreadCodeName(code: number): string {
  return codeNames.get(code) ?? `UNKNOWN_CODE(${code})`;
}

/** Characters libspread accepts in group and private names: 0x24 '$' .. 0x7E '~' (§3.2, §6.3). */
function allNameChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x24 || c > 0x7e) return false;
  }
  return true;
}

/** A joinable group name: 1..31 characters, each 0x24..0x7E; '#' is below 0x24 so private groups are excluded. */
export function isValidGroupName(name: string): boolean {
  return name.length >= 1 && name.length < SpreadLimits.GROUP_NAME_BYTES && allNameChars(name);
}

/** The user-chosen part of a private group name: 1..10 characters, each 0x24..0x7E. */
export function isValidPrivateName(name: string): boolean {
  return name.length >= 1 && name.length <= SpreadLimits.PRIVATE_NAME_CHARS_MAX && allNameChars(name);
}

export function privateGroupName(name: string, daemon: string): string {
  return `#${name}#${daemon}`;
}

/** '#name#daemon' → its parts; undefined for anything else (ordinary group names included). */
export function parsePrivateGroupName(s: string): { name: string; daemon: string } | undefined {
  if (s.length < 4 || s.charCodeAt(0) !== 0x23) return undefined;
  const second = s.indexOf('#', 1);
  if (second <= 1 || second === s.length - 1) return undefined;
  const name = s.slice(1, second);
  const daemon = s.slice(second + 1);
  if (daemon.includes('#')) return undefined;
  return { name, daemon };
}
