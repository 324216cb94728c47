/**
 * Random input through the session machine and the codec's MessageReader: the machine must never
 * throw, the reader must throw nothing but ProtocolError, and the machine's outputs keep their
 * invariants. 100,000+ cases in all.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientSession, type SessionHost, type SessionRequest } from '../../src/session/machine.js';
import { MessageReader, ProtocolError, decodeMessage } from '../../src/session/codec.js';
import * as V from './vectors.js';

function host(): SessionHost {
  const names = new Set<string>();
  let n = 0;
  return {
    daemonName: 'd1',
    allowedAuthMethods: ['NULL', 'IP'],
    requiredAuthMethods: [],
    peer: { kind: 'tcp', address: '10.0.0.1' },
    tryReserveName: (x) => !names.has(x) && (names.add(x), true),
    assignName: () => `r${n++}-1`,
    authenticate: (m) => (m.includes('IP') ? 'denied' : 'ok'),
  };
}

function openSession(): ClientSession {
  const s = new ClientSession(host());
  s.receive(V.concat(V.aliceConnect, V.authChoiceNull));
  while (s.pollOutput()) {
    /* handshake */
  }
  return s;
}

/** A cheap assertion for the hot loops (vitest's expect costs more than the code under test). */
function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`invariant broken: ${what}`);
}

function sameStrings(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Splits `bytes` at the given fractions. */
function segment(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Feeds, drains and checks the machine's invariants; returns the requests. */
function drive(s: ClientSession, segments: Uint8Array[]): SessionRequest[] {
  const reqs: SessionRequest[] = [];
  for (const seg of segments) {
    s.receive(seg);
    for (let o = s.pollOutput(); o; o = s.pollOutput()) check(o.length > 0, 'non-empty output');
    for (let r = s.pollRequest(); r; r = s.pollRequest()) reqs.push(r);
  }
  s.end();
  for (let r = s.pollRequest(); r; r = s.pollRequest()) reqs.push(r);
  check(s.state === 'closed', 'closed after end()');
  const kills = reqs.filter((r) => r.kind === 'kill').length;
  check(kills === (s.opened ? 1 : 0), 'exactly one kill iff the session was open');
  if (kills === 1) check(reqs[reqs.length - 1]?.kind === 'kill', 'kill is the last request');
  for (const r of reqs) {
    if (r.kind === 'data') {
      check([1, 2, 4, 8, 16, 32].includes(r.service), 'one service level');
      check(r.groups.length <= 100, 'at most 100 groups');
      const f = Buffer.from(r.frame.buffer, r.frame.byteOffset, r.frame.byteLength);
      check((f.readUInt32LE(0) & 0x80000080) >>> 0 === 0x80000080, 'frame normalised little-endian');
      check(f.length === 48 + 32 * f.readInt32LE(36) + f.readInt32LE(44), 'frame length matches its header');
      check(f.length - 48 <= 144000, 'body within 144000');
      check(sameStrings(decodeMessage(r.frame, 'client-to-daemon').groups, r.groups), 'groups as the codec reads them');
    } else if (r.kind === 'join' || r.kind === 'leave') {
      check(/^[\x24-\x7e]{1,31}$/.test(r.group), 'valid group name');
    }
  }
  return reqs;
}

function readAll(direction: 'client-to-daemon' | 'daemon-to-client', segments: Uint8Array[]): number {
  const reader = new MessageReader({ direction });
  let frames = 0;
  try {
    for (const seg of segments) {
      reader.push(seg);
      for (let m = reader.next(); m; m = reader.next()) {
        frames++;
        check(m.frame.length === 48 + (m.oldType === undefined ? 0 : 4) + 32 * m.groups.length + m.data.length, 'reader frame length');
      }
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
  }
  return frames;
}

const validName = fc.stringMatching(/^[\x24-\x7e]{1,31}$/);
const nameSlot = fc.oneof(
  validName.map((n) => V.nameField(n)),
  fc.constant(V.nameField('#alice#d1')),
  fc.constant(V.nameField('#bob#d1')),
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
);

const typeBits = fc.oneof(
  fc.constantFrom(0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x50, 0x60, 0x10000, 0x20000, 0x40000),
  fc.constantFrom(0x30, 0x10010, 0x30000, 0x400010, 0x1010, 0, 0x40, 0x4000),
  fc.integer({ min: 0, max: 0x7fffffff }),
);

interface FrameSpec {
  type: number;
  endian: 'le' | 'be' | 'garbled';
  sender: Uint8Array;
  numGroups: number;
  hint: number;
  dataLen: number;
  groups: Uint8Array[];
  data: Uint8Array;
  tail: Uint8Array;
}

const frameSpec: fc.Arbitrary<FrameSpec> = fc.record({
  type: typeBits,
  endian: fc.constantFrom<'le' | 'be' | 'garbled'>('le', 'le', 'le', 'be', 'garbled'),
  sender: fc.oneof(fc.constant(V.nameField('#alice#d1')), fc.constant(V.nameField('#alice#d1')), nameSlot),
  numGroups: fc.oneof(
    { arbitrary: fc.constant(1), weight: 2 },
    { arbitrary: fc.integer({ min: 0, max: 3 }), weight: 2 },
    { arbitrary: fc.constantFrom(-1, 100, 101, 0x7fffffff, -0x80000000), weight: 1 },
  ),
  hint: fc.oneof(fc.constant(0x80000080), fc.constant(0x80012380), fc.integer({ min: 0, max: 0xffffffff })),
  dataLen: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(-1, 143968, 143969, 144000, 0x7fffffff)),
  groups: fc.array(fc.oneof({ arbitrary: validName.map((n) => V.nameField(n)), weight: 3 }, { arbitrary: nameSlot, weight: 1 }), {
    maxLength: 3,
  }),
  data: fc.uint8Array({ maxLength: 40 }),
  tail: fc.uint8Array({ maxLength: 24 }),
});

function buildFrame(f: FrameSpec): Uint8Array {
  const h = Buffer.alloc(48);
  const marked = (f.type | 0x80000080) >>> 0;
  if (f.endian === 'le') h.writeUInt32LE(marked, 0);
  else if (f.endian === 'be') h.writeUInt32BE(f.type & ~0x80000080 & 0xffffffff, 0);
  else h.writeUInt32LE(((f.type & ~0x80000000) | 0x80) >>> 0, 0);
  h.set(f.sender, 4);
  const le = f.endian !== 'be';
  if (le) {
    h.writeInt32LE(f.numGroups, 36);
    h.writeInt32LE(f.dataLen, 44);
  } else {
    h.writeInt32BE(f.numGroups, 36);
    h.writeInt32BE(f.dataLen, 44);
  }
  h.writeUInt32LE(f.hint >>> 0, 40);
  // Bodies consistent with the header where the header is small; otherwise just some tail bytes.
  if (f.numGroups >= 0 && f.numGroups <= 3 && f.dataLen >= 0 && f.dataLen <= 40) {
    const groups: Uint8Array[] = [];
    for (let i = 0; i < f.numGroups; i++) groups.push(f.groups[i] ?? V.nameField(`g${i}`));
    const data = new Uint8Array(f.dataLen);
    data.set(f.data.subarray(0, f.dataLen));
    return V.concat(h, ...groups, data);
  }
  return V.concat(h, f.tail);
}

const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });

