/**
 * `ringcast user`: an interactive client in the manner of Spread's spuser. Commands are read a
 * line at a time from stdin, so the tool can equally be driven through a pipe:
 *
 *   printf 'j grp\nr\ns grp\nhello\nr\nq\n' | ringcast user -s 4803 -u alice
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { connect, describeReceived, SpreadError, type ClientAuthMethod, type Received, type ServiceName, type SpreadConnection } from '../client/index.js';
import { addAuthOptions, authMethodsFrom, type AuthCliOptions } from './auth-options.js';
import { parseServiceName, SERVICE_NAMES, type ServiceLevel } from '../util/service.js';

/** Messages `b` sends at most in one burst. */
const BURST_MESSAGES_MAX = 10_000;
/** Longest pause `w` accepts. */
const WAIT_MS_MAX = 60_000;
/** mess_type of messages sent from this tool, as spuser uses. */
const USER_MESS_TYPE = 1;

const MENU = `
==========
User Menu:
----------
  j <group>            join a group
  l <group>            leave a group
  s <group>            send a message (the next line is the text)
  m [group ...]        send to several groups (groups on this line or the next, then the text)
  b <group> [count]    send a burst of messages (default 10)
  r                    wait for the next message
  p                    poll: how many messages are waiting
  e                    enable asynchronous printing of messages (default)
  d                    disable asynchronous printing (then use r)
  service [level]      show or set the service: UNRELIABLE RELIABLE FIFO CAUSAL AGREED SAFE
  w [ms]               wait (default 1000 ms), useful in scripts
  h                    this menu
  q                    quit
`;

export interface UserSessionOptions {
  address: string;
  /** Private name; undefined lets the daemon assign one. */
  name: string | undefined;
  input: Readable;
  output: Writable;
  errors: Writable;
  /** Print the menu and prompts (when stdin is a terminal). */
  interactive: boolean;
  /** Authentication methods (default NULL). */
  authMethods?: (string | ClientAuthMethod)[];
}

class Printer {
  /** Messages printed so far; `r` consumes them one at a time. */
  printed = 0;
  private claimed = 0;
  private wake: (() => void) | undefined;

  constructor(private readonly out: Writable) {}

  print(m: Received): void {
    this.out.write(`${describeReceived(m).join('\n')}\n`);
    this.printed++;
    this.wake?.();
  }

