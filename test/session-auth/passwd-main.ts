/** A minimal `ringcast` program with only the passwd command, for passwd-command.test.ts. */
import { Command } from 'commander';
import { registerPasswdCommand } from '../../src/cli/passwd-command.js';

const program = new Command('ringcast').exitOverride();
registerPasswdCommand(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
}
