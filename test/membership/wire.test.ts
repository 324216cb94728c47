import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeCommit, decodeJoin, decodeProbe, encodeCommit, encodeJoin, encodeProbe, type CommitToken, type JoinMessage } from '../../src/membership/wire.js';
import { decodeHeader, PacketType } from '../../src/ring/wire.js';

const join: JoinMessage = {
  ring: { rep: 3, seq: 1_700_000_000_005 },
  ringSeqMax: 1_700_000_000_009,
  leave: false,
  procs: new Map([
    [3, 11],
    [9, 1_700_000_000_000],
    [0xffffffff, 2],
  ]),
  fails: new Set([9]),
};

const commit: CommitToken = {
  ring: { rep: 3, seq: 20 },
  tokenSeq: 4,
  rotation: 2,
  members: [
    { id: 3, incarnation: 1, filled: true, oldRing: { rep: 3, seq: 10 }, oldAru: 5, oldHigh: 9, oldSafe: 4, oldDelivered: 5, form: new Uint8Array([1, 2, 3]), sealed: new Uint8Array([4, 5]) },
    { id: 9, incarnation: 2, filled: false, oldRing: { rep: 0, seq: 0 }, oldAru: 0, oldHigh: 0, oldSafe: 0, oldDelivered: 0, form: new Uint8Array(0), sealed: new Uint8Array(0) },
  ],
};

describe('membership packets', () => {
  it('join round-trips and is rejected when truncated or padded', () => {
    const b = encodeJoin(join, 3, 11);
    expect(decodeHeader(b)?.type).toBe(PacketType.JOIN);
    expect(decodeJoin(b)).toEqual(join);
    for (let n = 16; n < b.length; n++) expect(decodeJoin(b.subarray(0, n))).toBeUndefined();
    const padded = new Uint8Array(b.length + 1);
    padded.set(b);
    expect(decodeJoin(padded)).toBeUndefined();
  });

  it('join with a duplicated processor is rejected', () => {
    const b = encodeJoin({ ...join, procs: new Map([[3, 1], [4, 1]]) }, 3, 1);
    // Overwrite the second id with the first.
    const dv = new DataView(b.buffer, b.byteOffset);
    const firstId = 16 + 12 + 8 + 1 + 2;
    dv.setUint32(firstId + 12, dv.getUint32(firstId));
    expect(decodeJoin(b)).toBeUndefined();
  });

  it('probe round-trips', () => {
    const b = encodeProbe({ rep: 1, seq: 2 }, 1, 5);
    expect(decodeProbe(b)).toEqual({ rep: 1, seq: 2 });
    expect(decodeProbe(b.subarray(0, b.length - 1))).toBeUndefined();
  });

  it('commit token round-trips; truncation, bad rotation, unsorted members, inconsistent counters are rejected', () => {
    const b = encodeCommit(commit, 3, 1);
    expect(decodeCommit(b)).toEqual(commit);
    for (let n = 16; n < b.length; n++) expect(decodeCommit(b.subarray(0, n))).toBeUndefined();
    expect(decodeCommit(encodeCommit({ ...commit, rotation: 3 }, 3, 1))).toBeUndefined();
    expect(decodeCommit(encodeCommit({ ...commit, members: [commit.members[1]!, commit.members[0]!] }, 3, 1))).toBeUndefined();
    const badAru = { ...commit, members: [{ ...commit.members[0]!, oldAru: 10 }, commit.members[1]!] };
    expect(decodeCommit(encodeCommit(badAru, 3, 1))).toBeUndefined();
    const bigForm = { ...commit, members: [{ ...commit.members[0]!, form: new Uint8Array(1025) }, commit.members[1]!] };
    expect(decodeCommit(encodeCommit(bigForm, 3, 1))).toBeUndefined();
    const bigSealed = { ...commit, members: [{ ...commit.members[0]!, sealed: new Uint8Array(1025) }, commit.members[1]!] };
    expect(decodeCommit(encodeCommit(bigSealed, 3, 1))).toBeUndefined();
  });

  it('decoders never throw on arbitrary bodies', () => {
    const head = encodeProbe({ rep: 1, seq: 1 }, 1, 1).subarray(0, 16);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (body) => {
        const b = new Uint8Array(16 + body.length);
        b.set(head);
        b.set(body, 16);
        decodeJoin(b);
        decodeCommit(b);
        decodeProbe(b);
      }),
      { numRuns: 3000 },
    );
  });
});
