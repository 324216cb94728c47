/** Reading `ringcastd --capture-packets` files: records of u32 length | u32 destination | datagram. */
import { readFileSync } from 'node:fs';
import { splitBundle } from '../../src/daemon/bundle-plan.js';
import { BUNDLE_PARTS_MAX, ENVELOPE_BYTES, PacketKind } from '../../src/daemon/udp-transport.js';

/** Each datagram of a capture file, as the daemon sent it (envelope included). */
export function capturedDatagrams(file: string): Buffer[] {
  const buf = readFileSync(file);
  const out: Buffer[] = [];
  for (let off = 0; off + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(off);
    out.push(buf.subarray(off + 8, off + 8 + len));
    off += 8 + len;
  }
  return out;
}

/**
 * Each sealed ring packet of a capture file, as a single-packet datagram (a ring envelope and the
 * packet): a bundle datagram (a token and the packet before it) gives one entry per packet.
 */
export function capturedPackets(file: string): Buffer[] {
  const out: Buffer[] = [];
  for (const d of capturedDatagrams(file)) {
    if (d[1] !== PacketKind.RING_BUNDLE) {
      out.push(d);
      continue;
    }
    const parts = splitBundle(d.subarray(ENVELOPE_BYTES), BUNDLE_PARTS_MAX);
    if (parts === undefined) throw new Error(`malformed bundle datagram in ${file}`);
    const head = Buffer.from(d.subarray(0, ENVELOPE_BYTES));
    head[1] = PacketKind.RING;
    for (const p of parts) out.push(Buffer.concat([head, p]));
  }
  return out;
}
