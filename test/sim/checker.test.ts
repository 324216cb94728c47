import { describe, expect, it } from 'vitest';
import { checkHistory, SPREAD_SERVICE_GUARANTEES, type CheckOptions, type PropertyName } from '../../src/sim/checker.js';
import type { DeliveryEvent, History, IncarnationEvent, IncarnationHistory } from '../../src/sim/history.js';
import { messageId } from '../../src/sim/payload.js';
import type { DaemonId, RingId } from '../../src/util/ids.js';
import { Service, type ServiceLevel } from '../../src/util/service.js';

const A: DaemonId = 0x0a000001;
const B: DaemonId = 0x0a000002;
const C: DaemonId = 0x0a000003;

interface Msg {
  id: string;
  service: ServiceLevel;
  sender: DaemonId;
  stream: number;
  seq: number;
}

let seqCounter = 0;
function msg(sender: DaemonId, stream: number, counter: number, service: ServiceLevel): Msg {
  return { id: messageId({ daemon: sender, incarnation: 1, stream, counter }), service, sender, stream, seq: ++seqCounter };
}

// The messages of the baseline history (see `baseline`).
const a1 = msg(A, 0, 0, Service.AGREED);
const b1 = msg(B, 0, 0, Service.SAFE);
const c1 = msg(C, 0, 0, Service.FIFO);
const a2 = msg(A, 0, 1, Service.CAUSAL);
const c2 = msg(C, 1, 0, Service.AGREED);
const c3 = msg(C, 0, 1, Service.FIFO);
const s1 = msg(A, 2, 0, Service.SAFE);
const b2 = msg(B, 0, 1, Service.AGREED);

let clock = 0;

class Inc {
  readonly h: IncarnationHistory;
  private ring: RingId | undefined;
  private delivered = 0;
  constructor(history: History, daemon: DaemonId, incarnation = 1) {
    this.h = { daemon, incarnation, startedAtMs: ++clock, events: [] };
    history.incarnations.push(this.h);
  }
  reg(rep: DaemonId, seq: number, members: DaemonId[], previousRings?: [DaemonId, RingId][]): this {
    this.ring = { rep, seq };
    this.h.events.push({
      kind: 'config',
      atMs: ++clock,
      type: 'regular',
      ring: this.ring,
      members,
      ...(previousRings ? { previousRings: previousRings.map(([daemon, ring]) => ({ daemon, ring })) } : {}),
    });
    return this;
  }
  trans(rep: DaemonId, seq: number, prev: RingId, members: DaemonId[]): this {
    this.ring = { rep, seq };
    this.h.events.push({ kind: 'config', atMs: ++clock, type: 'transitional', ring: this.ring, previous: prev, members });
    return this;
  }
  del(...ms: Msg[]): this {
    for (const m of ms) {
      this.h.events.push({ kind: 'deliver', atMs: ++clock, ring: this.ring!, seq: m.seq, sender: m.sender, stream: m.stream, service: m.service, messageId: m.id });
      this.delivered++;
    }
    return this;
  }
  sub(m: Msg): this {
    this.h.events.push({ kind: 'submit', atMs: ++clock, messageId: m.id, stream: m.stream, service: m.service, deliveredBefore: this.delivered });
    return this;
  }
}

/**
 * A correct history: A, B, C in R1; a partition into {A,B} and {C} (transitional configurations,
 * then R2 and RC2); a merge into R3 after the heal.
 */
