#!/usr/bin/env node
/**
 * ringcastd [-c FILE] [-n NAME] [-p PORT]
 *
 * Without -c, runs the built-in default: one daemon named `localhost` on 127.0.0.1:4803 (TCP and
 * the Unix socket /tmp/4803).
 */
import { Command, InvalidArgumentError } from 'commander';
import { startDaemon } from '../daemon/main.js';
import { RingcastError } from '../util/errors.js';

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65534) throw new InvalidArgumentError(`"${v}" is not a port number (1..65534)`);
  return n;
}

const program = new Command('ringcastd')
  .description('Ringcast daemon: Spread-compatible group communication over a token ring')
  .option('-c, --config <file>', 'configuration file (spread.conf format); default: one daemon on 127.0.0.1:4803')
  .option('-n, --name <name>', 'this daemon\'s name in the configuration (default: the daemon whose address is local)')
  .option('-p, --port <port>', 'port: the daemon port of the built-in default, or the client port with -c', parsePort)
  .option('--unix-socket <path>', 'client Unix socket path (empty string: none)')
  .option('--capture-packets <file>', 'diagnostic: append every ring datagram this daemon sends to FILE, exactly as sent')
  .option('--allow-run-as-root', 'as AllowRunAsRoot = true: started as root, keep running as root when DaemonUser/DaemonGroup do not exist')
  .showHelpAfterError();

program.parse();
const o = program.opts<{ config?: string; name?: string; port?: number; unixSocket?: string; capturePackets?: string; allowRunAsRoot?: boolean }>();

try {
  const running = await startDaemon({ configFile: o.config, name: o.name, port: o.port, unixSocket: o.unixSocket, capturePackets: o.capturePackets, allowRunAsRoot: o.allowRunAsRoot });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`ringcastd: ${signal}, leaving the ring\n`);
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // SIGHUP: re-read the trusted daemon keys (revoke or add a daemon without a restart).
  process.on('SIGHUP', () => running.reload());
  process.on('uncaughtException', (err) => {
    process.stderr.write(`ringcastd: internal error (the daemon keeps running): ${err.stack ?? err.message}\n`);
  });
} catch (err) {
  if (err instanceof RingcastError) {
    process.stderr.write(`ringcastd: ${err.message}\n`);
  } else {
    process.stderr.write(`ringcastd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
}
