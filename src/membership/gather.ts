/**
 * Totem §4.2 gather: agree on the membership of the next ring. Each processor keeps a proc set
 * (every processor it has heard of, with its incarnation) and a fail set; join messages carry
 * both, and receivers take unions. Consensus: every processor of proc − fail has sent a join
 * with exactly my sets. Processors that do not get there within the consensus timeout are
 * moved to the fail set.
 */
import type { DaemonId } from '../util/ids.js';
import type { JoinMessage } from './wire.js';

export type JoinOutcome = 'ignored' | 'unchanged' | 'changed';

export class Gather {
  readonly procs = new Map<DaemonId, number>();
  readonly fails = new Set<DaemonId>();
  /** The last join heard from each processor during this gather. */
  private readonly joins = new Map<DaemonId, JoinMessage>();
  /** Processors heard from since the last consensus timeout. */
  private readonly heard = new Set<DaemonId>();
  private disagreeingRounds = 0;
  ringSeqMax: number;

  constructor(
    private readonly self: DaemonId,
    selfIncarnation: number,
    initial: ReadonlyMap<DaemonId, number>,
    ringSeqMax: number,
  ) {
    for (const [id, inc] of initial) this.procs.set(id, inc);
    this.procs.set(self, selfIncarnation);
    this.ringSeqMax = ringSeqMax;
  }

  /** proc − fail, ascending: the membership consensus is sought on. */
  members(): DaemonId[] {
    const out: DaemonId[] = [];
    for (const id of this.procs.keys()) if (!this.fails.has(id)) out.push(id);
    return out.sort((a, b) => a - b);
  }

  /** Add a processor discovered by foreign-message detection. */
  addProc(id: DaemonId, incarnation: number): boolean {
    const known = this.procs.get(id);
    if (known !== undefined && known >= incarnation) return false;
    this.procs.set(id, incarnation);
    if (known !== undefined) {
      // A restarted processor is a new one: whatever it said before no longer counts.
      this.joins.delete(id);
      this.fails.delete(id);
    }
    return true;
  }

  /** A processor left or was detected failed. */
  fail(id: DaemonId): boolean {
    if (id === this.self || this.fails.has(id)) return false;
    this.fails.add(id);
    if (!this.procs.has(id)) this.procs.set(id, 0);
    return true;
  }

  /** Totem §4.2: receive a join message; unions the sets. */
  onJoin(from: DaemonId, j: JoinMessage): JoinOutcome {
    if (this.fails.has(from)) return 'ignored';
    if (j.leave) {
      this.fail(from);
      return 'changed';
    }
    // It counts me as failed: its sets cannot become mine. Taking its view over would spread
    // failures of processors that are alive; if it never comes round, the consensus timeout
    // fails it, and the two rings merge later through probes.
    if (j.fails.has(this.self)) return 'ignored';
    let changed = false;
    for (const [id, inc] of j.procs) {
      const mine = this.procs.get(id);
      if (mine === undefined || inc > mine) {
        this.procs.set(id, inc);
        if (mine !== undefined) this.joins.delete(id);
        changed = true;
      }
    }
    for (const id of j.fails) {
      if (id !== this.self && !this.fails.has(id)) {
        this.fails.add(id);
        if (!this.procs.has(id)) this.procs.set(id, 0);
        changed = true;
      }
    }
    this.joins.set(from, j);
    this.heard.add(from);
    if (j.ringSeqMax > this.ringSeqMax) this.ringSeqMax = j.ringSeqMax;
    return changed ? 'changed' : 'unchanged';
  }

  private agrees(j: JoinMessage | undefined): boolean {
    if (!j || j.procs.size !== this.procs.size || j.fails.size !== this.fails.size) return false;
    for (const [id, inc] of this.procs) if (j.procs.get(id) !== inc) return false;
    for (const id of this.fails) if (!j.fails.has(id)) return false;
    return true;
  }

  /** Totem §4.2 consensus: every processor of proc − fail sent a join with my sets. */
  consensus(): boolean {
    for (const id of this.procs.keys()) {
      if (id === this.self || this.fails.has(id)) continue;
      if (!this.agrees(this.joins.get(id))) return false;
    }
    return true;
  }

  /** Whether this join carries exactly my sets (a stale duplicate once consensus was used). */
  sameSets(j: JoinMessage): boolean {
    return this.agrees(j);
  }

  /**
   * Totem §4.2 consensus timeout. Processors silent since the last timeout go to the fail set.
   * If everyone spoke but consensus still fails for a second timeout in a row (a processor that
   * hears only some of us never converges), the disagreeing ones go to the fail set too.
   */
  onConsensusTimeout(): boolean {
    let changed = false;
    for (const id of [...this.procs.keys()]) {
      if (id === this.self || this.fails.has(id)) continue;
      if (!this.heard.has(id)) {
        this.fails.add(id);
        changed = true;
      }
    }
    if (!changed && !this.consensus()) {
      this.disagreeingRounds++;
      if (this.disagreeingRounds >= 2) {
        for (const id of [...this.procs.keys()]) {
          if (id === this.self || this.fails.has(id)) continue;
          if (!this.agrees(this.joins.get(id))) {
            this.fails.add(id);
            changed = true;
          }
        }
      }
    }
    if (changed) this.disagreeingRounds = 0;
    this.heard.clear();
    return changed;
  }

  /** Largest ring seq any agreeing member reported. */
  joinRingSeqMax(): number {
    return this.ringSeqMax;
  }
}
