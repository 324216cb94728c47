import { describe, expect, it } from 'vitest';
import { defaultSimOptions, Simulation, type SimOptions } from '../../src/sim/simulator.js';
import type { FaultAction } from '../../src/sim/faults.js';
import type { DaemonId } from '../../src/util/ids.js';
import { ProbeEngine } from './fake-engines.js';

function probeRun(schedule: FaultAction[], tweak: (o: SimOptions) => void = () => {}) {
  const engines: { self: DaemonId; incarnation: number; engine: ProbeEngine }[] = [];
  const o = defaultSimOptions(77, (opts) => {
    const engine = new ProbeEngine(opts);
    engines.push({ self: opts.self, incarnation: opts.incarnation, engine });
    return engine;
  });
  o.daemons = 3;
  o.steps = 0;
  o.schedule = schedule;
  o.network = { delayMinMs: 1, delayMaxMs: 3, lossRate: 0, duplicationRate: 0 };
  o.clients = { ...o.clients, messagesPerSecond: 0 };
  o.settleMaxMs = 100;
  // Probe times are compared with simulated time below: clocks agree here.
  o.clockOffsetMaxMs = 0;
  tweak(o);
  const sim = new Simulation(o);
  const run = sim.run();
  const ids = sim.daemonIds;
  const at = (i: number) => engines.filter((e) => e.self === ids[i]);
  return { run, ids, at };
}

describe('simulated network', () => {
  it('drops packets across a partition and delivers them again after the heal', () => {
    const { ids, at } = probeRun([
      { kind: 'partition', atMs: 100, components: [[0, 1], [2]] },
      { kind: 'heal', atMs: 300 },
    ]);
    const d0 = at(0)[0]!.engine;
    const from2 = d0.probes.filter((r) => r.from === ids[2]);
    const from1 = d0.probes.filter((r) => r.from === ids[1]);
    expect(from2.some((r) => r.atMs < 100)).toBe(true);
    expect(from2.some((r) => r.atMs > 100 && r.atMs < 300)).toBe(false);
    expect(from2.some((r) => r.atMs > 305)).toBe(true);
    // Inside the component, traffic goes on.
    expect(from1.filter((r) => r.atMs > 110 && r.atMs < 300).length).toBeGreaterThan(20);
  });

  it('a crashed daemon is silent until restarted with a larger incarnation', () => {
    const { ids, at } = probeRun([
      { kind: 'crash', atMs: 100, daemon: 1 },
      { kind: 'restart', atMs: 200, daemon: 1 },
    ]);
    const lives = at(1);
    expect(lives.length).toBe(2);
    expect(lives[1]!.incarnation).toBeGreaterThan(lives[0]!.incarnation);
    const from1 = at(0)[0]!.engine.probes.filter((r) => r.from === ids[1]);
    expect(from1.some((r) => r.atMs > 104 && r.atMs < 200)).toBe(false);
    expect(from1.some((r) => r.atMs > 200)).toBe(true);
  });

  it('loses about the configured fraction of packets and duplicates some', () => {
    const { run, ids, at } = probeRun([], (o) => {
      o.network = { delayMinMs: 1, delayMaxMs: 3, lossRate: 0.2, duplicationRate: 0.1 };
    });
    expect(run.packets.dropped / run.packets.sent).toBeGreaterThan(0.15);
    expect(run.packets.dropped / run.packets.sent).toBeLessThan(0.25);
    // Duplicates: more deliveries than packets that survived loss.
    expect(run.packets.delivered).toBeGreaterThan(run.packets.sent - run.packets.dropped);
    expect(at(0)[0]!.engine.probes.length).toBeGreaterThan(0);
    expect(ids.length).toBe(3);
  });

  it('damages packets only when asked to', () => {
    const clean = probeRun([]);
    expect(clean.at(0)[0]!.engine.damaged).toBe(0);
    const noisy = probeRun([], (o) => {
      o.network = { delayMinMs: 1, delayMaxMs: 3, lossRate: 0, duplicationRate: 0, corruptionRate: 0.3 };
    });
    const e = noisy.at(0)[0]!.engine;
    expect(e.damaged).toBeGreaterThan(0);
    expect(e.probes.length).toBeGreaterThan(e.damaged);
  });
});