function baseline(): { h: History; incs: Record<'A' | 'B' | 'C', Inc> } {
  clock = 0;
  const h: History = { daemons: [A, B, C], incarnations: [], faults: [], engineErrors: [], endAtMs: 0, quiescent: true, livenessBoundMs: 1000 };
  const R1 = { rep: A, seq: 1 };
  const R2 = { rep: A, seq: 2 };
  const RC2 = { rep: C, seq: 2 };
  const ia = new Inc(h, A);
  const ib = new Inc(h, B);
  const ic = new Inc(h, C);
  ia.reg(A, 1, [A, B, C]).sub(a1);
  ib.reg(A, 1, [A, B, C]).sub(b1);
  ic.reg(A, 1, [A, B, C]).sub(c1);
  ia.del(a1, b1).sub(a2).del(c1, a2);
  ic.del(a1, b1, c1).sub(c2).sub(c3).del(a2);
  ib.del(a1, b1, c1, a2);
  ia.sub(s1);
  for (const x of [ia, ib, ic]) x.del(c2, c3, s1);
  const fromR1: [DaemonId, RingId][] = [
    [A, R1],
    [B, R1],
  ];
  ia.trans(A, 2, R1, [A, B]).reg(A, 2, [A, B], fromR1);
  ib.trans(A, 2, R1, [A, B]).reg(A, 2, [A, B], fromR1);
  ic.trans(C, 2, R1, [C]).reg(C, 2, [C], [[C, R1]]);
  h.healAtMs = ++clock;
  const intoR3: [DaemonId, RingId][] = [
    [A, R2],
    [B, R2],
    [C, RC2],
  ];
  ia.trans(A, 3, R2, [A, B]).reg(A, 3, [A, B, C], intoR3);
  ib.trans(A, 3, R2, [A, B]).reg(A, 3, [A, B, C], intoR3).sub(b2);
  ic.trans(A, 3, RC2, [C]).reg(A, 3, [A, B, C], intoR3);
  for (const x of [ia, ib, ic]) x.del(b2);
  h.endAtMs = ++clock;
  return { h, incs: { A: ia, B: ib, C: ic } };
}

function indexOfDelivery(inc: Inc, m: Msg): number {
  return inc.h.events.findIndex((e) => e.kind === 'deliver' && e.messageId === m.id);
}

function removeDelivery(inc: Inc, m: Msg): void {
  const i = indexOfDelivery(inc, m);
  expect(i).toBeGreaterThanOrEqual(0);
  inc.h.events.splice(i, 1);
}

function swapDeliveries(inc: Inc, x: Msg, y: Msg): void {
  const i = indexOfDelivery(inc, x);
  const j = indexOfDelivery(inc, y);
  const ev = inc.h.events;
  const tmp = ev[i] as IncarnationEvent;
  ev[i] = ev[j] as IncarnationEvent;
  ev[j] = tmp;
}

function expectExactly(h: History, property: PropertyName, options?: CheckOptions): void {
  const r = checkHistory(h, options);
  expect(r.violated).toEqual([property]);
  expect(r.violations.length).toBeGreaterThan(0);
  for (const v of r.violations) expect(v.property).toBe(property);
}

