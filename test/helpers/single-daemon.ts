/**
 * One real ringcastd process configured as a one-daemon ring (`Spread_Segment 127.0.0.1:PORT
 * { NAME 127.0.0.1 }`) on a free port, with its Unix socket in a private temporary directory.
 */
import path from 'node:path';
import { freePort, startDaemonProcess, tempDir, writeConfig, type DaemonProcess } from './daemons.js';

export interface SingleDaemon {
  daemon: DaemonProcess;
  name: string;
  port: number;
  /** Client Unix socket path. */
  socketPath: string;
  /** `PORT@127.0.0.1`, the client library's TCP address. */
  tcpAddress: string;
  configFile: string;
  /** Stops the process (by PID) and removes the temporary directory. */
  stop(): Promise<void>;
}

export interface SingleDaemonOptions {
  /** Daemon name in the configuration (default d1). */
  name?: string;
  /** Extra configuration lines after the segment. */
  extraConfig?: string;
  /** Text after the daemon's address inside the segment, e.g. an interface block `{ D 127.0.0.1 C 127.0.0.2 }`. */
  interfaces?: string;
}

export async function startSingleDaemon(opts: SingleDaemonOptions = {}): Promise<SingleDaemon> {
  const name = opts.name ?? 'd1';
  const t = tempDir('ringcast-daemon-');
  try {
    const port = await freePort();
    // Tests may run as root where no DaemonUser account exists: the daemon then stays root (no chroot).
    const rootLine = process.getuid?.() === 0 ? 'AllowRunAsRoot = true\n' : '';
    const configFile = writeConfig(t.dir, 'ringcast.conf', `Spread_Segment 127.0.0.1:${port} {\n  ${name} 127.0.0.1 ${opts.interfaces ?? ''}\n}\n${rootLine}${opts.extraConfig ?? ''}\n`);
    const socketPath = path.join(t.dir, 'client.sock');
    const daemon = await startDaemonProcess(['-c', configFile, '-n', name, '--unix-socket', socketPath], { name });
    return {
      daemon,
      name,
      port,
      socketPath,
      tcpAddress: `${port}@127.0.0.1`,
      configFile,
      async stop() {
        await daemon.stop();
        t.cleanup();
      },
    };
  } catch (e) {
    t.cleanup();
    throw e;
  }
}

/** Whether the process with this PID is alive. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until the daemon's output matches `re`; returns the matching line or undefined. */
export async function waitForLog(d: DaemonProcess, re: RegExp, timeoutMs = 3000, from = 0): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = d.output().slice(from).split('\n').find((l) => re.test(l));
    if (line !== undefined) return line;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, 20));
  }
}
