/**
 * Token bundling: the pure plan (which packets share a datagram, in which order) and the
 * transport's bundle datagrams on loopback (parts delivered in order, malformed ones dropped whole
 * and counted, the partition hook and sender checks applied as to any ring datagram).
 */
import dgram from 'node:dgram';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { BUNDLE_PART_PREFIX_BYTES, bundleBytes, planDatagrams, splitBundle, type Datagram, type SealedSend } from '../../src/daemon/bundle-plan.js';
import { envelope, PacketKind, UdpTransport } from '../../src/daemon/udp-transport.js';
import type { DaemonId } from '../../src/util/ids.js';
import { freePort } from '../helpers/daemons.js';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
const ids = (...n: number[]) => n as DaemonId[];
const opts = { bodyBytesMax: 1462, tokenFirst: true, unicast: () => true };

/** Per destination, the packets it receives, in order: what the plan must never change. */
function perDestination(ds: readonly Datagram[]): Map<DaemonId, Uint8Array[]> {
  const out = new Map<DaemonId, Uint8Array[]>();
  const add = (to: DaemonId, p: Uint8Array) => out.set(to, [...(out.get(to) ?? []), p]);
  for (const d of ds) {
    if (d.kind === 'bundle') for (const p of d.parts) add(d.to, p);
    else for (const to of d.to) add(to, d.bytes);
  }
  return out;
}

