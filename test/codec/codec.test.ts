import { describe, expect, it } from 'vitest';
import {
  MessageReader,
  MessageType,
  ProtocolError,
  decodeHeader,
  decodeMessage,
  encodeMessage,
  encodeRejectMessage,
  hintEndianMismatch,
  hintMessType,
  makeHint,
  normaliseFrame,
  parsePrivateGroupName,
  isValidGroupName,
  isValidPrivateName,
} from '../../src/session/index.js';

/** A frame as a big-endian libspread would write it (§4.3 probe: mess_type 0x1234 to grp1). */
function bigEndianFrame(): Buffer {
  const f = Buffer.alloc(48 + 32 + 3);
  f.writeUInt32BE(MessageType.AGREED_MESS, 0);
  f.write('#bee#d1', 4, 'latin1');
  f.writeInt32BE(1, 36);
  f.writeUInt32BE((0x1234 << 8) >>> 0, 40);
  f.writeInt32BE(3, 44);
  f.write('grp1', 48, 'latin1');
  f.write('abc', 80, 'latin1');
  return f;
}

describe('codec', () => {
  it('reads a big-endian writer and normalises to little-endian with the hint untouched', () => {
    const be = bigEndianFrame();
    const h = decodeHeader(be);
    expect(h).toMatchObject({ type: MessageType.AGREED_MESS, sender: '#bee#d1', numGroups: 1, dataLen: 3, littleEndian: false });
    const le = normaliseFrame(be);
    expect(Buffer.from(le.subarray(0, 4))).toEqual(Buffer.from([0x90, 0x00, 0x00, 0x80]));
    expect(Buffer.from(le.subarray(40, 44))).toEqual(Buffer.from([0x00, 0x12, 0x34, 0x00]));
    const m = decodeMessage(le, 'client-to-daemon');
    expect(m.groups).toEqual(['grp1']);
    expect(Buffer.from(m.data).toString()).toBe('abc');
    expect(hintEndianMismatch(m.header.hint)).toBe(true);
    expect(hintMessType(m.header.hint)).toBe(0x1234);
  });

  it('makes and reads hints, including negative mess_type', () => {
    expect(makeHint(1)).toBe(0x80000180);
    expect(hintMessType(makeHint(-1))).toBe(-1);
    expect(hintEndianMismatch(makeHint(7))).toBe(false);
  });

  it('refuses a garbled endian marker', () => {
    const f = encodeMessage({ type: MessageType.AGREED_MESS, sender: '#a#d', groups: ['g'], data: new Uint8Array(0) });
    f[3] = 0x00;
    expect(() => decodeHeader(f)).toThrow(ProtocolError);
  });

  it('reassembles frames from any segmentation', () => {
    const frames = [0, 1, 5, 1000].map((n, i) =>
      encodeMessage({ type: MessageType.FIFO_MESS, sender: '#a#d1', groups: ['g1', 'g2'].slice(0, (i % 2) + 1), data: Buffer.alloc(n, i) }),
    );
    const all = Buffer.concat(frames);
    for (const step of [1, 7, 48, 4096]) {
      const r = new MessageReader({ direction: 'client-to-daemon' });
      const got: Buffer[] = [];
      for (let i = 0; i < all.length; i += step) {
        r.push(all.subarray(i, i + step));
        for (let m = r.next(); m; m = r.next()) got.push(Buffer.from(m.frame));
      }
      expect(got).toEqual(frames);
    }
  });

  it('enforces the client body limit exactly at 144000 bytes', () => {
    const ok = Buffer.alloc(48);
    ok.writeUInt32LE((MessageType.AGREED_MESS | MessageType.ENDIAN_MARKER) >>> 0, 0);
    ok.writeInt32LE(100, 36);
    ok.writeUInt32LE(makeHint(0), 40);
    ok.writeInt32LE(144000 - 3200, 44);
    const r = new MessageReader({ direction: 'client-to-daemon' });
    r.push(ok);
    expect(r.next()).toBeUndefined(); // header fine, body pending
    const bad = Buffer.from(ok);
    bad.writeInt32LE(144000 - 3200 + 1, 44);
    const r2 = new MessageReader({ direction: 'client-to-daemon' });
    r2.push(bad);
    expect(() => r2.next()).toThrow(/MESSAGE_TOO_LONG|exceeds/);
    const many = Buffer.from(ok);
    many.writeInt32LE(101, 36);
    many.writeInt32LE(0, 44);
    const r3 = new MessageReader({ direction: 'client-to-daemon' });
    r3.push(many);
    expect(() => r3.next()).toThrow(ProtocolError);
  });

  it('builds reject messages as §7.5 describes', () => {
    const join = decodeMessage(
      encodeMessage({ type: MessageType.JOIN_MESS | MessageType.SELF_DISCARD, sender: '#a#d1', groups: ['g'], data: new Uint8Array(0) }),
      'client-to-daemon',
    );
    const rej = decodeMessage(encodeRejectMessage(join, '#a#d1'), 'daemon-to-client');
    expect(rej.header.type).toBe(MessageType.REJECT_MESS | MessageType.SELF_DISCARD);
    expect(rej.oldType).toBe(MessageType.CAUSED_BY_JOIN);
    expect(rej.groups).toEqual(['g', '#a#d1']);
  });

  it('validates names as libspread does', () => {
    expect(isValidGroupName('grp1')).toBe(true);
    expect(isValidGroupName('#x#d')).toBe(false);
    expect(isValidGroupName('a'.repeat(32))).toBe(false);
    expect(isValidGroupName('a b')).toBe(false);
    expect(isValidPrivateName('abcdefghij')).toBe(true);
    expect(isValidPrivateName('abcdefghijk')).toBe(false);
    expect(parsePrivateGroupName('#alice#d1')).toEqual({ name: 'alice', daemon: 'd1' });
    expect(parsePrivateGroupName('grp1')).toBeUndefined();
    expect(parsePrivateGroupName('#a#b#c')).toBeUndefined();
  });
});
