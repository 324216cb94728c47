/** Shared body of the sweep tests: run a seed range against the Totem engine, expect no violation. */
import { expect } from 'vitest';
import { checkHistory } from '../../src/sim/checker.js';
import { totemEngineFactory } from '../../src/sim/engine.js';
import { runSeed, sweep, type SimSpec } from '../../src/sim/runner.js';
import { formatReport } from '../../src/sim/trace.js';

export function sweepSeeds(from: number, to: number, spec: SimSpec): void {
  const summary = sweep(from, to, spec, totemEngineFactory);
  let detail = '';
  const first = summary.failures[0];
  if (first !== undefined) {
    const r = runSeed(first.seed, spec, totemEngineFactory);
    detail = `\n${formatReport(r.run, checkHistory(r.run.history), { linesMax: 60 })}`;
  }
  const failing = summary.failures.map((f) => `seed ${f.seed}: ${f.violated.join(', ')}: ${f.first}`).join('\n');
  expect(summary.failures.length, `${summary.failures.length} of ${summary.seeds} seeds failed:\n${failing}${detail}`).toBe(0);
  expect(summary.seeds).toBe(to - from + 1);
  // Liveness is one of the checked properties; every seed must also have settled.
  expect(summary.settled).toBe(summary.seeds);
  // The runs did real work: messages went through and configurations changed.
  expect(summary.deliveries).toBeGreaterThan(summary.seeds * 10);
}
