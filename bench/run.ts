/**
 * `npm run bench`: every benchmark in turn, each in its own process so that daemons and sockets
 * of one never disturb the next. Figures are printed with the machine noted; compare variants
 * within one run (the machines are small and noisy), not against absolute numbers.
 *
 *   npm run bench                 all benchmarks
 *   npm run bench -- ring crypto  only the named ones (single-daemon, ring, ring-crypto, crypto)
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

const BENCHES: Record<string, { file: string; args: string[]; what: string }> = {
  'single-daemon': { file: 'single-daemon.ts', args: [], what: 'one daemon: 1,000 sessions, 10,000 groups, 1 KB AGREED flood' },
  ring: { file: 'ring.ts', args: [], what: '1 and 3 daemons: 1 KB AGREED and SAFE, ping-pong and flood' },
  'ring-crypto': { file: 'ring.ts', args: ['--daemons', '3', '--crypto', 'none,integrity,encrypt'], what: '3 daemons: packet protection none / integrity / encrypt side by side' },
  crypto: { file: 'crypto.ts', args: [], what: 'AEAD and MAC candidates per packet size' },
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(BENCHES);
let failed = 0;
for (const name of names) {
  const b = BENCHES[name];
  if (!b) {
    process.stderr.write(`unknown benchmark "${name}" (known: ${Object.keys(BENCHES).join(', ')})\n`);
    process.exitCode = 2;
    continue;
  }
  process.stdout.write(`\n=== ${name}: ${b.what}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, b.file), ...b.args], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (failed) process.exitCode = 1;
