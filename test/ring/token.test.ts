import { describe, expect, it } from 'vitest';
import { addRtr, allowedNewPackets, takeServableRtr, updateTokenAru } from '../../src/ring/token.js';
import type { RegularToken } from '../../src/ring/wire.js';

function token(over: Partial<RegularToken> = {}): RegularToken {
  return { ring: { rep: 1, seq: 1 }, tokenSeq: 1, seq: 10, aru: 10, aruId: undefined, fcc: 0, backlog: 0, rotation: 0, doneCount: 0, rtr: [], ...over };
}

describe('Totem aru rules', () => {
  it('a processor behind lowers aru and becomes the setter', () => {
    const t = token({ aru: 8, aruId: 3 });
    updateTokenAru(t, 2, 5);
    expect(t).toMatchObject({ aru: 5, aruId: 2 });
  });

  it('a processor ahead leaves someone else’s aru alone', () => {
    const t = token({ aru: 5, aruId: 3 });
    updateTokenAru(t, 2, 9);
    expect(t).toMatchObject({ aru: 5, aruId: 3 });
  });

  it('the setter raises aru when it catches up, and clears itself at seq', () => {
    const t = token({ aru: 5, aruId: 2 });
    updateTokenAru(t, 2, 7);
    expect(t).toMatchObject({ aru: 7, aruId: 2 });
    updateTokenAru(t, 2, 10);
    expect(t).toMatchObject({ aru: 10, aruId: undefined });
  });

  it('with no setter, the holder’s aru is taken', () => {
    const t = token({ seq: 20, aru: 10, aruId: undefined });
    updateTokenAru(t, 4, 20);
    expect(t).toMatchObject({ aru: 20, aruId: undefined });
    const u = token({ seq: 20, aru: 10, aruId: undefined });
    updateTokenAru(u, 4, 15);
    expect(u).toMatchObject({ aru: 15, aruId: 4 });
  });
});

describe('retransmission requests', () => {
  it('serves what it has and keeps the rest', () => {
    const t = token({ rtr: [3, 4, 5, 6] });
    const served = takeServableRtr(t, (s) => s % 2 === 0, 10);
    expect(served).toEqual([4, 6]);
    expect(t.rtr).toEqual([3, 5]);
  });

  it('serves at most the limit', () => {
    const t = token({ rtr: [1, 2, 3, 4] });
    expect(takeServableRtr(t, () => true, 2)).toEqual([1, 2]);
    expect(t.rtr).toEqual([3, 4]);
  });

  it('adds missing seqs without duplicates and within the bound', () => {
    const t = token({ rtr: [4] });
    addRtr(t, [3, 4, 5, 6, 7], 4);
    expect(t.rtr).toEqual([4, 3, 5, 6]);
  });
});

describe('flow control', () => {
  const base = {
    tokenFcc: 0,
    myPreviousFcc: 0,
    retransmitted: 0,
    tokenBacklog: 0,
    myPreviousBacklog: 0,
    myBacklog: 100,
    windowPacketsMax: 160,
    personalWindowPacketsMax: 20,
    seq: 0,
    aru: 0,
    outstandingPacketsMax: 480,
  };
  it('honours the personal window', () => {
    expect(allowedNewPackets(base)).toBe(20);
  });
  it('honours the window over a rotation, counting others and retransmissions', () => {
    expect(allowedNewPackets({ ...base, tokenFcc: 150, myPreviousFcc: 0 })).toBe(10);
    expect(allowedNewPackets({ ...base, tokenFcc: 150, myPreviousFcc: 20 })).toBe(20);
    expect(allowedNewPackets({ ...base, tokenFcc: 150, retransmitted: 8 })).toBe(2);
    expect(allowedNewPackets({ ...base, tokenFcc: 170 })).toBe(0);
  });
  it('shares a contended window by backlog', () => {
    expect(allowedNewPackets({ ...base, myBacklog: 10, tokenBacklog: 1590, personalWindowPacketsMax: 100 })).toBe(1);
  });
  it('never runs far ahead of the aru and sends nothing without backlog', () => {
    expect(allowedNewPackets({ ...base, seq: 475, aru: 0 })).toBe(5);
    expect(allowedNewPackets({ ...base, myBacklog: 0 })).toBe(0);
  });
});
