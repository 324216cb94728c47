/**
 * Capture A replayed against a real ringcastd: the client→daemon bytes of all six libspread
 * sessions that a real Spread 5.0.1 daemon served (shared/protocol/captures/capA.pcap) are written
 * to a ringcastd named d1, segment by segment in the captured global order, and what ringcastd
 * sends back on each connection must be what Spread sent, byte for byte. Two things differ by
 * nature and are checked by rule instead: the group_id memb_id (proc_id, time) in membership
 * bodies (the ring's id; the index must match, and all members must see the same ids) and the
 * daemon-assigned private name `#r<N>-<k>#d1`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHeader } from '../../src/session/codec.js';
import { MessageType } from '../../src/session/protocol.js';
import { capturePath, readTcpStreams, type TcpStream } from '../helpers/pcap.js';
import { rawConnect, sleep, splitServerStream, type RawConnection, type ServerRecord } from '../helpers/raw-session.js';
import { startSingleDaemon, type SingleDaemon } from '../helpers/single-daemon.js';

/** Longest wait for the replies the capture shows before the next client action. */
const REPLY_WAIT_MS = 3000;
/** Pause after an action the capture shows no reply to. */
const QUIET_PAUSE_MS = 5;

type Action = { kind: 'open' } | { kind: 'write'; segment: number } | { kind: 'close' };
interface Event {
  time: number;
  stream: number;
  action: Action;
}

interface Replayed {
  stream: TcpStream;
  conn: RawConnection | undefined;
  /** Captured assigned private group → ours (for sessions that connected with name_len 0). */
  nameMap: Map<string, string>;
  /** The client stream as written (names rewritten where the daemon assigned them). */
  written: Buffer[];
  endedByDaemon: boolean;
}

const streams = readTcpStreams(capturePath('capA.pcap'));
let d: SingleDaemon;
const replayed: Replayed[] = [];

/** Length of a 5.0.1 client's handshake: connect request (5 + name_len) and the 90-byte auth choice. */
function clientHandshakeBytes(s: TcpStream): number {
  const nameLen = s.clientToServer[4] ?? 0;
  return Math.min(s.clientToServer.length, 5 + nameLen + 90);
}

function hasKill(s: TcpStream): boolean {
  const buf = s.clientToServer;
  for (let off = clientHandshakeBytes(s); off + 48 <= buf.length; ) {
    const h = decodeHeader(buf, off);
    if ((h.type & MessageType.KILL_MESS) !== 0) return true;
    off += 48 + 32 * h.numGroups + h.dataLen;
  }
  return false;
}

/** Rewrites name fields (sender and group slots) that hold a captured assigned name; lengths are kept. */
function rewriteNames(s: TcpStream, map: Map<string, string>): Buffer {
  const buf = Buffer.from(s.clientToServer);
  if (map.size === 0) return buf;
  const fix = (at: number): void => {
    let end = at;
    while (end < at + 32 && buf[end] !== 0) end++;
    const ours = map.get(buf.subarray(at, end).toString('latin1'));
    if (ours === undefined) return;
    buf.fill(0, at, at + Math.max(end - at, ours.length + 1));
    buf.write(ours, at, 'latin1');
  };
  for (let off = clientHandshakeBytes(s); off + 48 <= buf.length; ) {
    const h = decodeHeader(buf, off);
    fix(off + 4);
    for (let g = 0; g < h.numGroups; g++) fix(off + 48 + 32 * g);
    off += 48 + 32 * h.numGroups + h.dataLen;
  }
  return buf;
}

/** Number of daemon records the capture shows complete on stream `s` strictly before `time`. */
function capturedRecordsBefore(s: TcpStream, time: number): number {
  let bytes = 0;
  s.serverSegments.forEach((seg, i) => {
    if ((s.serverSegmentTimes[i] ?? Infinity) < time) bytes += seg.length;
  });
  return splitServerStream(s.serverToClient.subarray(0, bytes)).records.length;
}

function timeline(): Event[] {
  const events: Event[] = [];
  for (const s of streams) {
    if (s.openTime === undefined) throw new Error(`stream ${s.index}: the capture misses its SYN`);
    events.push({ time: s.openTime, stream: s.index, action: { kind: 'open' } });
    s.clientSegmentTimes.forEach((t, i) => events.push({ time: t, stream: s.index, action: { kind: 'write', segment: i } }));
    if (s.clientClose) events.push({ time: s.clientClose.time, stream: s.index, action: { kind: 'close' } });
  }
  // Stable: equal times keep per-stream order.
  return events.map((e, i) => ({ e, i })).sort((a, b) => a.e.time - b.e.time || a.i - b.i).map((x) => x.e);
}

