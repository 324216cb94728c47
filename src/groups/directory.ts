/**
 * The configured daemons as the group table sees them: name ⇄ id ⇄ configuration position, and
 * the member order every membership message uses (§7.2: daemon position in the configuration,
 * then strncmp of the private group name).
 */
import type { DaemonId } from '../util/ids.js';
import { isValidGroupName, isValidPrivateName, parsePrivateGroupName } from '../session/protocol.js';
import { SpreadLimits } from '../session/protocol.js';

export interface DaemonEntry {
  id: DaemonId;
  name: string;
  /** Position in the configuration file (0-based). */
  position: number;
}

/** A member (private group name) resolved against the configuration. */
export interface MemberRef {
  /** The full private group name '#name#daemon'. */
  name: string;
  daemon: DaemonEntry;
}

export class DaemonDirectory {
  private readonly byName = new Map<string, DaemonEntry>();
  private readonly byId = new Map<DaemonId, DaemonEntry>();

  constructor(daemons: readonly { id: DaemonId; name: string }[]) {
    daemons.forEach((d, position) => {
      const entry: DaemonEntry = { id: d.id, name: d.name, position };
      // A duplicated name or id is a configuration error that src/config rejects; the first
      // occurrence wins here so that lookups stay deterministic on every daemon.
      if (!this.byName.has(d.name)) this.byName.set(d.name, entry);
      if (!this.byId.has(d.id)) this.byId.set(d.id, entry);
    });
  }

  daemonByName(name: string): DaemonEntry | undefined {
    return this.byName.get(name);
  }

  daemonById(id: DaemonId): DaemonEntry | undefined {
    return this.byId.get(id);
  }

  /**
   * Resolves '#name#daemon' whose daemon is configured and whose user part is a legal private
   * name; undefined for anything else.
   */
  member(fullName: string): MemberRef | undefined {
    if (fullName.length >= SpreadLimits.GROUP_NAME_BYTES) return undefined;
    const parts = parsePrivateGroupName(fullName);
    if (!parts || !isValidPrivateName(parts.name)) return undefined;
    const daemon = this.byName.get(parts.daemon);
    if (!daemon) return undefined;
    return { name: fullName, daemon };
  }
}

export function isJoinableGroupName(name: string): boolean {
  return isValidGroupName(name);
}

/**
 * Member order of §7.2: daemon position in the configuration, then strncmp of the names. Names
 * are ASCII (0x23..0x7E), so comparing UTF-16 code units is comparing bytes.
 */
export function compareMembers(a: MemberRef, b: MemberRef): number {
  if (a.daemon.position !== b.daemon.position) return a.daemon.position - b.daemon.position;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
