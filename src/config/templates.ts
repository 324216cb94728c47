/**
 * `%` expansions in path options. UnixSocketPath knows `%p` (port), `%n` (daemon name) and `%%`;
 * EventLogFile knows `%h` (host name), as Spread's does, and leaves any other `%` alone.
 */
import type { DaemonEntry, RingcastConfig } from './types.js';

/** The first `%` escape of a UnixSocketPath template that is not %p, %n or %%, if any. */
export function badSocketPathEscape(template: string): string | undefined {
  for (let i = 0; i < template.length; i++) {
    if (template[i] !== '%') continue;
    const next = template[i + 1];
    if (next === 'p' || next === 'n' || next === '%') {
      i++;
      continue;
    }
    return next === undefined ? '%' : `%${next}`;
  }
  return undefined;
}

export function expandSocketPath(template: string, port: number, name: string): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    if (c !== '%') {
      out += c;
      continue;
    }
    const next = template[i + 1];
    if (next === 'p') out += String(port);
    else if (next === 'n') out += name;
    else if (next === '%') out += '%';
    else {
      // Rejected by the parser; kept literally if a hand-built config carries one.
      out += c;
      continue;
    }
    i++;
  }
  return out;
}

/** The Unix socket path the given daemon listens on for local clients. */
export function unixSocketPathFor(cfg: RingcastConfig, self: DaemonEntry): string {
  return expandSocketPath(cfg.unixSocketPath, self.port, self.name);
}

/** EventLogFile with every `%h` replaced by the host name; undefined when no log file is set. */
export function expandEventLogFile(cfg: RingcastConfig, hostname: string): string | undefined {
  if (cfg.eventLogFile === undefined) return undefined;
  return cfg.eventLogFile.split('%h').join(hostname);
}
