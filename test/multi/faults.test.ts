/**
 * Faults of real ringcastd processes under traffic: a daemon killed with SIGKILL, the same daemon
 * restarted and merged back, a partition made through the monitor and healed, and a clean
 * shutdown. What the clients see must follow §7–§9 and extended virtual synchrony.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipMessage, Received, TransitionalMessage } from '../../src/client/index.js';
import { loadConfig, type DaemonEntry } from '../../src/config/index.js';
import { sendMonitorRequest } from '../../src/monitor/control.js';
import { FAST_TIMEOUTS, recordingClient, startRing, type RecordingClient, type Ring } from '../helpers/ring.js';
import { dataOf, flood, groupEvents, sendBurst } from '../helpers/ring-traffic.js';

type View = MembershipMessage | TransitionalMessage;

function viewsOf(log: readonly Received[], group: string, from = 0): View[] {
  return log.slice(from).filter((m): m is View => (m.kind === 'membership' || m.kind === 'transitional') && m.group === group);
}

function isNetworkView(m: Received, group: string): m is MembershipMessage {
  return m.kind === 'membership' && m.group === group && m.reason === 'network';
}

async function allJoined(cs: RecordingClient[], group: string): Promise<void> {
  for (const c of cs) await c.joinAndWait(group);
  for (const c of cs) {
    await c.until((l) => l.some((m) => m.kind === 'membership' && m.group === group && m.members.length === cs.length), 10_000, `view of ${cs.length}`);
  }
}

/** Every client sends `count` messages; waits until every client has all of them; returns the common order. */
async function exchange(cs: RecordingClient[], group: string, tag: string, count: number): Promise<string[]> {
  await Promise.all(cs.map((c) => sendBurst(c, group, tag, count)));
  const total = count * cs.length;
  await Promise.all(cs.map((c) => c.until((l) => dataOf(l, tag).length >= total, 15_000, `${total} messages ${tag}`)));
  const first = dataOf(cs[0]!.log, tag);
  for (const c of cs) expect(dataOf(c.log, tag), `order of ${tag} at ${c.name}`).toEqual(first);
  expect(first).toHaveLength(total);
  return first;
}

