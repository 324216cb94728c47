/**
 * Authentication options shared by `ringcast user` and `ringcast flood`:
 *
 *   --auth METHOD[,METHOD]   NULL (default), IP, RC-PASSWORD, RC-PUBKEY (one keyed method at most)
 *   --user-name NAME         RC-PASSWORD user
 *   --password-file FILE     RC-PASSWORD password: first line of FILE; else $RINGCAST_PASSWORD;
 *                            else asked on the terminal without echo
 *   --key FILE               RC-PUBKEY secret key file (ringcast keygen --client)
 *
 * The password is never taken from the command line, where other users could read it.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  initSessionCrypto,
  passwordAuthMethod,
  pubkeyAuthMethod,
  readClientKeyFile,
} from '../../crypto/session/index.js';
import type { ClientAuthMethod } from '../client/index.js';
import { RingcastError } from '../util/errors.js';
import { readHiddenLine } from './hidden-input.js';

export const PASSWORD_ENV = 'RINGCAST_PASSWORD';
const PASSWORD_FILE_BYTES_MAX = 4096;
const METHODS = ['NULL', 'IP', 'RC-PASSWORD', 'RC-PUBKEY'] as const;

export interface AuthCliOptions {
  auth?: string;
  userName?: string;
  passwordFile?: string;
  key?: string;
}

export class AuthOptionError extends RingcastError {
  constructor(message: string) {
    super('AUTH_OPTIONS', message);
    this.name = 'AuthOptionError';
  }
}

export function addAuthOptions(cmd: Command): Command {
  return cmd
    .option('--auth <methods>', `authentication method(s), comma separated: ${METHODS.join(', ')}`, 'NULL')
    .option('--user-name <name>', 'RC-PASSWORD: the user name (session identity password:<name>)')
    .option('--password-file <file>', `RC-PASSWORD: read the password from the first line of FILE (else $${PASSWORD_ENV}, else a prompt)`)
    .option('--key <file>', 'RC-PUBKEY: the client secret key file written by ringcast keygen --client');
}

function promptHidden(prompt: string): Promise<string> {
  return readHiddenLine(prompt, () => new AuthOptionError('cancelled'));
}

function readPasswordFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AuthOptionError(`password file ${path} is not a regular file`);
    if ((st.mode & 0o077) !== 0) throw new AuthOptionError(`password file ${path} has mode 0${(st.mode & 0o777).toString(8)}; others could read it: chmod 0600 ${path}`);
    if (st.size > PASSWORD_FILE_BYTES_MAX) throw new AuthOptionError(`password file ${path} is larger than ${PASSWORD_FILE_BYTES_MAX} bytes`);
    const text = readFileSync(fd, 'utf8');
    const nl = text.indexOf('\n');
    return (nl >= 0 ? text.slice(0, nl) : text).replace(/\r$/, '');
  } finally {
    closeSync(fd);
  }
}

async function passwordFrom(o: AuthCliOptions, env: NodeJS.ProcessEnv): Promise<string> {
  let password: string | undefined;
  if (o.passwordFile !== undefined) password = readPasswordFile(o.passwordFile);
  else if (env[PASSWORD_ENV] !== undefined) password = env[PASSWORD_ENV];
  else if (process.stdin.isTTY) password = await promptHidden(`Password for ${o.userName ?? ''}: `);
  else throw new AuthOptionError(`RC-PASSWORD needs a password: --password-file FILE, $${PASSWORD_ENV}, or a terminal to ask on`);
  if (password === undefined || password === '') throw new AuthOptionError('the password is empty');
  return password;
}

/** The client library's method list for these options; loads what the keyed methods need. */
export async function authMethodsFrom(o: AuthCliOptions, env: NodeJS.ProcessEnv = process.env): Promise<(string | ClientAuthMethod)[]> {
  const names = (o.auth ?? 'NULL').split(/[\s,]+/).filter((n) => n !== '').map((n) => n.toUpperCase());
  if (names.length === 0) throw new AuthOptionError('--auth names no method');
  const out: (string | ClientAuthMethod)[] = [];
  for (const name of names) {
    if (!(METHODS as readonly string[]).includes(name)) throw new AuthOptionError(`--auth: unknown method "${name}"; use ${METHODS.join(', ')}`);
    if (name === 'RC-PASSWORD') {
      if (o.userName === undefined || o.userName === '') throw new AuthOptionError('RC-PASSWORD needs --user-name NAME');
      await initSessionCrypto();
      out.push(passwordAuthMethod({ user: o.userName, password: await passwordFrom(o, env) }));
    } else if (name === 'RC-PUBKEY') {
      if (o.key === undefined) throw new AuthOptionError('RC-PUBKEY needs --key FILE (create one with: ringcast keygen --client --identity NAME --out FILE)');
      await initSessionCrypto();
      const kp = readClientKeyFile(o.key);
      out.push(pubkeyAuthMethod({ publicKey: kp.publicKey, secretKey: kp.secretKey }));
    } else {
      out.push(name);
    }
  }
  if (names.includes('RC-PASSWORD') && names.includes('RC-PUBKEY')) throw new AuthOptionError('choose one of RC-PASSWORD and RC-PUBKEY: a session runs at most one keyed method');
  return out;
}