/** Waits (bounded) until every open connection has the records the capture shows before `time`. */
async function awaitCapturedReplies(time: number): Promise<void> {
  let waited = false;
  for (const r of replayed) {
    if (r.conn === undefined) continue;
    const want = capturedRecordsBefore(r.stream, time);
    const conn = r.conn;
    if (splitServerStream(conn.received()).records.length >= want) continue;
    waited = true;
    await conn.waitFor((b) => splitServerStream(b).records.length >= want, REPLY_WAIT_MS).catch(() => undefined);
  }
  if (!waited) await sleep(QUIET_PAUSE_MS);
}

function learnAssignedName(r: Replayed): void {
  if (r.conn === undefined || r.stream.clientToServer[4] !== 0) return;
  const captured = splitServerStream(r.stream.serverToClient).records.find((x) => x.kind === 'accept');
  const ours = splitServerStream(r.conn.received()).records.find((x) => x.kind === 'accept');
  if (captured === undefined || ours === undefined || r.nameMap.size > 0) return;
  r.nameMap.set(captured.bytes.subarray(5).toString('latin1'), ours.bytes.subarray(5).toString('latin1'));
}

async function replay(): Promise<void> {
  for (const s of streams) replayed[s.index] = { stream: s, conn: undefined, nameMap: new Map(), written: [], endedByDaemon: false };
  for (const ev of timeline()) {
    await awaitCapturedReplies(ev.time);
    const r = replayed[ev.stream]!;
    const s = r.stream;
    switch (ev.action.kind) {
      case 'open':
        r.conn = await rawConnect({ port: d.port });
        void r.conn.closed.then((how) => {
          if (how === 'end') r.endedByDaemon = true;
        });
        break;
      case 'write': {
        learnAssignedName(r);
        const stream = rewriteNames(s, r.nameMap);
        const start = s.clientSegments.slice(0, ev.action.segment).reduce((n, b) => n + b.length, 0);
        const seg = stream.subarray(start, start + s.clientSegments[ev.action.segment]!.length);
        r.written.push(seg);
        if (!r.conn!.isClosed()) await r.conn!.write(seg);
        break;
      }
      case 'close': {
        const sock = r.conn!.socket;
        // Where the daemon closed first in the capture (reject, KILL), its FIN must come first here too.
        if (s.serverClose && s.clientClose && s.serverClose.time < s.clientClose.time) await r.conn!.closedWithin(REPLY_WAIT_MS);
        if (s.clientClose?.kind === 'rst') sock.resetAndDestroy();
        // §9: a session that vanished without KILL (dave, SIGKILLed): the daemon must notice by itself.
        else if (!hasKill(s)) sock.destroy();
        else sock.end();
        break;
      }
    }
  }
  // The daemon closes every connection at the end of capture A; give it a bounded moment.
  await Promise.all(replayed.map((r) => (r.conn && !r.conn.socket.destroyed ? r.conn.closedWithin(REPLY_WAIT_MS) : undefined)));
}

beforeAll(async () => {
  d = await startSingleDaemon({ name: 'd1' });
  await replay();
}, 60_000);

afterAll(async () => {
  for (const r of replayed) r?.conn?.socket.destroy();
  await d?.stop();
});

const MEMBERSHIP_BITS = MessageType.REG_MEMB_MESS | MessageType.TRANSITION_MESS;

function isMembership(rec: ServerRecord): boolean {
  return rec.kind === 'message' && (decodeHeader(rec.bytes).type & MEMBERSHIP_BITS) !== 0;
}

/** Offset of the membership body (group_id first) inside a membership frame. */
function bodyOffset(rec: ServerRecord): number {
  return 48 + 32 * decodeHeader(rec.bytes).numGroups;
}

/** The frame with the 8 bytes of group_id.memb_id zeroed (membership frames only). */
function masked(rec: ServerRecord): Buffer {
  const b = Buffer.from(rec.bytes);
  if (isMembership(rec)) b.fill(0, bodyOffset(rec), bodyOffset(rec) + 8);
  return b;
}

const describeStream = (s: TcpStream): string => `stream ${s.index} (client port ${s.clientPort})`;

