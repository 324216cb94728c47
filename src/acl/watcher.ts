/**
 * Keeps an AclPolicy in step with its file: changes take effect without a restart. The directory is
 * watched (editors replace files by rename, which a watch on the file itself would miss); events
 * for the file's name are debounced, then the file is re-read. A new file that does not load leaves
 * the previous rules in force and logs why.
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadAcl } from './load.js';
import type { AclAction, AclPolicy } from './policy.js';

export type AclLog = (level: 'info' | 'error', message: string) => void;

export interface AclWatcherOptions {
  /** Quiet time after the last change before re-reading (default 100 ms). */
  readonly debounceMs?: number;
  readonly log?: AclLog;
  /** Called after every successful reload with the new rules. */
  readonly onReload?: (policy: AclPolicy) => void;
}

export class AclWatcher {
  private current: AclPolicy;
  private path: string;
  private readonly watcher: FSWatcher;
  private timer: NodeJS.Timeout | undefined;
  private readonly debounceMs: number;
  private readonly log: AclLog;
  private readonly onReload: ((policy: AclPolicy) => void) | undefined;
  private closed = false;

  /** Loads `path` (throws ConfigError if it does not load) and starts watching it. */
  constructor(path: string, opts: AclWatcherOptions = {}) {
    this.path = path;
    this.debounceMs = opts.debounceMs ?? 100;
    this.log = opts.log ?? (() => {});
    this.onReload = opts.onReload;
    this.current = loadAcl(path);
    const name = basename(path);
    this.watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file === null || file === name) this.schedule();
    });
    this.watcher.on('error', (e) => this.log('error', `access control: watching ${this.path} failed (${e.message}); rules stay as loaded`));
  }

  get policy(): AclPolicy {
    return this.current;
  }

  check(identity: string, action: AclAction, group: string): boolean {
    return this.current.check(identity, action, group);
  }

  /**
   * Called right after chroot(runtimeDir): later re-reads use the path as seen inside the jail. A
   * path under runtimeDir loses that prefix; any other path must exist inside the jail too (for
   * example a read-only bind mount of its directory at the same place under runtimeDir), else
   * changes cannot be picked up any more. The directory watch set before the chroot keeps working.
   */
  rebase(runtimeDir: string): void {
    const root = runtimeDir.replace(/\/+$/, '');
    if (this.path.startsWith(root + '/')) this.path = this.path.slice(root.length);
    else if (!existsSync(this.path)) this.log('error', `access control file ${this.path} is neither under ${runtimeDir} nor visible at that path inside it: changes will not be picked up after the chroot (restart to apply them)`);
  }

  /** Re-reads now (also for SIGHUP). Returns true if the new rules are in force. */
  reload(): boolean {
    try {
      const next = loadAcl(this.path);
      this.current = next;
      this.log('info', `access control: loaded ${next.rules.length} rules from ${this.path}`);
      this.onReload?.(next);
      return true;
    } catch (e) {
      this.log('error', `access control: ${(e as Error).message}; keeping the previous ${this.current.rules.length} rules`);
      return false;
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher.close();
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.reload();
    }, this.debounceMs);
  }
}
