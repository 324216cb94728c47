/**
 * `ringcast monitor`: a live view of groups as one client session sees them. It connects with
 * the membership flag, joins the given groups (so it is itself a visible member of each), and
 * prints every membership change as it happens plus, at each interval, the member and message
 * counts of every group. Daemon status, ring statistics and network partition control are
 * daemon-to-daemon matters that come with the multi-daemon transport, not with this client view.
 */
import type { Writable } from 'node:stream';
import { Command, InvalidArgumentError } from 'commander';
import { runDaemonControl } from '../monitor/control-command.js';
import { connect, formatGroupId, isValidGroupName, type GroupId, type Received, type SpreadConnection } from '../client/index.js';

/** Groups one monitor watches at most. */
export const MONITOR_GROUPS_MAX = 100;

export interface MonitorOptions {
  address: string;
  groups: string[];
  intervalMs: number;
  /** Stop after this long; undefined runs until `signal` aborts or the daemon closes. */
  durationMs?: number;
  json: boolean;
  name?: string;
  out: Writable;
  errors: Writable;
  signal?: AbortSignal;
}

interface GroupView {
  members: string[];
  groupId: GroupId | undefined;
  messages: number;
  bytes: number;
  messagesAtLastReport: number;
}

const clock = (): string => new Date().toISOString().slice(11, 23);

function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(2)} MB`;
}

/** Runs the monitor; resolves with the process exit code. */
export async function runMonitor(o: MonitorOptions): Promise<number> {
  const emit = (human: string, json: Record<string, unknown>): void => {
    o.out.write(o.json ? `${JSON.stringify({ time: new Date().toISOString(), ...json })}\n` : `${clock()} ${human}\n`);
  };
  const views = new Map<string, GroupView>(o.groups.map((g) => [g, { members: [], groupId: undefined, messages: 0, bytes: 0, messagesAtLastReport: 0 }]));

  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort();
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const durationTimer = o.durationMs === undefined ? undefined : setTimeout(() => stop.abort(), o.durationMs);

  let conn: SpreadConnection | undefined;
  let intervalTimer: NodeJS.Timeout | undefined;
  let lastTick = Date.now();
  const report = (final: boolean): void => {
    const t = Date.now();
    const secs = Math.max(t - lastTick, 1) / 1000;
    lastTick = t;
    const counts: Record<string, { members: number; messages: number; bytes: number; messagesPerSec: number }> = {};
    const parts: string[] = [];
    for (const [name, v] of views) {
      const perSec = Math.round((v.messages - v.messagesAtLastReport) / secs);
      v.messagesAtLastReport = v.messages;
      counts[name] = { members: v.members.length, messages: v.messages, bytes: v.bytes, messagesPerSec: perSec };
      parts.push(`${name}: ${v.members.length} member(s), ${v.messages} message(s) (${perSec}/s), ${formatBytes(v.bytes)}`);
    }
    emit(`${final ? 'final counts' : 'counts'} | ${parts.join(' | ')}`, { event: final ? 'final' : 'counts', groups: counts });
  };

  const onMessage = (m: Received): void => {
    switch (m.kind) {
      case 'data':
        for (const g of new Set(m.groups)) {
          const v = views.get(g);
          if (v) {
            v.messages++;
            v.bytes += m.data.length;
          }
        }
        break;
      case 'membership': {
        const v = views.get(m.group);
        if (v) {
          v.members = m.members;
          v.groupId = m.groupId;
        }
        const what = m.reason === 'network' ? `NETWORK change, ${m.vsSets.length} vs set(s) [${m.vsSets.map((s) => s.join(' ')).join(' | ')}]` : `${m.reason.toUpperCase()} of ${m.changed ?? '?'}`;
        emit(`${m.group} ${what}: ${m.members.length} member(s) [${m.members.join(' ')}], group id ${formatGroupId(m.groupId)}`, {
          event: 'membership',
          group: m.group,
          reason: m.reason,
          changed: m.changed,
          members: m.members,
          vsSets: m.vsSets,
          groupId: m.groupId,
        });
        break;
      }
      case 'transitional':
        emit(`${m.group} TRANSITIONAL: members are being lost, group id was ${formatGroupId(m.groupId)}`, { event: 'transitional', group: m.group, groupId: m.groupId });
        break;
      case 'self-leave':
        emit(`${m.group} left`, { event: 'self-leave', group: m.group });
        break;
      case 'reject':
        emit(`REJECT of a request to ${m.groups.join(' ')}`, { event: 'reject', groups: m.groups, originalType: m.originalType });
        break;
    }
  };

  let code = 0;
  try {
    conn = await connect(o.address, { name: o.name, membership: true, signal: stop.signal });
    emit(`monitoring ${o.groups.join(' ')} on ${o.address} as ${conn.privateGroup}`, { event: 'connected', address: o.address, privateGroup: conn.privateGroup, groups: o.groups });
    for (const g of o.groups) await conn.join(g);
    intervalTimer = setInterval(() => report(false), o.intervalMs);
    for (;;) onMessage(await conn.receive({ signal: stop.signal }));
  } catch (e) {
    if (!stop.signal.aborted) {
      o.errors.write(`ringcast monitor: ${e instanceof Error ? e.message : String(e)}\n`);
      code = 1;
    }
  } finally {
    if (intervalTimer) clearInterval(intervalTimer);
    if (durationTimer) clearTimeout(durationTimer);
    o.signal?.removeEventListener('abort', onOuterAbort);
    if (conn) {
      report(true);
      await conn.disconnect();
    }
  }
  return code;
}

function intIn(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer ${min}..${max}, got "${v}"`);
    return n;
  };
}

