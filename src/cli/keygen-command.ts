/**
 * `ringcast keygen [--out FILE]`: creates the cluster secret key file (256 bits from the OS
 * CSPRNG, mode 0400, never overwriting). Registered on the `ringcast` program by its owner.
 */
import type { Command } from 'commander';
import { RingcastError } from '../util/errors.js';
import { DEFAULT_CLUSTER_KEY_PATH, writeClusterKeyFile } from '../../keys/index.js';

export function registerKeygenCommand(program: Command): Command {
  return program
    .command('keygen')
    .description('create a new cluster secret key file (256 random bits, mode 0400); copy the same file to every daemon of the cluster')
    .option('-o, --out <file>', 'where to write the key; an existing file is never overwritten', DEFAULT_CLUSTER_KEY_PATH)
    .action((options: { out: string }) => {
      try {
        const written = writeClusterKeyFile(options.out);
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
