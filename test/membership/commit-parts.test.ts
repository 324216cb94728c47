import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { COMMIT_PARTS_MAX, COMMIT_REASSEMBLIES_MAX, CommitReassembler, commitPackets } from '../../src/membership/commit-parts.js';
import { decodeCommit, encodeCommit, type CommitToken } from '../../src/membership/wire.js';
import { PacketType, decodeHeader } from '../../src/ring/wire.js';

function bigToken(members: number, formBytes: number, tokenSeq = 3): CommitToken {
  return {
    ring: { rep: 1, seq: 77 },
    tokenSeq,
    rotation: 1,
    members: Array.from({ length: members }, (_, i) => ({
      id: i + 1,
      incarnation: 5,
      filled: true,
      oldRing: { rep: 1, seq: 70 },
      oldAru: 3,
      oldHigh: 4,
      oldSafe: 2,
      oldDelivered: 3,
      form: new Uint8Array(formBytes).fill(i & 0xff),
      sealed: new Uint8Array(0),
    })),
  };
}

function parts(token: CommitToken, max: number): Uint8Array[] {
  return commitPackets(encodeCommit(token, 1, 5), token.ring, token.tokenSeq, 1, 5, max)!;
}

describe('commit token parts', () => {
  it('a token that fits travels whole; a larger one in parts no larger than the packet limit', () => {
    const small = bigToken(3, 10);
    expect(parts(small, 1400)).toEqual([encodeCommit(small, 1, 5)]);
    const large = bigToken(40, 98);
    const ps = parts(large, 1400);
    expect(ps.length).toBeGreaterThan(4);
    for (const p of ps) {
      expect(p.length).toBeLessThanOrEqual(1400);
      expect(decodeHeader(p)?.type).toBe(PacketType.COMMIT_PART);
    }
  });

  it('reassembles in any order, with duplicates, into the exact token', () => {
    fc.assert(
      fc.property(fc.integer({ min: 12, max: 80 }), fc.array(fc.nat(), { minLength: 0, maxLength: 30 }), (members, order) => {
        const token = bigToken(members, 98);
        const ps = parts(token, 1400);
        const shuffled = [...ps];
        for (let i = 0; i < order.length; i++) {
          const a = order[i]! % shuffled.length;
          const b = (order[i]! >>> 3) % shuffled.length;
          [shuffled[a], shuffled[b]] = [shuffled[b]!, shuffled[a]!];
        }
        shuffled.splice(1, 0, shuffled[0]!);
        const r = new CommitReassembler();
        let complete: Uint8Array | undefined;
        for (const p of shuffled) {
          const out = r.add(decodeHeader(p)!, p);
          expect(out.malformed).toBe(false);
          if (out.complete) complete = out.complete;
        }
        expect(complete).toBeDefined();
        expect(decodeCommit(complete!)).toEqual(token);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses tokens beyond the part bound, malformed parts, and stays bounded', () => {
    const huge = bigToken(1000, 1000);
    expect(commitPackets(encodeCommit(huge, 1, 5), huge.ring, huge.tokenSeq, 1, 5, 1400)).toBeUndefined();
    const r = new CommitReassembler();
    const p = parts(bigToken(40, 98), 1400)[0]!;
    const bad = p.slice();
    bad[16 + 12 + 8 + 3] = 1; // parts = 1
    expect(r.add(decodeHeader(bad)!, bad).malformed).toBe(true);
    const tooMany = p.slice();
    tooMany[16 + 12 + 8 + 2] = 0;
    tooMany[16 + 12 + 8 + 3] = COMMIT_PARTS_MAX + 1;
    expect(r.add(decodeHeader(tooMany)!, tooMany).malformed).toBe(true);
    // Many unfinished tokens from different rings: only the newest few are kept.
    for (let seq = 0; seq < COMMIT_REASSEMBLIES_MAX * 3; seq++) {
      const t = { ...bigToken(40, 98), ring: { rep: 1, seq: 100 + seq } };
      const first = parts(t, 1400)[0]!;
      r.add(decodeHeader(first)!, first);
    }
    expect((r as unknown as { assemblies: unknown[] }).assemblies.length).toBeLessThanOrEqual(COMMIT_REASSEMBLIES_MAX);
  });

  it('a newer hop of the same forming ring replaces an unfinished older one; late parts of the older are ignored', () => {
    const r = new CommitReassembler();
    const older = parts(bigToken(40, 98, 3), 1400);
    const newer = parts(bigToken(40, 98, 5), 1400);
    r.add(decodeHeader(older[0]!)!, older[0]!);
    let complete: Uint8Array | undefined;
    for (const p of newer) complete = r.add(decodeHeader(p)!, p).complete ?? complete;
    expect(decodeCommit(complete!)!.tokenSeq).toBe(5);
    for (const p of older.slice(1)) expect(r.add(decodeHeader(p)!, p).complete).toBeUndefined();
  });
});
