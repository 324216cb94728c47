/** Which configured daemon this process is. */
import { RingcastError } from '../util/errors.js';
import { parsePeerIp } from './ip.js';
import type { DaemonEntry, RingcastConfig } from './types.js';

function where(cfg: RingcastConfig): string {
  return cfg.file ?? 'the built-in default configuration';
}

/**
 * By `-n name` when given; otherwise the one daemon whose address belongs to this host.
 * `localAddresses` are the host's interface addresses as the OS reports them (IPv4-mapped
 * IPv6 and zone ids are accepted).
 */
export function findSelf(cfg: RingcastConfig, opts: { name?: string; localAddresses: string[] }): DaemonEntry {
  const names = cfg.daemons.map((d) => d.name).join(', ');
  if (opts.name !== undefined) {
    const byName = cfg.daemons.find((d) => d.name === opts.name);
    if (byName === undefined) {
      throw new RingcastError('CONFIG_SELF', `no daemon named '${opts.name}' in ${where(cfg)}; configured daemons: ${names}`);
    }
    return byName;
  }
  const local = new Set<string>();
  for (const a of opts.localAddresses) {
    const ip = parsePeerIp(a);
    if (ip !== undefined) local.add(ip.text);
  }
  const matches = cfg.daemons.filter((d) => local.has(d.address));
  if (matches.length === 1) return matches[0] as DaemonEntry;
  if (matches.length === 0) {
    throw new RingcastError(
      'CONFIG_SELF',
      `none of the daemons in ${where(cfg)} (${cfg.daemons.map((d) => `${d.name} ${d.address}`).join(', ')}) has an address of this host; start with -n <name> or fix the configuration`,
    );
  }
  throw new RingcastError(
    'CONFIG_SELF',
    `several daemons in ${where(cfg)} have an address of this host (${matches.map((d) => `${d.name} ${d.address}:${d.port}`).join(', ')}); choose one with -n <name>`,
  );
}
