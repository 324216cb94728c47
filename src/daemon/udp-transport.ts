/**
 * UDP adapter between daemons: the only IO of the ring. Every datagram carries a small clear
 * envelope (version, kind, configuration hash, sender daemon id) so that packets from daemons of
 * another configuration, or from addresses that are not the configured address of the daemon
 * they claim to be, are dropped and counted before any core sees them. Tokens go by unicast; a
 * send to several daemons is one multicast or broadcast datagram within the own segment where the
 * configuration asks for it (send-plan.ts), unicast fan-out otherwise. Group datagrams also reach
 * daemons outside the current ring and come back to their sender (IP_MULTICAST_LOOP): both are
 * handled on receipt, by the same envelope checks as unicast, plus a drop of the daemon's own.
 * A token may share its datagram with the packet sent just before it (bundle-plan.ts): the
 * receiver hands the packets on one by one, in order, after the same envelope checks.
 *
 * Fault hook: `setBlocked` drops traffic to and from chosen daemons, which is how tests and the
 * monitor make partitions on one host.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP } from 'node:net';
import { closeSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import type { DaemonEntry, SegmentEntry } from '../config/index.js';
import type { DaemonId } from '../util/ids.js';
import { RingcastError } from '../util/errors.js';
import { SendPlanner } from './send-plan.js';
import { BUNDLE_PART_PREFIX_BYTES, bundleBytes, splitBundle } from './bundle-plan.js';

export const ENVELOPE_VERSION = 1;
export const ENVELOPE_BYTES = 10;

export const PacketKind = {
  RING: 1,
  MONITOR_REQUEST: 2,
  MONITOR_REPLY: 3,
  /** Several ring packets for one daemon (bundle-plan.ts): a 16-bit length before each. */
  RING_BUNDLE: 4,
} as const;

/** The most ring packets one bundle datagram may carry (the sender puts two in one). */
export const BUNDLE_PARTS_MAX = 16;

export interface TransportStats {
  sent: number;
  received: number;
  droppedShort: number;
  droppedVersion: number;
  droppedConfigHash: number;
  droppedUnknownSender: number;
  droppedWrongSource: number;
  droppedBlocked: number;
  /** Bundle datagrams whose parts did not parse (each is dropped whole). */
  droppedMalformedBundle: number;
  sendErrors: number;
  /** Datagrams that carried a token and the packet before it (each counted in `sent` too). */
  bundlesSent: number;
  bundlesReceived: number;
  /** Datagrams sent to the own segment's multicast group (each counted in `sent` too). */
  multicastSent: number;
  /** Datagrams sent to the own segment's broadcast address (each counted in `sent` too). */
  broadcastSent: number;
  /** Unicast datagrams that the multicast and broadcast datagrams stood in for. */
  groupCoveredPeers: number;
  /** Ring packets accepted from the multicast or broadcast socket (each counted in `received` too). */
  groupReceived: number;
  /** This daemon's own multicast or broadcast datagrams, looped back to it and dropped. */
  droppedSelfLooped: number;
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
   * file as records of `u32 length (big-endian) | u32 destination daemon id | datagram`, with
   * destination 0 for a multicast or broadcast datagram. It shows what an observer of the network sees.
   */
  captureFile?: string;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
}

