import { describe, expect, it } from 'vitest';
import { TotemNode, type RingEvent } from '../../src/membership/index.js';
import { encodeData, decodeHeader, PacketType } from '../../src/ring/wire.js';
import { Harness, checkEvs, mulberry32, testTimeouts } from './harness.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function lone(over: Partial<ConstructorParameters<typeof TotemNode>[0]> = {}): TotemNode {
  return new TotemNode({
    self: 1,
    incarnation: 5,
    configured: [1, 2, 3],
    timeouts: testTimeouts,
    windowPacketsMax: 160,
    personalWindowPacketsMax: 20,
    packetBytesMax: 1400,
    pendingMessagesMax: 100,
    random: mulberry32(1),
    ...over,
  });
}

function drainEvents(n: TotemNode): RingEvent[] {
  const out: RingEvent[] = [];
  for (let e = n.pollEvent(); e; e = n.pollEvent()) out.push(e);
  return out;
}

function configs(h: Harness, id: number): string[] {
  return (h.events.get(id) ?? []).filter((e) => e.type !== 'message').map((e) => `${e.type[0]}${JSON.stringify(e.members)}`);
}

function lastRegular(h: Harness, id: number): Extract<RingEvent, { type: 'regular' }> | undefined {
  const evs = (h.events.get(id) ?? []).filter((e): e is Extract<RingEvent, { type: 'regular' }> => e.type === 'regular');
  return evs[evs.length - 1];
}

describe('singleton ring', () => {
  it('delivers every service level at once, SAFE included, without sending data', () => {
    const n = lone();
    n.start(0);
    const start = drainEvents(n);
    expect(start).toHaveLength(1);
    expect(start[0]).toMatchObject({ type: 'regular', members: [1] });
    // The start sends a merge probe only.
    const first = n.pollTransmit();
    expect(first?.to).toBe('configured');
    expect(decodeHeader(first!.bytes)?.type).toBe(PacketType.PROBE);
    expect(n.pollTransmit()).toBeUndefined();
    for (const service of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20] as const) {
      expect(n.submit(1, { service, stream: 7, payload: enc.encode(`s${service}`) })).toBe(true);
    }
    const evs = drainEvents(n);
    expect(evs.map((e) => (e.type === 'message' ? dec.decode(e.payload) : e.type))).toEqual(['s1', 's2', 's4', 's8', 's16', 's32']);
    expect(evs.every((e) => e.type === 'message' && e.stream === 7 && e.sender === 1)).toBe(true);
    expect(n.pollTransmit()).toBeUndefined();
    // Merge probes keep going.
    const t = n.pollTimeout()!;
    expect(t).toBe(testTimeouts.mergeDetectMs);
    n.handleTimeout(t);
    expect(decodeHeader(n.pollTransmit()!.bytes)?.type).toBe(PacketType.PROBE);
  });

  it('counts and drops malformed packets without throwing', () => {
    const n = lone();
    n.start(0);
    const rand = mulberry32(9);
    for (let i = 0; i < 500; i++) {
      const b = new Uint8Array(Math.floor(rand() * 200));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(rand() * 256);
      if (b.length > 2 && i % 2 === 0) {
        b[0] = 0x52;
        b[1] = 1;
        b[2] = 1 + (i % 5);
      }
      n.handlePacket(1, 2, b);
    }
    // A well-formed packet claiming to be from someone else than the sender of a token.
    const spoof = encodeData({ sender: 3, incarnation: 1, ring: { rep: 3, seq: 1 }, seq: 1, items: [{ service: 0x10, frag: 3, stream: 0, payload: new Uint8Array(1) }], hasSafe: false });
    n.handlePacket(1, 2, spoof);
    expect(n.stats().packetsMalformed).toBeGreaterThan(400);
    expect(n.status().state).toBe('operational');
  });

  it('submit refuses beyond pendingMessagesMax while no ring can take messages', () => {
    const n = lone({ pendingMessagesMax: 3 });
    // Not started: nothing is sent, the queue fills.
    expect(n.submit(0, { service: 0x10, stream: 0, payload: new Uint8Array(1) })).toBe(true);
    expect(n.submit(0, { service: 0x10, stream: 0, payload: new Uint8Array(1) })).toBe(true);
    expect(n.submit(0, { service: 0x10, stream: 0, payload: new Uint8Array(1) })).toBe(true);
    expect(n.submit(0, { service: 0x10, stream: 0, payload: new Uint8Array(1) })).toBe(false);
    n.start(0);
    expect(drainEvents(n).filter((e) => e.type === 'message')).toHaveLength(0);
    expect(n.submit(1, { service: 0x10, stream: 0, payload: new Uint8Array(1) })).toBe(false);
  });
});

