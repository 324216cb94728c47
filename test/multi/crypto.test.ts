/**
 * Packet protection between real daemons: with Crypto = encrypt no client payload crosses the
 * network in clear; daemons with another key or mode are refused with a log line naming the
 * peer; replayed and forged datagrams change nothing clients receive.
 */
import dgram from 'node:dgram';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeClusterKeyFile } from '../../keys/index.js';
import { freePort, startDaemonProcess, tempDir, writeConfig, type DaemonProcess } from '../helpers/daemons.js';
import { FAST_TIMEOUTS, recordingClient, regularConfigurations, ringConfigText, waitRegular, type Ring } from '../helpers/ring.js';
import { capturedDatagrams } from '../helpers/capture.js';

const NAMES = ['d1', 'd2', 'd3'];
const MARKER = 'PLAINTEXT-MARKER-7f3a';

interface Setup {
  dir: string;
  port: number;
  procs: Map<string, DaemonProcess>;
  cleanup: () => Promise<void>;
  ringView: Ring;
}

const running: Setup[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.cleanup();
});

/** Starts the named daemons, each with its own crypto lines, all with the same segment. */
async function startDaemons(perDaemon: Record<string, string>, opts: { capture?: boolean } = {}): Promise<Setup> {
  const t = tempDir('ringcast-crypto-');
  const port = await freePort(NAMES.map((_, i) => `127.0.0.${i + 1}`));
  const procs = new Map<string, DaemonProcess>();
  const configOf = (name: string) => writeConfig(t.dir, `${name}.conf`, ringConfigText(port, NAMES, FAST_TIMEOUTS, perDaemon[name] ?? ''));
  const setup: Setup = {
    dir: t.dir,
    port,
    procs,
    async cleanup() {
      await Promise.all([...procs.values()].map((p) => p.stop()));
      t.cleanup();
    },
    ringView: {
      tcpAddress: (name: string) => `${port}@127.0.0.${NAMES.indexOf(name) + 1}`,
    } as unknown as Ring,
  };
  running.push(setup);
  await Promise.all(
    Object.keys(perDaemon).map(async (name) => {
      const args = ['-c', configOf(name), '-n', name, '--unix-socket', path.join(t.dir, `${name}.sock`)];
      if (opts.capture) args.push('--capture-packets', path.join(t.dir, `${name}.cap`));
      procs.set(name, await startDaemonProcess(args, { name }));
    }),
  );
  return setup;
}

async function exchange(s: Setup): Promise<void> {
  const clients = await Promise.all(NAMES.map((d, i) => recordingClient(s.ringView, d, `c${i}`)));
  for (const c of clients) await c.joinAndWait('secret');
  await clients[2]!.until((l) => l.filter((m) => m.kind === 'membership').length >= 1);
  for (const [i, c] of clients.entries()) for (let k = 0; k < 20; k++) await c.conn.multicast('AGREED', 'secret', `${MARKER}-${i}-${k}`);
  for (const c of clients) await c.until((l) => l.filter((m) => m.kind === 'data').length === 60, 15_000, '60 messages');
  for (const c of clients) await c.conn.disconnect();
}