  /** Resolves when a printed message has not been claimed by `r` yet, and claims it. */
  async claim(closed: () => boolean): Promise<boolean> {
    while (this.printed <= this.claimed) {
      if (closed()) return false;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    this.claimed++;
    return true;
  }

  claimPrinted(): void {
    this.claimed = this.printed;
  }

  interrupt(): void {
    this.wake?.();
  }
}

/** Runs one session; resolves with the process exit code. */
export async function runUserSession(o: UserSessionOptions): Promise<number> {
  const say = (s: string): void => void o.output.write(`${s}\n`);
  let conn: SpreadConnection;
  try {
    conn = await connect(o.address, { name: o.name, authMethods: o.authMethods });
  } catch (e) {
    o.errors.write(`ringcast user: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  say(`User: connected to ${o.address} with private group ${conn.privateGroup}`);
  if (o.interactive) o.output.write(MENU);

  let service: ServiceLevel = 0x10;
  const printer = new Printer(o.output);
  let asyncAbort: AbortController | undefined;
  let closedError: SpreadError | undefined;
  let closed = false;
  const rl = createInterface({ input: o.input, terminal: false });
  conn.on('close', (e) => {
    closed = true;
    closedError = e;
    printer.interrupt();
    // Stop reading commands at once: the session is gone.
    rl.close();
  });

  const startAsync = (): void => {
    if (asyncAbort) return;
    const ac = new AbortController();
    asyncAbort = ac;
    void (async () => {
      while (!ac.signal.aborted) {
        try {
          printer.print(await conn.receive({ signal: ac.signal }));
        } catch {
          return; // aborted by `d`, or the connection ended (reported by the close handler)
        }
      }
    })();
  };
  const stopAsync = (): void => {
    asyncAbort?.abort();
    asyncAbort = undefined;
  };
  startAsync();

  const lines = rl[Symbol.asyncIterator]();
  const nextLine = async (prompt: string): Promise<string | undefined> => {
    if (o.interactive) o.output.write(prompt);
    const r = await lines.next();
    return r.done ? undefined : r.value;
  };

  const send = async (groups: string[], text: string): Promise<void> => {
    await conn.multicast(service, groups, text, { messType: USER_MESS_TYPE });
  };

  let code = 0;
  try {
    for (;;) {
      if (closed) break;
      const line = await nextLine('\nUser> ');
      if (line === undefined) break;
      const [cmd, ...args] = line.trim().split(/\s+/);
      if (!cmd) continue;
      try {
        switch (cmd) {
          case 'j':
          case 'l': {
            const group = args[0];
            if (!group) {
              say(`usage: ${cmd} <group>`);
              break;
            }
            await (cmd === 'j' ? conn.join(group) : conn.leave(group));
            break;
          }
          case 's': {
            const group = args[0];
            if (!group) {
              say('usage: s <group>, then the text on the next line');
              break;
            }
            const text = await nextLine('enter message: ');
            if (text === undefined) break;
            await send([group], text);
            break;
          }
          case 'm': {
            let groups = args;
            if (groups.length === 0) {
              const g = await nextLine('enter groups, separated by spaces: ');
              if (g === undefined) break;
              groups = g.trim().split(/\s+/).filter((x) => x.length > 0);
            }
            const text = await nextLine('enter message: ');
            if (text === undefined) break;
            await send(groups, text);
            break;
          }
          case 'b': {
            const group = args[0];
            const count = args[1] === undefined ? 10 : Number(args[1]);
            if (!group || !Number.isInteger(count) || count < 1 || count > BURST_MESSAGES_MAX) {
              say(`usage: b <group> [count 1..${BURST_MESSAGES_MAX}]`);
              break;
            }
            for (let i = 0; i < count; i++) await send([group], `burst message ${i + 1} of ${count} from ${conn.privateGroup}`);
            say(`sent ${count} messages to ${group}`);
            break;
          }
          case 'r': {
            if (asyncAbort) {
              await printer.claim(() => closed);
            } else {
              printer.print(await conn.receive());
              printer.claimPrinted();
            }
            break;
          }
          case 'p': {
            const waiting = conn.receiveQueueLength;
            say(asyncAbort ? 'asynchronous printing is on: messages are printed as they arrive' : `${waiting} message(s) waiting`);
            break;
          }
          case 'e':
            startAsync();
            say('asynchronous printing enabled');
            break;
          case 'd':
            stopAsync();
            say('asynchronous printing disabled: use r to receive');
            break;
          case 'service': {
            if (args[0] !== undefined) {
              const s = parseServiceName(args[0]);
              if (s === undefined) {
                say(`unknown service "${args[0]}": use UNRELIABLE, RELIABLE, FIFO, CAUSAL, AGREED or SAFE`);
                break;
              }
              service = s;
            }
            say(`service is ${SERVICE_NAMES[service] as ServiceName}`);
            break;
          }
          case 'w': {
            const ms = args[0] === undefined ? 1000 : Number(args[0]);
            if (!Number.isInteger(ms) || ms < 0 || ms > WAIT_MS_MAX) {
              say(`usage: w [ms 0..${WAIT_MS_MAX}]`);
              break;
            }
            await new Promise((r) => setTimeout(r, ms));
            break;
          }
          case 'h':
          case '?':
            o.output.write(MENU);
            break;
          case 'q':
            rl.close();
            break;
          default:
            say(`unknown command "${cmd}"; h shows the menu`);
        }
      } catch (e) {
        if (!(e instanceof SpreadError)) throw e;
        if (closed) break;
        say(`error: ${e.message}`);
      }
      if (cmd === 'q') break;
    }
  } finally {
    rl.close();
    stopAsync();
  }
  if (closed) {
    o.errors.write(`ringcast user: ${closedError ? closedError.message : 'connection closed'}\n`);
    code = 1;
  } else {
    await conn.disconnect();
    say('Bye.');
  }
  return code;
}

export function registerUserCommand(program: Command): void {
  const cmd = program
    .command('user')
    .description('interactive client in the manner of spuser: join, leave, send and receive, one command per line on stdin')
    .option('-s, --spread <address>', 'daemon: PORT (Unix socket /tmp/PORT), PORT@HOST (TCP) or a socket path', '4803')
    .option('-u, --user <name>', 'private name, 1..10 characters', 'user')
    .option('-r, --random', 'let the daemon assign a unique private name (overrides -u)')
    .addHelpText('after', MENU);
  addAuthOptions(cmd).action(async (opts: { spread: string; user: string; random?: boolean } & AuthCliOptions) => {
    let authMethods: (string | ClientAuthMethod)[];
    try {
      authMethods = await authMethodsFrom(opts);
    } catch (e) {
      process.stderr.write(`ringcast user: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
      return;
    }
    const code = await runUserSession({
      authMethods,
      address: opts.spread,
      name: opts.random ? undefined : opts.user,
      input: process.stdin,
      output: process.stdout,
      errors: process.stderr,
      interactive: process.stdin.isTTY === true,
    });
    process.exitCode = code;
  });
}