describe('ring of three', () => {
  it('forms one ring with agreed order identical everywhere and SAFE delivered', () => {
    const h = new Harness({ ids: [1, 2, 3], seed: 3 });
    h.startAll();
    h.run(600);
    for (const id of [1, 2, 3]) {
      expect(h.node(id).status()).toMatchObject({ state: 'operational', members: [1, 2, 3] });
      const reg = lastRegular(h, id)!;
      expect(reg.members).toEqual([1, 2, 3]);
      expect(reg.formFields.size).toBe(3);
      expect(reg.previousRings.size).toBe(3);
    }
    let k = 0;
    for (let round = 0; round < 30; round++) {
      for (const id of [1, 2, 3]) h.submit(id, { service: round % 3 === 0 ? 0x20 : 0x10, stream: 1, payload: enc.encode(`m${id}-${k++}`) });
      h.run(h.now + 3);
    }
    h.run(h.now + 500);
    const m1 = h.messages(1);
    expect(m1).toHaveLength(90);
    expect(h.messages(2)).toEqual(m1);
    expect(h.messages(3)).toEqual(m1);
    const safe = (h.events.get(2) ?? []).filter((e) => e.type === 'message' && e.service === 0x20);
    expect(safe).toHaveLength(30);
    // One total order across service levels: seqs never go back within the configuration.
    for (const id of [1, 2, 3]) {
      const seqs = (h.events.get(id) ?? []).filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.seq : 0));
      expect(seqs.every((x, i) => i === 0 || x >= seqs[i - 1]!)).toBe(true);
    }
    expect(checkEvs(h)).toEqual([]);
  });

  it('recovers lost packets through retransmission requests', () => {
    const h = new Harness({ ids: [1, 2, 3], seed: 11, loss: 0.15, jitterMs: 2 });
    h.startAll();
    h.run(1500);
    let k = 0;
    for (let round = 0; round < 40; round++) {
      for (const id of [1, 2, 3]) h.submit(id, { service: 0x10, stream: 1, payload: enc.encode(`m${id}-${k++}`) });
      h.run(h.now + 4);
    }
    h.loss = 0;
    h.run(h.now + 3000);
    expect(checkEvs(h)).toEqual([]);
    const retrans = [1, 2, 3].reduce((n, id) => n + h.node(id).stats().retransmissions, 0);
    expect(retrans).toBeGreaterThan(0);
    for (const id of [1, 2, 3]) expect(h.node(id).status().members).toEqual([1, 2, 3]);
  });

  it('retransmits a lost token without any membership change', () => {
    const h = new Harness({ ids: [1, 2, 3], seed: 12 });
    h.startAll();
    h.run(600);
    let dropped = 0;
    h.dropIf = (from, to, bytes) => {
      if (dropped === 0 && from === 1 && to === 2 && decodeHeader(bytes)?.type === PacketType.TOKEN) {
        dropped++;
        return true;
      }
      return false;
    };
    h.submit(1, { service: 0x10, stream: 0, payload: enc.encode('after-drop') });
    h.run(h.now + 300);
    expect(dropped).toBe(1);
    expect(h.node(1).stats().tokenRetransmits).toBeGreaterThan(0);
    for (const id of [1, 2, 3]) {
      expect(h.node(id).stats().tokenLosses).toBe(0);
      expect(h.messages(id)).toEqual(['1:after-drop']);
    }
    expect(configs(h, 1).filter((c) => c.startsWith('r'))).toHaveLength(2);
  });

  it('honours the personal window and the window', () => {
    const h = new Harness({ ids: [1, 2, 3], seed: 4, overrides: { personalWindowPacketsMax: 5, windowPacketsMax: 12 } });
    h.startAll();
    h.run(600);
    const n = h.node(1);
    for (let i = 0; i < 200; i++) for (const id of [1, 2, 3]) h.submit(id, { service: 0x10, stream: 0, payload: enc.encode(`${id}-${i}-${'x'.repeat(990)}`) });
    // Count data packets each node emits between two of its token sends.
    const perVisit: number[] = [];
    const origPoll = n.pollTransmit.bind(n);
    let count = 0;
    n.pollTransmit = () => {
      const t = origPoll();
      if (t) {
        const type = decodeHeader(t.bytes)?.type;
        if (type === PacketType.DATA) count++;
        if (type === PacketType.TOKEN) {
          perVisit.push(count);
          count = 0;
        }
      }
      return t;
    };
    h.run(h.now + 300);
    expect(perVisit.length).toBeGreaterThan(10);
    expect(Math.max(...perVisit)).toBeLessThanOrEqual(5);
    expect(Math.max(...perVisit)).toBeGreaterThan(0);
    const fcc = perVisit.slice(1).reduce((a, b) => a + b, 0);
    expect(fcc).toBeGreaterThan(0);
    h.run(h.now + 2000);
    expect(checkEvs(h)).toEqual([]);
  });

  it('carries a 150 KB message to every member', () => {
    const h = new Harness({ ids: [1, 2, 3], seed: 8, loss: 0.02 });
    h.startAll();
    h.run(600);
    const big = new Uint8Array(150_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff;
    h.submit(2, { service: 0x20, stream: 9, payload: big });
    h.submit(3, { service: 0x10, stream: 1, payload: enc.encode('small') });
    h.run(h.now + 2000);
    for (const id of [1, 2, 3]) {
      const got = (h.events.get(id) ?? []).filter((e): e is Extract<RingEvent, { type: 'message' }> => e.type === 'message');
      const large = got.find((e) => e.payload.length === big.length);
      expect(large).toBeDefined();
      expect(Buffer.from(large!.payload).equals(Buffer.from(big))).toBe(true);
      expect(large!.sender).toBe(2);
      expect(large!.service).toBe(0x20);
    }
  });
});

