/**
 * Messages submitted but not yet broadcast, and the packing of them into packets: many small
 * messages share one packet (one sequence number), a large message is cut into fragments that
 * travel in consecutive packets of its sender (Spread's packing and fragmentation). The receiver
 * side is src/ring/reassembly.ts.
 */
import type { ServiceLevel } from '../util/service.js';
import { FRAG_FIRST, FRAG_LAST, ITEM_HEADER_BYTES, type DataItem } from './wire.js';

/** Largest message payload the ring carries, in bytes (Spread's limit is about 140 KB). */
export const MESSAGE_BYTES_MAX = 1 << 20;
/** A fragment is only started in the leftover room of a packet if at least this much fits. */
const FRAGMENT_BYTES_MIN = 64;

interface Pending {
  service: ServiceLevel;
  stream: number;
  payload: Uint8Array;
  /** Bytes of payload already placed in packets. */
  offset: number;
}

export class Packer {
  private queue: (Pending | undefined)[] = [];
  private head = 0;

  /**
   * @param itemBytesMax room for items in one packet (packet limit minus fixed headers)
   * @param pendingMessagesMax bound on queued messages
   */
  constructor(
    private readonly itemBytesMax: number,
    private readonly pendingMessagesMax: number,
  ) {
    if (itemBytesMax < ITEM_HEADER_BYTES + FRAGMENT_BYTES_MIN) {
      throw new RangeError(`packet room for items (${itemBytesMax} bytes) is too small`);
    }
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  push(service: ServiceLevel, stream: number, payload: Uint8Array): boolean {
    if (this.length >= this.pendingMessagesMax) return false;
    this.queue.push({ service, stream, payload, offset: 0 });
    return true;
  }

  /**
   * After a configuration change a message half-sent on the old ring is sent again from its
   * start: receivers drop incomplete reassemblies at the configuration boundary.
   */
  restartPartial(): void {
    const m = this.queue[this.head];
    if (m) m.offset = 0;
  }

  /** Items of the next packet, or undefined when nothing is pending. */
  nextPacket(): DataItem[] | undefined {
    if (this.length === 0) return undefined;
    const items: DataItem[] = [];
    let room = this.itemBytesMax;
    while (this.head < this.queue.length) {
      const m = this.queue[this.head] as Pending;
      const left = m.payload.length - m.offset;
      const fits = room >= ITEM_HEADER_BYTES + left;
      if (!fits) {
        // Small messages that do not fit wait for the next packet; large ones are fragmented.
        const wholeRoom = this.itemBytesMax - ITEM_HEADER_BYTES;
        const mustFragment = left > wholeRoom;
        if (!mustFragment || room < ITEM_HEADER_BYTES + FRAGMENT_BYTES_MIN) {
          if (items.length > 0) break;
        }
      }
      const take = Math.min(left, room - ITEM_HEADER_BYTES);
      let frag = 0;
      if (m.offset === 0) frag |= FRAG_FIRST;
      if (m.offset + take === m.payload.length) frag |= FRAG_LAST;
      const payload =
        take === m.payload.length ? m.payload : m.payload.subarray(m.offset, m.offset + take);
      items.push({ service: m.service, frag, stream: m.stream, payload });
      room -= ITEM_HEADER_BYTES + take;
      m.offset += take;
      if (m.offset < m.payload.length) break;
      this.queue[this.head] = undefined;
      this.head++;
      if (room < ITEM_HEADER_BYTES + 1) break;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return items;
  }
}
