/**
 * UDP adapter between daemons: the only IO of the ring. Every datagram carries a small clear
 * envelope (version, kind, configuration hash, sender daemon id) so that packets from daemons of
 * another configuration, or from addresses that are not the configured address of the daemon
 * they claim to be, are dropped and counted before any core sees them. Tokens and data go by
 * unicast (fan-out to each peer).
 *
 * Fault hook: `setBlocked` drops traffic to and from chosen daemons, which is how tests and the
 * monitor make partitions on one host.
 */
import dgram from 'node:dgram';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { DaemonEntry, SegmentEntry } from '../config/index.js';
import type { DaemonId } from '../util/ids.js';
import { RingcastError } from '../util/errors.js';

export const ENVELOPE_VERSION = 1;
export const ENVELOPE_BYTES = 10;

export const PacketKind = {
  RING: 1,
  MONITOR_REQUEST: 2,
  MONITOR_REPLY: 3,
} as const;

export interface TransportStats {
  sent: number;
  received: number;
  droppedShort: number;
  droppedVersion: number;
  droppedConfigHash: number;
  droppedUnknownSender: number;
  droppedWrongSource: number;
  droppedBlocked: number;
  sendErrors: number;
}

export interface UdpTransportOptions {
  self: DaemonEntry;
  daemons: readonly DaemonEntry[];
  /** The configuration's segments (their broadcast or multicast addresses and daemons). */
  segments?: readonly SegmentEntry[];
  configHash: number;
  /** Socket buffer sizes in bytes (raised for bursts of packets). */
  socketBufferBytes?: number;
  onRingPacket: (from: DaemonId, payload: Uint8Array) => void;
  onMonitorRequest?: (payload: Uint8Array, reply: (bytes: Uint8Array) => void, source: { address: string; port: number }) => void;
  /**
   * Diagnostic capture: every ring datagram this daemon sends is appended, exactly as sent, to this
   * file as records of `u32 length (big-endian) | u32 destination daemon id | datagram`. It shows
   * what an observer of the network sees.
   */
  captureFile?: string;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
}

export class UdpTransport {
  private socket: dgram.Socket | undefined;
  private readonly byId = new Map<DaemonId, DaemonEntry>();
  private readonly blocked = new Set<DaemonId>();
  private readonly header: Buffer;
  private captureFd: number | undefined;
  readonly stats: TransportStats = {
    sent: 0,
    received: 0,
    droppedShort: 0,
    droppedVersion: 0,
    droppedConfigHash: 0,
    droppedUnknownSender: 0,
    droppedWrongSource: 0,
    droppedBlocked: 0,
    sendErrors: 0,
  };

  constructor(private readonly opts: UdpTransportOptions) {
    for (const d of opts.daemons) this.byId.set(d.id, d);
    this.header = envelope(PacketKind.RING, opts.configHash, opts.self.id);
    if (opts.captureFile !== undefined) this.captureFd = openSync(opts.captureFile, 'a', 0o600);
  }

  async bind(): Promise<void> {
    const self = this.opts.self;
    const socket = dgram.createSocket({ type: self.family === 6 ? 'udp6' : 'udp4', reuseAddr: false });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => this.opts.log('warn', `UDP socket error: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) =>
        reject(new RingcastError('BIND_FAILED', `cannot bind UDP ${self.address}:${self.port} for daemon ${self.name}: ${err.message}`));
      socket.once('error', onError);
      socket.bind(self.port, self.address, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    const size = this.opts.socketBufferBytes ?? 4 * 1024 * 1024;
    try {
      socket.setRecvBufferSize(size);
      socket.setSendBufferSize(size);
    } catch {
      // The kernel may cap buffer sizes; the defaults still work, just with less burst room.
    }
  }

  /** Partition fault hook: drop everything to and from these daemons until changed. */
  setBlocked(ids: Iterable<DaemonId>): void {
    this.blocked.clear();
    for (const id of ids) if (id !== this.opts.self.id) this.blocked.add(id);
  }

  blockedPeers(): DaemonId[] {
    return [...this.blocked];
  }

  /** Send a ring packet to one daemon or to a list of them. */
  send(to: readonly DaemonId[], payload: Uint8Array): void {
    const socket = this.socket;
    if (!socket) return;
    // One buffer for every copy of the datagram; the callback is shared too.
    let datagram: Buffer | undefined;
    for (const id of to) {
      if (id === this.opts.self.id) continue;
      if (this.blocked.has(id)) {
        this.stats.droppedBlocked++;
        continue;
      }
      const peer = this.byId.get(id);
      if (!peer) continue;
      this.stats.sent++;
      if (this.captureFd !== undefined) this.capture(id, payload);
      datagram ??= Buffer.concat([this.header, payload]);
      socket.send(datagram, peer.port, peer.address, this.onSent);
    }
  }

  private readonly onSent = (err: Error | null): void => {
    if (err) this.stats.sendErrors++;
  };

  sendRaw(bytes: Uint8Array, port: number, address: string): void {
    this.socket?.send(bytes, port, address, (err) => {
      if (err) this.stats.sendErrors++;
    });
  }

  private capture(to: DaemonId, payload: Uint8Array): void {
    const rec = Buffer.allocUnsafe(8);
    rec.writeUInt32BE(this.header.length + payload.length, 0);
    rec.writeUInt32BE(to >>> 0, 4);
    try {
      writeSync(this.captureFd!, Buffer.concat([rec, this.header, payload]));
    } catch {
      this.captureFd = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.captureFd !== undefined) closeSync(this.captureFd);
    this.captureFd = undefined;
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < ENVELOPE_BYTES) {
      this.stats.droppedShort++;
      return;
    }
    if (msg[0] !== ENVELOPE_VERSION) {
      this.stats.droppedVersion++;
      return;
    }
    const kind = msg[1];
    if (msg.readUInt32BE(2) !== this.opts.configHash) {
      this.stats.droppedConfigHash++;
      return;
    }
    const sender = msg.readUInt32BE(6);
    const payload = msg.subarray(ENVELOPE_BYTES);
    if (kind === PacketKind.MONITOR_REQUEST) {
      this.opts.onMonitorRequest?.(
        payload,
        (bytes) => this.sendRaw(Buffer.concat([envelope(PacketKind.MONITOR_REPLY, this.opts.configHash, this.opts.self.id), bytes]), rinfo.port, rinfo.address),
        { address: rinfo.address, port: rinfo.port },
      );
      return;
    }
    if (kind !== PacketKind.RING) {
      this.stats.droppedVersion++;
      return;
    }
    const peer = this.byId.get(sender);
    if (!peer || sender === this.opts.self.id) {
      this.stats.droppedUnknownSender++;
      return;
    }
    if (!sameAddress(peer.address, rinfo.address) || peer.port !== rinfo.port) {
      this.stats.droppedWrongSource++;
      return;
    }
    if (this.blocked.has(sender)) {
      this.stats.droppedBlocked++;
      return;
    }
    this.stats.received++;
    this.opts.onRingPacket(sender, payload);
  }
}

export function envelope(kind: number, configHash: number, sender: DaemonId): Buffer {
  const b = Buffer.allocUnsafe(ENVELOPE_BYTES);
  b[0] = ENVELOPE_VERSION;
  b[1] = kind;
  b.writeUInt32BE(configHash >>> 0, 2);
  b.writeUInt32BE(sender >>> 0, 6);
  return b;
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  const strip = (s: string) => (s.startsWith('::ffff:') ? s.slice(7) : s);
  return strip(a) === strip(b);
}
