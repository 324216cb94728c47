/**
 * Reassembly of fragmented messages on the delivery path. Fragments of a sender's message reach
 * delivery in total (seq) order and a sender finishes one message before starting the next, so
 * one partial message per sender suffices. Partial messages are dropped at every configuration
 * boundary (all members that move together drop the same ones: failure atomicity).
 */
import type { DaemonId } from '../util/ids.js';
import type { ServiceLevel } from '../util/service.js';
import { MESSAGE_BYTES_MAX } from './packer.js';
import { FRAG_FIRST, FRAG_LAST, type DataItem } from './wire.js';

interface Partial {
  service: ServiceLevel;
  stream: number;
  chunks: Uint8Array[];
  bytes: number;
}

export interface Reassembled {
  service: ServiceLevel;
  stream: number;
  payload: Uint8Array;
}

export class Reassembler {
  private partial = new Map<DaemonId, Partial>();
  /** Fragments that did not continue a message in progress (counted, dropped). */
  orphanFragments = 0;

  /** Feed one item in delivery order; returns the complete message when it is. */
  push(sender: DaemonId, item: DataItem): Reassembled | undefined {
    if (item.frag === (FRAG_FIRST | FRAG_LAST)) {
      this.partial.delete(sender);
      return { service: item.service, stream: item.stream, payload: item.payload };
    }
    if (item.frag & FRAG_FIRST) {
      this.partial.set(sender, {
        service: item.service,
        stream: item.stream,
        chunks: [item.payload],
        bytes: item.payload.length,
      });
      return undefined;
    }
    const p = this.partial.get(sender);
    if (!p || p.stream !== item.stream || p.service !== item.service) {
      this.orphanFragments++;
      if (p) this.partial.delete(sender);
      return undefined;
    }
    p.bytes += item.payload.length;
    if (p.bytes > MESSAGE_BYTES_MAX) {
      this.partial.delete(sender);
      this.orphanFragments++;
      return undefined;
    }
    p.chunks.push(item.payload);
    if (!(item.frag & FRAG_LAST)) return undefined;
    this.partial.delete(sender);
    const out = new Uint8Array(p.bytes);
    let o = 0;
    for (const c of p.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return { service: p.service, stream: p.stream, payload: out };
  }

  /** Configuration boundary: incomplete messages can never complete. */
  clear(): void {
    this.partial.clear();
  }

  get partialMessages(): number {
    return this.partial.size;
  }
}
