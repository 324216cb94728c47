/**
 * Daemon monitor requests, carried in MONITOR_REQUEST datagrams on the daemon's UDP port (as
 * Spread's monitor shares the data port). Accepted only with the configuration hash and from an
 * address of a configured daemon; partition commands only with DangerousMonitor. Requests and
 * replies are small JSON documents: this is an administrative path, not a hot one.
 */
import type { DaemonId } from '../util/ids.js';

export type MonitorRequest =
  | { command: 'status' }
  | { command: 'partition'; blocked: DaemonId[] }
  | { command: 'heal' };

export type MonitorReply = { ok: true; status?: unknown } | { ok: false; error: string };

const MONITOR_REQUEST_BYTES_MAX = 4096;

export function encodeMonitorRequest(r: MonitorRequest): Buffer {
  return Buffer.from(JSON.stringify(r), 'utf8');
}

export function decodeMonitorRequest(bytes: Uint8Array): MonitorRequest | undefined {
  if (bytes.length > MONITOR_REQUEST_BYTES_MAX) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.command === 'status' || o.command === 'heal') return { command: o.command };
  if (o.command === 'partition' && Array.isArray(o.blocked) && o.blocked.length <= 128 && o.blocked.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
    return { command: 'partition', blocked: o.blocked as number[] };
  }
  return undefined;
}

export function encodeMonitorReply(r: MonitorReply): Buffer {
  return Buffer.from(JSON.stringify(r), 'utf8');
}

export function decodeMonitorReply(bytes: Uint8Array): MonitorReply | undefined {
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && typeof (v as { ok?: unknown }).ok === 'boolean') return v as MonitorReply;
  } catch {
    // fall through
  }
  return undefined;
}
