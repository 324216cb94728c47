#!/usr/bin/env node
/**
 * ringcast <command>: the command-line tools. Each command lives in its own module and registers
 * itself on this program.
 */
import { Command } from 'commander';
import { registerFloodCommand } from './flood-command.js';
import { registerKeygenCommand } from './keygen-command.js';
import { registerMonitorCommand } from './monitor-command.js';
import { registerPasswdCommand } from './passwd-command.js';
import { registerSimCommand } from './sim-command.js';
import { registerUserCommand } from './user-command.js';

const program = new Command('ringcast').description('Ringcast command-line tools').showHelpAfterError();

registerUserCommand(program);
registerFloodCommand(program);
registerMonitorCommand(program);
registerSimCommand(program);
registerKeygenCommand(program);
registerPasswdCommand(program);

await program.parseAsync();
