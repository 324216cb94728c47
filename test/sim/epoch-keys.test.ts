import { beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../../crypto/index.js';
import { totemEngineFactory } from '../../src/sim/engine.js';
import { checkEpochKeys } from '../../src/sim/key-checker.js';
import { commitTokenBytes } from '../../src/membership/wire.js';
import { CONTRIBUTION_BYTES } from '../../keys/index.js';
import type { EpochKeyHistory } from '../../src/sim/protected-network.js';
import { buildOptions, runSeed, sweep, type SimSpec } from '../../src/sim/runner.js';
import { Simulation } from '../../src/sim/simulator.js';

beforeAll(async () => {
  await initCrypto();
});

const epochSpec = (rekeyMs = 250, extra: SimSpec = {}): SimSpec => ({
  ...extra,
  overrides: { crypto: 'encrypt', epochKeys: { rekeyMs, rekeyPackets: 1_000_000 }, ...extra.overrides },
});

describe('simulator with per-configuration epoch keys', () => {
  it('seeds 0..99, fault mix drawn from each seed: no EVS violation, and every key check holds', () => {
    let keyed = 0;
    let probes = 0;
    let laterGenerations = 0;
    const summary = sweep(0, 99, epochSpec(), totemEngineFactory, {
      onResult: (_seed, r) => {
        keyed += r.keys!.stats.configurationsKeyed;
        probes += r.keys!.stats.outsiderProbes;
        laterGenerations += r.run.epochKeys!.events.filter((e) => e.kind === 'hold' && e.generation >= 2).length;
      },
    });
    const failing = summary.failures.map((f) => `seed ${f.seed}: ${f.violated.join(', ')}: ${f.first}`).join('\n');
    expect(summary.failures.length, failing).toBe(0);
    expect(summary.settled).toBe(100);
    // The sweep really exercised the schedule: many configurations keyed, rekeys within them,
    // and packets offered to daemons outside their configuration.
    expect(keyed).toBeGreaterThan(500);
    expect(laterGenerations).toBeGreaterThan(100);
    expect(probes).toBeGreaterThan(100);
  }, 180_000);

  it('cascading changes: partitions and crashes every few tens of ms, no message lost to a key switch', () => {
    const summary = sweep(500, 539, epochSpec(100, { partitions: true, crashes: true, lossRate: 0.05, steps: 8, daemons: 5 }), totemEngineFactory);
    expect(summary.failures.map((f) => `seed ${f.seed}: ${f.violated.join(', ')}: ${f.first}`)).toEqual([]);
    expect(summary.configurations).toBeGreaterThan(400);
  }, 180_000);

  it('twelve daemons: commit tokens with key fields outgrow a packet and travel in parts', () => {
    const spec = epochSpec(250, { daemons: 12 });
    const o = buildOptions(0, spec, totemEngineFactory);
    expect(commitTokenBytes(12, CONTRIBUTION_BYTES, 0)).toBeGreaterThan(o.packetBytesMax);
    const summary = sweep(0, 7, spec, totemEngineFactory);
    expect(summary.failures.map((f) => `seed ${f.seed}: ${f.violated.join(', ')}: ${f.first}`)).toEqual([]);
    expect(summary.configurations).toBeGreaterThan(50);
  }, 120_000);

  it('rekeys under steady traffic without faults: many generations, every message delivered in one order', () => {
    const r = runSeed(42, epochSpec(20, { daemons: 4, lossRate: 0, partitions: false, crashes: false, messagesPerSecond: 150 }), totemEngineFactory);
    expect(r.check.violated).toEqual([]);
    expect(r.keys!.ok).toBe(true);
    const generations = new Set(r.run.epochKeys!.events.filter((e) => e.kind === 'hold').map((e) => e.generation));
    expect(Math.max(...generations)).toBeGreaterThan(10);
    expect(r.check.stats.deliveries).toBeGreaterThan(500);
  }, 60_000);

  // With loss, histories may differ legitimately: a late packet of an ended ring, which the
  // cluster key accepts and which sets off foreign-message detection, is refused outright
  // under epoch keys. Without loss, the formation and the rekeys must change nothing.
  it('rekeys and the formation change nothing the daemons deliver compared with cluster-key protection', () => {
    const spec: SimSpec = { daemons: 4, lossRate: 0, partitions: false, crashes: false, messagesPerSecond: 150 };
    const base = buildOptions(7, spec, totemEngineFactory);
    const clusterOnly = new Simulation({ ...base, crypto: 'encrypt' }).run();
    const epochs = new Simulation({ ...base, crypto: 'encrypt', epochKeys: { rekeyMs: 250, rekeyPackets: 1_000_000 } }).run();
    // What each daemon delivered and in which configuration. (The order across senders may
    // differ: a packet that overtook the keys it needs is refused and sent again, which shifts
    // the token's timing and so which sender's message takes which seq.)
    const deliveries = (run: typeof epochs): string[][] =>
      run.history.incarnations.map((i) => i.events.flatMap((e) => (e.kind === 'deliver' ? [`${e.ring.rep}.${e.ring.seq}:${e.messageId}`] : [])).sort());
    expect(deliveries(epochs)).toEqual(deliveries(clusterOnly));
    expect(deliveries(epochs).flat().length).toBeGreaterThan(200);
    expect(epochs.protection!.rejected.auth).toBe(0);
    expect(epochs.epochKeys!.distributed.size).toBeGreaterThan(0);
  }, 30_000);

  it('control: a schedule that leaks configuration secrets to one daemon is caught by the key checks', () => {
    const spec = epochSpec(250, { daemons: 4, partitions: true, crashes: false, lossRate: 0, overrides: { epochKeys: { rekeyMs: 250, rekeyPackets: 1_000_000, leakToSlot: 0 } } });
    let caught: string[] = [];
    for (let seed = 1; seed <= 10 && caught.length === 0; seed++) {
      const r = runSeed(seed, spec, totemEngineFactory);
      caught = r.keys!.violated;
    }
    expect(caught).toContain('epoch-secret-confined');
    expect(caught).toContain('epoch-outsider-unreadable');
  }, 60_000);
});

describe('key checker on hand-made histories', () => {
  const ring = (seq: number) => ({ rep: 1, seq });
  const base = (): EpochKeyHistory => ({
    events: [],
    distributed: new Map([
      ['1.10', { ring: ring(10), members: [1, 2], fingerprint: 'aa' }],
      ['1.11', { ring: ring(11), members: [1, 2], fingerprint: 'bb' }],
      ['1.12', { ring: ring(12), members: [1, 2], fingerprint: 'cc' }],
    ]),
    outsiderProbes: 0,
    outsiderOpened: [],
    sealRefused: 0,
  });
  const hold = (daemon: number, seq: number, generation: number, fingerprint: string) => ({ kind: 'hold' as const, ring: ring(seq), generation, fingerprint, atMs: 1, daemon, incarnation: 1 });
  const erase = (daemon: number, seq: number, generation: number, fingerprint: string) => ({ ...hold(daemon, seq, generation, fingerprint), kind: 'erase' as const });

  it('passes a history where members hold, agree and erase in time', () => {
    const h = base();
    h.events.push(hold(1, 10, 0, 'aa'), hold(2, 10, 0, 'aa'), hold(1, 11, 0, 'bb'), erase(1, 10, 0, 'aa'), hold(1, 12, 0, 'cc'));
    expect(checkEpochKeys(h).violated).toEqual([]);
  });

  it('names each property when it is broken', () => {
    const outsider = base();
    outsider.events.push(hold(3, 10, 0, 'aa'));
    expect(checkEpochKeys(outsider).violated).toEqual(['epoch-secret-confined']);
    const unknown = base();
    unknown.events.push(hold(1, 99, 0, 'zz'));
    expect(checkEpochKeys(unknown).violated).toEqual(['epoch-secret-confined']);
    const disagree = base();
    disagree.events.push(hold(1, 10, 0, 'ab'));
    expect(checkEpochKeys(disagree).violated).toEqual(['epoch-secret-agreement']);
    const generations = base();
    generations.events.push(hold(1, 10, 3, 'x1'), hold(2, 10, 3, 'x2'));
    expect(checkEpochKeys(generations).violated).toEqual(['epoch-secret-agreement']);
    const hoarder = base();
    hoarder.events.push(hold(1, 10, 0, 'aa'), hold(1, 11, 0, 'bb'), hold(1, 12, 0, 'cc'));
    expect(checkEpochKeys(hoarder).violated).toEqual(['epoch-erasure']);
    const opened = base();
    opened.outsiderOpened.push({ atMs: 5, daemon: 3, ring: ring(10), generation: 0 });
    expect(checkEpochKeys(opened).violated).toEqual(['epoch-outsider-unreadable']);
  });
});
