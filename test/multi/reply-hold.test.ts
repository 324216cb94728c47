/**
 * Reply-anticipating token holds between real daemons (AnticipateReplies): a request/response
 * exchange between clients on d1 and d3 has the daemons hold the token for the answers, the
 * answers end the holds, and every request and answer arrives once, in order. With the option
 * off nothing is held and the same exchange works.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { sendMonitorRequest } from '../../src/monitor/control.js';
import type { Received } from '../../src/client/index.js';
import { recordingClient, startRing, type RecordingClient, type Ring } from '../helpers/ring.js';

const ROUNDS = 60;
const rings: Ring[] = [];
const clients: RecordingClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.conn.disconnect().catch(() => {})));
  for (const r of rings.splice(0)) await r.close();
}, 20_000);

const text = (m: Received): string | undefined => (m.kind === 'data' ? Buffer.from(m.data).toString() : undefined);

async function holds(ring: Ring): Promise<{ holds: number; hits: number }> {
  const cfg = loadConfig(ring.configFile);
  const out = { holds: 0, hits: 0 };
  for (const d of cfg.daemons) {
    const r = await sendMonitorRequest(cfg, d, { command: 'status' });
    expect(r.ok).toBe(true);
    const st = r.status as { ring: { replyHolds?: number; replyHoldHits?: number } };
    out.holds += st.ring.replyHolds ?? 0;
    out.hits += st.ring.replyHoldHits ?? 0;
  }
  return out;
}

/** ROUNDS requests from a client on d1, each answered by a client on d3; returns the ring's hold counters. */
async function exchange(extraConfig?: string): Promise<{ holds: number; hits: number }> {
  const ring = await startRing(extraConfig !== undefined ? { extraConfig } : {});
  rings.push(ring);
  const asker = await recordingClient(ring, 'd1', 'asker');
  const answerer = await recordingClient(ring, 'd3', 'answerer');
  clients.push(asker, answerer);
  await asker.joinAndWait('answers');
  await answerer.joinAndWait('requests');
  answerer.conn.on('message', (m: Received) => {
    const t = text(m);
    if (t?.startsWith('req ')) void answerer.conn.multicast('AGREED', 'answers', `ans ${t.slice(4)}`).catch(() => {});
  });
  const before = await holds(ring);
  for (let i = 0; i < ROUNDS; i++) {
    await asker.conn.multicast('AGREED', 'requests', `req ${i}`);
    await asker.until((l) => l.some((m) => text(m) === `ans ${i}`), 5_000, `answer ${i}`);
  }
  expect(asker.log.map(text).filter((t) => t !== undefined)).toEqual(Array.from({ length: ROUNDS }, (_, i) => `ans ${i}`));
  const after = await holds(ring);
  return { holds: after.holds - before.holds, hits: after.hits - before.hits };
}

describe('reply holds between real daemons', () => {
  it('request/response traffic: the daemons hold the token for the answers, which end the holds', async () => {
    const h = await exchange();
    // Usually every round trip has one or two (d1 waiting for the next request, d3 for the
    // answer); a loaded machine makes some answers late (a miss, then a back-off), so the test
    // asks for a tenth.
    expect(h.hits).toBeGreaterThanOrEqual(ROUNDS / 10);
    expect(h.holds).toBeGreaterThanOrEqual(h.hits);
  }, 60_000);

  it('AnticipateReplies = false: nothing is held, and the same exchange works', async () => {
    expect(await exchange('AnticipateReplies = false')).toEqual({ holds: 0, hits: 0 });
  }, 60_000);
});