describe('packet protection between real daemons', () => {
  it('encrypt mode: every datagram on the wire is free of client payload; the none mode shows it (control)', async () => {
    const key = path.join(tempDir('ringcast-key-').dir, 'cluster.key');
    writeClusterKeyFile(key);
    for (const mode of ['encrypt', 'none'] as const) {
      const extra = mode === 'encrypt' ? `Crypto = encrypt\nClusterKeyFile = ${key}` : '';
      const s = await startDaemons(Object.fromEntries(NAMES.map((n) => [n, extra])), { capture: true });
      for (const p of s.procs.values()) await waitRegular(p, NAMES);
      await exchange(s);
      const datagrams = NAMES.flatMap((n) => capturedDatagrams(path.join(s.dir, `${n}.cap`)));
      expect(datagrams.length).toBeGreaterThan(10);
      const withMarker = datagrams.filter((d) => d.includes(MARKER)).length;
      if (mode === 'encrypt') expect(withMarker).toBe(0);
      else expect(withMarker).toBeGreaterThan(0);
      await s.cleanup();
      running.splice(running.indexOf(s), 1);
    }
  }, 90_000);

  it('a daemon with another key or another mode is refused, with a log line naming it; the others form a ring', async () => {
    const dir = tempDir('ringcast-key-').dir;
    const good = path.join(dir, 'good.key');
    const other = path.join(dir, 'other.key');
    writeClusterKeyFile(good);
    writeClusterKeyFile(other);
    const s = await startDaemons({
      d1: `Crypto = encrypt\nClusterKeyFile = ${good}`,
      d2: `Crypto = encrypt\nClusterKeyFile = ${good}`,
      d3: `Crypto = integrity\nClusterKeyFile = ${other}`,
    });
    await waitRegular(s.procs.get('d1')!, ['d1', 'd2']);
    await waitRegular(s.procs.get('d2')!, ['d1', 'd2']);
    await new Promise((r) => setTimeout(r, 500));
    const d1 = s.procs.get('d1')!.output();
    expect(d1).toMatch(/peer d3: .*(mode|suite)/i);
    expect(s.procs.get('d3')!.output()).toMatch(/peer d[12]: /);
    // d3 never joins the others' configuration.
    expect(regularConfigurations(d1).some((c) => c.includes('d3'))).toBe(false);
    // One line per peer and reason, not one per packet.
    expect(d1.split('\n').filter((l) => l.includes('peer d3:')).length).toBeLessThan(5);
  }, 60_000);

  it('replayed and forged datagrams from an address of the configuration change nothing', async () => {
    const key = path.join(tempDir('ringcast-key-').dir, 'cluster.key');
    writeClusterKeyFile(key);
    const extra = `Crypto = encrypt\nClusterKeyFile = ${key}`;
    const s = await startDaemons({ d1: extra, d2: extra, d3: extra }, { capture: true });
    for (const p of s.procs.values()) await waitRegular(p, NAMES);
    const d3Packets = () => capturedDatagrams(path.join(s.dir, 'd3.cap'));
    await new Promise((r) => setTimeout(r, 300));
    // d3 dies; the attacker takes over its address and port and replays what it sent, and forges more.
    await s.procs.get('d3')!.crash();
    await waitRegular(s.procs.get('d1')!, ['d1', 'd2']);
    const all = d3Packets();
    expect(all.length).toBeGreaterThan(5);
    // Every kind of packet d3 sent (tokens, data, joins, probes), at a pace the loopback socket
    // buffers absorb: this tests what the packets can do, not how many a flood needs to drown a daemon.
    const captured = all.filter((_, i) => i % Math.max(1, Math.floor(all.length / 150)) === 0).concat(all.slice(-50));
    const c1 = await recordingClient(s.ringView, 'd1', 'r1');
    const c2 = await recordingClient(s.ringView, 'd2', 'r2');
    await c1.joinAndWait('g');
    await c2.joinAndWait('g');
    const attacker = dgram.createSocket('udp4');
    await new Promise<void>((r) => attacker.bind(s.port, '127.0.0.3', () => r()));
    let sent = 0;
    const blast = async () => {
      for (let round = 0; round < 5; round++) {
        for (const d of captured) {
          for (const target of ['127.0.0.1', '127.0.0.2']) {
            attacker.send(d, s.port, target);
            const flipped = Buffer.from(d);
            flipped[flipped.length - 1]! ^= 0x01;
            attacker.send(flipped, s.port, target);
            attacker.send(Buffer.concat([d.subarray(0, 10), Buffer.alloc(64, round)]), s.port, target);
            sent += 3;
          }
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const sending = (async () => {
      for (let k = 0; k < 50; k++) {
        await c1.conn.multicast('AGREED', 'g', `m1-${k}`);
        await c2.conn.multicast('SAFE', 'g', `m2-${k}`);
      }
    })();
    await Promise.all([blast(), sending]);
    try {
      for (const c of [c1, c2]) await c.until((l) => l.filter((m) => m.kind === 'data').length === 100, 15_000, '100 messages');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${s.procs.get('d1')!.output().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    attacker.close();
    const order = (c: typeof c1) => c.log.filter((m) => m.kind === 'data').map((m) => Buffer.from((m as { data: Uint8Array }).data).toString());
    expect(order(c1)).toEqual(order(c2));
    expect(new Set(order(c1)).size).toBe(100);
    // Membership stayed { d1 d2 } throughout the attack.
    expect(regularConfigurations(s.procs.get('d1')!.output()).at(-1)).toEqual(['d1', 'd2']);
    expect(sent).toBeGreaterThan(0);
    expect(s.procs.get('d1')!.output()).toMatch(/peer d3: /);
  }, 90_000);
});
