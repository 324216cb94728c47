/**
 * Minimal reader for the classic pcap captures in shared/protocol/captures (Ethernet, IPv4/IPv6,
 * TCP): reassembles each TCP connection's byte stream in both directions, keeping the segments
 * with their capture times, and when each side opened and closed (FIN or RST), so tests can use
 * a real Spread session's bytes as vectors and replay its timeline.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface TcpStream {
  index: number;
  clientPort: number;
  serverPort: number;
  clientToServer: Buffer;
  serverToClient: Buffer;
  clientSegments: Buffer[];
  serverSegments: Buffer[];
  /** Capture time (seconds since the epoch, µs or ns precision) of each entry of clientSegments. */
  clientSegmentTimes: number[];
  /** Capture time of each entry of serverSegments. */
  serverSegmentTimes: number[];
  /** Time of the client's SYN (undefined if the capture started after it). */
  openTime: number | undefined;
  /** First FIN or RST seen from each side, with its time. */
  clientClose: TcpClose | undefined;
  serverClose: TcpClose | undefined;
}

export interface TcpClose {
  kind: 'fin' | 'rst';
  time: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const PROTOCOL_DIR = path.resolve(here, '../../../shared/protocol');

export function capturePath(name: string): string {
  return path.join(PROTOCOL_DIR, 'captures', name);
}

export function readTcpStreams(file: string, serverPort = 4803): TcpStream[] {
  const buf = readFileSync(file);
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  // 0xa1b23c4d: the sub-second field counts nanoseconds instead of microseconds.
  const nanos = (le ? magic : buf.readUInt32BE(0)) === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) {
    throw new Error(`${file}: not a classic pcap file`);
  }
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = u32(20);
  if (linkType !== 1) throw new Error(`${file}: link type ${linkType} is not Ethernet`);
  const streams = new Map<number, TcpStream & { nextSeq: [number | undefined, number | undefined] }>();
  let off = 24;
  while (off + 16 <= buf.length) {
    const time = u32(off) + u32(off + 4) / (nanos ? 1e9 : 1e6);
    const capLen = u32(off + 8);
    const pkt = buf.subarray(off + 16, off + 16 + capLen);
    off += 16 + capLen;
    const etherType = pkt.readUInt16BE(12);
    let ip = 14;
    let proto: number;
    let payloadEnd: number;
    if (etherType === 0x0800) {
      const ihl = (pkt[ip]! & 0x0f) * 4;
      proto = pkt[ip + 9]!;
      payloadEnd = ip + pkt.readUInt16BE(ip + 2);
      ip += ihl;
    } else if (etherType === 0x86dd) {
      proto = pkt[ip + 6]!;
      payloadEnd = ip + 40 + pkt.readUInt16BE(ip + 4);
      ip += 40;
    } else continue;
    if (proto !== 6) continue;
    const src = pkt.readUInt16BE(ip);
    const dst = pkt.readUInt16BE(ip + 2);
    const seq = pkt.readUInt32BE(ip + 4);
    const flags = pkt[ip + 13]!;
    const dataOff = ((pkt[ip + 12]! >> 4) & 0x0f) * 4;
    const payload = pkt.subarray(ip + dataOff, Math.min(payloadEnd, pkt.length));
    const fromClient = dst === serverPort;
    const clientPort = fromClient ? src : dst;
    if (!fromClient && src !== serverPort) continue;
    let s = streams.get(clientPort);
    if (!s) {
      s = {
        index: streams.size,
        clientPort,
        serverPort,
        clientToServer: Buffer.alloc(0),
        serverToClient: Buffer.alloc(0),
        clientSegments: [],
        serverSegments: [],
        clientSegmentTimes: [],
        serverSegmentTimes: [],
        openTime: undefined,
        clientClose: undefined,
        serverClose: undefined,
        nextSeq: [undefined, undefined],
      };
      streams.set(clientPort, s);
    }
    const dir = fromClient ? 0 : 1;
    const syn = (flags & 0x02) !== 0;
    if (syn) {
      s.nextSeq[dir] = (seq + 1) >>> 0;
      if (fromClient && s.openTime === undefined) s.openTime = time;
      continue;
    }
    const fin = (flags & 0x01) !== 0;
    const rst = (flags & 0x04) !== 0;
    if ((fin || rst) && (fromClient ? s.clientClose : s.serverClose) === undefined) {
      const close: TcpClose = { kind: rst ? 'rst' : 'fin', time };
      if (fromClient) s.clientClose = close;
      else s.serverClose = close;
    }
    if (payload.length === 0) continue;
    const expected = s.nextSeq[dir];
    if (expected !== undefined && seq !== expected) continue; // retransmission or out of order: skip
    s.nextSeq[dir] = (seq + payload.length) >>> 0;
    const copy = Buffer.from(payload);
    if (fromClient) {
      s.clientSegmentTimes.push(time);
      s.clientSegments.push(copy);
      s.clientToServer = Buffer.concat([s.clientToServer, copy]);
    } else {
      s.serverSegmentTimes.push(time);
      s.serverSegments.push(copy);
      s.serverToClient = Buffer.concat([s.serverToClient, copy]);
    }
  }
  return [...streams.values()].map(({ nextSeq: _n, ...rest }) => rest);
}
