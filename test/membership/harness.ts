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
  /** Options for one daemon only, applied after `overrides`. */
  perNode?: (id: DaemonId) => Partial<TotemOptions>;
  /** Called for every event a daemon delivers, as it drains them (a client reacting at once). */
  onEvent?: (id: DaemonId, ev: RingEvent, now: number) => void;
}

export class Harness {
  now = 0;
  readonly nodes = new Map<DaemonId, TotemNode>();
  readonly events = new Map<DaemonId, RingEvent[]>();
  /** Every process life's event log (a restart starts a new one), with who it was. */
  readonly lives: { id: DaemonId; events: RingEvent[]; crashed: boolean; submitted: string[] }[] = [];
  readonly alive = new Set<DaemonId>();
  /** Partition label per daemon: packets only flow between equal labels. */
  readonly side = new Map<DaemonId, number>();
  loss: number;
  /** Drop hook: return true to lose this packet. */
  dropIf: ((from: DaemonId, to: DaemonId, bytes: Uint8Array) => boolean) | undefined;
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
      ...this.opts.perNode?.(id),
    };
  }

  startAll(): void {
    for (const id of this.opts.ids) this.startNode(id);
  }

  startNode(id: DaemonId): void {
    const node = new TotemNode(this.options(id));
    this.nodes.set(id, node);
    this.alive.add(id);
    const events: RingEvent[] = [];
    this.events.set(id, events);
    this.lives.push({ id, events, crashed: false, submitted: [] });
    node.start(this.now);
    this.drain(id);
  }

  crash(id: DaemonId): void {
    this.alive.delete(id);
    const life = this.life(id);
    if (life) life.crashed = true;
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

  life(id: DaemonId): Harness['lives'][number] | undefined {
    for (let i = this.lives.length - 1; i >= 0; i--) if (this.lives[i]?.id === id) return this.lives[i];
    return undefined;
  }

  submit(id: DaemonId, msg: SubmittedMessage): boolean {
    const ok = this.node(id).submit(this.now, msg);
    if (ok) this.life(id)?.submitted.push(new TextDecoder().decode(msg.payload));
    this.drain(id);
    return ok;
  }

  private drain(id: DaemonId): void {
    const node = this.node(id);
    const evs = this.events.get(id) as RingEvent[];
    for (let e = node.pollEvent(); e; e = node.pollEvent()) {
      evs.push(e);
      this.opts.onEvent?.(id, e, this.now);
    }
    for (let t = node.pollTransmit(); t; t = node.pollTransmit()) {
      let targets: DaemonId[];
      if (t.to === 'configured') targets = this.opts.ids.filter((x) => x !== id);
      else if (t.to === 'ring') targets = node.status().members.filter((x) => x !== id);
      else targets = [t.to];
      for (const to of targets) {
        this.packetsSent++;
        if (this.loss > 0 && this.rand() < this.loss) continue;
        if (this.dropIf?.(id, to, t.bytes)) continue;
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

function familyKey(e: RingEvent): string {
  if (e.type === 'transitional') return `R${e.previous.rep}.${e.previous.seq}`;
  return configKey(e);
}

function configKey(e: RingEvent): string {
  if (e.type === 'regular') return `R${e.ring.rep}.${e.ring.seq}`;
  if (e.type === 'transitional') return `T${e.ring.rep}.${e.ring.seq}<${e.previous.rep}.${e.previous.seq}`;
  return '';
}

/**
 * The EVS properties over every process life of a harness run; returns the violations found.
 * Messages are identified by their payload text (tests make them unique).
 */
export function checkEvs(h: Harness): string[] {
  const bad: string[] = [];
  const dec = new TextDecoder();
  const membersOf = new Map<string, string>();
  const configOfMsg = new Map<string, string>();
  const segments: { life: number; key: string; family: string; next: string; msgs: string[] }[] = [];
  const orders: string[][] = [];
  h.lives.forEach((life, li) => {
    const seen = new Set<string>();
    const order: string[] = [];
    let cur: { life: number; key: string; family: string; next: string; msgs: string[] } | undefined;
    const awaiting: { next: string }[] = [];
    for (const e of life.events) {
      if (e.type === 'message') {
        const m = dec.decode(e.payload);
        if (seen.has(m)) bad.push(`life ${li} (${life.id}) delivered ${m} twice`);
        seen.add(m);
        order.push(m);
        if (!cur) {
          bad.push(`life ${li} delivered ${m} outside any configuration`);
          continue;
        }
        cur.msgs.push(m);
        const prev = configOfMsg.get(m);
        // EVS: a message belongs to one regular configuration; it is delivered there or in a
        // transitional configuration that follows it.
        if (prev !== undefined && prev !== cur.family) bad.push(`${m} delivered in ${prev} and in ${cur.family}`);
        configOfMsg.set(m, cur.family);
        continue;
      }
      const key = configKey(e);
      const mem = JSON.stringify(e.members);
      const known = membersOf.get(key);
      if (known !== undefined && known !== mem) bad.push(`${key} installed with ${known} and ${mem}`);
      membersOf.set(key, mem);
      if (e.type === 'regular') {
        for (const p of awaiting) p.next = key;
        awaiting.length = 0;
      }
      cur = { life: li, key, family: familyKey(e), next: '', msgs: [] };
      segments.push(cur);
      awaiting.push(cur);
    }
    orders.push(order);
    if (!life.crashed) {
      for (const m of life.submitted) if (!seen.has(m)) bad.push(`life ${li} (${life.id}) never delivered its own ${m}`);
    }
  });
  // Failure atomicity: processes that go through the same configuration into the same next one
  // delivered the same messages in it.
  const byPair = new Map<string, string>();
  for (const s of segments) {
    if (!s.next) continue;
    const k = `${s.key}->${s.next}`;
    const v = s.msgs.join(',');
    const prev = byPair.get(k);
    if (prev !== undefined && prev !== v) bad.push(`failure atomicity in ${k}: [${prev}] vs [${v}]`);
    byPair.set(k, v);
  }
  // Agreed order: one total order consistent with every process's delivery order.
  for (let a = 0; a < orders.length; a++) {
    const pos = new Map<string, number>();
    (orders[a] as string[]).forEach((m, i) => pos.set(m, i));
    for (let b = a + 1; b < orders.length; b++) {
      let last = -1;
      for (const m of orders[b] as string[]) {
        const p = pos.get(m);
        if (p === undefined) continue;
        if (p < last) {
          bad.push(`order differs between lives ${a} and ${b} at ${m}`);
          break;
        }
        last = p;
      }
    }
  }
  return bad;
}
