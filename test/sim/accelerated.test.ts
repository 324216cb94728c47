/**
 * Accelerated Ring (Babay and Amir, ICDCS 2016): the token leaves before the last new packets of
 * a visit, and the engine stays EVS-correct with it on (a sweep with acceleration forced on).
 */
import { describe, expect, it } from 'vitest';
import { TotemNode } from '../../src/membership/index.js';
import { decodeData, decodeHeader, decodeToken, PacketType } from '../../src/ring/wire.js';
import { buildOptions, drawAcceleratedWindow } from '../../src/sim/runner.js';
import { totemEngineFactory } from '../../src/sim/engine.js';
import { Service } from '../../src/util/service.js';
import type { DaemonId } from '../../src/util/ids.js';
import { Harness, checkEvs } from '../membership/harness.js';
import { sweepSeeds } from './sweep-helper.js';

const IDS: DaemonId[] = [11, 22, 33];

interface Visit {
  sender: DaemonId;
  tokenSeq: number;
  /** Data packets of this visit's sender with seq ≤ the token's seq, sent before / after the token. */
  before: number;
  after: number;
  /** When the token left (post-token packets leave in the same pass, at the same time). */
  atMs: number;
}

/**
 * Runs a loaded 3-daemon ring and returns, for every token pass seen on the wire, how many of the
 * holder's own new packets (up to the token's seq) went out before and after the token. The
 * harness calls dropIf in send order, so it sees each daemon's transmit queue as sent.
 */
function observeVisits(acceleratedWindowPacketsMax: number, loss = 0): { visits: Visit[]; h: Harness } {
  const h = new Harness({ ids: IDS, seed: 7, latencyMs: 1, jitterMs: 0.5, loss, overrides: { acceleratedWindowPacketsMax } });
  // Per sender: the data seqs it broadcast to its successor since its last token, and the open visit.
  const pending = new Map<DaemonId, number[]>();
  const open = new Map<DaemonId, Visit>();
  const visits: Visit[] = [];
  const successor = (id: DaemonId): DaemonId => IDS[(IDS.indexOf(id) + 1) % IDS.length] as DaemonId;
  h.dropIf = (from, to, bytes) => {
    if (to !== successor(from)) return false;
    const hd = decodeHeader(bytes);
    if (!hd) return false;
    if (hd.type === PacketType.TOKEN) {
      const t = decodeToken(bytes);
      if (!t) return false;
      const mine = pending.get(from) ?? [];
      const v: Visit = { sender: from, tokenSeq: t.seq, before: mine.filter((s) => s <= t.seq).length, after: 0, atMs: h.now };
      pending.set(from, []);
      open.set(from, v);
      visits.push(v);
    } else if (hd.type === PacketType.DATA && hd.sender === from) {
      const p = decodeData(bytes, hd);
      if (!p || p.recovered) return false;
      const v = open.get(from);
      // A packet sent in the same pass as the token, with a seq the token already carried, was
      // held back past it (retransmissions go out on later visits, before the token).
      if (v && v.atMs === h.now && p.seq <= v.tokenSeq) v.after++;
      else pending.set(from, [...(pending.get(from) ?? []), p.seq]);
    }
    return false;
  };
  h.startAll();
  h.run(1500);
  for (const id of IDS) expect(h.node(id).status().members).toEqual(IDS);
  const enc = new TextEncoder();
  for (let i = 0; i < 400; i++) {
    const id = IDS[i % IDS.length] as DaemonId;
    h.submit(id, { service: i % 5 === 0 ? Service.SAFE : Service.AGREED, stream: 1, payload: enc.encode(`m${i}-${'x'.repeat(900)}`) });
  }
  h.run(6000);
  return { visits, h };
}

describe('Accelerated Ring send order', () => {
  it('passes the token before the last packets of a visit, never more than the window after it', () => {
    const { visits, h } = observeVisits(5);
    const accelerated = visits.filter((v) => v.after > 0);
    expect(accelerated.length).toBeGreaterThan(10);
    for (const v of visits) expect(v.after).toBeLessThanOrEqual(5);
    // Full visits (more than the window): exactly the window goes after the token.
    expect(visits.some((v) => v.before > 0 && v.after === 5)).toBe(true);
    // Nothing is lost here: packets still in flight behind a token are never requested again.
    for (const id of IDS) expect(h.node(id).stats().retransmissions).toBe(0);
    expect(checkEvs(h)).toEqual([]);
    for (const id of IDS) expect(h.messages(id)).toHaveLength(400);
    expect(h.messages(22)).toEqual(h.messages(11));
    expect(h.messages(33)).toEqual(h.messages(11));
  });

  it('sends every packet before the token with a window of 0 (plain Totem)', () => {
    const { visits, h } = observeVisits(0);
    expect(visits.some((v) => v.before > 0)).toBe(true);
    for (const v of visits) expect(v.after).toBe(0);
    expect(checkEvs(h)).toEqual([]);
    for (const id of IDS) expect(h.messages(id)).toHaveLength(400);
  });

  it('delivers everything in one order under loss with acceleration on', () => {
    const { visits, h } = observeVisits(15, 0.05);
    expect(visits.some((v) => v.after > 0)).toBe(true);
    expect(checkEvs(h)).toEqual([]);
    expect(h.node(11).stats().retransmissions + h.node(22).stats().retransmissions + h.node(33).stats().retransmissions).toBeGreaterThan(0);
    for (const id of IDS) expect(h.messages(id)).toHaveLength(400);
    expect(h.messages(22)).toEqual(h.messages(11));
    expect(h.messages(33)).toEqual(h.messages(11));
  });

  it('refuses a window larger than the personal window', () => {
    const h = new Harness({ ids: IDS });
    expect(() => new TotemNode({ ...h.options(11), acceleratedWindowPacketsMax: 21 })).toThrow(/acceleratedWindowPacketsMax/);
  });
});

describe('Accelerated Ring in the simulator', () => {
  it('the seeded mix draws acceleration on for some seeds and off for others', () => {
    const windows = Array.from({ length: 200 }, (_, s) => buildOptions(s, {}, totemEngineFactory).acceleratedWindowPacketsMax ?? 0);
    const on = windows.filter((w) => w > 0).length;
    expect(on).toBeGreaterThan(50);
    expect(on).toBeLessThan(150);
    for (let s = 0; s < 200; s++) expect(windows[s]).toBe(drawAcceleratedWindow(s, 20));
    expect(buildOptions(3, { acceleratedWindowPacketsMax: 0 }, totemEngineFactory).acceleratedWindowPacketsMax).toBe(0);
  });

  it('sweep: seeds 6000..6099 with acceleration forced on', () => sweepSeeds(6000, 6099, { acceleratedWindowPacketsMax: 15 }), 120_000);
});