export class UdpTransport {
  private socket: dgram.Socket | undefined;
  /** Receives the own segment's multicast or broadcast datagrams; sends go out of `socket`. */
  private groupSocket: dgram.Socket | undefined;
  private readonly planner: SendPlanner;
  private readonly byId = new Map<DaemonId, DaemonEntry>();
  private readonly blocked = new Set<DaemonId>();
  private readonly header: Buffer;
  private readonly bundleHeader: Buffer;
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
    droppedMalformedBundle: 0,
    sendErrors: 0,
    bundlesSent: 0,
    bundlesReceived: 0,
    multicastSent: 0,
    broadcastSent: 0,
    groupCoveredPeers: 0,
    groupReceived: 0,
    droppedSelfLooped: 0,
  };

  constructor(private readonly opts: UdpTransportOptions) {
    for (const d of opts.daemons) this.byId.set(d.id, d);
    this.planner = new SendPlanner(opts.self, opts.daemons, opts.segments);
    this.header = envelope(PacketKind.RING, opts.configHash, opts.self.id);
    this.bundleHeader = envelope(PacketKind.RING_BUNDLE, opts.configHash, opts.self.id);
    if (opts.captureFile !== undefined) this.captureFd = openSync(opts.captureFile, 'a', 0o600);
  }

  async bind(): Promise<void> {
    const self = this.opts.self;
    const socket = dgram.createSocket({ type: self.family === 6 ? 'udp6' : 'udp4', reuseAddr: false, lookup: literalLookup });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo, false));
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
    setBufferSizes(socket, size);
    const segment = this.planner.groupSegment;
    if (segment === undefined) return;
    try {
      this.groupSocket = await openGroupSocket(self, segment, size, (msg, rinfo) => this.onMessage(msg, rinfo, true), this.opts.log);
      configureGroupSending(socket, self, segment);
    } catch (err) {
      await this.close();
      throw err;
    }
    this.opts.log(
      'info',
      `segment ${segment.address}:${segment.port}: sends to several of its daemons go by ${segment.dissemination}` +
        (segment.dissemination === 'multicast' ? ` (interface ${self.address}, TTL ${segment.multicastTtl}, loop ${segment.multicastLoop ? 'on' : 'off'})` : ''),
    );
  }

  /** Partition fault hook: drop everything to and from these daemons until changed. */
  setBlocked(ids: Iterable<DaemonId>): void {
    this.blocked.clear();
    for (const id of ids) if (id !== this.opts.self.id) this.blocked.add(id);
  }

  blockedPeers(): DaemonId[] {
    return [...this.blocked];
  }

  /**
   * Send a ring packet to one daemon or to a list of them: a list holding several daemons of a
   * multicast or broadcast segment becomes one datagram to the segment (send-plan.ts).
   */
  send(to: readonly DaemonId[], payload: Uint8Array): void {
    const socket = this.socket;
    if (!socket) return;
    const plan = this.planner.plan(to, this.blocked);
    this.stats.droppedBlocked += plan.blocked.length;
    // One buffer for every copy of the datagram; the callback is shared too.
    let datagram: Buffer | undefined;
    const group = plan.group;
    if (group !== undefined) {
      this.stats.sent++;
      if (group.kind === 'multicast') this.stats.multicastSent++;
      else this.stats.broadcastSent++;
      this.stats.groupCoveredPeers += group.covers.length;
      if (this.captureFd !== undefined) this.capture(0, payload);
      datagram = Buffer.concat([this.header, payload]);
      socket.send(datagram, group.port, group.address, this.onSent);
    }
    for (const id of plan.unicast) {
      const peer = this.byId.get(id);
      if (!peer) continue;
      this.stats.sent++;
      if (this.captureFd !== undefined) this.capture(id, payload);
      datagram ??= Buffer.concat([this.header, payload]);
      socket.send(datagram, peer.port, peer.address, this.onSent);
    }
  }

  /** Whether a send to these daemons goes by unicast fan-out only (no group datagram stands in). */
  unicastOnly(to: readonly DaemonId[]): boolean {
    return this.planner.groupSegment === undefined || this.planner.plan(to, this.blocked).group === undefined;
  }

  /** Several ring packets for one daemon in one datagram (bundle-plan.ts), read in order there. */
  sendBundle(to: DaemonId, parts: readonly Uint8Array[]): void {
    const socket = this.socket;
    const peer = this.byId.get(to);
    if (!socket || !peer) return;
    if (this.blocked.has(to)) {
      this.stats.droppedBlocked++;
      return;
    }
    const datagram = Buffer.allocUnsafe(this.bundleHeader.length + bundleBytes(parts));
    this.bundleHeader.copy(datagram, 0);
    let off = this.bundleHeader.length;
    for (const p of parts) {
      datagram.writeUInt16BE(p.length, off);
      datagram.set(p, off + BUNDLE_PART_PREFIX_BYTES);
      off += BUNDLE_PART_PREFIX_BYTES + p.length;
    }
    this.stats.sent++;
    this.stats.bundlesSent++;
    if (this.captureFd !== undefined) this.capture(to, datagram.subarray(this.bundleHeader.length), this.bundleHeader);
    socket.send(datagram, peer.port, peer.address, this.onSent);
  }

  private readonly onSent = (err: Error | null): void => {
    if (err) this.stats.sendErrors++;
  };

  sendRaw(bytes: Uint8Array, port: number, address: string): void {
    this.socket?.send(bytes, port, address, (err) => {
      if (err) this.stats.sendErrors++;
    });
  }

  private capture(to: DaemonId, payload: Uint8Array, header: Buffer = this.header): void {
    const rec = Buffer.allocUnsafe(8);
    rec.writeUInt32BE(header.length + payload.length, 0);
    rec.writeUInt32BE(to >>> 0, 4);
    try {
      writeSync(this.captureFd!, Buffer.concat([rec, header, payload]));
    } catch {
      this.captureFd = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.captureFd !== undefined) closeSync(this.captureFd);
    this.captureFd = undefined;
    const sockets = [this.socket, this.groupSocket];
    this.socket = undefined;
    this.groupSocket = undefined;
    await Promise.all(sockets.map((s) => (s ? new Promise<void>((resolve) => s.close(() => resolve())) : undefined)));
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo, viaGroup: boolean): void {
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
    if (kind !== PacketKind.RING && kind !== PacketKind.RING_BUNDLE) {
      this.stats.droppedVersion++;
      return;
    }
    const self = this.opts.self;
    if (sender === self.id && sameAddress(self.address, rinfo.address) && self.port === rinfo.port) {
      // Our own group datagram, delivered back by IP_MULTICAST_LOOP (or the broadcast itself).
      this.stats.droppedSelfLooped++;
      return;
    }
    const peer = this.byId.get(sender);
    if (!peer || sender === self.id) {
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
    if (kind === PacketKind.RING_BUNDLE) {
      const parts = splitBundle(payload, BUNDLE_PARTS_MAX);
      if (parts === undefined) {
        this.stats.droppedMalformedBundle++;
        return;
      }
      this.stats.received++;
      this.stats.bundlesReceived++;
      if (viaGroup) this.stats.groupReceived++;
      for (const p of parts) this.opts.onRingPacket(sender, p);
      return;
    }
    this.stats.received++;
    if (viaGroup) this.stats.groupReceived++;
    this.opts.onRingPacket(sender, payload);
  }
}

