/**
 * Child process for privileges.test.ts: loads WASM and opens a socket first (as the daemon does),
 * then calls dropPrivileges with the options in RC_DROP_OPTIONS, reports one JSON line, and stays
 * alive until stdin closes so the parent can inspect /proc/<pid>.
 */
import net from 'node:net';
import { initSessionCrypto, makeSessionKeys } from '../../crypto/session/index.js';
import { dropPrivileges, type DropOptions } from '../../src/daemon/privileges.js';

const opts = JSON.parse(process.env.RC_DROP_OPTIONS ?? '{}') as DropOptions & { extraGroups?: number[] };
await initSessionCrypto();
const server = net.createServer((s) => s.end('still serving\n'));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as net.AddressInfo).port;
if (opts.extraGroups && process.setgroups) process.setgroups(opts.extraGroups);

let report: Record<string, unknown>;
try {
  const result = dropPrivileges(opts);
  // The WASM loaded before the drop still works inside the jail.
  const k = new Uint8Array(32).fill(7);
  const keys = makeSessionKeys(k, k);
  const sodiumWorks = keys.receive.open(keys.send.seal(Uint8Array.of(42)))[0] === 42;
  report = { ok: true, result, port, sodiumWorks, cwd: process.cwd() };
} catch (e) {
  const err = e as { code?: string; message: string };
  report = { ok: false, code: err.code, message: err.message, euid: process.geteuid?.(), port };
}
process.stdout.write(JSON.stringify(report) + '\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
