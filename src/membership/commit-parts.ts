/**
 * A commit token larger than one packet travels as parts (Totem §4.3 assumes the token fits a
 * packet; a ring of many daemons, or per-configuration key fields, outgrow 1,472 bytes). Each
 * part is a packet of its own, unicast to the successor like the token; the successor processes
 * the token once every part of it has arrived, and a retransmission resends every part.
 *
 * Layout (after the 16-byte header, type COMMIT_PART):
 *   new ring | tokenSeq u53 | part u16 | parts u16 (2..COMMIT_PARTS_MAX) | bytes of the encoded
 *   commit token (header included) from offset part × chunk
 */
import type { DaemonId, RingId } from '../util/ids.js';
import { HEADER_BYTES, PacketType, Reader, Writer, type PacketHeader } from '../ring/wire.js';

/** Bound on the parts of one commit token: 64 × ~1,400 bytes carries ~600 members with key fields. */
export const COMMIT_PARTS_MAX = 64;
/** Bound on commit tokens being reassembled at once (one per sender and ring, the newest kept). */
export const COMMIT_REASSEMBLIES_MAX = 4;
/** Part header after the common header: ring (12), tokenSeq (8), part (2), parts (2). */
export const COMMIT_PART_FIXED_BYTES = HEADER_BYTES + 12 + 8 + 2 + 2;

/**
 * The packets that carry an encoded commit token: itself if it fits `packetBytesMax`, else its
 * parts. Undefined if it would need more than COMMIT_PARTS_MAX parts.
 */
export function commitPackets(encoded: Uint8Array, ring: RingId, tokenSeq: number, sender: DaemonId, incarnation: number, packetBytesMax: number): Uint8Array[] | undefined {
  if (encoded.length <= packetBytesMax) return [encoded];
  const chunk = packetBytesMax - COMMIT_PART_FIXED_BYTES;
  if (chunk < 64) return undefined;
  const parts = Math.ceil(encoded.length / chunk);
  if (parts > COMMIT_PARTS_MAX) return undefined;
  const out: Uint8Array[] = [];
  for (let i = 0; i < parts; i++) {
    const body = encoded.subarray(i * chunk, Math.min(encoded.length, (i + 1) * chunk));
    const w = new Writer(COMMIT_PART_FIXED_BYTES + body.length);
    w.header(PacketType.COMMIT_PART, sender, incarnation);
    w.ring(ring);
    w.u53(tokenSeq);
    w.u16(i);
    w.u16(parts);
    w.bytes(body);
    out.push(w.done());
  }
  return out;
}

interface Assembly {
  sender: DaemonId;
  ring: RingId;
  tokenSeq: number;
  parts: (Uint8Array | undefined)[];
  received: number;
}

/** Collects commit-token parts; bounded in tokens and in bytes per token. */
export class CommitReassembler {
  private readonly assemblies: Assembly[] = [];

  /**
   * Takes one part; returns the encoded commit token once all its parts are in, undefined
   * otherwise (or if the part is malformed: the caller counts that by `malformed`).
   */
  add(h: PacketHeader, bytes: Uint8Array): { complete?: Uint8Array; malformed: boolean } {
    const r = new Reader(bytes, HEADER_BYTES);
    const ring = r.ring();
    const tokenSeq = r.u53();
    const part = r.u16();
    const parts = r.u16();
    if (!r.ok || parts < 2 || parts > COMMIT_PARTS_MAX || part >= parts || r.remaining === 0) return { malformed: true };
    const body = r.bytes(r.remaining).slice();
    let a = this.assemblies.find((x) => x.sender === h.sender && x.ring.rep === ring.rep && x.ring.seq === ring.seq);
    if (a && a.tokenSeq !== tokenSeq) {
      // A newer hop of the same forming ring replaces an unfinished older one; an older part is late.
      if (tokenSeq < a.tokenSeq) return { malformed: false };
      this.assemblies.splice(this.assemblies.indexOf(a), 1);
      a = undefined;
    }
    if (a && a.parts.length !== parts) return { malformed: true };
    if (!a) {
      if (this.assemblies.length >= COMMIT_REASSEMBLIES_MAX) this.assemblies.shift();
      a = { sender: h.sender, ring, tokenSeq, parts: new Array<Uint8Array | undefined>(parts).fill(undefined), received: 0 };
      this.assemblies.push(a);
    }
    if (a.parts[part] !== undefined) return { malformed: false };
    a.parts[part] = body;
    a.received++;
    if (a.received < parts) return { malformed: false };
    this.assemblies.splice(this.assemblies.indexOf(a), 1);
    let n = 0;
    for (const p of a.parts) n += p!.length;
    const out = new Uint8Array(n);
    let off = 0;
    for (const p of a.parts) {
      out.set(p!, off);
      off += p!.length;
    }
    return { complete: out, malformed: false };
  }

  clear(): void {
    this.assemblies.length = 0;
  }
}
