/** Reading `ringcastd --capture-packets` files: records of u32 length | u32 destination | datagram. */
import { readFileSync } from 'node:fs';

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
