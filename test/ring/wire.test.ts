import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DATA_FIXED_BYTES,
  FRAG_FIRST,
  FRAG_LAST,
  PacketType,
  decodeData,
  decodeHeader,
  decodeToken,
  encodeData,
  encodeToken,
  type DataPacket,
  type RegularToken,
  encodeItems,
  decodeItems,
} from '../../src/ring/wire.js';

const enc = new TextEncoder();

function samplePacket(): DataPacket {
  return {
    sender: 0xc0a80001,
    incarnation: 1_700_000_000_123,
    ring: { rep: 7, seq: 1_700_000_000_200 },
    seq: 42,
    hasSafe: true,
    items: [
      { service: 0x10, frag: FRAG_FIRST | FRAG_LAST, stream: 3, payload: enc.encode('hello') },
      { service: 0x20, frag: FRAG_FIRST, stream: 0xffffffff, payload: new Uint8Array(300).fill(9) },
    ],
  };
}

function sampleToken(): RegularToken {
  return {
    ring: { rep: 1, seq: 99 },
    tokenSeq: 1234,
    seq: 500,
    aru: 480,
    aruId: 0xfffffffe,
    fcc: 60,
    backlog: 12,
    rotation: 77,
    doneCount: 0,
    generation: 7,
    rtr: [481, 490, 499],
  };
}

describe('data packets', () => {
  it('round-trips, including a recovery carrier', () => {
    const p = samplePacket();
    const bytes = encodeData(p);
    const h = decodeHeader(bytes);
    expect(h).toEqual({ type: PacketType.DATA, sender: p.sender, incarnation: p.incarnation });
    const d = decodeData(bytes, h!);
    expect(d).toEqual(p);

    const carrier: DataPacket = { ...p, recovered: { ring: { rep: 2, seq: 5 }, seq: 17, sender: 9 } };
    const b2 = encodeData(carrier);
    expect(decodeData(b2, decodeHeader(b2)!)).toEqual(carrier);
  });

  it('round-trips a sealed recovery carrier and its items; rejects malformed sealed carriers', () => {
    const p = samplePacket();
    const items = encodeItems(p.items);
    expect(decodeItems(items)).toEqual({ items: p.items, hasSafe: p.hasSafe });
    expect(decodeItems(items.subarray(0, items.length - 1))).toBeUndefined();
    const sealedItems = new Uint8Array([9, 8, 7, 6, 5]);
    const carrier: DataPacket = { ...p, items: [], hasSafe: true, recovered: { ring: { rep: 2, seq: 5 }, seq: 17, sender: 9 }, sealedItems };
    const b = encodeData(carrier);
    const d = decodeData(b, decodeHeader(b)!);
    expect(d).toEqual(carrier);
    for (let n = 16; n < b.length; n++) expect(decodeData(b.subarray(0, n), decodeHeader(b)!)).toBeUndefined();
    // The sealed flag without the carrier flag is malformed.
    const plain = encodeData(p);
    const flagsAt = 16 + 4 + 8 + 8;
    const forged = plain.slice();
    forged[flagsAt] = 2;
    expect(decodeData(forged, decodeHeader(forged)!)).toBeUndefined();
  });

  it('rejects every truncation and any trailing byte', () => {
    const bytes = encodeData(samplePacket());
    for (let n = 0; n < bytes.length; n++) {
      const cut = bytes.subarray(0, n);
      const h = decodeHeader(cut);
      if (h) expect(decodeData(cut, h)).toBeUndefined();
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(decodeData(longer, decodeHeader(longer)!)).toBeUndefined();
  });

  it('rejects bad magic, version, type, service level, fragment flags and seq 0', () => {
    const bytes = encodeData(samplePacket());
    const bad = (mutate: (b: Uint8Array) => void): boolean => {
      const b = bytes.slice();
      mutate(b);
      const h = decodeHeader(b);
      return h === undefined || decodeData(b, h) === undefined;
    };
    expect(bad((b) => (b[0] = 0x00))).toBe(true);
    expect(bad((b) => (b[1] = 2))).toBe(true);
    expect(bad((b) => (b[2] = 9))).toBe(true);
    expect(bad((b) => (b[DATA_FIXED_BYTES] = 0x03))).toBe(true); // service of item 0
    expect(bad((b) => (b[DATA_FIXED_BYTES + 1] = 0x07))).toBe(true); // frag flags of item 0
    expect(bad((b) => new DataView(b.buffer).setFloat64(16 + 12, 0))).toBe(true); // seq 0
    expect(bad((b) => new DataView(b.buffer).setFloat64(16 + 12, 1.5))).toBe(true); // non-integer seq
    expect(bad((b) => new DataView(b.buffer).setUint16(DATA_FIXED_BYTES + 6, 0xffff))).toBe(true); // item length lies
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (arr) => {
        const h = decodeHeader(arr);
        if (h) {
          decodeData(arr, h);
          decodeToken(arr);
        }
      }),
      { numRuns: 2000 },
    );
    // Valid header, random body.
    const head = encodeData(samplePacket()).subarray(0, 16);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (body) => {
        const b = new Uint8Array(16 + body.length);
        b.set(head);
        b.set(body, 16);
        const h = decodeHeader(b)!;
        decodeData(b, h);
        decodeToken(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses packets larger than a datagram', () => {
    const big = new Uint8Array(70000);
    big.set(encodeData(samplePacket()));
    expect(decodeHeader(big)).toBeUndefined();
  });
});

describe('regular token', () => {
  it('round-trips with and without an aru setter', () => {
    const t = sampleToken();
    const b = encodeToken(t, 5, 10);
    expect(decodeHeader(b)).toEqual({ type: PacketType.TOKEN, sender: 5, incarnation: 10 });
    expect(decodeToken(b)).toEqual(t);
    const t2 = { ...sampleToken(), aruId: undefined, rtr: [] };
    expect(decodeToken(encodeToken(t2, 5, 10))).toEqual(t2);
  });

  it('rejects truncation, aru above seq, and requests beyond seq', () => {
    const b = encodeToken(sampleToken(), 5, 10);
    for (let n = 16; n < b.length; n++) expect(decodeToken(b.subarray(0, n))).toBeUndefined();
    expect(decodeToken(encodeToken({ ...sampleToken(), aru: 501 }, 5, 10))).toBeUndefined();
    expect(decodeToken(encodeToken({ ...sampleToken(), rtr: [501] }, 5, 10))).toBeUndefined();
    expect(decodeToken(encodeToken({ ...sampleToken(), rtr: [0] }, 5, 10))).toBeUndefined();
  });
});
