/**
 * Hardened start-up, step 4 of architecture.md: when started as root, confine the daemon to its
 * runtime directory and give up root for good, after sockets, key files and WASM are loaded.
 *
 * Order matters: chroot needs root (CAP_SYS_CHROOT); setgroups and setgid need root, so they come
 * before setuid; setuid from root to another uid sets real, effective and saved uid and clears all
 * capabilities, after which none of this can be undone. The result is then verified from the
 * kernel's own account (/proc/self/status, opened before the chroot because /proc is not inside it).
 *
 * Node offers setgroups/setgid/setuid (glibc applies them to every thread of the process, so the
 * libuv pool and worker threads change too); it has no chroot, which is called from libc through
 * koffi when that package is installed. Call this on the main thread.
 *
 * If this function throws after it began changing credentials, the process is in a half-dropped
 * state: the caller must exit.
 */
import { chmodSync, chownSync, closeSync, lstatSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { RingcastError } from '../util/errors.js';

export class PrivilegeError extends RingcastError {
  constructor(code: 'PRIVILEGE_DROP_FAILED' | 'CHROOT_UNAVAILABLE' | 'RUNTIME_DIR_UNSAFE' | 'ROOT_REGAINABLE', message: string) {
    super(code, message);
    this.name = 'PrivilegeError';
  }
}

export type ChrootMode = 'required' | 'if-available' | 'off';

export interface DropOptions {
  /** Directory to chroot into (RuntimeDir). Created 0750 root:<group> if missing; must not be writable by others. */
  readonly runtimeDir: string;
  /** DaemonUser: a name from /etc/passwd or a numeric uid. */
  readonly user: string;
  /** DaemonGroup: a name from /etc/group or a numeric gid. */
  readonly group: string;
  /** Continue as root when the drop is impossible (missing user, target is root). Default false. */
  readonly allowRunAsRoot?: boolean;
  /** Default 'required': refuse to start as root without a working chroot. */
  readonly chroot?: ChrootMode;
  /** Replaces the libc chroot (e.g. another binding); must throw on failure. */
  readonly chrootFn?: (dir: string) => void;
  /** Account databases, for tests; default /etc/passwd and /etc/group. */
  readonly passwdFile?: string;
  readonly groupFile?: string;
}

export type DropResult =
  | { readonly kind: 'not-root'; readonly uid: number; readonly gid: number; readonly warning: string }
  | { readonly kind: 'stayed-root'; readonly warning: string }
  | {
      readonly kind: 'dropped';
      readonly user: string;
      readonly uid: number;
      readonly group: string;
      readonly gid: number;
      /** The directory now at '/', or undefined if chroot was off or unavailable ('if-available'). */
      readonly chrootDir: string | undefined;
      readonly runtimeDirCreated: boolean;
      /** Verified from /proc/self/status: Uid, Gid (real, effective, saved, fs), Groups, CapEff. */
      readonly verified: { readonly uids: readonly number[]; readonly gids: readonly number[]; readonly groups: readonly number[]; readonly capEff: string };
      readonly warnings: readonly string[];
    };

interface Account {
  readonly name: string;
  readonly id: number;
}

/** Parses passwd(5)/group(5) lines: name:password:id:... */
function lookupAccount(file: string, nameOrId: string): Account | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const numeric = /^\d+$/.test(nameOrId) ? Number(nameOrId) : undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const id = Number(f[2]);
    if (!Number.isInteger(id) || id < 0) continue;
    if (f[0] === nameOrId || (numeric !== undefined && id === numeric)) return { name: f[0]!, id };
  }
  if (numeric !== undefined) return { name: nameOrId, id: numeric };
  return undefined;
}

interface Libc {
  chroot(path: string): void;
}

/** libc chroot through koffi, or undefined if koffi is not installed. */
function loadLibcChroot(): Libc | undefined {
  type KoffiFn = (...args: unknown[]) => unknown;
  interface Koffi {
    load(name: string): { func(signature: string): KoffiFn };
    errno(): number;
  }
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch {
    return undefined;
  }
  const chroot = koffi.load('libc.so.6').func('int chroot(const char *path)');
  return {
    chroot(path: string): void {
      const rc = chroot(path) as number;
      if (rc !== 0) throw new PrivilegeError('PRIVILEGE_DROP_FAILED', `chroot(${path}) failed with errno ${koffi.errno()}`);
    },
  };
}

/** Whether a libc chroot is available in this process (koffi installed). */
export function chrootAvailable(): boolean {
  return loadLibcChroot() !== undefined;
}

/**
 * Makes sure `dir` can serve as the jail: created 0750 root:<gid> if missing (returns true then);
 * an existing one must be a real directory owned by root and not writable by group or others.
 */
export function prepareRuntimeDir(dir: string, gid: number): boolean {
  let created = false;
  try {
    mkdirSync(dir, { mode: 0o750 });
    chownSync(dir, 0, gid);
    chmodSync(dir, 0o750);
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new PrivilegeError('RUNTIME_DIR_UNSAFE', `cannot create RuntimeDir ${dir}: ${(e as Error).message}`);
    }
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new PrivilegeError('RUNTIME_DIR_UNSAFE', `RuntimeDir ${dir} is not a directory (symlinks are refused)`);
  // A directory the daemon (or anyone but root) could write would let a compromised daemon shape its own jail.
  if (st.uid !== 0) throw new PrivilegeError('RUNTIME_DIR_UNSAFE', `RuntimeDir ${dir} belongs to uid ${st.uid}; it must belong to root: chown root ${dir}`);
  if ((st.mode & 0o022) !== 0) throw new PrivilegeError('RUNTIME_DIR_UNSAFE', `RuntimeDir ${dir} is writable by group or others (mode 0${(st.mode & 0o777).toString(8)}): chmod 0750 ${dir}`);
  return created;
}