describe('EVS checker', () => {
  it('accepts the correct baseline history', () => {
    const { h } = baseline();
    const r = checkHistory(h);
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.stats.submitted).toBe(8);
  });

  it('names configuration agreement: one configuration, two member sets', () => {
    const { h, incs } = baseline();
    const first = incs.C.h.events[0];
    if (first?.kind !== 'config') throw new Error('baseline changed');
    first.members = [A, C];
    expectExactly(h, 'configuration-agreement');
  });

  it('names configuration agreement: installing a configuration one is not a member of', () => {
    const { h, incs } = baseline();
    const t = incs.C.h.events.find((e) => e.kind === 'config' && e.type === 'transitional');
    if (t?.kind !== 'config') throw new Error('baseline changed');
    t.members = [B];
    expectExactly(h, 'configuration-agreement');
  });

  it('names configuration agreement: a transitional configuration that is not the members moving together', () => {
    const { h, incs } = baseline();
    // Every installer of R3 agrees that C came from R2 too, yet A's and B's transitional
    // configurations leave C out.
    for (const x of [incs.A, incs.B, incs.C]) {
      const r3 = x.h.events.find((e) => e.kind === 'config' && e.type === 'regular' && e.ring.seq === 3);
      if (r3?.kind !== 'config') throw new Error('baseline changed');
      r3.previousRings = [A, B, C].map((daemon) => ({ daemon, ring: { rep: A, seq: 2 } }));
    }
    const r = checkHistory(h);
    expect(r.violated).toEqual(['configuration-agreement']);
    expect(r.violations.some((v) => /transitional members/.test(v.description))).toBe(true);
  });

  it('names configuration agreement: two regular configurations without a transitional one between', () => {
    const { h, incs } = baseline();
    const ev = incs.C.h.events;
    ev.splice(ev.findIndex((e) => e.kind === 'config' && e.type === 'transitional' && e.ring.seq === 3), 1);
    const r = checkHistory(h);
    expect(r.violated).toEqual(['configuration-agreement']);
    expect(r.violations[0]?.description).toMatch(/no transitional configuration in between/);
  });

  it('names delivery in one configuration: a duplicate delivery', () => {
    const { h, incs } = baseline();
    const ev = incs.B.h.events;
    const d = ev[indexOfDelivery(incs.B, c1)] as DeliveryEvent;
    ev.splice(indexOfDelivery(incs.B, a2) + 1, 0, { ...d, atMs: d.atMs + 0.5 });
    expectExactly(h, 'delivery-in-one-configuration');
  });

  it('names delivery in one configuration: delivered in two different configurations', () => {
    const { h, incs } = baseline();
    // C delivers b2 in its own singleton configuration instead of R3 (where the others do).
    removeDelivery(incs.C, b2);
    const ev = incs.C.h.events;
    const reg = ev.findIndex((e) => e.kind === 'config' && e.type === 'regular' && e.ring.rep === C);
    ev.splice(reg + 1, 0, { kind: 'deliver', atMs: 0, ring: { rep: C, seq: 2 }, seq: b2.seq, sender: B, stream: 0, service: b2.service, messageId: b2.id });
    const r = checkHistory(h);
    expect(r.violated).toContain('delivery-in-one-configuration');
    expect(r.violations.find((v) => v.property === 'delivery-in-one-configuration')?.messages).toEqual([b2.id]);
  });

  it('names self-delivery: a surviving sender never gets its own message', () => {
    const { h, incs } = baseline();
    const a3 = msg(A, 1, 0, Service.AGREED);
    incs.A.sub(a3);
    expectExactly(h, 'self-delivery');
  });

  it('does not require self-delivery from a sender that crashed', () => {
    const { h, incs } = baseline();
    const a3 = msg(A, 1, 0, Service.AGREED);
    incs.A.sub(a3);
    incs.A.h.endedAtMs = ++clock;
    incs.A.h.end = 'crash';
    h.healAtMs = undefined;
    expect(checkHistory(h).violated).toEqual([]);
  });

  it('names failure atomicity: two daemons move together but delivered different messages', () => {
    const { h, incs } = baseline();
    removeDelivery(incs.B, c2);
    expectExactly(h, 'failure-atomicity');
  });

  it('names total order: two daemons deliver two agreed messages in opposite orders', () => {
    const { h, incs } = baseline();
    swapDeliveries(incs.B, a1, b1);
    expectExactly(h, 'total-order');
  });

  it('names total order: pairwise consistent but cyclic across three daemons', () => {
    clock = 0;
    const h: History = { daemons: [A, B, C], incarnations: [], faults: [], engineErrors: [], endAtMs: 100, quiescent: false };
    const x = msg(A, 0, 0, Service.AGREED);
    const y = msg(B, 0, 0, Service.AGREED);
    const z = msg(C, 0, 0, Service.AGREED);
    new Inc(h, A).reg(A, 1, [A, B, C]).sub(x).del(x, y);
    new Inc(h, B).reg(A, 1, [A, B, C]).sub(y).del(y, z);
    new Inc(h, C).reg(A, 1, [A, B, C]).sub(z).del(z, x);
    const r = checkHistory(h);
    expect(r.violated).toEqual(['total-order']);
    expect(r.violations[0]?.description).toMatch(/no global delivery order/);
  });

  it('names causal order: a message delivered in the same configuration without a predecessor its sender had delivered', () => {
    const { h, incs } = baseline();
    // A delivered b1 before submitting a2; B never delivers b1 but delivers a2 in R1. (B also
    // then differs from A in R1 and misses a SAFE message: those are named too.)
    removeDelivery(incs.B, b1);
    const r = checkHistory(h);
    expect(r.violated).toContain('causal-order');
    expect(r.violations.find((v) => v.property === 'causal-order')?.messages).toEqual([b1.id, a2.id]);
  });

  it('names causal order: a message delivered before one its sender had delivered before sending it', () => {
    const { h, incs } = baseline();
    // A delivered b1 before submitting a2; B delivers a2 before b1.
    const ev = incs.B.h.events;
    const ib1 = indexOfDelivery(incs.B, b1);
    const [d] = ev.splice(ib1, 1);
    ev.splice(indexOfDelivery(incs.B, a2) + 1, 0, d as IncarnationEvent);
    // Spread's per-service promises: a2 is CAUSAL, outside the total order of AGREED and SAFE.
    expectExactly(h, 'causal-order', SPREAD_SERVICE_GUARANTEES);
    // By default every message is in the total order too, so both are named.
    expect(checkHistory(h).violated).toEqual(['total-order', 'causal-order']);
  });

  it('names FIFO order: two messages of one stream delivered out of order', () => {
    const { h, incs } = baseline();
    swapDeliveries(incs.B, c1, c3);
    expectExactly(h, 'fifo-order', SPREAD_SERVICE_GUARANTEES);
    expect(checkHistory(h).violated).toEqual(['total-order', 'causal-order', 'fifo-order']);
  });

  it('names safe delivery: a member that did not crash misses a SAFE message', () => {
    const { h, incs } = baseline();
    removeDelivery(incs.C, s1);
    expectExactly(h, 'safe-delivery');
  });

  it('excuses a member that crashed from safe delivery', () => {
    const { h, incs } = baseline();
    removeDelivery(incs.C, s1);
    // C crashes right after R1 and never comes back.
    const ev = incs.C.h.events;
    const cut = ev.findIndex((e) => e.kind === 'config' && e.type === 'transitional');
    ev.splice(cut);
    incs.C.h.endedAtMs = ++clock;
    incs.C.h.end = 'crash';
    h.healAtMs = undefined;
    expect(checkHistory(h).violated).toEqual([]);
  });

  it('names liveness: after the heal one daemon never joins the full configuration', () => {
    const { h, incs } = baseline();
    const ev = incs.C.h.events;
    const cut = ev.findIndex((e) => e.kind === 'config' && e.ring.seq === 3);
    ev.splice(cut);
    expectExactly(h, 'liveness');
  });

  it('names liveness: the full configuration comes after the bound', () => {
    const { h } = baseline();
    h.livenessBoundMs = 1;
    expectExactly(h, 'liveness');
  });

  it('names integrity: a delivered message nobody submitted, or a corrupted payload', () => {
    const { h, incs } = baseline();
    const ghost = msg(B, 5, 0, Service.RELIABLE);
    for (const x of [incs.A, incs.B, incs.C]) x.del(ghost);
    expectExactly(h, 'integrity');
    const second = baseline();
    const d = second.incs.A.h.events[indexOfDelivery(second.incs.A, a1)] as DeliveryEvent;
    d.payloadProblem = 'payload body corrupted at byte 3';
    expectExactly(second.h, 'integrity');
  });

  it('names engine errors', () => {
    const { h } = baseline();
    h.engineErrors.push({ atMs: 5, daemon: A, incarnation: 1, message: 'AssertionError: aru > seq' });
    h.aborted = 'engine failed';
    expectExactly(h, 'engine-error');
  });
});
