/**
 * UdpTransport with a multicast or broadcast segment, in one process on loopback: group datagrams
 * arrive through the group socket and pass the same checks as unicast (configuration hash,
 * configured sender, its address and port as source, the partition hook), a daemon drops its own
 * looped-back datagrams, and a group address that cannot be bound stops start-up with a message
 * naming it.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, type RingcastConfig } from '../../src/config/index.js';
import { envelope, PacketKind, UdpTransport } from '../../src/daemon/udp-transport.js';
import { RingcastError } from '../../src/util/errors.js';
import type { DaemonId } from '../../src/util/ids.js';
import { freePort } from '../helpers/daemons.js';
import { multicastOnLoopback, randomGroup } from './multicast-probe.js';

const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];

interface Node {
  transport: UdpTransport;
  got: { from: DaemonId; text: string }[];
}

const open: UdpTransport[] = [];
const sockets: dgram.Socket[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  for (const s of sockets.splice(0)) s.close();
});

function configText(segment: string, port: number, extra = ''): string {
  return `Spread_Segment ${segment}:${port} {\n${ADDRESSES.map((a, i) => ` d${i + 1} ${a}\n`).join('')}}\n${extra}`;
}

async function nodes(cfg: RingcastConfig): Promise<Node[]> {
  const out: Node[] = [];
  for (const self of cfg.daemons) {
    const got: Node['got'] = [];
    const transport = new UdpTransport({
      self,
      daemons: cfg.daemons,
      segments: cfg.segments,
      configHash: cfg.hash,
      onRingPacket: (from, payload) => got.push({ from, text: Buffer.from(payload).toString() }),
      log: () => {},
    });
    open.push(transport);
    await transport.bind();
    out.push({ transport, got });
  }
  return out;
}

async function settle(until: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!until() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  // A little longer, so that datagrams that should not arrive have had their chance.
  await new Promise((r) => setTimeout(r, 50));
}

async function rawSocket(address: string, port = 0): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, address, () => resolve());
  });
  return s;
}

const multicastWorks = await multicastOnLoopback();

describe.skipIf(!multicastWorks)('a multicast segment on loopback', () => {
  it('reaches every other daemon of the segment with one datagram, and the sender drops its own copy', async () => {
    const port = await freePort(ADDRESSES);
    const cfg = parseConfig(configText(randomGroup(), port, 'MulticastTTL = 0\n'), 'mc.conf');
    const [n1, n2, n3] = await nodes(cfg);
    const [id1, id2, id3] = cfg.daemons.map((d) => d.id);
    n1!.transport.send([id2!, id3!], Buffer.from('to-both'));
    await settle(() => n2!.got.length > 0 && n3!.got.length > 0 && n1!.transport.stats.droppedSelfLooped > 0);
    expect(n2!.got).toEqual([{ from: id1, text: 'to-both' }]);
    expect(n3!.got).toEqual([{ from: id1, text: 'to-both' }]);
    expect(n1!.got).toEqual([]);
    expect(n1!.transport.stats).toMatchObject({ sent: 1, multicastSent: 1, groupCoveredPeers: 2, droppedSelfLooped: 1 });
    expect(n2!.transport.stats).toMatchObject({ received: 1, groupReceived: 1 });
    // A daemon the send did not name still hears a group datagram: the engine above decides what it means.
    n1!.transport.send([id2!], Buffer.from('token'));
    await settle(() => n2!.got.length > 1);
    expect(n2!.got[1]).toEqual({ from: id1, text: 'token' });
    expect(n3!.got).toHaveLength(1);
    expect(n1!.transport.stats).toMatchObject({ sent: 2, multicastSent: 1 });
  });

  it('drops group datagrams from a blocked daemon on receipt, and a daemon that blocks a segment peer falls back to unicast', async () => {
    const port = await freePort(ADDRESSES);
    const cfg = parseConfig(configText(randomGroup(), port, 'MulticastTTL = 0\n'), 'mc.conf');
    const [n1, n2, n3] = await nodes(cfg);
    const [id1, id2, id3] = cfg.daemons.map((d) => d.id);
    // Only d3 blocks d1: d1 still multicasts, and d3 drops what arrives.
    n3!.transport.setBlocked([id1!]);
    n1!.transport.send([id2!, id3!], Buffer.from('a'));
    await settle(() => n2!.got.length > 0 && n3!.transport.stats.droppedBlocked > 0);
    expect(n2!.got).toHaveLength(1);
    expect(n3!.got).toEqual([]);
    expect(n3!.transport.stats.droppedBlocked).toBe(1);
    // d3 sends to both: d1 is blocked, so d2 gets a unicast datagram and d1 nothing.
    n3!.transport.send([id1!, id2!], Buffer.from('b'));
    await settle(() => n2!.got.length > 1);
    expect(n2!.got[1]).toEqual({ from: id3, text: 'b' });
    expect(n1!.got).toEqual([]);
    expect(n3!.transport.stats).toMatchObject({ multicastSent: 0, sent: 1, droppedBlocked: 2 });
    expect(n2!.transport.stats.groupReceived).toBe(1);
  });

  it('applies the envelope checks to group datagrams: configuration hash, configured sender, source address and port', async () => {
    const port = await freePort(ADDRESSES);
    const group = randomGroup();
    const cfg = parseConfig(configText(group, port, 'MulticastTTL = 0\n'), 'mc.conf');
    const [, n2] = await nodes(cfg);
    const [id1] = cfg.daemons.map((d) => d.id);
    const send = async (from: dgram.Socket, bytes: Buffer) => {
      from.setMulticastInterface(from.address().address);
      from.setMulticastTTL(0);
      await new Promise<void>((resolve) => from.send(bytes, port, group, () => resolve()));
    };
    const body = Buffer.from('forged');
    // Claims to be d1 but comes from another port of d1's address.
    const stranger = await rawSocket('127.0.0.1');
    await send(stranger, Buffer.concat([envelope(PacketKind.RING, cfg.hash, id1!), body]));
    // Another configuration's hash.
    await send(stranger, Buffer.concat([envelope(PacketKind.RING, (cfg.hash ^ 1) >>> 0, id1!), body]));
    // A sender id that is not configured.
    await send(stranger, Buffer.concat([envelope(PacketKind.RING, cfg.hash, 4242 as DaemonId), body]));
    await settle(() => n2!.transport.stats.droppedWrongSource + n2!.transport.stats.droppedConfigHash + n2!.transport.stats.droppedUnknownSender >= 3);
    expect(n2!.got).toEqual([]);
    expect(n2!.transport.stats).toMatchObject({ droppedWrongSource: 1, droppedConfigHash: 1, droppedUnknownSender: 1, received: 0, groupReceived: 0 });
  });
});

describe('group socket set-up', () => {
  it('refuses to start when the broadcast address and port are held without SO_REUSEADDR, naming the address, and frees its own socket', async () => {
    const port = await freePort(ADDRESSES);
    // 127.0.0.1 and .2 make the network 127.0.0.0/30, whose broadcast address is 127.0.0.3.
    const cfg = parseConfig(`Spread_Segment 127.0.0.3:${port} { d1 127.0.0.1 d2 127.0.0.2 }\nSegmentBroadcast = yes\n`, 'bc.conf');
    expect(cfg.segments[0]?.dissemination).toBe('broadcast');
    await rawSocket('127.0.0.3', port);
    const self = cfg.daemons[0]!;
    const t = new UdpTransport({ self, daemons: cfg.daemons, segments: cfg.segments, configHash: cfg.hash, onRingPacket: () => {}, log: () => {} });
    const err = await t.bind().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RingcastError);
    expect((err as RingcastError).code).toBe('BIND_FAILED');
    expect((err as RingcastError).message).toContain(`cannot bind UDP 127.0.0.3:${port} to receive the segment's broadcast datagrams for daemon d1`);
    expect((err as RingcastError).message).toContain('SO_REUSEADDR');
    // The daemon's own address and port are free again.
    const again = await rawSocket(self.address, port);
    expect(again.address().port).toBe(port);
  });

  it('shares the group address and port between the daemons of one host', async () => {
    const port = await freePort(ADDRESSES);
    const cfg = parseConfig(configText('127.255.255.255', port, 'SegmentBroadcast = yes\n'), 'bc.conf');
    const [n1, n2, n3] = await nodes(cfg);
    const [id1, id2, id3] = cfg.daemons.map((d) => d.id);
    n2!.transport.send([id1!, id3!], Buffer.from('bcast'));
    await settle(() => n1!.got.length > 0 && n3!.got.length > 0);
    expect(n1!.got).toEqual([{ from: id2, text: 'bcast' }]);
    expect(n3!.got).toEqual([{ from: id2, text: 'bcast' }]);
    expect(n2!.transport.stats).toMatchObject({ sent: 1, broadcastSent: 1, groupCoveredPeers: 2, droppedSelfLooped: 1 });
  });
});
