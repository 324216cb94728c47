import { describe, expect, it } from 'vitest';
import { capturePath, readTcpStreams } from '../helpers/pcap.js';
import {
  MessageReader,
  MessageType,
  decodeAuthChoice,
  decodeRegMembBody,
  decodeTransitionBody,
  encodeAccept,
  encodeAuthChoice,
  encodeAuthList,
  encodeConnectRequest,
  encodeMessage,
  encodeRegMembBody,
  encodeTransitionBody,
  sendsPatchByte,
  type DecodedMessage,
} from '../../src/session/index.js';

/** Splits a captured session into its handshake records and message frames, strictly by the spec. */
function splitSession(c2s: Buffer, s2c: Buffer) {
  const major = c2s[0]!;
  const minor = c2s[1]!;
  const patchLen = sendsPatchByte(major, minor) ? 1 : 0;
  const nameLen = c2s[3 + patchLen]!;
  const connectLen = 4 + patchLen + nameLen;
  const connect = c2s.subarray(0, connectLen);
  const listLen = s2c.readInt8(0);
  if (listLen < 0) return { connect, rejected: listLen, list: undefined, choice: undefined, accept: undefined, toDaemon: [], toClient: [] };
  const list = s2c.subarray(0, 1 + listLen);
  const choice = c2s.subarray(connectLen, connectLen + 90);
  const acceptStart = 1 + listLen;
  const nameLenAt = acceptStart + 4;
  const accept = s2c.subarray(acceptStart, nameLenAt + 1 + s2c[nameLenAt]!);
  const read = (bytes: Buffer, direction: 'client-to-daemon' | 'daemon-to-client'): DecodedMessage[] => {
    const r = new MessageReader({ direction });
    r.push(bytes);
    const out: DecodedMessage[] = [];
    for (let m = r.next(); m; m = r.next()) out.push(m);
    expect(r.bufferedBytes()).toBe(0);
    return out;
  };
  return {
    connect,
    rejected: undefined,
    list,
    choice,
    accept,
    toDaemon: read(c2s.subarray(connectLen + 90), 'client-to-daemon'),
    toClient: read(s2c.subarray(accept.length + list.length), 'daemon-to-client'),
  };
}

/** Encodes a decoded frame again; group names zero-padded, so compare against a padding-cleaned copy. */
function reencode(m: DecodedMessage): Buffer {
  return encodeMessage({ type: m.header.type, sender: m.header.sender, groups: m.groups, hint: m.header.hint, data: m.data, oldType: m.oldType });
}

function zeroPadNames(frame: Uint8Array, numGroups: number, extra: number): Buffer {
  const out = Buffer.from(frame);
  const clean = (off: number) => {
    let i = off;
    while (i < off + 32 && out[i] !== 0) i++;
    out.fill(0, i, off + 32);
  };
  clean(4);
  for (let g = 0; g < numGroups; g++) clean(48 + extra + 32 * g);
  return out;
}

describe('codec against the captured real Spread 5.0.1 sessions', () => {
  for (const file of ['capA.pcap', 'capB.pcap']) {
    const streams = readTcpStreams(capturePath(file));
    for (const s of streams) {
      it(`${file} stream ${s.index}: every record decodes and re-encodes byte for byte`, () => {
        const sess = splitSession(s.clientToServer, s.serverToClient);
        const c = sess.connect;
        const patch = sendsPatchByte(c[0]!, c[1]!);
        const flags = c[patch ? 3 : 2]!;
        const name = c.subarray(patch ? 5 : 4).toString('latin1');
        expect(encodeConnectRequest({ major: c[0]!, minor: c[1]!, patch: patch ? c[2]! : 0, membership: (flags & 1) === 1, priority: flags >> 4, name })).toEqual(c);
        if (sess.rejected !== undefined) {
          expect(s.serverToClient.length).toBe(1);
          return;
        }
        const methods = sess.list!.subarray(1).toString('latin1').trim().split(' ');
        expect(encodeAuthList(methods)).toEqual(sess.list);
        expect(encodeAuthChoice(decodeAuthChoice(sess.choice!))).toEqual(sess.choice);
        const acc = sess.accept!;
        expect(encodeAccept({ major: acc[1]!, minor: acc[2]!, patch: acc[3]!, privateGroup: acc.subarray(5).toString('latin1') })).toEqual(acc);

        expect(sess.toDaemon.length + sess.toClient.length).toBeGreaterThan(0);
        for (const m of sess.toDaemon) {
          expect(reencode(m)).toEqual(zeroPadNames(m.frame, m.groups.length, 0));
        }
        for (const m of sess.toClient) {
          expect(reencode(m)).toEqual(Buffer.from(m.frame));
          const t = m.header.type;
          if (t & MessageType.REG_MEMB_MESS) {
            const body = decodeRegMembBody(m.data, m.header.littleEndian);
            expect(body.localSetIndex).toBeGreaterThanOrEqual(0);
            expect(encodeRegMembBody(body.groupId, body.vsSets, body.localSetIndex)).toEqual(Buffer.from(m.data));
          } else if (t & MessageType.TRANSITION_MESS) {
            expect(encodeTransitionBody(decodeTransitionBody(m.data, true))).toEqual(Buffer.from(m.data));
          }
        }
      });
    }
  }

  it('capture B: the merge membership has two vs_sets and alice at offset 68', () => {
    const [s] = readTcpStreams(capturePath('capB.pcap'));
    const sess = splitSession(s!.clientToServer, s!.serverToClient);
    const merges = sess.toClient.filter(
      (m) => (m.header.type & MessageType.CAUSED_BY_NETWORK) !== 0 && decodeRegMembBody(m.data, true).vsSets.length === 2,
    );
    expect(merges.length).toBeGreaterThan(0);
    const body = decodeRegMembBody(merges[0]!.data, true);
    expect(body.localVsSetOffset).toBe(68);
    expect(body.vsSets[1]).toEqual(['#alice#d1']);
    const transitions = sess.toClient.filter((m) => (m.header.type & MessageType.TRANSITION_MESS) !== 0);
    expect(transitions.length).toBeGreaterThan(0);
    expect(transitions[0]!.header.dataLen).toBe(12);
  });
});
