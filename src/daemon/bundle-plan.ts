/**
 * Token bundling: which of one token visit's sealed packets share a datagram. Pure (no sockets).
 *
 * A Totem token visit (Amir et al. 1995, "the token is passed after the broadcasts") sends its new
 * packets to every other ring member and then the token to the successor alone; the successor
 * thus gets two datagrams back to back from the same sender. Here the successor's copy of the
 * packet sent just before the token travels in the token's datagram: one sendmsg fewer per visit
 * that carries a packet, and the token leaves that much sooner. The receiver unpacks the datagram
 * in order, so the engine sees exactly the packet sequence it would have seen from two datagrams.
 *
 * Order of the datagrams:
 * - token first: the bundle leaves first and the packet's copies to the other members right after
 *   it. This needs the Accelerated Ring (Babay and Amir 2016), where packets may follow the token;
 *   the others receive their copy before the token can reach them (it needs at least one more
 *   hop), and a late copy costs no more than in the accelerated protocol itself (the engine asks
 *   only for packets older than its previous visit). The token's rotation is then as fast as it
 *   can be, which is what a message waiting for the token elsewhere needs.
 * - otherwise Totem's order: the other members' copies first, the bundle last. With reply holds
 *   (AnticipateReplies) this is the better order too: the token mostly waits at the daemon whose
 *   client answers, so the packet (a request, an answer) reaching its receivers one send sooner
 *   matters more than the token leaving sooner, and a receiver that holds the token for its
 *   client's answer must have delivered the request by the time the token arrives.
 *
 * Only a send to unicast destinations is bundled (a multicast or broadcast datagram already
 * reaches the successor), and only when both sealed packets fit in one datagram.
 */
import type { DaemonId } from '../util/ids.js';

/** One sealed ring packet and the daemons it goes to, in the engine's transmit order. */
export interface SealedSend {
  to: readonly DaemonId[];
  bytes: Uint8Array;
  /** A send to one named daemon (a token, a commit token): the only kind that takes a passenger. */
  single: boolean;
}

export type Datagram =
  | { kind: 'packet'; to: readonly DaemonId[]; bytes: Uint8Array }
  | { kind: 'bundle'; to: DaemonId; parts: readonly Uint8Array[] };

/** Bytes a bundle adds to its packets: a 16-bit length before each. */
export const BUNDLE_PART_PREFIX_BYTES = 2;

export function bundleBytes(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += BUNDLE_PART_PREFIX_BYTES + p.length;
  return n;
}

export interface BundlePlanOptions {
  /** Largest bundle body (the datagram limit less the envelope). */
  bodyBytesMax: number;
  /** The bundle goes first (AcceleratedRing without AnticipateReplies; see the order above). */
  tokenFirst: boolean;
  /** Whether a send to these daemons goes by unicast fan-out (false: a group datagram covers them). */
  unicast: (to: readonly DaemonId[]) => boolean;
}

/** The datagrams for one pump's sends, in sending order. */
export function planDatagrams(sends: readonly SealedSend[], opts: BundlePlanOptions): Datagram[] {
  const out: Datagram[] = [];
  for (let i = 0; i < sends.length; i++) {
    const s = sends[i]!;
    const next = sends[i + 1];
    const carrier = next !== undefined && next.single && !s.single ? next.to[0] : undefined;
    if (
      carrier === undefined ||
      !s.to.includes(carrier) ||
      bundleBytes([s.bytes, next!.bytes]) > opts.bodyBytesMax ||
      !opts.unicast(s.to)
    ) {
      out.push({ kind: 'packet', to: s.to, bytes: s.bytes });
      continue;
    }
    const bundle: Datagram = { kind: 'bundle', to: carrier, parts: [s.bytes, next!.bytes] };
    const rest = s.to.filter((id) => id !== carrier);
    const copies: Datagram | undefined = rest.length > 0 ? { kind: 'packet', to: rest, bytes: s.bytes } : undefined;
    if (opts.tokenFirst) out.push(bundle, ...(copies ? [copies] : []));
    else out.push(...(copies ? [copies] : []), bundle);
    i++;
  }
  return out;
}

/** The packets of a bundle body, or undefined if it is malformed (empty, truncated or trailing bytes). */
export function splitBundle(body: Uint8Array, partsMax: number): Uint8Array[] | undefined {
  const parts: Uint8Array[] = [];
  let off = 0;
  while (off < body.length) {
    if (parts.length === partsMax || off + BUNDLE_PART_PREFIX_BYTES > body.length) return undefined;
    const len = (body[off]! << 8) | body[off + 1]!;
    off += BUNDLE_PART_PREFIX_BYTES;
    if (len === 0 || off + len > body.length) return undefined;
    parts.push(body.subarray(off, off + len));
    off += len;
  }
  return parts.length > 0 ? parts : undefined;
}
