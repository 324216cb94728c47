/**
 * `ringcast keygen [--out FILE]`: creates the cluster secret key file (256 bits from the OS
 * CSPRNG, mode 0400, never overwriting).
 *
 * `ringcast keygen --client --identity NAME --out FILE`: creates an RC-PUBKEY client key pair:
 * FILE holds the Ed25519 secret (mode 0400), FILE.pub the authorized-keys line
 * `NAME <base64 public key>` to append to the daemon's AuthorizedKeysFile.
 *
 * `ringcast keygen --identity [--name DAEMON] [--out FILE]`: creates a daemon identity (X25519 and
 * Ed25519 key pairs, mode 0400, never overwriting) and prints the `DaemonPublicKey` line that every
 * daemon's configuration needs to trust it.
 */
import type { Command } from 'commander';
import type { OptionValueSource } from 'commander';
import { RingcastError } from '../util/errors.js';
import { initCrypto } from '../../crypto/init.js';
import {
  DEFAULT_CLUSTER_KEY_PATH,
  DEFAULT_DAEMON_IDENTITY_PATH,
  daemonKeyFingerprint,
  eraseDaemonIdentity,
  formatDaemonPublicKey,
  generateDaemonIdentity,
  writeClusterKeyFile,
  writeDaemonIdentityFile,
} from '../../keys/index.js';
import { generateClientKeyPair, initSessionCrypto, isValidKeyIdentity, writeClientKeyFile } from '../../crypto/session/index.js';

interface KeygenOptions {
  out?: string;
  client?: boolean;
  /** A client key's identity (with --client), or `true` alone: make a daemon identity. */
  identity?: string | true;
  name?: string;
  comment?: string;
}

/** A daemon name as the configuration writes it: a name or an address text, at most 19 characters. */
const DAEMON_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,19}$/;
/** Shown in the printed line when --name is not given; the configuration parser refuses it as a daemon name. */
const DAEMON_NAME_STAND_IN = '<daemon-name>';

async function writeDaemonIdentity(o: KeygenOptions, outSource: OptionValueSource | undefined): Promise<void> {
  if (o.comment !== undefined) throw new RingcastError('KEYGEN_OPTIONS', '--comment applies to client keys (--client)');
  if (o.name !== undefined && !DAEMON_NAME_PATTERN.test(o.name)) {
    throw new RingcastError('KEYGEN_OPTIONS', `"${o.name}" is not a daemon name: give the name (or, for an unnamed daemon, the address) that the daemon has in its Spread_Segment`);
  }
  const path = o.out === undefined || outSource === 'default' ? DEFAULT_DAEMON_IDENTITY_PATH : o.out;
  await initCrypto();
  const id = generateDaemonIdentity();
  try {
    writeDaemonIdentityFile(path, id);
    const name = o.name ?? DAEMON_NAME_STAND_IN;
    process.stdout.write(
      `wrote daemon identity ${path} (mode 0400, fingerprint ${daemonKeyFingerprint(id.publicKey)})\n` +
        `point this daemon's DaemonIdentityFile at it; it must stay owned by the user the daemon runs as, with mode 0400, and never leave this host\n` +
        `add this line to the configuration of every daemon, this one included, then send each running daemon SIGHUP:\n` +
        (o.name === undefined ? `(replace ${DAEMON_NAME_STAND_IN} with this daemon's name from its Spread_Segment, or run again with --name)\n` : '') +
        `\nDaemonPublicKey = ${name} ${formatDaemonPublicKey(id.publicKey)}\n`,
    );
  } finally {
    eraseDaemonIdentity(id);
  }
}

async function writeClientKey(o: KeygenOptions, outSource: OptionValueSource | undefined): Promise<void> {
  if (o.name !== undefined) throw new RingcastError('KEYGEN_OPTIONS', '--name applies to daemon identities (--identity without --client); a client key is named by --identity NAME');
  if (o.identity === undefined || o.identity === true) throw new RingcastError('KEYGEN_OPTIONS', '--client needs --identity NAME (the daemon maps the key to key:NAME)');
  if (!isValidKeyIdentity(o.identity)) throw new RingcastError('KEYGEN_OPTIONS', `"${o.identity}" is not a valid key identity (1..64 of A-Z a-z 0-9 . _ - @ +)`);
  // The cluster key's default path is no place for a client secret: --out must be given.
  if (o.out === undefined || outSource === 'default') throw new RingcastError('KEYGEN_OPTIONS', '--client needs --out FILE (the secret key file; FILE.pub gets the public line)');
  await initSessionCrypto();
  const written = writeClientKeyFile(o.out, generateClientKeyPair(), { identity: o.identity, comment: o.comment });
  process.stdout.write(
    `wrote client key ${written.secretPath} (mode 0400) and ${written.publicPath}\n` +
      `append the line in ${written.publicPath} to the daemon's AuthorizedKeysFile; the session identity is key:${o.identity}\n`,
  );
}

export function registerKeygenCommand(program: Command): Command {
  return program
    .command('keygen')
    .description('create a new cluster secret key file (256 random bits, mode 0400); with --identity a daemon identity; with --client an RC-PUBKEY client key pair')
    .option('-o, --out <file>', `where to write the key; an existing file is never overwritten (required with --client; ${DEFAULT_DAEMON_IDENTITY_PATH} by default with --identity)`, DEFAULT_CLUSTER_KEY_PATH)
    .option('--client', 'create a client Ed25519 key pair for RC-PUBKEY instead of a cluster key')
    .option('--identity [name]', 'alone: create a daemon identity (X25519 and Ed25519 key pairs); with --client: the identity the daemon maps the key to (key:<name>)')
    .option('--name <daemon>', 'with --identity: the daemon\'s name, used in the printed DaemonPublicKey line')
    .option('--comment <text>', 'with --client: a comment for the .pub line')
    .action(async (options: KeygenOptions, command: Command) => {
      try {
        if (options.client) {
          await writeClientKey(options, command.getOptionValueSource('out'));
          return;
        }
        if (options.identity === true) {
          await writeDaemonIdentity(options, command.getOptionValueSource('out'));
          return;
        }
        if (options.identity !== undefined) {
          throw new RingcastError('KEYGEN_OPTIONS', `--identity ${options.identity}: a name after --identity is for client keys (add --client); for a daemon identity write --identity --name ${options.identity}`);
        }
        if (options.name !== undefined) throw new RingcastError('KEYGEN_OPTIONS', '--name applies to daemon identities: add --identity');
        const written = writeClusterKeyFile(options.out ?? DEFAULT_CLUSTER_KEY_PATH);
        process.stdout.write(
          `wrote cluster key ${written.path} (mode 0400, fingerprint ${written.fingerprint})\n` +
            'copy it over a secure channel to every daemon of the cluster; on each host it must be owned by the user the daemon runs as, with mode 0400\n',
        );
      } catch (e) {
        if (e instanceof RingcastError) {
          process.stderr.write(`ringcast keygen: ${e.message}\n`);
          process.exitCode = 1;
          return;
        }
        throw e;
      }
    });
}
