/**
 * Reply-anticipating token holds (TotemNode.anticipateReply, TotemOptions.replyHoldMs) in the
 * engine harness: a daemon whose client was handed a request keeps the token for the answer and
 * sends it at once; an answer that does not come releases the token after replyHoldMs and turns
 * anticipation off for a back-off period; with replyHoldMs 0 nothing is held.
 */
import { describe, expect, it } from 'vitest';
import { Service } from '../../src/util/service.js';
import type { RingEvent } from '../../src/ring/types.js';
import type { DaemonId } from '../../src/util/ids.js';
import { Harness } from './harness.js';

const text = (e: RingEvent): string | undefined => (e.type === 'message' ? new TextDecoder().decode(e.payload) : undefined);
const msg = (s: string) => ({ service: Service.AGREED, stream: 1, payload: new TextEncoder().encode(s) });

/** A three-daemon ring where daemon 3's client answers requests (when `answers`), `answerAfterMs` after getting them. */
function ring(replyHoldMs: number) {
  const seen = new Map<string, { at: number; by: DaemonId }[]>();
  const h: Harness = new Harness({
    ids: [1, 2, 3],
    seed: 9,
    latencyMs: 1,
    overrides: { replyHoldMs },
    onEvent: (id, ev, now) => {
      const t = text(ev);
      if (t === undefined) return;
      seen.set(t, [...(seen.get(t) ?? []), { at: now, by: id }]);
      // Daemon 3's client was handed a request from another daemon: it may answer.
      if (id === 3 && ev.type === 'message' && ev.sender !== 3 && t.startsWith('req')) h.node(3).anticipateReply(now);
    },
  });
  h.startAll();
  h.run(600);
  for (const id of [1, 2, 3]) expect(h.node(id).status().members).toEqual([1, 2, 3]);
  const deliveredAt = (t: string, by: DaemonId) => seen.get(t)?.find((s) => s.by === by)?.at;
  /** Daemon 1 sends a request; returns when daemon 3 delivered it. */
  const request = (name: string): number => {
    h.submit(1, msg(name));
    const until = h.now + 50;
    while (deliveredAt(name, 3) === undefined && h.now < until) h.run(h.now + 0.25);
    const at = deliveredAt(name, 3);
    expect(at, `${name} delivered at daemon 3`).toBeDefined();
    return at!;
  };
  return { h, request, deliveredAt };
}

describe('reply-anticipating token hold', () => {
  it('the daemon keeps the token for its client\'s answer and sends the answer at once', () => {
    const { h, request, deliveredAt } = ring(5);
    const at = request('req-1');
    h.run(at + 3);
    // The answer is submitted 3 ms later; the token is still here, so it leaves at once: one hop to daemon 1.
    h.submit(3, msg('answer-1'));
    const submittedAt = h.now;
    h.run(submittedAt + 20);
    expect(deliveredAt('answer-1', 1)).toBe(submittedAt + 1);
    expect(h.node(3).status()).toMatchObject({ replyHolds: 1, replyHoldHits: 1 });
    // Every daemon delivered both, in one order.
    for (const id of [1, 2, 3]) expect(h.messages(id).slice(-2)).toEqual(['1:req-1', '3:answer-1']);
  });

  it('without the hold the same answer waits for the token to come round', () => {
    const waits: number[] = [];
    for (const delay of [1.5, 2, 2.5, 3, 3.5]) {
      const { h, request, deliveredAt } = ring(0);
      const at = request('req-1');
      h.run(at + delay);
      h.submit(3, msg('answer-1'));
      const submittedAt = h.now;
      h.run(submittedAt + 20);
      waits.push(deliveredAt('answer-1', 1)! - submittedAt);
      expect(h.node(3).status().replyHolds).toBe(0);
    }
    // Some answers find the token elsewhere and need more than the one hop a held token gives.
    expect(Math.max(...waits)).toBeGreaterThan(1);
  });

  it('a stream of messages (more than a few between two token visits) is not waited for', () => {
    const { h, deliveredAt } = ring(5);
    for (const k of 'abcdef') h.submit(1, msg(`req-${k}`));
    h.run(h.now + 30);
    expect(deliveredAt('req-f', 3)).toBeDefined();
    expect(h.node(3).status().replyHolds).toBe(0);
  });

  it('an answer that does not come releases the token after the hold and pauses anticipation (back-off)', () => {
    const { h, request } = ring(5);
    const first = request('req-1');
    h.run(first + 30);
    const node = h.node(3);
    expect(node.status()).toMatchObject({ replyHolds: 1, replyHoldHits: 0 });
    // The ring went on after the hold: a message from daemon 2 reaches everyone.
    h.submit(2, msg('other'));
    h.run(h.now + 20);
    for (const id of [1, 2, 3]) expect(h.messages(id)).toContain('2:other');
    // Past the back-off a request is waited for again (a second miss); the request right after
    // it falls within the new, doubled back-off and is not.
    const holdsBefore = node.status().replyHolds!;
    request('req-2');
    h.run(h.now + 3);
    request('req-3');
    h.run(h.now + 100);
    expect(node.status().replyHolds! - holdsBefore).toBe(1);
    expect(node.status().replyHoldHits).toBe(0);
    // An answer ends a hold again once the back-off has passed, and resets it.
    h.run(h.now + 3000);
    const at = request('req-4');
    h.run(at + 1);
    h.submit(3, msg('answer-4'));
    h.run(h.now + 20);
    expect(node.status().replyHoldHits).toBe(1);
    for (const id of [1, 2, 3]) expect(h.messages(id)).toEqual(h.messages(1));
  });
});
