/**
 * `ringcast keygen [--out FILE]`: creates the cluster secret key file (256 bits from the OS
 * CSPRNG, mode 0400, never overwriting).
 *
 * `ringcast keygen --client --identity NAME --out FILE`: creates an RC-PUBKEY client key pair:
 * FILE holds the Ed25519 secret (mode 0400), FILE.pub the authorized-keys line
 * `NAME <base64 public key>` to append to the daemon's AuthorizedKeysFile.
 */
import type { Command } from 'commander';
import type { OptionValueSource } from 'commander';
import { RingcastError } from '../util/errors.js';
import { DEFAULT_CLUSTER_KEY_PATH, writeClusterKeyFile } from '../../keys/index.js';
import { generateClientKeyPair, initSessionCrypto, isValidKeyIdentity, writeClientKeyFile } from '../../crypto/session/index.js';

interface KeygenOptions {
  out?: string;
  client?: boolean;
  identity?: string;
  comment?: string;
}

async function writeClientKey(o: KeygenOptions, outSource: OptionValueSource | undefined): Promise<void> {
  if (o.identity === undefined) throw new RingcastError('KEYGEN_OPTIONS', '--client needs --identity NAME (the daemon maps the key to key:NAME)');
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
    .description('create a new cluster secret key file (256 random bits, mode 0400), or with --client an RC-PUBKEY client key pair')
    .option('-o, --out <file>', 'where to write the key; an existing file is never overwritten (required with --client)', DEFAULT_CLUSTER_KEY_PATH)
    .option('--client', 'create a client Ed25519 key pair for RC-PUBKEY instead of a cluster key')
    .option('--identity <name>', 'with --client: the identity the daemon maps the key to (key:<name>)')
    .option('--comment <text>', 'with --client: a comment for the .pub line')
    .action(async (options: KeygenOptions, command: Command) => {
      try {
        if (options.client) {
          await writeClientKey(options, command.getOptionValueSource('out'));
          return;
        }
        if (options.identity !== undefined) throw new RingcastError('KEYGEN_OPTIONS', '--identity applies to client keys: add --client');
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