/**
 * Every address a ring datagram goes to is an IP literal from the configuration. dgram resolves
 * the destination of each send through `dns.lookup`, which answers a literal one tick later: a
 * deferred callback per datagram, and the send leaves after whatever else that tick queued. A
 * literal is answered at once, so the datagram is on the wire when `send` returns; anything else
 * still goes through the resolver.
 */
const literalLookup: NonNullable<dgram.SocketOptions['lookup']> = (hostname, options, callback) => {
  const family = isIP(hostname);
  if (family !== 0) {
    callback(null, hostname, family);
    return;
  }
  dns.lookup(hostname, options, callback);
};

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

function setBufferSizes(socket: dgram.Socket, bytes: number): void {
  try {
    socket.setRecvBufferSize(bytes);
    socket.setSendBufferSize(bytes);
  } catch {
    // The kernel may cap buffer sizes; the defaults still work, just with less burst room.
  }
}

/** IPv6 multicast names interfaces, not addresses: the interface that holds `address`. */
function ipv6InterfaceOf(self: DaemonEntry, segment: SegmentEntry): string {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (addrs?.some((a) => a.family === 'IPv6' && a.address.split('%')[0] === self.address)) return name;
  }
  throw new RingcastError(
    'MULTICAST_INTERFACE',
    `daemon ${self.name}: its address ${self.address} is on no interface of this host, so it cannot take part in multicast segment ${segment.address}:${segment.port}; ` +
      `configure that address on the interface facing the segment, or run the daemon on the host that has it`,
  );
}

