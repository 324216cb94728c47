/**
 * The file-system side of configuration: read the files, then hand the text to the pure parsers.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../util/errors.js';
import { type AccessIpRules, emptyAccessIpRules, parseAccessIp } from './access-ip-rules.js';
import { ACCESS_IP_FILE_NAME, ACCESS_IP_SEARCH_DIRS, ACCESS_IP_TEXT_CHARS_MAX, CONFIG_TEXT_CHARS_MAX } from './limits.js';
import { parseConfig } from './parse.js';
import type { RingcastConfig } from './types.js';
import type { DaemonPublicKey } from '../../keys/daemon-public-key.js';

function readText(path: string, charsMax: number, what: string): string {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new ConfigError(path, 0, `cannot read the ${what}: not a regular file`);
    // UTF-8 needs at least one byte per character, so a larger file cannot fit.
    if (st.size > charsMax * 4) throw new ConfigError(path, 0, `the ${what} is larger than ${charsMax} characters`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(path, 0, `cannot read the ${what}: ${reason}`);
  }
  return text;
}

/** Read and parse a configuration file. An unreadable file is a ConfigError with line 0. */
export function loadConfig(path: string): RingcastConfig {
  return parseConfig(readText(path, CONFIG_TEXT_CHARS_MAX, 'configuration file'), path);
}

/**
 * Re-reads a configuration file for its trusted daemon keys (`DaemonPublicKey` lines), as the
 * daemon does on SIGHUP to revoke or add keys without a restart. The whole file is checked as at
 * start-up, so a file with any problem throws a ConfigError naming file and line, and the caller
 * keeps the keys it had.
 */
export function loadTrustedDaemonKeys(configFile: string): ReadonlyMap<string, DaemonPublicKey> {
  return loadConfig(configFile).daemonPublicKeys;
}

/** Read and parse an access_ip file. An unreadable file is a ConfigError with line 0. */
export function loadAccessIp(path: string): AccessIpRules {
  return parseAccessIp(readText(path, ACCESS_IP_TEXT_CHARS_MAX, 'access list'), path);
}

/** Where the access list is looked for, in order: AccessIpFile if set, else ./spread.access_ip then /etc/spread.access_ip. */
export function accessIpCandidates(cfg: RingcastConfig, cwd: string): string[] {
  if (cfg.accessIpFile !== undefined) return [cfg.accessIpFile.startsWith('/') ? cfg.accessIpFile : join(cwd, cfg.accessIpFile)];
  return ACCESS_IP_SEARCH_DIRS.map((dir) => join(dir === '.' ? cwd : dir, ACCESS_IP_FILE_NAME));
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The access list that applies to this configuration. An AccessIpFile that cannot be read is an
 * error; when searching, the first file found wins, and none found gives the empty list
 * (IP authentication then denies everyone, as in Spread).
 */
export function loadAccessIpFor(cfg: RingcastConfig, cwd: string = process.cwd()): AccessIpRules {
  const candidates = accessIpCandidates(cfg, cwd);
  if (cfg.accessIpFile !== undefined) return loadAccessIp(candidates[0] as string);
  for (const path of candidates) if (exists(path)) return loadAccessIp(path);
  return emptyAccessIpRules();
}