describe('fuzz: session machine and message reader', () => {
  it('structured frames after the handshake (60,000 cases)', () => {
    const seen = { data: 0, join: 0, leave: 0, invalid: 0, frames: 0 };
    fc.assert(
      fc.property(fc.array(frameSpec, { minLength: 1, maxLength: 4 }), cuts, (specs, cutPoints) => {
        const bytes = V.concat(...specs.map(buildFrame));
        const segments = segment(bytes, cutPoints);
        const s = openSession();
        for (const r of drive(s, segments)) if (r.kind !== 'kill') seen[r.kind]++;
        if (s.closeReason?.kind === 'invalid-header') seen.invalid++;
        seen.frames += readAll('client-to-daemon', segments);
        readAll('daemon-to-client', segments);
      }),
      { numRuns: 60_000 },
    );
    // The generator reaches every path: accepted requests of each kind, kills, and decoded frames.
    expect(seen.data).toBeGreaterThan(1000);
    expect(seen.join).toBeGreaterThan(50);
    expect(seen.leave).toBeGreaterThan(50);
    expect(seen.invalid).toBeGreaterThan(1000);
    expect(seen.frames).toBeGreaterThan(1000);
  }, 60_000);

  it('random bytes after the handshake (20,000 cases)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), cuts, (bytes, cutPoints) => {
        const segments = segment(bytes, cutPoints);
        drive(openSession(), segments);
        readAll('client-to-daemon', segments);
        readAll('daemon-to-client', segments);
      }),
      { numRuns: 20_000 },
    );
  }, 60_000);

  it('random handshakes (25,000 cases)', () => {
    const prefix = fc.oneof(
      fc.constant(new Uint8Array(0)),
      fc.constant(V.hex('05 00 01 01')),
      fc.constant(V.hex('03 0d 01')),
      fc.constant(V.aliceConnect),
      fc.constant(V.concat(V.aliceConnect, V.authChoiceNull)),
      fc.constant(V.randomConnect),
    );
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 200 }), cuts, (p, bytes, cutPoints) => {
        const s = new ClientSession(host());
        drive(s, segment(V.concat(p, bytes), cutPoints));
        if (s.closeReason?.kind === 'rejected') check([-5, -6, -7, -9].includes(s.closeReason.code), 'reject code on the wire');
      }),
      { numRuns: 25_000 },
    );
  }, 60_000);
});