/**
 * The socket that receives the segment's group datagrams. It is bound to the group (or broadcast)
 * address itself, not to the wildcard, so it sees nothing else; several daemons of one host share
 * it through SO_REUSEADDR, and the kernel gives each of them a copy.
 */
async function openGroupSocket(
  self: DaemonEntry,
  segment: SegmentEntry,
  bufferBytes: number,
  onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo) => void,
  log: UdpTransportOptions['log'],
): Promise<dgram.Socket> {
  const v6If = self.family === 6 ? ipv6InterfaceOf(self, segment) : undefined;
  const socket = dgram.createSocket({ type: self.family === 6 ? 'udp6' : 'udp4', reuseAddr: true });
  // Interface- and link-scoped IPv6 groups (ff01::/16, ff02::/16 and friends) exist per interface.
  const scoped = v6If !== undefined && (parseInt(segment.address.slice(2, 4), 16) & 0x0f) <= 2;
  const bindAddress = scoped ? `${segment.address}%${v6If}` : segment.address;
  socket.on('message', onMessage);
  socket.on('error', (err) => log('warn', `UDP socket error on segment ${segment.dissemination} address ${segment.address}:${segment.port}: ${err.message}`));
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      closeQuietly(socket);
      reject(
        new RingcastError(
          'BIND_FAILED',
          `cannot bind UDP ${segment.address}:${segment.port} to receive the segment's ${segment.dissemination} datagrams for daemon ${self.name}: ${err.message}; ` +
            `another program may hold that port without sharing it (SO_REUSEADDR), or this host does not accept the address` +
            (segment.dissemination === 'broadcast' ? ' (is it the broadcast address of a network on this host?)' : ''),
        ),
      );
    };
    socket.once('error', onError);
    socket.bind(segment.port, bindAddress, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  setBufferSizes(socket, bufferBytes);
  if (segment.dissemination === 'multicast') {
    try {
      socket.addMembership(segment.address, v6If !== undefined ? `::%${v6If}` : self.address);
    } catch (err) {
      closeQuietly(socket);
      throw new RingcastError(
        'MULTICAST_JOIN_FAILED',
        `daemon ${self.name} cannot join multicast group ${segment.address} on its interface ${self.address}${v6If !== undefined ? ` (${v6If})` : ''}: ${(err as Error).message}; ` +
          `the interface needs multicast enabled (Linux: ip link set <dev> multicast on) and a route for the group, ` +
          `or write a unicast address for the segment to use unicast fan-out`,
      );
    }
  }
  return socket;
}

/** Group datagrams leave through the daemon's own interface, from its own address and port. */
function configureGroupSending(socket: dgram.Socket, self: DaemonEntry, segment: SegmentEntry): void {
  try {
    if (segment.dissemination === 'broadcast') {
      socket.setBroadcast(true);
      return;
    }
    socket.setMulticastInterface(self.family === 6 ? `::%${ipv6InterfaceOf(self, segment)}` : self.address);
    socket.setMulticastTTL(segment.multicastTtl);
    socket.setMulticastLoopback(segment.multicastLoop);
  } catch (err) {
    if (err instanceof RingcastError) throw err;
    throw new RingcastError(
      'MULTICAST_INTERFACE',
      `daemon ${self.name} cannot send ${segment.dissemination} to ${segment.address}:${segment.port} from its interface ${self.address}: ${(err as Error).message}; ` +
        `check that the address is configured on an interface of this host that supports ${segment.dissemination}`,
    );
  }
}

function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // Already closed by the failed bind.
  }
}
