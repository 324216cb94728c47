import { describe, expect, it } from 'vitest';
import { Packer } from '../../src/ring/packer.js';
import { Reassembler } from '../../src/ring/reassembly.js';
import { FRAG_FIRST, FRAG_LAST, ITEM_HEADER_BYTES, type DataItem } from '../../src/ring/wire.js';

const room = 1300;

function bytesOf(items: DataItem[]): number {
  return items.reduce((n, it) => n + ITEM_HEADER_BYTES + it.payload.length, 0);
}

describe('packing', () => {
  it('packs many small messages into one packet within the room', () => {
    const p = new Packer(room, 1000);
    for (let i = 0; i < 100; i++) p.push(0x10, 1, new Uint8Array(20).fill(i));
    const first = p.nextPacket()!;
    expect(first.length).toBe(Math.floor(room / (ITEM_HEADER_BYTES + 20)));
    expect(bytesOf(first)).toBeLessThanOrEqual(room);
    expect(first.every((it) => it.frag === (FRAG_FIRST | FRAG_LAST))).toBe(true);
    let packets = 1;
    while (p.nextPacket()) packets++;
    expect(packets).toBe(Math.ceil(100 / first.length));
    expect(p.length).toBe(0);
  });

  it('refuses submissions beyond pendingMessagesMax', () => {
    const p = new Packer(room, 3);
    expect(p.push(0x10, 1, new Uint8Array(1))).toBe(true);
    expect(p.push(0x10, 1, new Uint8Array(1))).toBe(true);
    expect(p.push(0x10, 1, new Uint8Array(1))).toBe(true);
    expect(p.push(0x10, 1, new Uint8Array(1))).toBe(false);
    p.nextPacket();
    expect(p.push(0x10, 1, new Uint8Array(1))).toBe(true);
  });

  it('fragments a 150 KB message and reassembles it intact, interleaved with others', () => {
    const p = new Packer(room, 10);
    const big = new Uint8Array(150_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    p.push(0x20, 4, new Uint8Array([1, 2, 3]));
    p.push(0x20, 4, big);
    p.push(0x10, 5, new Uint8Array([9]));
    const r = new Reassembler();
    const other = new Reassembler();
    const out: { service: number; stream: number; payload: Uint8Array }[] = [];
    let packets = 0;
    for (let items = p.nextPacket(); items; items = p.nextPacket()) {
      packets++;
      expect(bytesOf(items)).toBeLessThanOrEqual(room);
      for (const it of items) {
        const m = r.push(1, it);
        if (m) out.push(m);
      }
      // Another sender's complete message between fragments does not disturb reassembly.
      expect(other.push(2, { service: 0x10, frag: FRAG_FIRST | FRAG_LAST, stream: 0, payload: new Uint8Array(1) })).toBeDefined();
    }
    expect(packets).toBeGreaterThan(100);
    expect(out.map((m) => m.payload.length)).toEqual([3, 150_000, 1]);
    expect(Buffer.from(out[1]!.payload).equals(Buffer.from(big))).toBe(true);
    expect(out[1]!.service).toBe(0x20);
    expect(r.partialMessages).toBe(0);
  });

  it('restarts a half-sent message after a configuration change; partial reassembly is dropped', () => {
    const p = new Packer(room, 10);
    const big = new Uint8Array(5000).fill(3);
    p.push(0x10, 1, big);
    const r = new Reassembler();
    const a = p.nextPacket()!;
    expect(a[0]!.frag).toBe(FRAG_FIRST);
    r.push(1, a[0]!);
    expect(r.partialMessages).toBe(1);
    r.clear();
    p.restartPartial();
    let got: Uint8Array | undefined;
    for (let items = p.nextPacket(); items; items = p.nextPacket()) {
      for (const it of items) got = r.push(1, it)?.payload ?? got;
    }
    expect(got).toEqual(big);
  });

  it('drops a fragment that continues nothing', () => {
    const r = new Reassembler();
    expect(r.push(1, { service: 0x10, frag: FRAG_LAST, stream: 0, payload: new Uint8Array(4) })).toBeUndefined();
    expect(r.orphanFragments).toBe(1);
  });
});
