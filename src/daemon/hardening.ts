/**
 * The security steps of daemon start-up (shared/architecture.md, "Startup order"):
 *
 * - step 2/3, `loadSessionSecurity`: load libsodium's WebAssembly, the RC-PASSWORD verifier file,
 *   the RC-PUBKEY authorized keys and the access-control rules, and check the cluster key file,
 *   each with its ownership and mode checks, so that a bad file stops the daemon before it binds
 *   anything and nothing needs the filesystem after the chroot;
 * - step 4, `hardenProcess`: once every socket is bound, chroot to RuntimeDir and drop to
 *   DaemonUser/DaemonGroup (privileges.ts), then say what was done.
 */
import { randomBytes } from 'node:crypto';
import { initCrypto } from '../../crypto/index.js';
import { initSessionCrypto, loadAuthorizedKeys, loadPasswordFile, type ServerAuthContext } from '../../crypto/session/index.js';
import { readClusterKeyFile } from '../../keys/index.js';
import { AclWatcher } from '../acl/index.js';
import type { RingcastConfig } from '../config/index.js';
import type { AccessControl } from '../session/listener.js';
import type { Logger } from './log.js';
import { dropPrivileges, type DropResult } from './privileges.js';

export interface SessionSecurity {
  /** What RC-PASSWORD and RC-PUBKEY check against; undefined when neither file is configured. */
  readonly keyedAuth: ServerAuthContext | undefined;
  /** Group access control; undefined without AccessControlFile (everything allowed, as Spread's PERMIT). */
  readonly accessControl: AccessControl | undefined;
  /** Keeps the rules in step with the file; undefined without AccessControlFile. */
  readonly aclWatcher: AclWatcher | undefined;
  close(): void;
}

/** Loads every credential and rule file the configuration names; throws (with what to fix) on any problem. */
export async function loadSessionSecurity(config: RingcastConfig, logger: Logger): Promise<SessionSecurity> {
  // Both WebAssembly loads happen now: after the chroot there is no filesystem to load them from.
  await initSessionCrypto();
  await initCrypto();

  if (config.cryptoMode !== 'none' && config.clusterKeyFile !== undefined) {
    // The ring layer reads it again when it builds the protector; checked here for every
    // configuration, a single daemon included, so a loose key file always stops the start.
    readClusterKeyFile(config.clusterKeyFile).fill(0);
  }

  let passwords: ServerAuthContext['passwords'];
  if (config.passwordFile !== undefined) {
    const verifiers = loadPasswordFile(config.passwordFile);
    passwords = { lookup: (user) => verifiers.get(user), decoySecret: new Uint8Array(randomBytes(32)) };
    logger.log('info', `RC-PASSWORD: ${verifiers.size} users from ${config.passwordFile}`, 'SECURITY');
  }
  let authorizedKeys: ServerAuthContext['authorizedKeys'];
  if (config.authorizedKeysFile !== undefined) {
    const keys = loadAuthorizedKeys(config.authorizedKeysFile);
    authorizedKeys = { lookup: (publicKey) => keys.lookup(publicKey) };
    logger.log('info', `RC-PUBKEY: authorized keys from ${config.authorizedKeysFile}`, 'SECURITY');
  }
  const keyedAuth: ServerAuthContext | undefined =
    passwords !== undefined || authorizedKeys !== undefined
      ? { daemonName: '', randomBytes: (n) => new Uint8Array(randomBytes(n)), passwords, authorizedKeys }
      : undefined;

  let aclWatcher: AclWatcher | undefined;
  if (config.accessControlFile !== undefined) {
    aclWatcher = new AclWatcher(config.accessControlFile, {
      log: (level, message) => logger.log(level, message, 'SECURITY'),
    });
    logger.log('info', `access control: ${aclWatcher.policy.rules.length} rules from ${config.accessControlFile}; re-read when the file changes`, 'SECURITY');
  }
  const watcher = aclWatcher;
  return {
    keyedAuth,
    aclWatcher: watcher,
    accessControl: watcher ? { decide: (identity, action, group) => watcher.policy.decide(identity, action, group) } : undefined,
    close: () => watcher?.close(),
  };
}

/** The keyed-method context for one daemon: the name is the one announced in ServerHello. */
export function keyedAuthFor(security: SessionSecurity, daemonName: string): ServerAuthContext | undefined {
  return security.keyedAuth ? { ...security.keyedAuth, daemonName } : undefined;
}

/**
 * Step 4: chroot to RuntimeDir and drop to DaemonUser/DaemonGroup when started as root. Throws
 * PrivilegeError when that is impossible and running on as root is not allowed; the caller must
 * then exit, since the process may be half-dropped.
 */
export function hardenProcess(config: RingcastConfig, logger: Logger, security: SessionSecurity): DropResult {
  const result = dropPrivileges({
    runtimeDir: config.runtimeDir,
    user: config.daemonUser,
    group: config.daemonGroup,
    allowRunAsRoot: config.allowRunAsRoot,
    chroot: config.chroot,
  });
  switch (result.kind) {
    case 'not-root':
      logger.log('warn', `privileges: ${result.warning}`, 'SECURITY');
      break;
    case 'stayed-root':
      logger.log('warn', `privileges: ${result.warning}`, 'SECURITY');
      break;
    case 'dropped': {
      if (result.chrootDir !== undefined) security.aclWatcher?.rebase(result.chrootDir);
      const where = result.chrootDir !== undefined ? `chrooted to ${result.chrootDir}${result.runtimeDirCreated ? ' (created)' : ''}` : 'not chrooted';
      logger.log(
        'info',
        `privileges: ${where}; supplementary groups dropped; running as ${result.user} (uid ${result.uid}), group ${result.group} (gid ${result.gid}); ` +
          `verified: uids ${result.verified.uids.join(' ')}, gids ${result.verified.gids.join(' ')}, no capabilities, setuid(0) refused`,
        'SECURITY',
      );
      for (const w of result.warnings) logger.log('warn', `privileges: ${w}`, 'SECURITY');
      break;
    }
  }
  return result;
}
