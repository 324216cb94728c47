/**
 * Recovery planning and installation loop over old-ring seqs; their bound is what the log stored,
 * not the highest seq a commit token names. Without packet protection a damaged commit token
 * can name 2^53 - 1 (the simulator's corruption sweep found a daemon spinning on it).
 */
import { describe, expect, it } from 'vitest';
import { planRecovery } from '../../src/membership/recovery.js';
import type { CommitEntry, CommitToken } from '../../src/membership/wire.js';
import { RingLog } from '../../src/ring/log.js';
import type { DataPacket } from '../../src/ring/wire.js';
import type { DaemonId, RingId } from '../../src/util/ids.js';

const oldRing: RingId = { rep: 1 as DaemonId, seq: 40 };
/** Far enough that a loop up to it takes seconds (the test then fails on time instead of hanging). */
const HUGE_SEQ = 400_000_000;

function entry(id: number, oldAru: number, oldHigh: number): CommitEntry {
  return { id: id as DaemonId, incarnation: 1, filled: true, oldRing, oldAru, oldHigh, oldSafe: 0, oldDelivered: 0, form: new Uint8Array(0), sealed: new Uint8Array(0) };
}

describe('recovery bounds', () => {
  it('a commit token naming a huge old high seq plans over the stored packets only, at once', () => {
    const log = new RingLog(oldRing, 1000);
    for (let seq = 1; seq <= 5; seq++) {
      const pkt: DataPacket = { sender: 1 as DaemonId, incarnation: 1, ring: oldRing, seq, items: [], hasSafe: false };
      log.insert(pkt, new Uint8Array([seq]));
    }
    expect(log.highestStored).toBe(5);
    const c: CommitToken = { ring: { rep: 1 as DaemonId, seq: 44 }, tokenSeq: 1, rotation: 2, members: [entry(1, 5, 5), entry(2, 2, HUGE_SEQ)] };
    const started = performance.now();
    const plan = planRecovery(c, 1 as DaemonId, log)!;
    expect(performance.now() - started).toBeLessThan(1000);
    // Daemon 2 lacks 3..5, which daemon 1 holds: those are rebroadcast; nothing beyond.
    expect(plan.retransmit).toEqual([3, 4, 5]);
    expect(plan.highMax).toBe(HUGE_SEQ);
    // noteHigh (tokens) raises `high` but not what was stored.
    log.noteHigh(Number.MAX_SAFE_INTEGER);
    expect(log.highestStored).toBe(5);
  });
});
