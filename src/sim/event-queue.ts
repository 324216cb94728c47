/**
 * The simulator's agenda: a binary min-heap ordered by (time, insertion counter). The counter
 * makes the order of simultaneous events depend only on the order they were scheduled, never on
 * heap internals, so a seed replays identically.
 */
export interface Scheduled<T> {
  readonly atMs: number;
  readonly order: number;
  readonly item: T;
}

export class EventQueue<T> {
  private readonly heap: Scheduled<T>[] = [];
  private counter = 0;
  /** Upper bound on queued events: a run that exceeds it is a runaway, not a simulation. */
  readonly eventsMax: number;

  constructor(eventsMax = 5_000_000) {
    this.eventsMax = eventsMax;
  }

  get size(): number {
    return this.heap.length;
  }

  push(atMs: number, item: T): void {
    if (!Number.isFinite(atMs)) throw new RangeError(`event time must be finite, got ${atMs}`);
    if (this.heap.length >= this.eventsMax) {
      throw new RangeError(`simulator event queue exceeded ${this.eventsMax} events`);
    }
    const entry: Scheduled<T> = { atMs, order: this.counter++, item };
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as Scheduled<T>;
      if (!before(entry, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = entry;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.atMs;
  }

  pop(): Scheduled<T> | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop() as Scheduled<T>;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && before(h[r] as Scheduled<T>, h[l] as Scheduled<T>)) c = r;
        const child = h[c] as Scheduled<T>;
        if (!before(child, last)) break;
        h[i] = child;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function before<T>(a: Scheduled<T>, b: Scheduled<T>): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order);
}
