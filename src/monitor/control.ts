/**
 * Daemon control over the monitor datagrams (src/daemon/monitor-protocol.ts): status of each
 * daemon, and artificial partitions for testing (DangerousMonitor), as Spread's spmonitor offers.
 * Requests are retried a few times and every wait is bounded.
 */
import dgram from 'node:dgram';
import type { DaemonEntry, RingcastConfig } from '../config/index.js';
import { decodeMonitorReply, encodeMonitorRequest, type MonitorReply, type MonitorRequest } from '../daemon/monitor-protocol.js';
import { ENVELOPE_BYTES, PacketKind, envelope } from '../daemon/udp-transport.js';
import { RingcastError } from '../util/errors.js';

const ATTEMPTS = 3;

export async function sendMonitorRequest(
  cfg: RingcastConfig,
  target: DaemonEntry,
  request: MonitorRequest,
  opts: { timeoutMs?: number; bindAddress?: string } = {},
): Promise<MonitorReply> {
  const socket = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
  const timeoutMs = opts.timeoutMs ?? 1000;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, opts.bindAddress ?? target.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const packet = Buffer.concat([envelope(PacketKind.MONITOR_REQUEST, cfg.hash, 0), encodeMonitorRequest(request)]);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      socket.send(packet, target.port, target.address);
      const reply = await new Promise<MonitorReply | undefined>((resolve) => {
        const timer = setTimeout(() => {
          socket.off('message', onMessage);
          resolve(undefined);
        }, timeoutMs);
        const onMessage = (msg: Buffer) => {
          if (msg.length < ENVELOPE_BYTES || msg[1] !== PacketKind.MONITOR_REPLY) return;
          clearTimeout(timer);
          socket.off('message', onMessage);
          resolve(decodeMonitorReply(msg.subarray(ENVELOPE_BYTES)));
        };
        socket.on('message', onMessage);
      });
      if (reply) return reply;
    }
    throw new RingcastError('MONITOR_TIMEOUT', `daemon ${target.name} (${target.address}:${target.port}) did not answer; is it running with this configuration?`);
  } finally {
    socket.close();
  }
}

/**
 * Parses a partition like "r1,r2|r3" into, for each daemon, the daemons it must stop hearing:
 * everyone outside its own component. Daemons not named form a component of their own each.
 */
export function partitionPlan(cfg: RingcastConfig, spec: string): Map<DaemonEntry, DaemonEntry[]> {
  const byName = new Map(cfg.daemons.map((d) => [d.name, d]));
  const componentOf = new Map<DaemonEntry, number>();
  spec.split('|').forEach((part, i) => {
    for (const name of part.split(',').map((s) => s.trim()).filter(Boolean)) {
      const d = byName.get(name);
      if (!d) throw new RingcastError('MONITOR_BAD_PARTITION', `"${name}" is not a daemon of this configuration (known: ${[...byName.keys()].join(', ')})`);
      if (componentOf.has(d)) throw new RingcastError('MONITOR_BAD_PARTITION', `daemon "${name}" is named twice in the partition`);
      componentOf.set(d, i);
    }
  });
  let next = spec.split('|').length;
  for (const d of cfg.daemons) if (!componentOf.has(d)) componentOf.set(d, next++);
  const plan = new Map<DaemonEntry, DaemonEntry[]>();
  for (const d of cfg.daemons) plan.set(d, cfg.daemons.filter((o) => componentOf.get(o) !== componentOf.get(d)));
  return plan;
}