describe('hostile input', () => {
  it('bit-flipped and truncated copies of live packets never throw and never break the ring', () => {
    const h = new Harness({ ids: [1, 2, 3], seed: 13 });
    h.startAll();
    h.run(600);
    const captured: { from: number; to: number; bytes: Uint8Array }[] = [];
    h.dropIf = (from, to, bytes) => {
      if (captured.length < 400) captured.push({ from, to, bytes: bytes.slice() });
      return false;
    };
    for (let i = 0; i < 30; i++) h.submit(1 + (i % 3), { service: i % 2 ? 0x20 : 0x10, stream: 0, payload: enc.encode(`x${i}`) });
    h.run(h.now + 200);
    h.dropIf = undefined;
    expect(captured.length).toBeGreaterThan(20);
    const rand = mulberry32(77);
    for (const c of captured) {
      for (let k = 0; k < 5; k++) {
        const b = c.bytes.slice(0, rand() < 0.3 ? Math.floor(rand() * c.bytes.length) : c.bytes.length);
        if (b.length > 0) {
          const at = Math.floor(rand() * b.length);
          // Leave the header alone half the time so the body decoders are exercised.
          if (at >= 16 || rand() < 0.5) b[at] = (b[at]! ^ (1 << Math.floor(rand() * 8))) & 0xff;
        }
        expect(() => h.node(c.to).handlePacket(h.now, c.from, b)).not.toThrow();
      }
    }
    for (let i = 30; i < 60; i++) h.submit(1 + (i % 3), { service: 0x10, stream: 0, payload: enc.encode(`x${i}`) });
    h.run(h.now + 3000);
    for (const id of [1, 2, 3]) expect(h.node(id).status().members).toEqual([1, 2, 3]);
    expect(checkEvs(h)).toEqual([]);
    const dropped = [1, 2, 3].reduce((n, id) => n + h.node(id).stats().packetsMalformed, 0);
    expect(dropped).toBeGreaterThan(0);
  });
});