function readStatus(fd: number): string {
  const buf = Buffer.alloc(8192);
  const n = readSync(fd, buf, 0, buf.length, 0);
  return buf.subarray(0, n).toString('utf8');
}

function statusField(status: string, name: string): string {
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status);
  if (!m) throw new PrivilegeError('ROOT_REGAINABLE', `/proc/self/status has no ${name} line`);
  return m[1]!.trim();
}

function numbers(field: string): number[] {
  return field === '' ? [] : field.split(/\s+/).map(Number);
}

function mustFail(what: string, fn: () => void): void {
  let failed = false;
  try {
    fn();
  } catch {
    failed = true;
  }
  if (!failed) throw new PrivilegeError('ROOT_REGAINABLE', `${what} succeeded after dropping privileges: root can be regained; refusing to run`);
}

export function dropPrivileges(opts: DropOptions): DropResult {
  const { geteuid, getegid, setuid, seteuid, setgid, setgroups } = process;
  if (!geteuid || !getegid || !setuid || !seteuid || !setgid || !setgroups) {
    return { kind: 'not-root', uid: -1, gid: -1, warning: 'this platform has no POSIX credentials; privileges unchanged' };
  }
  const euid = geteuid();
  if (euid !== 0) {
    return {
      kind: 'not-root',
      uid: euid,
      gid: getegid(),
      warning: `started as uid ${euid}, not root: no chroot to ${opts.runtimeDir} and no change of user`,
    };
  }
  const stayRoot = (why: string): DropResult => {
    if (opts.allowRunAsRoot) return { kind: 'stayed-root', warning: `${why}; continuing as root because running as root is explicitly allowed` };
    throw new PrivilegeError('PRIVILEGE_DROP_FAILED', `${why}; refusing to run as root (create the account, or set AllowRunAsRoot = true in the configuration)`);
  };

  const user = lookupAccount(opts.passwdFile ?? '/etc/passwd', opts.user);
  if (!user) return stayRoot(`DaemonUser ${opts.user} does not exist`);
  const group = lookupAccount(opts.groupFile ?? '/etc/group', opts.group);
  if (!group) return stayRoot(`DaemonGroup ${opts.group} does not exist`);
  if (user.id === 0) return stayRoot(`DaemonUser ${opts.user} is uid 0`);
  if (group.id === 0) return stayRoot(`DaemonGroup ${opts.group} is gid 0`);

  const mode = opts.chroot ?? 'required';
  const warnings: string[] = [];
  let chrootFn: ((dir: string) => void) | undefined;
  if (mode !== 'off') {
    chrootFn = opts.chrootFn ?? loadLibcChroot()?.chroot;
    if (!chrootFn) {
      if (mode === 'required') {
        throw new PrivilegeError('CHROOT_UNAVAILABLE', 'chroot is required but no libc binding is available: install the koffi package, or run under systemd with RootDirectory=, or turn chroot off');
      }
      warnings.push('no libc binding for chroot (koffi not installed): not confined to RuntimeDir');
    }
  }

  // Everything that can fail cheaply is checked before the first irreversible step.
  const runtimeDirCreated = chrootFn ? prepareRuntimeDir(opts.runtimeDir, group.id) : false;
  const statusFd = openSync('/proc/self/status', 'r');
  try {
    if (chrootFn) {
      process.chdir(opts.runtimeDir);
      chrootFn('.');
      process.chdir('/');
    }
    setgroups([]);
    setgid(group.id);
    setuid(user.id);

    mustFail('setuid(0)', () => setuid(0));
    mustFail('seteuid(0)', () => seteuid(0));
    mustFail('setgid(0)', () => setgid(0));

    const status = readStatus(statusFd);
    const uids = numbers(statusField(status, 'Uid'));
    const gids = numbers(statusField(status, 'Gid'));
    const groups = numbers(statusField(status, 'Groups'));
    const capEff = statusField(status, 'CapEff');
    const capPrm = statusField(status, 'CapPrm');
    if (uids.length !== 4 || uids.some((u) => u !== user.id)) throw new PrivilegeError('ROOT_REGAINABLE', `uids after the drop are ${uids.join(' ')}, expected all ${user.id}`);
    if (gids.length !== 4 || gids.some((g) => g !== group.id)) throw new PrivilegeError('ROOT_REGAINABLE', `gids after the drop are ${gids.join(' ')}, expected all ${group.id}`);
    if (groups.length !== 0) throw new PrivilegeError('ROOT_REGAINABLE', `supplementary groups remain after the drop: ${groups.join(' ')}`);
    if (!/^0+$/.test(capEff) || !/^0+$/.test(capPrm)) throw new PrivilegeError('ROOT_REGAINABLE', `capabilities remain after the drop (CapEff ${capEff}, CapPrm ${capPrm})`);
    return {
      kind: 'dropped',
      user: user.name,
      uid: user.id,
      group: group.name,
      gid: group.id,
      chrootDir: chrootFn ? opts.runtimeDir : undefined,
      runtimeDirCreated,
      verified: { uids, gids, groups, capEff },
      warnings,
    };
  } finally {
    closeSync(statusFd);
  }
}