describe('faults with short membership timeouts', () => {
  let ring: Ring;
  const clients: RecordingClient[] = [];
  const client = async (daemon: string, name: string): Promise<RecordingClient> => {
    const c = await recordingClient(ring, daemon, name);
    clients.push(c);
    return c;
  };
  // The crashed daemon's client and the survivors' clients, shared by the crash and restart steps.
  let v: RecordingClient;
  let s1: RecordingClient;
  let s2: RecordingClient;
  const group = 'storm';

  beforeAll(async () => {
    ring = await startRing();
  }, 40_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.conn.disconnect().catch(() => {})));
    await ring?.close();
  }, 20_000);

  it('kill -9 of a daemon under flood: survivors get TRANSITION then a network view without its members, the same messages in the same order, nothing they sent lost', async () => {
    // The victim is d1: the lowest address, whose id names the ring, so the survivors must form a ring of their own.
    v = await client('d1', 'v');
    s1 = await client('d2', 's1');
    s2 = await client('d3', 's2');
    await allJoined([v, s1, s2], group);
    const survivors = [s1, s2];
    const before = survivors.map((c) => c.log.length);
    const fullView = viewsOf(s1.log, group).at(-1) as MembershipMessage;
    const floods = [v, s1, s2].map((c) => flood(c, group, 'k', { windowMessages: 64, size: 200, service: (i) => (i % 3 === 2 ? 'SAFE' : 'AGREED') }));
    await s1.until((l) => dataOf(l, 'k').length >= 600, 15_000, 'traffic from all three under way');
    await ring.crash('d1');
    for (const c of survivors) await c.until((l) => l.some((m) => isNetworkView(m, group) && m.members.length === 2), 10_000, 'network view after the crash');
    // Keep flooding in the new configuration for a while, then stop and let everything arrive.
    await s1.until((l) => dataOf(l.slice(l.findIndex((m) => isNetworkView(m, group) && m.members.length === 2)), 'k').length >= 200, 10_000, 'traffic after the change');
    await Promise.all(floods.map((f) => f.stop()));
    const [fv, f1, f2] = floods;
    expect(fv!.failed || v.closed).toBe(true);
    const sentBy = new Map([
      ['s1', f1!.sent],
      ['s2', f2!.sent],
    ]);
    const survivorsHave = (l: readonly Received[]): boolean => {
      const seq = dataOf(l, 'k');
      return [...sentBy].every(([s, n]) => seq.filter((x) => x.startsWith(`${s}:`)).length >= n);
    };
    for (const c of survivors) await c.until(survivorsHave, 15_000, 'every message the survivors sent');

    // Views: TRANSITION (with the old group id) then REG_MEMB CAUSED_BY_NETWORK of the survivors, nothing else.
    const sp = survivors.map((c) => c.conn.privateGroup);
    for (const [i, c] of survivors.entries()) {
      const views = viewsOf(c.log, group, before[i]);
      expect(views.map((x) => (x.kind === 'membership' ? x.reason : x.kind))).toEqual(['transitional', 'network']);
      const [t, r] = views as [TransitionalMessage, MembershipMessage];
      expect(t.groupId).toEqual(fullView.groupId);
      expect(r.members).toEqual(sp);
      expect(r.vsSets).toEqual([sp]);
      expect(r.localVsSet).toEqual(sp);
      expect(r.groupId.index).toBe(1);
    }
    expect((viewsOf(s1.log, group).at(-1) as MembershipMessage).groupId).toEqual((viewsOf(s2.log, group).at(-1) as MembershipMessage).groupId);

    // Same messages, same order, same position of the views among them.
    const e1 = groupEvents(s1.log.slice(before[0]), group, 'k');
    const e2 = groupEvents(s2.log.slice(before[1]), group, 'k');
    expect(e2).toEqual(e1);
    const seq = dataOf(s1.log, 'k');
    expect(new Set(seq).size).toBe(seq.length);
    // Nothing a surviving daemon accepted is lost, and each sender's messages come in order.
    for (const [s, n] of sentBy) {
      expect(seq.filter((x) => x.startsWith(`${s}:`)), `all of ${s}`).toEqual(Array.from({ length: n }, (_, i) => `${s}:${i}`));
    }
    // The dead daemon's messages that were delivered form a prefix of what its client sent (causal order within a sender).
    const fromV = seq.filter((x) => x.startsWith('v:'));
    expect(fromV).toEqual(Array.from({ length: fromV.length }, (_, i) => `v:${i}`));
    // No message of the dead daemon after the new regular view.
    const afterView = e1.slice(e1.findIndex((e) => e.startsWith('M network')));
    expect(afterView.filter((e) => e.startsWith('D v:'))).toEqual([]);
    // What the victim's client delivered before dying agrees with the survivors' order; what they lack came from it.
    const vseq = dataOf(v.log, 'k');
    const inSeq = new Set(seq);
    const inV = new Set(vseq);
    expect(vseq.filter((x) => inSeq.has(x))).toEqual(seq.filter((x) => inV.has(x)));
    expect(vseq.filter((x) => !inSeq.has(x)).every((x) => x.startsWith('v:'))).toBe(true);
    // EVS safe delivery: the victim delivered only in the regular configuration, so a SAFE message
    // it delivered had reached every member, and the survivors deliver it too.
    const isSafe = (x: string): boolean => Number(x.slice(x.indexOf(':') + 1)) % 3 === 2;
    expect(vseq.filter((x) => isSafe(x) && !inSeq.has(x))).toEqual([]);
    expect(v.closed).toBe(true);
  }, 60_000);

  it('restarted, the daemon merges back: one network view with a vs_set per previous view, no TRANSITION, traffic everywhere', async () => {
    const cfg = loadConfig(ring.configFile);
    const [e1, e2, e3] = cfg.daemons;
    // Keep d1 apart while it starts so that it has a member of the group when it merges.
    for (const d of [e2!, e3!]) expect(await sendMonitorRequest(cfg, d, { command: 'partition', blocked: [e1!.id] })).toEqual({ ok: true });
    await ring.start('d1');
    await ring.waitForRegular(['d1'], ['d1']);
    const vb = await client('d1', 'vb');
    await vb.joinAndWait(group);
    expect((viewsOf(vb.log, group).at(-1) as MembershipMessage).members).toEqual([vb.conn.privateGroup]);
    const all = [vb, s1, s2];
    const before = all.map((c) => c.log.length);
    for (const d of [e2!, e3!]) expect(await sendMonitorRequest(cfg, d, { command: 'heal' })).toEqual({ ok: true });
    await ring.waitForRegular(['d1', 'd2', 'd3']);
    for (const c of all) await c.until((l) => l.some((m) => isNetworkView(m, group) && m.members.length === 3), 10_000, 'merged view');
    const merged = all.map((c, i) => viewsOf(c.log, group, before[i]));
    const p = all.map((c) => c.conn.privateGroup);
    for (const [i, views] of merged.entries()) {
      expect(views.map((x) => x.kind), `views at ${all[i]!.name}`).toEqual(['membership']);
      const m = views[0] as MembershipMessage;
      expect(m.reason).toBe('network');
      expect(m.members).toEqual(p);
      // §7.2: one set per previous view, ordered by that view's membership id: {d1} was formed at
      // 127.0.0.1, {d2,d3} at 127.0.0.2, so the restarted daemon's set comes first.
      expect(m.vsSets).toEqual([[p[0]], [p[1], p[2]]]);
      expect(m.localVsSet).toEqual(i === 0 ? [p[0]] : [p[1], p[2]]);
      expect(m.groupId).toEqual((merged[0]![0] as MembershipMessage).groupId);
      expect(m.groupId.index).toBe(1);
    }
    await exchange(all, group, 'm', 50);
  }, 60_000);

  it('partition d1,d2 | d3 through ringcast monitor: each side gets TRANSITION and its own view and works alone; heal merges with correct vs_sets', async () => {
    const g = 'split';
    const p1 = await client('d1', 'p1');
    const p2 = await client('d2', 'p2');
    const p3 = await client('d3', 'p3');
    const all = [p1, p2, p3];
    await allJoined(all, g);
    const full = viewsOf(p1.log, g).at(-1) as MembershipMessage;
    const names = all.map((c) => c.conn.privateGroup);
    let before = all.map((c) => c.log.length);

    const split = await ring.monitor(['--partition', 'd1,d2|d3']);
    expect(split.code, split.stderr).toBe(0);
    expect(split.stdout).toMatch(/d1: drops d3/);
    expect(split.stdout).toMatch(/d3: drops d1, d2/);
    await ring.waitForRegular(['d1', 'd2'], ['d1', 'd2']);
    await ring.waitForRegular(['d3'], ['d3']);
    for (const c of all) await c.until((l) => viewsOf(l, g).some((v, i, a) => i > 0 && v.kind === 'membership' && v.reason === 'network' && a[i - 1]!.kind === 'transitional'), 10_000, 'partition views');
    const expectSide = (c: RecordingClient, i: number, side: string[]): void => {
      const views = viewsOf(c.log, g, before[i]);
      expect(views.map((v) => (v.kind === 'membership' ? v.reason : v.kind)), `views at ${c.name}`).toEqual(['transitional', 'network']);
      const [t, r] = views as [TransitionalMessage, MembershipMessage];
      expect(t.groupId).toEqual(full.groupId);
      expect(r.members).toEqual(side);
      expect(r.vsSets).toEqual([side]);
      expect(r.localVsSet).toEqual(side);
    };
    expectSide(p1, 0, names.slice(0, 2));
    expectSide(p2, 1, names.slice(0, 2));
    expectSide(p3, 2, names.slice(2));
    // Each side keeps working alone.
    await exchange([p1, p2], g, 'left', 30);
    await exchange([p3], g, 'right', 30);
    await new Promise((r) => setTimeout(r, 200));
    expect(dataOf(p3.log, 'left')).toEqual([]);
    expect(dataOf(p1.log, 'right')).toEqual([]);
    expect(dataOf(p2.log, 'right')).toEqual([]);
    const status = await ring.monitor(['--status']);
    expect(status.code, status.stderr).toBe(0);

    before = all.map((c) => c.log.length);
    const heal = await ring.monitor(['--heal']);
    expect(heal.code, heal.stderr).toBe(0);
    await ring.waitForRegular(['d1', 'd2', 'd3']);
    for (const c of all) await c.until((l) => viewsOf(l, g).some((v) => v.kind === 'membership' && v.reason === 'network' && v.members.length === 3), 10_000, 'merged view');
    for (const [i, c] of all.entries()) {
      const views = viewsOf(c.log, g, before[i]);
      expect(views.map((v) => (v.kind === 'membership' ? v.reason : v.kind)), `views at ${c.name} (a merge has no TRANSITION)`).toEqual(['network']);
      const v = views[0] as MembershipMessage;
      expect(v.members).toEqual(names);
      expect(v.vsSets).toEqual([names.slice(0, 2), names.slice(2)]);
      expect(v.localVsSet).toEqual(i < 2 ? names.slice(0, 2) : names.slice(2));
      expect(v.groupId).toEqual((viewsOf(p1.log, g, before[0])[0] as MembershipMessage).groupId);
    }
    await exchange(all, g, 'healed', 40);
  }, 60_000);

  it('partition under flood: each side delivers every message of its own clients in one order per side, agreeing on what both saw', async () => {
    const g = 'surge';
    const cfg = loadConfig(ring.configFile);
    const [e1, e2, e3] = cfg.daemons as [DaemonEntry, DaemonEntry, DaemonEntry];
    const all = [await client('d1', 'u1'), await client('d2', 'u2'), await client('d3', 'u3')];
    const [u1, u2, u3] = all as [RecordingClient, RecordingClient, RecordingClient];
    await allJoined(all, g);
    const before = all.map((c) => c.log.length);
    const floods = all.map((c) => flood(c, g, 'z', { windowMessages: 48, size: 300, service: (i) => (i % 2 ? 'SAFE' : 'AGREED') }));
    await u1.until((l) => dataOf(l, 'z').length >= 500, 15_000, 'traffic under way');
    const partition = async (blocked: Map<DaemonEntry, DaemonEntry[]>): Promise<void> => {
      await Promise.all([...blocked].map(async ([d, b]) => expect(await sendMonitorRequest(cfg, d, b.length ? { command: 'partition', blocked: b.map((x) => x.id) } : { command: 'heal' })).toEqual({ ok: true })));
    };
    await partition(new Map([[e1, [e3]], [e2, [e3]], [e3, [e1, e2]]]));
    const split = (c: RecordingClient, n: number): boolean => c.log.some((m) => isNetworkView(m, g) && m.members.length === n);
    await Promise.all([u1.until(() => split(u1, 2), 10_000, 'left view'), u2.until(() => split(u2, 2), 10_000, 'left view'), u3.until(() => split(u3, 1), 10_000, 'right view')]);
    await u1.until((l) => dataOf(l.slice(l.findIndex((m) => isNetworkView(m, g) && m.members.length === 2)), 'z').length >= 200, 10_000, 'traffic after the split');
    await Promise.all(floods.map((f) => f.stop()));
    const sent = new Map(all.map((c, i) => [c.name, floods[i]!.sent]));
    for (const c of all) expect(sent.get(c.name)).toBeGreaterThan(0);
    const hasOwnSide = (cs: RecordingClient[]) => (l: readonly Received[]): boolean => cs.every((s) => dataOf(l, 'z').filter((x) => x.startsWith(`${s.name}:`)).length >= sent.get(s.name)!);
    for (const c of [u1, u2]) await c.until(hasOwnSide([u1, u2]), 15_000, 'every message of the left side');
    await u3.until(hasOwnSide([u3]), 15_000, 'every message of the right side');

    // The left side: identical events, views in the same place.
    const left1 = groupEvents(u1.log.slice(before[0]), g, 'z');
    expect(groupEvents(u2.log.slice(before[1]), g, 'z')).toEqual(left1);
    const right = groupEvents(u3.log.slice(before[2]), g, 'z');
    for (const ev of [left1, right]) {
      expect(ev.filter((e) => !e.startsWith('D ')).map((e) => e.split(' ')[0] + (e.startsWith('M ') ? ` ${e.split(' ')[1]}` : ''))).toEqual(['T', 'M network']);
    }
    // Every client's own messages, complete and in order, on its own side.
    const seqL = dataOf(u1.log.slice(before[0]), 'z');
    const seqR = dataOf(u3.log.slice(before[2]), 'z');
    const own = (seq: string[], name: string): string[] => seq.filter((x) => x.startsWith(`${name}:`));
    for (const n of ['u1', 'u2']) expect(own(seqL, n)).toEqual(Array.from({ length: sent.get(n)! }, (_, i) => `${n}:${i}`));
    expect(own(seqR, 'u3')).toEqual(Array.from({ length: sent.get('u3')! }, (_, i) => `u3:${i}`));
    // Messages from the other side form a prefix of its senders' streams, and both sides order what they share alike.
    for (const [seq, others] of [[seqL, ['u3']], [seqR, ['u1', 'u2']]] as const) {
      for (const n of others) expect(own(seq, n)).toEqual(Array.from({ length: own(seq, n).length }, (_, i) => `${n}:${i}`));
    }
    const inR = new Set(seqR);
    const inL = new Set(seqL);
    expect(seqL.filter((x) => inR.has(x))).toEqual(seqR.filter((x) => inL.has(x)));
    // Nothing crosses the partition in the new regular configuration (messages of the old one may
    // still be delivered between TRANSITION and it: that is the transitional configuration).
    const afterR = (ev: string[]): string[] => ev.slice(ev.findIndex((e) => e.startsWith('M network')));
    expect(afterR(left1).filter((e) => e.startsWith('D u3:'))).toEqual([]);
    expect(afterR(right).filter((e) => e.startsWith('D u1:') || e.startsWith('D u2:'))).toEqual([]);
    // EVS safe delivery: a SAFE message (odd index) delivered in the old regular configuration reached all three.
    const beforeT = (ev: string[]): string[] => ev.slice(0, ev.findIndex((e) => e.startsWith('T '))).filter((e) => e.startsWith('D ')).map((e) => e.slice(2));
    const safeOf = (xs: string[]): string[] => xs.filter((x) => Number(x.slice(x.indexOf(':') + 1)) % 2 === 1);
    for (const x of safeOf(beforeT(left1))) expect(inR.has(x), `SAFE ${x} delivered on the left in the old configuration`).toBe(true);
    for (const x of safeOf(beforeT(right))) expect(inL.has(x), `SAFE ${x} delivered on the right in the old configuration`).toBe(true);

    await partition(new Map([[e1, []], [e2, []], [e3, []]]));
    await ring.waitForRegular(['d1', 'd2', 'd3']);
    for (const c of all) await c.until((l) => l.some((m) => isNetworkView(m, g) && m.members.length === 3 && l.indexOf(m) >= before[all.indexOf(c)]!), 10_000, 'merged view');
    await exchange(all, g, 'after-surge', 30);
  }, 60_000);

  it('membership changes on both sides of a partition (d1 | d2,d3) merge into one view whose vs_sets follow the previous views', async () => {
    const g = 'churn';
    const a1 = await client('d1', 'a1');
    const a2 = await client('d2', 'a2');
    const a3 = await client('d3', 'a3');
    await allJoined([a1, a2, a3], g);
    const split = await ring.monitor(['--partition', 'd1|d2,d3']);
    expect(split.code, split.stderr).toBe(0);
    await ring.waitForRegular(['d1'], ['d1']);
    await ring.waitForRegular(['d2', 'd3'], ['d2', 'd3']);
    for (const [c, n] of [[a1, 1], [a2, 2], [a3, 2]] as const) {
      await c.until((l) => l.some((m) => isNetworkView(m, g) && m.members.length === n), 10_000, 'partition view');
    }
    // Left side gains a member; right side loses one and gains another.
    const a4 = await client('d1', 'a4');
    await a4.joinAndWait(g);
    await a3.conn.leave(g);
    await a3.until((l) => l.some((m) => m.kind === 'self-leave' && m.group === g), 10_000, 'self-leave');
    const a5 = await client('d2', 'a5');
    await a5.joinAndWait(g);
    const left = [a1, a4];
    const right = [a2, a5];
    for (const c of left) await c.until((l) => viewsOf(l, g).at(-1)?.kind === 'membership' && (viewsOf(l, g).at(-1) as MembershipMessage).members.length === 2, 10_000, 'left view of 2');
    for (const c of right) await c.until((l) => viewsOf(l, g).at(-1)?.kind === 'membership' && (viewsOf(l, g).at(-1) as MembershipMessage).members.length === 2, 10_000, 'right view of 2');
    expect((viewsOf(a2.log, g).at(-1) as MembershipMessage).members).toEqual([a2.conn.privateGroup, a5.conn.privateGroup]);
    expect((viewsOf(a1.log, g).at(-1) as MembershipMessage).members).toEqual([a1.conn.privateGroup, a4.conn.privateGroup]);

    const all = [...left, ...right];
    const before = all.map((c) => c.log.length);
    const a3before = a3.log.length;
    const heal = await ring.monitor(['--heal']);
    expect(heal.code, heal.stderr).toBe(0);
    await ring.waitForRegular(['d1', 'd2', 'd3']);
    for (const c of all) await c.until((l) => l.slice(before[all.indexOf(c)]).some((m) => isNetworkView(m, g)), 10_000, 'merged view');
    const L = left.map((c) => c.conn.privateGroup);
    const R = right.map((c) => c.conn.privateGroup);
    const merged = all.map((c, i) => viewsOf(c.log, g, before[i]));
    for (const [i, views] of merged.entries()) {
      expect(views.map((v) => (v.kind === 'membership' ? v.reason : v.kind)), `views at ${all[i]!.name}`).toEqual(['network']);
      const v = views[0] as MembershipMessage;
      expect(v.members).toEqual([...L, ...R]);
      // {d1} formed at 127.0.0.1, {d2,d3} at 127.0.0.2: the left side's set first.
      expect(v.vsSets).toEqual([L, R]);
      expect(v.localVsSet).toEqual(i < 2 ? L : R);
      expect(v.groupId).toEqual((merged[0]![0] as MembershipMessage).groupId);
    }
    // The member that left during the partition hears nothing of the group any more.
    expect(groupEvents(a3.log.slice(a3before), g)).toEqual([]);
    await exchange(all, g, 'churned', 20);
    expect(dataOf(a3.log, 'churned')).toEqual([]);
  }, 60_000);

  it('cascading faults under flood (d1 cut off, healed, then d2 killed during the merge): one order for every pair, nothing lost by a survivor, one final view', async () => {
    const g = 'cascade';
    const cfg = loadConfig(ring.configFile);
    const [e1, e2, e3] = cfg.daemons as [DaemonEntry, DaemonEntry, DaemonEntry];
    const all = [await client('d1', 'k1'), await client('d2', 'k2'), await client('d3', 'k3')];
    const [k1, k2, k3] = all as [RecordingClient, RecordingClient, RecordingClient];
    await allJoined(all, g);
    const floods = all.map((c) => flood(c, g, 'cq', { windowMessages: 48, size: 100, service: (i) => (i % 2 ? 'SAFE' : 'AGREED') }));
    await k1.until((l) => dataOf(l, 'cq').length >= 300, 15_000, 'traffic under way');
    const set = async (d: DaemonEntry, blocked: DaemonEntry[]): Promise<void> => {
      expect(await sendMonitorRequest(cfg, d, blocked.length ? { command: 'partition', blocked: blocked.map((b) => b.id) } : { command: 'heal' })).toEqual({ ok: true });
    };
    await Promise.all([set(e1, [e2, e3]), set(e2, [e1]), set(e3, [e1])]);
    await k1.until((l) => l.some((m) => isNetworkView(m, g) && m.members.length === 1), 10_000, 'd1 alone');
    await Promise.all([set(e1, []), set(e2, []), set(e3, [])]);
    // Kill d2 while the merge is under way (its join and gather take a few hundred ms here).
    await new Promise((r) => setTimeout(r, 60));
    await ring.crash('d2');
    await ring.waitForRegular(['d1', 'd3'], ['d1', 'd3'], 15_000);
    const survivors = [k1, k3];
    const lastRegular = (c: RecordingClient): number => c.log.findLastIndex((m) => isNetworkView(m, g) && m.members.length === 2 && m.members.includes(k1.conn.privateGroup) && m.members.includes(k3.conn.privateGroup));
    for (const c of survivors) await c.until(() => lastRegular(c) >= 0, 10_000, 'final view of d1 and d3');
    await k1.until((l) => dataOf(l.slice(lastRegular(k1)), 'cq').length >= 200, 10_000, 'traffic in the final view');
    await Promise.all(floods.map((f) => f.stop()));
    // Everything before both end markers has been delivered to both (total order).
    for (const c of survivors) await c.conn.multicast('AGREED', g, `end:${c.name}:0`);
    for (const c of survivors) await c.until((l) => dataOf(l, 'end').length === 2, 15_000, 'both end markers');
    const sent = new Map(all.map((c, i) => [c.name, floods[i]!.sent]));
    const seq = new Map(all.map((c) => [c.name, dataOf(c.log, 'cq')]));
    for (const c of survivors) {
      const mine = seq.get(c.name)!.filter((x) => x.startsWith(`${c.name}:`));
      expect(mine, `every message of ${c.name} delivered back to it`).toEqual(Array.from({ length: sent.get(c.name)! }, (_, i) => `${c.name}:${i}`));
    }
    // Per sender, never out of order (messages sent while apart are legitimately missing on the other side).
    for (const c of all) {
      for (const s of all) {
        const idx = seq.get(c.name)!.filter((x) => x.startsWith(`${s.name}:`)).map((x) => Number(x.slice(s.name.length + 1)));
        expect(idx, `${s.name}'s messages at ${c.name}`).toEqual([...idx].sort((a, b) => a - b));
      }
    }
    // Any two members order the messages they both delivered alike.
    for (const [a, b] of [[k1, k3], [k1, k2], [k2, k3]] as const) {
      const sa = seq.get(a.name)!;
      const sb = seq.get(b.name)!;
      const inA = new Set(sa);
      const inB = new Set(sb);
      expect(sa.filter((x) => inB.has(x)), `common order of ${a.name} and ${b.name}`).toEqual(sb.filter((x) => inA.has(x)));
    }
    // The same view and the same deliveries in the final configuration.
    const v1 = k1.log[lastRegular(k1)] as MembershipMessage;
    const v3 = k3.log[lastRegular(k3)] as MembershipMessage;
    expect(v1.groupId).toEqual(v3.groupId);
    expect(v1.members).toEqual([k1.conn.privateGroup, k3.conn.privateGroup]);
    expect(dataOf(k1.log.slice(lastRegular(k1)), 'cq')).toEqual(dataOf(k3.log.slice(lastRegular(k3)), 'cq'));
  }, 60_000);
});

