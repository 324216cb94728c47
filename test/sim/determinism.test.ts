import { describe, expect, it } from 'vitest';
import { checkHistory } from '../../src/sim/checker.js';
import { buildOptions } from '../../src/sim/runner.js';
import { Simulation, type EngineFactory } from '../../src/sim/simulator.js';
import { formatReport } from '../../src/sim/trace.js';
import { shrinkFailure } from '../../src/sim/shrink.js';
import { totemEngineFactory } from '../../src/sim/engine.js';
import { DuplicatingEngine, SoloEngine } from './fake-engines.js';

const solo: EngineFactory = (o) => new SoloEngine(o);
const spec = { daemons: 5, steps: 6, lossRate: 0.1, partitions: true, crashes: true };

function runOnce(seed: number, factory: EngineFactory) {
  const run = new Simulation(buildOptions(seed, spec, factory)).run();
  return { hash: run.logHash, history: JSON.stringify(run.history), log: run.log.map((e) => `${e.atMs} ${e.text}`).join('\n') };
}

describe('simulator determinism', () => {
  for (const [name, factory] of [
    ['a test engine', solo],
    ['the Totem engine', totemEngineFactory],
  ] as const) {
    it(`replays a seed byte for byte with ${name}`, () => {
      for (const seed of [1, 2, 3]) {
        const a = runOnce(seed, factory);
        const b = runOnce(seed, factory);
        expect(b.hash).toBe(a.hash);
        expect(b.history).toBe(a.history);
        expect(b.log).toBe(a.log);
      }
    });

    it(`gives different runs for different seeds with ${name}`, () => {
      const hashes = new Set([10, 11, 12, 13].map((s) => runOnce(s, factory).hash));
      expect(hashes.size).toBe(4);
    });
  }
});

describe('simulator finds engine bugs', () => {
  it('reports a duplicate delivery with the seed and a trace naming the message', () => {
    const run = new Simulation(buildOptions(5, spec, (o) => new DuplicatingEngine(o))).run();
    const check = checkHistory(run.history);
    expect(check.violated).toContain('delivery-in-one-configuration');
    const v = check.violations.find((x) => x.property === 'delivery-in-one-configuration')!;
    const report = formatReport(run, check);
    expect(report).toContain('seed 5');
    expect(report).toMatch(/delivered d\d\/e\+\d+\/\d+\/\d+ twice/);
    expect(v.messages.length).toBe(1);
  });

  it('reports an engine that throws as an engine error and stops', () => {
    let calls = 0;
    const throwing: EngineFactory = (o) => {
      const e = new SoloEngine(o);
      const orig = e.handleTimeout.bind(e);
      e.handleTimeout = (now: number) => {
        if (++calls === 50) throw new Error('invariant broken: aru > seq');
        orig(now);
      };
      return e;
    };
    const run = new Simulation(buildOptions(6, spec, throwing)).run();
    const check = checkHistory(run.history);
    expect(check.violated).toEqual(['engine-error']);
    expect(check.violations[0]?.description).toMatch(/invariant broken/);
  });
});

describe('shrinking', () => {
  it('removes the fault actions a failure does not need', () => {
    const options = buildOptions(8, { ...spec, steps: 5 }, (o) => new DuplicatingEngine(o));
    const original = new Simulation(options).run();
    expect(original.schedule.length).toBeGreaterThan(0);
    const s = shrinkFailure(options, 'delivery-in-one-configuration', original.schedule);
    expect(s).toBeDefined();
    // Duplicates happen with or without faults: every action goes.
    expect(s!.actions).toEqual([]);
    expect(s!.check.violated).toContain('delivery-in-one-configuration');
    expect(s!.originalActions).toBe(original.schedule.length);
  });
});