describe('capture A replayed against ringcastd', () => {
  it('covers all six sessions of the capture', () => {
    expect(streams).toHaveLength(6);
    expect(replayed.every((r) => r.conn !== undefined)).toBe(true);
  });

  it('writes exactly the captured client bytes (except assigned names, rewritten in place)', () => {
    for (const r of replayed) {
      const written = Buffer.concat(r.written);
      expect(written.length, describeStream(r.stream)).toBe(r.stream.clientToServer.length);
      if (r.nameMap.size === 0) expect(written.equals(r.stream.clientToServer), describeStream(r.stream)).toBe(true);
    }
  });

  it('answers every handshake exactly as Spread did (auth list, accept, REJECT_NOT_UNIQUE)', () => {
    for (const r of replayed) {
      const want = splitServerStream(r.stream.serverToClient).records.filter((x) => x.kind !== 'message');
      const got = splitServerStream(r.conn!.received()).records.filter((x) => x.kind !== 'message');
      expect(got.map((x) => x.kind), describeStream(r.stream)).toEqual(want.map((x) => x.kind));
      want.forEach((w, i) => {
        const g = got[i]!;
        if (w.kind === 'accept' && r.stream.clientToServer[4] === 0) {
          // Assigned name: same version bytes, a name of Spread's form.
          expect(g.bytes.subarray(0, 4).toString('hex')).toBe(w.bytes.subarray(0, 4).toString('hex'));
          const name = g.bytes.subarray(5).toString('latin1');
          expect(g.bytes[4]).toBe(name.length);
          expect(name).toMatch(/^#r\d{1,4}-\d+#d1$/);
          const priv = name.slice(1, name.indexOf('#', 1));
          expect(priv.length).toBeLessThanOrEqual(9);
          expect(Number(priv.slice(1, priv.indexOf('-')))).toBeLessThanOrEqual(9998);
        } else {
          expect(g.bytes.toString('hex'), `${describeStream(r.stream)} ${w.kind}`).toBe(w.bytes.toString('hex'));
        }
      });
    }
    // The duplicate alice got the single byte -6 and nothing else.
    const dup = replayed.find((r) => r.stream.serverToClient.length === 1)!;
    expect(dup.conn!.received().toString('hex')).toBe('fa');
  });

  it('sends every message byte for byte as Spread did, except the group_id memb_id', () => {
    for (const r of replayed) {
      const want = splitServerStream(r.stream.serverToClient).records.filter((x) => x.kind === 'message');
      const split = splitServerStream(r.conn!.received());
      expect(split.partialBytes, describeStream(r.stream)).toBe(0);
      const got = split.records.filter((x) => x.kind === 'message');
      expect(got.length, `${describeStream(r.stream)}: number of messages`).toBe(want.length);
      want.forEach((w, i) => {
        expect(masked(got[i]!).toString('hex'), `${describeStream(r.stream)} message ${i}`).toBe(masked(w).toString('hex'));
      });
    }
  });

  it('gives every member of a group view the same group id, one id per captured id', () => {
    const byView = new Map<string, string>();
    const ours = new Map<string, string>();
    for (const r of replayed) {
      const want = splitServerStream(r.stream.serverToClient).records.filter(isMembership);
      const got = splitServerStream(r.conn!.received()).records.filter(isMembership);
      got.forEach((g, i) => {
        const w = want[i];
        if (w === undefined) return;
        const group = decodeHeader(g.bytes).sender;
        const gid = g.bytes.subarray(bodyOffset(g), bodyOffset(g) + 12);
        const view = `${group}/${gid.readInt32LE(8)}`;
        const membId = gid.subarray(0, 8).toString('hex');
        expect(byView.get(view) ?? membId, `group view ${view}`).toBe(membId);
        byView.set(view, membId);
        const captured = w.bytes.subarray(bodyOffset(w), bodyOffset(w) + 8).toString('hex');
        expect(ours.get(captured) ?? membId, `captured memb_id ${captured}`).toBe(membId);
        ours.set(captured, membId);
      });
    }
    expect(byView.size).toBeGreaterThanOrEqual(5);
  });

  it('closes each connection as Spread did', () => {
    for (const r of replayed) {
      // Dave's socket was destroyed before the daemon's FIN, which cannot be observed from here.
      const s = r.stream;
      if (!hasKill(s) && s.serverClose && s.clientClose && s.clientClose.time < s.serverClose.time) continue;
      expect(r.endedByDaemon, describeStream(r.stream)).toBe(r.stream.serverClose?.kind === 'fin');
    }
  });

  it('logged the duplicate name and is still running', () => {
    const out = d.daemon.output();
    expect(out).toMatch(/REJECT_NOT_UNIQUE/);
    expect(d.daemon.proc.exitCode).toBeNull();
  });
});