describe('clean shutdown with a long token timeout', () => {
  const tokenMs = 8000;
  let ring: Ring;
  const clients: RecordingClient[] = [];

  beforeAll(async () => {
    ring = await startRing({ timeouts: { ...FAST_TIMEOUTS, tokenMs } });
  }, 40_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.conn.disconnect().catch(() => {})));
    await ring?.close();
  }, 20_000);

  it('SIGTERM of a daemon makes the others reconfigure well before the token timeout would', async () => {
    const g = 'bye';
    const all = [await recordingClient(ring, 'd1', 'q1'), await recordingClient(ring, 'd2', 'q2'), await recordingClient(ring, 'd3', 'q3')];
    clients.push(...all);
    await allJoined(all, g);
    const before = all.map((c) => c.log.length);
    const [q1, q2, q3] = all as [RecordingClient, RecordingClient, RecordingClient];
    // Bounded well below TokenTimeout: only a departure announcement can explain a view this early.
    const boundMs = tokenMs / 2;
    const t0 = Date.now();
    await ring.stop('d3');
    expect(ring.isRunning('d3')).toBe(false);
    for (const c of [q1, q2]) await c.until((l) => l.slice(before[all.indexOf(c)]).some((m) => isNetworkView(m, g)), Math.max(1, boundMs - (Date.now() - t0)), 'network view after SIGTERM');
    for (const [i, c] of [q1, q2].entries()) {
      const views = viewsOf(c.log, g, before[i]);
      expect(views.map((v) => (v.kind === 'membership' ? v.reason : v.kind))).toEqual(['transitional', 'network']);
      expect((views[1] as MembershipMessage).members).toEqual([q1.conn.privateGroup, q2.conn.privateGroup]);
    }
    await q3.until(() => q3.closed, 5000, 'connection closed by the stopping daemon');
    await exchange([q1, q2], g, 'after', 20);
  }, 40_000);

  it('a daemon killed and restarted within the token timeout is a new incarnation: its old members go, it merges back at once', async () => {
    const g = 'phoenix';
    await ring.start('d3');
    await ring.waitForRegular(['d1', 'd2', 'd3']);
    const all = [await recordingClient(ring, 'd1', 'r1'), await recordingClient(ring, 'd2', 'r2'), await recordingClient(ring, 'd3', 'r3')];
    clients.push(...all);
    const [r1, r2, r3] = all as [RecordingClient, RecordingClient, RecordingClient];
    await allJoined(all, g);
    const before = [r1.log.length, r2.log.length];
    const t0 = Date.now();
    await ring.crash('d3');
    await ring.start('d3');
    // Bounded below TokenTimeout: the restarted daemon's join must start the change, not a lost token.
    const boundMs = tokenMs - 1000;
    for (const [i, c] of [r1, r2].entries()) {
      await c.until((l) => l.slice(before[i]).some((m) => isNetworkView(m, g)), Math.max(1, boundMs - (Date.now() - t0)), 'network view after the restart');
    }
    await ring.waitForRegular(['d1', 'd2', 'd3'], ['d1', 'd2', 'd3'], Math.max(1, boundMs - (Date.now() - t0)));
    for (const [i, c] of [r1, r2].entries()) {
      const views = viewsOf(c.log, g, before[i]);
      expect(views.map((v) => (v.kind === 'membership' ? v.reason : v.kind))).toEqual(['transitional', 'network']);
      expect((views[1] as MembershipMessage).members).toEqual([r1.conn.privateGroup, r2.conn.privateGroup]);
    }
    expect(r3.closed).toBe(true);
    const r3b = await recordingClient(ring, 'd3', 'r3b');
    clients.push(r3b);
    await r3b.joinAndWait(g);
    await exchange([r1, r2, r3b], g, 'reborn', 20);
  }, 40_000);
});
