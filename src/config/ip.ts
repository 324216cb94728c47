/**
 * IP address text: strict parsing and one canonical spelling, so that the configuration hash and
 * the daemon ids come out the same on every daemon whatever way an address was written.
 * Pure: no name resolution, no sockets.
 */

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  /** 4 bytes (IPv4) or 16 bytes (IPv6), network order. */
  bytes: Uint8Array;
  /** Canonical text: dotted quad, or RFC 5952 for IPv6. */
  text: string;
}

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Dotted quad, four decimal parts 0..255 without leading zeros (which some parsers read as octal). */
export function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!IPV4_PART.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    out[i] = value;
  }
  return out;
}

/** RFC 4291 §2.2 text forms: full, `::`-compressed, and with a dotted IPv4 tail. No zone ids. */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string, allowV4Tail: boolean): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i] as string;
      if (allowV4Tail && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (v4 === undefined) return undefined;
        words.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
        continue;
      }
      if (!IPV6_GROUP.test(g)) return undefined;
      words.push(parseInt(g, 16));
    }
    return words;
  };
  let words: number[];
  if (halves.length === 1) {
    const all = parseGroups(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    words = all;
  } else {
    const head = parseGroups(halves[0] as string, false);
    const tail = parseGroups(halves[1] as string, true);
    if (head === undefined || tail === undefined) return undefined;
    // `::` stands for at least one zero group.
    if (head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const w = words[i] as number;
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  }
  return out;
}

export function formatIPv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

export function isIPv4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
export function formatIPv6(bytes: Uint8Array): string {
  if (isIPv4Mapped(bytes)) return `::ffff:${formatIPv4(bytes.subarray(12))}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestLen < 2) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Either family; IPv6 may be written in brackets. */
export function parseIp(text: string): IpAddress | undefined {
  const inner = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (inner === text) {
    const v4 = parseIPv4(text);
    if (v4 !== undefined) return { family: 4, bytes: v4, text: formatIPv4(v4) };
  }
  const v6 = parseIPv6(inner);
  if (v6 !== undefined) return { family: 6, bytes: v6, text: formatIPv6(v6) };
  return undefined;
}

/**
 * A peer address as a socket reports it: IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack
 * listener gives for IPv4 peers) becomes IPv4, and a zone id (`fe80::1%eth0`) is dropped.
 */
export function parsePeerIp(text: string): IpAddress | undefined {
  const percent = text.indexOf('%');
  const bare = percent >= 0 ? text.slice(0, percent) : text;
  const ip = parseIp(bare);
  if (ip === undefined) return undefined;
  if (ip.family === 6 && isIPv4Mapped(ip.bytes)) {
    const v4 = ip.bytes.slice(12);
    return { family: 4, bytes: v4, text: formatIPv4(v4) };
  }
  return ip;
}

/** The IPv4 address as an unsigned 32-bit integer (Spread's proc_id). */
export function ipv4ToU32(bytes: Uint8Array): number {
  return (((bytes[0] as number) << 24) | ((bytes[1] as number) << 16) | ((bytes[2] as number) << 8) | (bytes[3] as number)) >>> 0;
}

export function isLoopback(ip: IpAddress): boolean {
  if (ip.family === 4) return ip.bytes[0] === 127;
  for (let i = 0; i < 15; i++) if (ip.bytes[i] !== 0) return false;
  return ip.bytes[15] === 1;
}

export function isMulticast(ip: IpAddress): boolean {
  return ip.family === 4 ? ((ip.bytes[0] as number) & 0xf0) === 0xe0 : ip.bytes[0] === 0xff;
}

export function isUnspecified(ip: IpAddress): boolean {
  return ip.bytes.every((b) => b === 0);
}

/** True when the first `prefixBits` bits of a and b agree (same family assumed). */
export function prefixMatches(a: Uint8Array, b: Uint8Array, prefixBits: number): boolean {
  const full = prefixBits >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = prefixBits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (((a[full] as number) ^ (b[full] as number)) & mask) === 0;
}
