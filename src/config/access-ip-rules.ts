/**
 * The `spread.access_ip` allow-list of the IP authentication method (protocol spec §3.5), parsed
 * and matched without IO. Differences from Spread 5.0.1, on purpose: IPv6 rules and peers work,
 * IPv4-mapped IPv6 peers (what a dual-stack listener reports) match IPv4 rules, and the `unix`
 * rule really admits Unix-socket clients.
 */
import { ConfigError } from '../util/errors.js';
import { type IpFamily, isIPv4Mapped, parseIPv4, parseIPv6, parsePeerIp, prefixMatches } from './ip.js';
import { ACCESS_IP_TEXT_CHARS_MAX } from './limits.js';

export interface AccessIpNetwork {
  family: IpFamily;
  /** The network address with host bits cleared. */
  bytes: Uint8Array;
  prefixBits: number;
  line: number;
}

export interface AccessIpRules {
  /** The file the rules came from; undefined when none was found (then only nothing is allowed). */
  file: string | undefined;
  networks: AccessIpNetwork[];
  /** `local`: 127.0.0.0/8 and ::1. */
  local: boolean;
  /** `unix`: clients on the Unix socket. */
  unix: boolean;
}

export type AccessIpPeer = { kind: 'tcp'; address: string } | { kind: 'unix' };

/** Spread's behaviour without a file: every IP-authenticated session is denied. */
export function emptyAccessIpRules(file?: string): AccessIpRules {
  return { file, networks: [], local: false, unix: false };
}

/** Lines: `a.b.c.d[/prefix]`, `ipv6[/prefix]`, `local`, `unix`; `#` starts a comment. */
export function parseAccessIp(text: string, file: string): AccessIpRules {
  if (text.length > ACCESS_IP_TEXT_CHARS_MAX) {
    throw new ConfigError(file, 0, `the access list is larger than ${ACCESS_IP_TEXT_CHARS_MAX} characters`);
  }
  const rules = emptyAccessIpRules(file);
  const lines = text.split('\n');
  lines.forEach((rawLine, i) => {
    const line = i + 1;
    const hash = rawLine.indexOf('#');
    const content = (hash >= 0 ? rawLine.slice(0, hash) : rawLine).trim();
    if (content === '') return;
    const fields = content.split(/\s+/);
    if (fields.length > 1) throw new ConfigError(file, line, `one rule per line, found '${content}'`);
    const word = content.toLowerCase();
    if (word === 'local') {
      rules.local = true;
      return;
    }
    if (word === 'unix') {
      rules.unix = true;
      return;
    }
    rules.networks.push(parseNetwork(content, file, line));
  });
  return rules;
}

function parseNetwork(text: string, file: string, line: number): AccessIpNetwork {
  const slash = text.indexOf('/');
  const addrText = slash >= 0 ? text.slice(0, slash) : text;
  const prefixText = slash >= 0 ? text.slice(slash + 1) : undefined;
  const v4 = parseIPv4(addrText);
  const bare = addrText.startsWith('[') && addrText.endsWith(']') ? addrText.slice(1, -1) : addrText;
  const bytes = v4 ?? parseIPv6(bare);
  if (bytes === undefined) {
    throw new ConfigError(file, line, `'${text}' is not a rule: write a.b.c.d[/prefix], an IPv6 address[/prefix], 'local' or 'unix'`);
  }
  const family: IpFamily = v4 !== undefined ? 4 : 6;
  const maxBits = family === 4 ? 32 : 128;
  let prefixBits = maxBits;
  if (prefixText !== undefined) {
    if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > maxBits) {
      throw new ConfigError(file, line, `prefix '/${prefixText}' must be a number from 0 to ${maxBits}`);
    }
    prefixBits = Number(prefixText);
  }
  if (family === 6 && isIPv4Mapped(bytes) && prefixBits >= 96) {
    // Peers arrive as IPv4 after unmapping (parsePeerIp), so hold the rule as IPv4 too.
    return maskedNetwork(4, bytes.subarray(12), prefixBits - 96, line);
  }
  return maskedNetwork(family, bytes, prefixBits, line);
}

/** Host bits beyond the prefix are ignored (10.1.2.3/8 means 10.0.0.0/8). */
function maskedNetwork(family: IpFamily, bytes: Uint8Array, prefixBits: number, line: number): AccessIpNetwork {
  const net = new Uint8Array(bytes.length);
  for (let bit = 0; bit < prefixBits; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    net[byte] = (net[byte] as number) | ((bytes[byte] as number) & mask);
  }
  return { family, bytes: net, prefixBits, line };
}

/** True when the rules admit the peer. An unparsable TCP address is never admitted. */
export function ipAllowed(rules: AccessIpRules, peer: AccessIpPeer): boolean {
  if (peer.kind === 'unix') return rules.unix;
  const ip = parsePeerIp(peer.address);
  if (ip === undefined) return false;
  if (rules.local) {
    if (ip.family === 4 && ip.bytes[0] === 127) return true;
    if (ip.family === 6 && ip.bytes.every((b, i) => (i === 15 ? b === 1 : b === 0))) return true;
  }
  return rules.networks.some((n) => n.family === ip.family && prefixMatches(n.bytes, ip.bytes, n.prefixBits));
}