describe('membership changes', () => {
  it('a crash gives the survivors a transitional then a regular configuration with the same messages', () => {
    const h = new Harness({ ids: [1, 2, 3], seed: 5 });
    h.startAll();
    h.run(600);
    let k = 0;
    for (let round = 0; round < 20; round++) {
      for (const id of [1, 2, 3]) h.submit(id, { service: round % 2 ? 0x20 : 0x10, stream: 1, payload: enc.encode(`m${id}-${k++}`) });
      h.run(h.now + 2);
    }
    h.crash(3);
    for (let round = 0; round < 10; round++) {
      for (const id of [1, 2]) h.submit(id, { service: 0x20, stream: 1, payload: enc.encode(`m${id}-${k++}`) });
      h.run(h.now + 2);
    }
    h.run(h.now + 1500);
    for (const id of [1, 2]) {
      expect(configs(h, id).slice(-2)).toEqual(['t[1,2]', 'r[1,2]']);
      expect(h.node(id).status()).toMatchObject({ state: 'operational', members: [1, 2] });
    }
    expect(h.messages(1)).toEqual(h.messages(2));
    const reg = lastRegular(h, 1)!;
    expect(reg.previousRings.get(1)).toEqual(reg.previousRings.get(2));
    expect(checkEvs(h)).toEqual([]);
  });

  it('a partition splits the ring and the heal merges it again', () => {
    const h = new Harness({ ids: [1, 2, 3, 4], seed: 6, jitterMs: 1 });
    h.startAll();
    h.run(800);
    h.partition([[1, 2], [3, 4]]);
    let k = 0;
    for (let round = 0; round < 20; round++) {
      for (const id of [1, 2, 3, 4]) h.submit(id, { service: 0x10, stream: 1, payload: enc.encode(`m${id}-${k++}`) });
      h.run(h.now + 5);
    }
    h.run(h.now + 1500);
    expect(h.node(1).status().members).toEqual([1, 2]);
    expect(h.node(3).status().members).toEqual([3, 4]);
    h.heal();
    h.run(h.now + 2000);
    for (const id of [1, 2, 3, 4]) expect(h.node(id).status()).toMatchObject({ state: 'operational', members: [1, 2, 3, 4] });
    const reg = lastRegular(h, 4)!;
    expect(new Set([...reg.previousRings.values()].map((r) => `${r.rep}.${r.seq}`)).size).toBe(2);
    expect(checkEvs(h)).toEqual([]);
  });

  it('leave makes the others reconfigure before the token loss timeout', () => {
    const h = new Harness({ ids: [1, 2, 3], seed: 7 });
    h.startAll();
    h.run(600);
    const t0 = h.now;
    h.node(2).leave(h.now);
    // Flush the leave announcement through the harness (a departed engine refuses messages).
    expect(h.submit(2, { service: 0x10, stream: 0, payload: new Uint8Array(0) })).toBe(false);
    expect(h.node(2).hasLeft()).toBe(true);
    h.run(h.now + testTimeouts.tokenLossMs - 20);
    expect(h.node(1).status().members).toEqual([1, 3]);
    expect(h.node(3).status().members).toEqual([1, 3]);
    expect(h.now - t0).toBeLessThan(testTimeouts.tokenLossMs);
  });

  it('a restarted daemon is a new process and joins again', () => {
    const h = new Harness({ ids: [1, 2, 3], seed: 9 });
    h.startAll();
    h.run(600);
    h.crash(2);
    h.restart(2);
    h.run(h.now + 2000);
    for (const id of [1, 2, 3]) expect(h.node(id).status()).toMatchObject({ state: 'operational', members: [1, 2, 3] });
    // The new incarnation came from its own singleton ring, not from the old shared ring.
    const reg = lastRegular(h, 1)!;
    expect(reg.previousRings.get(2)).not.toEqual(reg.previousRings.get(1));
    expect(checkEvs(h)).toEqual([]);
  });

  it('random faults: crashes, restarts, partitions and loss keep EVS and end in one ring', () => {
    for (const seed of [21, 22, 23]) {
      const ids = [1, 2, 3, 4, 5];
      const h = new Harness({ ids, seed, loss: 0.03, jitterMs: 3 });
      const r = mulberry32(seed * 101);
      h.startAll();
      let k = 0;
      for (let step = 0; step < 30; step++) {
        const x = r();
        const v = ids[Math.floor(r() * ids.length)]!;
        if (x < 0.08 && h.alive.has(v)) h.crash(v);
        else if (x < 0.16 && !h.alive.has(v)) h.restart(v);
        else if (x < 0.22) {
          const a = ids.filter(() => r() < 0.5);
          h.partition([a, ids.filter((i) => !a.includes(i))]);
        } else if (x < 0.3) h.heal();
        for (let i = 0; i < 3; i++) {
          for (const id of ids) {
            if (h.alive.has(id)) h.submit(id, { service: r() < 0.3 ? 0x20 : 0x10, stream: 1, payload: enc.encode(`m${id}-${k++}`) });
          }
        }
        h.run(h.now + r() * 300);
      }
      h.heal();
      for (const id of ids) if (!h.alive.has(id)) h.restart(id);
      h.loss = 0;
      h.run(h.now + 4000);
      expect(checkEvs(h), `seed ${seed}`).toEqual([]);
      for (const id of ids) expect(h.node(id).status().members, `seed ${seed}`).toEqual(ids);
    }
  });
});
