/**
 * The sweep can only be trusted if it notices a broken engine. These tests break the real Totem
 * engine's output in small ways (one lost delivery, two swapped, a missing transitional
 * configuration, a corrupted payload) and expect the checker to name the matching property.
 */
import { describe, expect, it } from 'vitest';
import { TotemNode } from '../../src/membership/index.js';
import type { RingEvent, SubmittedMessage, TotemEngine, TotemOptions, TotemStatus, Transmit } from '../../src/ring/types.js';
import type { DaemonId } from '../../src/util/ids.js';
import { Service } from '../../src/util/service.js';
import { checkHistory, type PropertyName } from '../../src/sim/checker.js';
import { runSeed, type SimSpec } from '../../src/sim/runner.js';
import type { EngineFactory } from '../../src/sim/simulator.js';

type Mutation = (ev: RingEvent, index: number) => RingEvent[];

/** Delegates everything to the real engine, with its event stream rewritten. */
class MutatedEngine implements TotemEngine {
  private readonly queue: RingEvent[] = [];
  private index = 0;
  constructor(
    private readonly inner: TotemEngine,
    private readonly mutation: Mutation,
  ) {}
  start(now: number): void {
    this.inner.start(now);
  }
  submit(now: number, msg: SubmittedMessage): boolean {
    return this.inner.submit(now, msg);
  }
  handlePacket(now: number, from: DaemonId, bytes: Uint8Array): void {
    this.inner.handlePacket(now, from, bytes);
  }
  handleTimeout(now: number): void {
    this.inner.handleTimeout(now);
  }
  leave(now: number): void {
    this.inner.leave(now);
  }
  pollTransmit(): Transmit | undefined {
    return this.inner.pollTransmit();
  }
  pollTimeout(): number | undefined {
    return this.inner.pollTimeout();
  }
  status(): TotemStatus {
    return this.inner.status();
  }
  pollEvent(): RingEvent | undefined {
    while (this.queue.length === 0) {
      const ev = this.inner.pollEvent();
      if (ev === undefined) return undefined;
      this.queue.push(...this.mutation(ev, this.index++));
    }
    return this.queue.shift();
  }
}

/** The real engine, with the event stream of the first incarnation of the first daemon rewritten. */
function mutated(mutation: Mutation): EngineFactory {
  let done = false;
  return (opts: TotemOptions): TotemEngine => {
    const inner = new TotemNode(opts);
    if (done || opts.self !== opts.configured[0]) return inner;
    done = true;
    return new MutatedEngine(inner, mutation);
  };
}

const spec: SimSpec = { daemons: 4, steps: 3, lossRate: 0.05, partitions: true, crashes: false };

function violated(factory: EngineFactory, seed = 21): PropertyName[] {
  const r = runSeed(seed, spec, factory);
  return checkHistory(r.run.history).violated;
}

describe('the checker notices a broken Totem engine', () => {
  it('unmutated, the run is clean', () => {
    expect(violated((o) => new TotemNode(o))).toEqual([]);
  });

  it('one lost delivery', () => {
    let messages = 0;
    const v = violated(
      mutated((ev) => (ev.type === 'message' && ev.service !== Service.UNRELIABLE && ++messages === 40 ? [] : [ev])),
    );
    expect(v.length).toBeGreaterThan(0);
    expect(v.some((p) => ['failure-atomicity', 'self-delivery', 'safe-delivery', 'causal-order', 'fifo-order'].includes(p))).toBe(true);
  });

  it('two deliveries swapped', () => {
    let messages = 0;
    let held: RingEvent | undefined;
    const v = violated(
      mutated((ev) => {
        if (ev.type !== 'message') {
          const out = held ? [held, ev] : [ev];
          held = undefined;
          return out;
        }
        messages++;
        if (messages === 30) {
          held = ev;
          return [];
        }
        if (held !== undefined) {
          const out = [ev, held];
          held = undefined;
          return out;
        }
        return [ev];
      }),
    );
    expect(v).toContain('total-order');
  });

  it('a transitional configuration left out', () => {
    let transitional = 0;
    const v = violated(mutated((ev) => (ev.type === 'transitional' && ++transitional === 1 ? [] : [ev])));
    expect(v).toContain('configuration-agreement');
  });

  it('a corrupted payload', () => {
    let messages = 0;
    const v = violated(
      mutated((ev) => {
        if (ev.type !== 'message' || ++messages !== 25) return [ev];
        const payload = ev.payload.slice();
        payload[payload.length - 1] = payload[payload.length - 1]! ^ 0x40;
        return [{ ...ev, payload }];
      }),
    );
    expect(v).toContain('integrity');
  });
});
