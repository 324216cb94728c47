/**
 * The default NULL policy: a TCP session from a non-loopback peer admitted by NULL alone is refused
 * with REJECT_AUTH; naming NULL in TcpAllowedAuthMethods restores Spread's behaviour. Per-listener
 * lists replace the global one for that listener. Needs a non-loopback IPv4 address on this host.
 */
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startDaemonProcess, tempDir, writeConfig, type DaemonProcess } from '../helpers/daemons.js';
import { connect } from '../../src/client/index.js';
import { waitForLog } from '../helpers/single-daemon.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const hostAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;

let daemon: DaemonProcess | undefined;
let cleanup: (() => void) | undefined;

afterEach(async () => {
  await daemon?.stop();
  cleanup?.();
  daemon = undefined;
});

async function start(extra: string): Promise<{ port: number; socketPath: string }> {
  const t = tempDir('ringcast-null-');
  cleanup = t.cleanup;
  const port = await freePort([hostAddress!]);
  const config = writeConfig(t.dir, 'n.conf', `Spread_Segment ${hostAddress}:${port} {\n  d1 ${hostAddress}\n}\n${extra}\n`);
  const socketPath = path.join(t.dir, 'n.sock');
  daemon = await startDaemonProcess(['-c', config, '-n', 'd1', '--unix-socket', socketPath]);
  return { port, socketPath };
}

describe.skipIf(hostAddress === undefined)('NULL on TCP from the network', () => {
  it('is refused by default with REJECT_AUTH; the Unix socket still takes NULL', async () => {
    const { port, socketPath } = await start('');
    await expect(connect(`${port}@${hostAddress}`, { name: 'remote' })).rejects.toMatchObject({ spreadCode: -9 });
    expect(await waitForLog(daemon!, /REJECT_AUTH \(-9\).*NULL is accepted on TCP from loopback peers only/)).toBeDefined();
    const local = await connect(socketPath, { name: 'local' });
    await local.disconnect();
  });

  it('is accepted when TcpAllowedAuthMethods names NULL (stock Spread behaviour)', async () => {
    const { port } = await start('TcpAllowedAuthMethods = "NULL"');
    const c = await connect(`${port}@${hostAddress}`, { name: 'remote' });
    expect(c.privateGroup).toBe('#remote#d1');
    await c.disconnect();
  });

  it('per-listener lists: IP on TCP, NULL on the Unix socket', async () => {
    const t = tempDir('ringcast-null-ip-');
    const ipFile = path.join(t.dir, 'access_ip');
    writeFileSync(ipFile, `${hostAddress}\n`);
    const { port, socketPath } = await start(`TcpAllowedAuthMethods = "IP"\nUnixAllowedAuthMethods = "NULL"\nAccessIpFile = ${ipFile}`);
    await expect(connect(`${port}@${hostAddress}`, { name: 'n', authMethods: ['NULL'] })).rejects.toMatchObject({ spreadCode: -9 });
    const ip = await connect(`${port}@${hostAddress}`, { name: 'ip', authMethods: ['IP'] });
    await ip.disconnect();
    await expect(connect(socketPath, { name: 'u', authMethods: ['IP'] })).rejects.toMatchObject({ spreadCode: -9 });
    const u = await connect(socketPath, { name: 'u' });
    await u.disconnect();
    t.cleanup();
  });
});