function collectGroups(v: string, prev: string[]): string[] {
  const out = [...prev];
  for (const g of v.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    if (!isValidGroupName(g)) throw new InvalidArgumentError(`"${g}" is not a group name (1..31 characters from '$' to '~')`);
    if (!out.includes(g)) out.push(g);
  }
  if (out.length > MONITOR_GROUPS_MAX) throw new InvalidArgumentError(`at most ${MONITOR_GROUPS_MAX} groups`);
  return out;
}

export function registerMonitorCommand(program: Command): void {
  program
    .command('monitor')
    .description('live view of group memberships and message counts, as seen by a client session that joins the groups')
    .option('-s, --spread <address>', 'daemon: PORT (Unix socket /tmp/PORT), PORT@HOST (TCP) or a socket path', '4803')
    .option('-g, --group <name>', 'group to watch (repeat, or separate with commas)', collectGroups, [] as string[])
    .option('-u, --user <name>', 'private name (default: assigned by the daemon)')
    .option('--interval <ms>', 'how often to print counts', intIn(100, 3_600_000), 1000)
    .option('--duration <ms>', 'stop after this long (default: until interrupted)', intIn(1, 7 * 24 * 3_600_000))
    .option('--json', 'one JSON object per line')
    .option('-c, --config <file>', 'daemon control mode: the configuration the daemons run (for --status, --partition, --heal)')
    .option('--status [names]', 'with -c: print each daemon\'s status (ring, members, sessions, groups, counters); comma-separated names, default all')
    .option('--partition <spec>', 'with -c: make daemons drop each other\'s packets, e.g. "d1,d2|d3" (needs DangerousMonitor)')
    .option('--heal', 'with -c: cancel a partition (needs DangerousMonitor)')
    .addHelpText(
      'after',
      '\nClient view (-s, -g): the monitor is an ordinary member of every watched group, visible to the other members.\n' +
        'Daemon control (-c): status of each daemon and test partitions, sent to the daemons\' UDP port; accepted only\n' +
        'from the address of a configured daemon, with the configuration\'s hash; partitions need DangerousMonitor = true.',
    )
    .action(async (opts: { spread: string; group: string[]; user?: string; interval: number; duration?: number; json?: boolean; config?: string; status?: string | boolean; partition?: string; heal?: boolean }, cmd: Command) => {
      if (opts.config !== undefined) {
        process.exitCode = await runDaemonControl({ configFile: opts.config, status: opts.status, partition: opts.partition, heal: opts.heal === true, out: process.stdout, errors: process.stderr });
        return;
      }
      if (opts.group.length === 0) cmd.error('ringcast monitor: give at least one group with -g GROUP (or -c FILE --status for daemon status)');
      const ac = new AbortController();
      const onSignal = (): void => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        process.exitCode = await runMonitor({
          address: opts.spread,
          groups: opts.group,
          intervalMs: opts.interval,
          durationMs: opts.duration,
          json: opts.json === true,
          name: opts.user,
          out: process.stdout,
          errors: process.stderr,
          signal: ac.signal,
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
