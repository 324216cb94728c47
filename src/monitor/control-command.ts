/** The daemon-control mode of `ringcast monitor -c FILE`: status, partition, heal. */
import type { Writable } from 'node:stream';
import { loadConfig } from '../config/index.js';
import { RingcastError } from '../util/errors.js';
import { partitionPlan, sendMonitorRequest } from './control.js';

export interface DaemonControlOptions {
  configFile: string;
  status: string | boolean | undefined;
  partition: string | undefined;
  heal: boolean;
  out: Writable;
  errors: Writable;
}

export async function runDaemonControl(o: DaemonControlOptions): Promise<number> {
  try {
    const cfg = loadConfig(o.configFile);
    let failed = false;
    if (o.partition !== undefined || o.heal) {
      const plan = o.partition !== undefined ? partitionPlan(cfg, o.partition) : new Map(cfg.daemons.map((d) => [d, []]));
      for (const [d, blocked] of plan) {
        const reply = await sendMonitorRequest(cfg, d, blocked.length ? { command: 'partition', blocked: blocked.map((b) => b.id) } : { command: 'heal' });
        if (reply.ok) o.out.write(`${d.name}: ${blocked.length ? `drops ${blocked.map((b) => b.name).join(', ')}` : 'hears everyone'}\n`);
        else {
          failed = true;
          o.errors.write(`${d.name}: refused: ${reply.error}\n`);
        }
      }
    }
    if (o.status !== undefined || (o.partition === undefined && !o.heal)) {
      const names = typeof o.status === 'string' ? new Set(o.status.split(',').map((s) => s.trim())) : undefined;
      for (const d of cfg.daemons) {
        if (names && !names.has(d.name)) continue;
        try {
          const reply = await sendMonitorRequest(cfg, d, { command: 'status' });
          o.out.write(`${JSON.stringify({ daemon: d.name, ...(reply.ok ? { status: reply.status } : { error: reply.error }) })}\n`);
        } catch (err) {
          failed = true;
          o.errors.write(`${d.name}: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
    }
    return failed ? 1 : 0;
  } catch (err) {
    o.errors.write(`ringcast monitor: ${err instanceof RingcastError ? err.message : String(err)}\n`);
    return 1;
  }
}
