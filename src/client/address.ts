/**
 * Daemon addresses in Spread's `spread_name` syntax (§1): "4803" is the Unix socket /tmp/4803,
 * "4803@host" is TCP to host:4803, and "" means the default "4803". A string starting with '/'
 * or './' is taken as a Unix socket path.
 */
import { SpreadCode } from '../session/protocol.js';
import { SpreadError } from './errors.js';

export type Address = { host: string; port: number } | { path: string } | string;

export type ResolvedAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export const DEFAULT_SPREAD_PORT = 4803;
/** Directory of the daemon's Unix socket (Spread's compile-time SP_UNIX_SOCKET). */
export const UNIX_SOCKET_DIR = '/tmp';

function checkPort(port: number, original: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SpreadError(SpreadCode.ILLEGAL_SPREAD, `daemon address "${original}": port must be an integer 1..65535`);
  }
  return port;
}

export function resolveAddress(address: Address): ResolvedAddress {
  if (typeof address !== 'string') {
    if ('path' in address) {
      if (address.path.length === 0) throw new SpreadError(SpreadCode.ILLEGAL_SPREAD, 'daemon address: the Unix socket path is empty');
      return { kind: 'unix', path: address.path };
    }
    if (address.host.length === 0) throw new SpreadError(SpreadCode.ILLEGAL_SPREAD, 'daemon address: the host is empty');
    return { kind: 'tcp', host: address.host, port: checkPort(address.port, `${address.port}@${address.host}`) };
  }
  const s = address.trim() === '' ? String(DEFAULT_SPREAD_PORT) : address.trim();
  // Beyond Spread's syntax: a path names a Unix socket directly (daemons on one host need distinct paths).
  if (s.startsWith('/') || s.startsWith('./')) return { kind: 'unix', path: s };
  const m = /^(\d{1,5})(?:@(.+))?$/.exec(s);
  if (!m || m[1] === undefined) {
    throw new SpreadError(SpreadCode.ILLEGAL_SPREAD, `daemon address "${address}" is not PORT (Unix socket ${UNIX_SOCKET_DIR}/PORT), PORT@HOST (TCP) or a socket path`);
  }
  const port = checkPort(Number(m[1]), address);
  if (m[2] === undefined) return { kind: 'unix', path: `${UNIX_SOCKET_DIR}/${port}` };
  return { kind: 'tcp', host: m[2], port };
}

export function formatAddress(a: ResolvedAddress): string {
  return a.kind === 'unix' ? a.path : `${a.port}@${a.host}`;
}
