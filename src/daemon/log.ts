/**
 * The daemon's event log: Spread's EventLogFile / EventTimeStamp / EventPriority / DebugFlags
 * model. Lines go to stdout or to the log file opened at startup (before any privilege drop).
 */
import { openSync, closeSync, writeSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const PRIORITY_RANK: Record<string, number> = { DEBUG: 0, INFO: 1, WARNING: 2, ERROR: 3, CRITICAL: 4, FATAL: 5 };
const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface LoggerOptions {
  /** Path of the log file, or undefined for standard output. */
  file: string | undefined;
  /** undefined: no time stamps; '' : ISO-8601; otherwise a strftime-like format (%Y %m %d %H %M %S %a %b). */
  timeStamp: string | undefined;
  /** Spread EventPriority: lines below it are not written. */
  priority: string;
  /** DebugFlags: a line tagged with a flag is written only if that flag is on (untagged lines always). */
  debugFlags: ReadonlySet<string>;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function formatTimeStamp(format: string, d: Date): string {
  if (format === '') return d.toISOString();
  const p2 = (n: number) => String(n).padStart(2, '0');
  return format.replace(/%([YmdHMSab%])/g, (_m, c: string) => {
    switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'm': return p2(d.getMonth() + 1);
      case 'd': return p2(d.getDate());
      case 'H': return p2(d.getHours());
      case 'M': return p2(d.getMinutes());
      case 'S': return p2(d.getSeconds());
      case 'a': return DAYS[d.getDay()] ?? '';
      case 'b': return MONTHS[d.getMonth()] ?? '';
      default: return '%';
    }
  });
}

export class Logger {
  private fd: number | undefined;
  private readonly minRank: number;

  constructor(private readonly opts: LoggerOptions) {
    this.minRank = PRIORITY_RANK[opts.priority.toUpperCase()] ?? 1;
    if (opts.file !== undefined) this.fd = openSync(opts.file, 'a', 0o640);
  }

  enabled(flag: string): boolean {
    return this.opts.debugFlags.has(flag);
  }

  /** Write one line. `flag` names the DebugFlags category (e.g. SESSION, MEMBERSHIP). */
  log(level: LogLevel, message: string, flag?: string): void {
    if (LEVEL_RANK[level] < this.minRank && level !== 'error') return;
    if (flag !== undefined && level === 'debug' && !this.opts.debugFlags.has(flag)) return;
    const stamp = this.opts.timeStamp === undefined ? '' : `${formatTimeStamp(this.opts.timeStamp, new Date())} `;
    const line = `${stamp}${level.toUpperCase()}${flag ? ` ${flag}` : ''}: ${message}\n`;
    if (this.fd !== undefined) {
      try {
        writeSync(this.fd, line);
      } catch {
        // A full disk must not stop the daemon; the line is lost.
      }
    } else {
      process.stdout.write(line);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Used before the configured log is open (startup errors). */
export function logToStderr(message: string): void {
  process.stderr.write(`${message}\n`);
}

