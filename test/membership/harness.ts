/**
 * A small deterministic in-memory network for driving a handful of TotemNodes in tests:
 * seeded packet loss, latency jitter, partitions, crashes and restarts.
 */
import { TotemNode, type RingEvent, type TotemOptions, type SubmittedMessage } from '../../src/membership/index.js';
import type { DaemonId } from '../../src/util/ids.js';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const testTimeouts = {
  tokenLossMs: 200,
  tokenRetransmitMs: 20,
  joinMs: 20,
  consensusMs: 100,
  formMs: 400,
  mergeDetectMs: 100,
};

interface InFlight {
  at: number;
  order: number;
  from: DaemonId;
  to: DaemonId;
  bytes: Uint8Array;
}

export interface HarnessOptions {
  ids: DaemonId[];
  seed?: number;
  loss?: number;
  latencyMs?: number;
  jitterMs?: number;
  overrides?: Partial<TotemOptions>;
}

export class Harness {
  now = 0;
  readonly nodes = new Map<DaemonId, TotemNode>();
  readonly events = new Map<DaemonId, RingEvent[]>();
  readonly alive = new Set<DaemonId>();
  /** Partition label per daemon: packets only flow between equal labels. */
  readonly side = new Map<DaemonId, number>();
  loss: number;
  private readonly rand: () => number;
  private flight: InFlight[] = [];
  private order = 0;
  private incarnation = new Map<DaemonId, number>();
  packetsSent = 0;

  constructor(private readonly opts: HarnessOptions) {
    this.rand = mulberry32(opts.seed ?? 1);
    this.loss = opts.loss ?? 0;
    for (const id of opts.ids) this.side.set(id, 0);
  }

  options(id: DaemonId): TotemOptions {
    return {
      self: id,
      incarnation: this.incarnation.get(id) ?? 1,
      configured: this.opts.ids,
      timeouts: testTimeouts,
      windowPacketsMax: 160,
      personalWindowPacketsMax: 20,
      packetBytesMax: 1400,
      pendingMessagesMax: 10000,
      random: mulberry32(id * 7919 + (this.incarnation.get(id) ?? 1)),
      formContribution: (ring) => new Uint8Array([id & 0xff, ring.seq & 0xff]),
      ...this.opts.overrides,
    };
  }

  startAll(): void {
    for (const id of this.opts.ids) this.startNode(id);
  }

  startNode(id: DaemonId): void {
    const node = new TotemNode(this.options(id));
    this.nodes.set(id, node);
    this.alive.add(id);
    if (!this.events.has(id)) this.events.set(id, []);
    node.start(this.now);
    this.drain(id);
  }

  crash(id: DaemonId): void {
    this.alive.delete(id);
  }

  restart(id: DaemonId): void {
    this.incarnation.set(id, (this.incarnation.get(id) ?? 1) + 1000);
    this.startNode(id);
  }

  partition(groups: DaemonId[][]): void {
    groups.forEach((g, i) => g.forEach((id) => this.side.set(id, i)));
  }

  heal(): void {
    for (const id of this.side.keys()) this.side.set(id, 0);
  }

  node(id: DaemonId): TotemNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  submit(id: DaemonId, msg: SubmittedMessage): boolean {
    const ok = this.node(id).submit(this.now, msg);
    this.drain(id);
    return ok;
  }

  private drain(id: DaemonId): void {
    const node = this.node(id);
    const evs = this.events.get(id) as RingEvent[];
    for (let e = node.pollEvent(); e; e = node.pollEvent()) evs.push(e);
    for (let t = node.pollTransmit(); t; t = node.pollTransmit()) {
      let targets: DaemonId[];
      if (t.to === 'configured') targets = this.opts.ids.filter((x) => x !== id);
      else if (t.to === 'ring') targets = node.status().members.filter((x) => x !== id);
      else targets = [t.to];
      for (const to of targets) {
        this.packetsSent++;
        if (this.loss > 0 && this.rand() < this.loss) continue;
        const lat = (this.opts.latencyMs ?? 1) + this.rand() * (this.opts.jitterMs ?? 0);
        this.flight.push({ at: this.now + lat, order: this.order++, from: id, to, bytes: t.bytes });
      }
    }
  }

  /** Run the simulation up to time `until`. */
  run(until: number): void {
    for (;;) {
      let next = Infinity;
      let idx = -1;
      for (let i = 0; i < this.flight.length; i++) {
        const f = this.flight[i] as InFlight;
        if (f.at < next || (f.at === next && idx >= 0 && f.order < (this.flight[idx] as InFlight).order)) {
          next = f.at;
          idx = i;
        }
      }
      let timerNode: DaemonId | undefined;
      for (const id of this.alive) {
        const t = this.node(id).pollTimeout();
        if (t !== undefined && t < next) {
          next = Math.max(t, this.now);
          timerNode = id;
          idx = -1;
        }
      }
      if (next > until || next === Infinity) {
        this.now = until;
        return;
      }
      this.now = Math.max(this.now, next);
      if (timerNode !== undefined) {
        this.node(timerNode).handleTimeout(this.now);
        this.drain(timerNode);
        continue;
      }
      const f = this.flight[idx] as InFlight;
      this.flight[idx] = this.flight[this.flight.length - 1] as InFlight;
      this.flight.pop();
      if (!this.alive.has(f.to) || !this.alive.has(f.from)) continue;
      if (this.side.get(f.from) !== this.side.get(f.to)) continue;
      this.node(f.to).handlePacket(this.now, f.from, f.bytes);
      this.drain(f.to);
    }
  }

  /** Message events delivered at `id`, as "sender:payload-text" strings. */
  messages(id: DaemonId): string[] {
    const dec = new TextDecoder();
    return (this.events.get(id) ?? [])
      .filter((e): e is Extract<RingEvent, { type: 'message' }> => e.type === 'message')
      .map((e) => `${e.sender}:${dec.decode(e.payload)}`);
  }
}
