/**
 * Fault schedules. A schedule is drawn from the seed before the run starts, as a list of
 * concrete actions on daemon indices (0..n-1), so that it can be printed, replayed, and shrunk
 * (re-run with some actions removed). Actions that no longer apply when their time comes (crash
 * a daemon that is already down) do nothing.
 */
import type { Prng } from './prng.js';

export type FaultAction =
  /** Split the network into these components (every daemon index in exactly one). */
  | { kind: 'partition'; atMs: number; components: number[][] }
  /** Join the components that hold daemons a and b. */
  | { kind: 'merge'; atMs: number; a: number; b: number }
  /** One component again. */
  | { kind: 'heal'; atMs: number }
  /** Discard the daemon's engine at once (process crash). */
  | { kind: 'crash'; atMs: number; daemon: number }
  /** Clean shutdown: the engine announces its departure, then is discarded. */
  | { kind: 'leave'; atMs: number; daemon: number }
  /** Start a new incarnation of a daemon that is down. */
  | { kind: 'restart'; atMs: number; daemon: number }
  /** Raise packet loss to `rate` for `durationMs`. */
  | { kind: 'lossBurst'; atMs: number; durationMs: number; rate: number };

export interface FaultMix {
  partitions: boolean;
  crashes: boolean;
  /** Loss bursts (on top of the base loss rate). */
  lossBursts: boolean;
}

export interface ScheduleOptions {
  daemons: number;
  steps: number;
  /** Time before the first fault, ms (inclusive range). */
  firstFaultMs: readonly [number, number];
  /** Time between consecutive faults, ms (inclusive range). */
  stepMs: readonly [number, number];
  mix: FaultMix;
}

export interface FaultSchedule {
  actions: FaultAction[];
  /** When the faulty phase ends: everything is healed and every daemon restarted. */
  healAtMs: number;
}

type Kind = FaultAction['kind'];

/** Draw a schedule. Tracks the expected state so that each action is a sensible one. */
export function generateSchedule(prng: Prng, o: ScheduleOptions): FaultSchedule {
  const n = o.daemons;
  const up = new Array<boolean>(n).fill(true);
  let component = new Array<number>(n).fill(0);
  const actions: FaultAction[] = [];
  let t = prng.range(o.firstFaultMs[0], o.firstFaultMs[1]);
  for (let step = 0; step < o.steps; step++) {
    const upCount = up.filter(Boolean).length;
    const componentCount = new Set(component).size;
    const choices: [Kind, number][] = [];
    if (o.mix.partitions) {
      choices.push(['partition', 3]);
      if (componentCount > 1) choices.push(['merge', 2], ['heal', 1]);
    }
    if (o.mix.crashes) {
      if (upCount > 1) choices.push(['crash', 2], ['leave', 1]);
      if (upCount < n) choices.push(['restart', 3]);
    }
    if (o.mix.lossBursts) choices.push(['lossBurst', 2]);
    if (choices.length > 0) {
      const total = choices.reduce((s, [, w]) => s + w, 0);
      let r = prng.int(total);
      let kind: Kind = choices[0]![0];
      for (const [k, w] of choices) {
        if (r < w) {
          kind = k;
          break;
        }
        r -= w;
      }
      switch (kind) {
        case 'partition': {
          // Arbitrary components: 2..min(4, n) of them, some possibly singletons.
          const k = prng.range(2, Math.min(4, n));
          const order = prng.shuffle([...Array(n).keys()]);
          const components: number[][] = Array.from({ length: k }, () => []);
          order.forEach((d, i) => {
            (components[i < k ? i : prng.int(k)] as number[]).push(d);
          });
          for (const c of components) c.sort((a, b) => a - b);
          component = new Array<number>(n).fill(0);
          components.forEach((c, ci) => c.forEach((d) => (component[d] = ci)));
          actions.push({ kind: 'partition', atMs: t, components });
          break;
        }
        case 'merge': {
          const a = prng.int(n);
          const others = [...Array(n).keys()].filter((d) => component[d] !== component[a]);
          const b = prng.pick(others);
          const from = component[b]!;
          const to = component[a]!;
          component = component.map((c) => (c === from ? to : c));
          actions.push({ kind: 'merge', atMs: t, a, b });
          break;
        }
        case 'heal':
          component = new Array<number>(n).fill(0);
          actions.push({ kind: 'heal', atMs: t });
          break;
        case 'crash':
        case 'leave': {
          const d = prng.pick([...Array(n).keys()].filter((x) => up[x]));
          up[d] = false;
          actions.push({ kind, atMs: t, daemon: d });
          break;
        }
        case 'restart': {
          const d = prng.pick([...Array(n).keys()].filter((x) => !up[x]));
          up[d] = true;
          actions.push({ kind: 'restart', atMs: t, daemon: d });
          break;
        }
        case 'lossBurst':
          actions.push({ kind: 'lossBurst', atMs: t, durationMs: prng.range(20, 300), rate: 0.2 + prng.float() * 0.5 });
          break;
      }
    }
    t += prng.range(o.stepMs[0], o.stepMs[1]);
  }
  return { actions, healAtMs: t };
}

export function describeFault(a: FaultAction, name: (index: number) => string): string {
  switch (a.kind) {
    case 'partition':
      return `partition ${a.components.map((c) => `{${c.map(name).join(',')}}`).join(' | ')}`;
    case 'merge':
      return `merge the components of ${name(a.a)} and ${name(a.b)}`;
    case 'heal':
      return 'heal the network';
    case 'crash':
      return `crash ${name(a.daemon)}`;
    case 'leave':
      return `${name(a.daemon)} leaves cleanly`;
    case 'restart':
      return `restart ${name(a.daemon)}`;
    case 'lossBurst':
      return `loss burst ${(a.rate * 100).toFixed(0)}% for ${a.durationMs} ms`;
  }
}