describe('bundle plan', () => {
  it('the successor copy of the packet before the token rides with the token, first when the token goes first', () => {
    const data = bytes(100, 7);
    const token = bytes(60, 9);
    const sends: SealedSend[] = [
      { to: ids(2, 3), bytes: data, single: false },
      { to: ids(2), bytes: token, single: true },
    ];
    expect(planDatagrams(sends, opts)).toEqual([
      { kind: 'bundle', to: 2, parts: [data, token] },
      { kind: 'packet', to: [3], bytes: data },
    ]);
    // Without it, Totem's order: every broadcast before the token.
    expect(planDatagrams(sends, { ...opts, tokenFirst: false })).toEqual([
      { kind: 'packet', to: [3], bytes: data },
      { kind: 'bundle', to: 2, parts: [data, token] },
    ]);
  });

  it('no bundle when the pair does not fit, the send goes by multicast, or the token goes elsewhere', () => {
    const token = bytes(60);
    const big = bytes(opts.bodyBytesMax - 60 - 2 * BUNDLE_PART_PREFIX_BYTES + 1);
    const fits = bytes(opts.bodyBytesMax - 60 - 2 * BUNDLE_PART_PREFIX_BYTES);
    const pair = (p: Uint8Array, to: DaemonId[] = ids(2, 3)): SealedSend[] => [
      { to, bytes: p, single: false },
      { to: ids(2), bytes: token, single: true },
    ];
    expect(planDatagrams(pair(big), opts).map((d) => d.kind)).toEqual(['packet', 'packet']);
    expect(planDatagrams(pair(fits), opts).map((d) => d.kind)).toEqual(['bundle', 'packet']);
    expect(planDatagrams(pair(fits), { ...opts, unicast: () => false }).map((d) => d.kind)).toEqual(['packet', 'packet']);
    expect(planDatagrams(pair(fits, ids(3, 4)), opts).map((d) => d.kind)).toEqual(['packet', 'packet']);
    // Two sends to single daemons (a token after a commit token) are never merged.
    expect(planDatagrams([{ to: ids(2), bytes: token, single: true }, { to: ids(2), bytes: token, single: true }], opts).map((d) => d.kind)).toEqual(['packet', 'packet']);
  });

  it('property: every daemon receives exactly the packets it would have, in the same order; the token is first or last as the mode says', () => {
    const send = fc.record({
      to: fc.uniqueArray(fc.integer({ min: 2, max: 6 }), { minLength: 1, maxLength: 5 }),
      size: fc.integer({ min: 1, max: 300 }),
      single: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(send, { maxLength: 12 }), fc.boolean(), (raw, tokenFirst) => {
        const sends: SealedSend[] = raw.map((s, i) => ({ to: (s.single ? s.to.slice(0, 1) : s.to) as DaemonId[], bytes: bytes(s.size, i + 1), single: s.single }));
        const plan = planDatagrams(sends, { ...opts, bodyBytesMax: 300, tokenFirst });
        const unbundled = planDatagrams(sends, { ...opts, bodyBytesMax: 0 });
        expect(unbundled).toHaveLength(sends.length);
        expect(perDestination(plan)).toEqual(perDestination(unbundled));
        for (const d of plan) if (d.kind === 'bundle') expect(bundleBytes(d.parts)).toBeLessThanOrEqual(300);
        // The token of a bundle leaves before (token first) or after (not) the packet's other copies.
        plan.forEach((d, i) => {
          if (d.kind !== 'bundle') return;
          const copies = tokenFirst ? plan[i + 1] : plan[i - 1];
          if (copies?.kind === 'packet' && copies.bytes === d.parts[0]) expect(copies.to).not.toContain(d.to);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('splitBundle reads what a bundle holds and refuses truncated, empty, zero-length and oversized bundles', () => {
    const a = bytes(3, 1);
    const b = bytes(2, 2);
    const body = Buffer.from([0, 3, 1, 1, 1, 0, 2, 2, 2]);
    expect(splitBundle(body, 16)).toEqual([Buffer.from(a), Buffer.from(b)]);
    expect(splitBundle(body.subarray(0, 8), 16)).toBeUndefined();
    expect(splitBundle(Buffer.alloc(0), 16)).toBeUndefined();
    expect(splitBundle(Buffer.from([0, 0]), 16)).toBeUndefined();
    expect(splitBundle(Buffer.from([0]), 16)).toBeUndefined();
    expect(splitBundle(body, 1)).toBeUndefined();
  });
});

describe('bundle datagrams on loopback', () => {
  const open: UdpTransport[] = [];
  const sockets: dgram.Socket[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
    for (const s of sockets.splice(0)) s.close();
  });

  async function pair() {
    const port = await freePort(['127.0.0.1', '127.0.0.2']);
    const cfg = parseConfig(`Spread_Segment 127.0.0.255:${port} {\n d1 127.0.0.1\n d2 127.0.0.2\n}\n`);
    const got: { from: DaemonId; text: string }[] = [];
    const [t1, t2] = await Promise.all(
      cfg.daemons.map(async (self) => {
        const t = new UdpTransport({ self, daemons: cfg.daemons, configHash: cfg.hash, onRingPacket: (from, p) => got.push({ from, text: Buffer.from(p).toString() }), log: () => {} });
        open.push(t);
        await t.bind();
        return t;
      }),
    );
    return { cfg, port, t1: t1!, t2: t2!, got };
  }

  const settle = (until: () => boolean) =>
    (async () => {
      const deadline = Date.now() + 2000;
      while (!until() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50));
    })();

  it('delivers the parts in order, as separate ring packets from the sender', async () => {
    const { cfg, t1, t2, got } = await pair();
    const d1 = cfg.daemons[0]!.id;
    t1.sendBundle(cfg.daemons[1]!.id, [Buffer.from('data'), Buffer.from('token')]);
    await settle(() => got.length >= 2);
    expect(got).toEqual([{ from: d1, text: 'data' }, { from: d1, text: 'token' }]);
    expect(t1.stats.bundlesSent).toBe(1);
    expect(t2.stats.bundlesReceived).toBe(1);
    expect(t2.stats.received).toBe(1);
    // The partition hook applies to bundles as to any ring datagram.
    t1.setBlocked([cfg.daemons[1]!.id]);
    t1.sendBundle(cfg.daemons[1]!.id, [Buffer.from('x')]);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toHaveLength(2);
    expect(t1.stats.droppedBlocked).toBe(1);
  });

  it('drops a malformed bundle whole, counts it, and keeps serving', async () => {
    const { cfg, port, t2, got } = await pair();
    const d1 = cfg.daemons[0]!;
    const stranger = dgram.createSocket('udp4');
    sockets.push(stranger);
    // From d1's address and port (d1's transport is closed first), as a peer with a broken sender would.
    await open.shift()!.close();
    await new Promise<void>((r) => stranger.bind(port, d1.address, () => r()));
    const head = envelope(PacketKind.RING_BUNDLE, cfg.hash, d1.id);
    const send = (body: Buffer) => new Promise<void>((r) => stranger.send(Buffer.concat([head, body]), port, '127.0.0.2', () => r()));
    await send(Buffer.from([0, 9, 1, 2])); // truncated part
    await send(Buffer.from([0, 0])); // zero-length part
    await send(Buffer.alloc(0)); // no part
    await send(Buffer.concat(Array.from({ length: 17 }, () => Buffer.from([0, 1, 65])))); // more parts than allowed
    await send(Buffer.from([0, 2, 111, 107])); // one good part
    await settle(() => got.length >= 1);
    expect(got).toEqual([{ from: d1.id, text: 'ok' }]);
    expect(t2.stats.droppedMalformedBundle).toBe(4);
  });
});
