/**
 * What every daemon of a ring must derive identically from the configuration: daemon ids and the
 * configuration hash.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { DaemonId } from '../util/ids.js';
import type { SegmentEntry } from './types.js';

const encoder = new TextEncoder();

function u32FromDigest(text: string): number {
  const d = sha256(encoder.encode(text));
  return (((d[0] as number) << 24) | ((d[1] as number) << 16) | ((d[2] as number) << 8) | (d[3] as number)) >>> 0;
}

/** Id of a daemon when addresses cannot serve: first 4 bytes of sha256("ringcast-daemon:" + name). */
export function daemonIdFromName(name: string): DaemonId {
  return u32FromDigest(`ringcast-daemon:${name}`);
}

/**
 * The text the configuration hash is taken over: segments and daemons in order, each address in
 * canonical form with its port, each daemon's name, and whether a segment is reached by broadcast. Options, interface blocks, comments and
 * layout are left out on purpose: they may differ between daemons of one ring.
 */
export function canonicalMembership(segments: readonly SegmentEntry[]): string {
  const lines = ['ringcast-configuration 1'];
  for (const s of segments) {
    // Broadcast is the one dissemination an option decides (multicast follows from the address):
    // daemons that disagree on it could not hear each other, so they must not count as one ring.
    lines.push(`segment ${s.family} ${s.address} ${s.port}${s.dissemination === 'broadcast' ? ' broadcast' : ''}`);
    for (const d of s.daemons) lines.push(`daemon ${d.name} ${d.family} ${d.address}`);
  }
  return `${lines.join('\n')}\n`;
}

/** First 4 bytes, big-endian, of sha256 over canonicalMembership. */
export function configurationHash(segments: readonly SegmentEntry[]): number {
  return u32FromDigest(canonicalMembership(segments));
}
