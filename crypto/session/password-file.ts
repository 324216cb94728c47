/**
 * The verifier file of RC-PASSWORD (pure text format; loading with permission checks is in files.ts).
 *
 *   # comment (whole line)
 *   <user>:scrypt-N<logN>-r<r>-p<p>:<salt>:<StoredKey>:<ServerKey>
 *
 * salt (16..64 bytes), StoredKey and ServerKey (32 bytes each) are standard base64 with padding.
 * User names: 1..64 of A-Z a-z 0-9 . _ - @ +. One entry per user. The material is not a password
 * equivalent (no one can log in with it), but it allows an offline guessing attack at scrypt cost,
 * so the file must be readable by the daemon's owner only.
 */
import { ConfigError } from '../../src/util/errors.js';
import { isValidUserName, saltBytesMax, saltBytesMin, type PasswordVerifier } from './password-verifier.js';
import { formatScryptParams, parseScryptParams } from './scrypt-params.js';

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function b64(field: string): Uint8Array | undefined {
  if (!B64.test(field) || field.length % 4 !== 0) return undefined;
  const out = Buffer.from(field, 'base64');
  if (out.toString('base64') !== field) return undefined;
  return new Uint8Array(out);
}

function b64out(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

export function formatPasswordEntry(v: PasswordVerifier): string {
  return `${v.user}:${formatScryptParams(v.params)}:${b64out(v.salt)}:${b64out(v.storedKey)}:${b64out(v.serverKey)}`;
}

/** Parses one non-comment line; throws ConfigError naming file and line. */
export function parsePasswordLine(line: string, file: string, lineNo: number): PasswordVerifier {
  const parts = line.split(':');
  if (parts.length !== 5) throw new ConfigError(file, lineNo, 'expected user:scrypt-N<n>-r<r>-p<p>:salt:stored-key:server-key (5 fields separated by ":")');
  const [user, paramText, saltText, storedText, serverText] = parts as [string, string, string, string, string];
  if (!isValidUserName(user)) throw new ConfigError(file, lineNo, `user name "${user}" must be 1..64 of A-Z a-z 0-9 . _ - @ +`);
  const params = parseScryptParams(paramText);
  if (!params) throw new ConfigError(file, lineNo, `"${paramText}" is not scrypt-N<1..30>-r<1..255>-p<1..255>`);
  const salt = b64(saltText);
  if (!salt || salt.length < saltBytesMin || salt.length > saltBytesMax) throw new ConfigError(file, lineNo, `salt must be ${saltBytesMin}..${saltBytesMax} bytes of base64`);
  const storedKey = b64(storedText);
  if (!storedKey || storedKey.length !== 32) throw new ConfigError(file, lineNo, 'stored key must be 32 bytes of base64');
  const serverKey = b64(serverText);
  if (!serverKey || serverKey.length !== 32) throw new ConfigError(file, lineNo, 'server key must be 32 bytes of base64');
  return { user, params, salt, storedKey, serverKey };
}

function isBlankOrComment(line: string): boolean {
  const t = line.trim();
  return t === '' || t.startsWith('#');
}

export const passwordFileEntriesMax = 100_000;

export function parsePasswordFile(text: string, file: string): Map<string, PasswordVerifier> {
  const out = new Map<string, PasswordVerifier>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (isBlankOrComment(line)) continue;
    const v = parsePasswordLine(line.trim(), file, i + 1);
    if (out.has(v.user)) throw new ConfigError(file, i + 1, `user ${v.user} has a second entry; keep one`);
    if (out.size >= passwordFileEntriesMax) throw new ConfigError(file, i + 1, `more than ${passwordFileEntriesMax} entries`);
    out.set(v.user, v);
  }
  return out;
}

/**
 * The file text with `v` replacing the user's entry (or appended), every other line kept as is.
 * Throws ConfigError if the existing text does not parse, so a broken file is never rewritten blindly.
 */
export function upsertPasswordEntry(text: string, v: PasswordVerifier, file: string): string {
  parsePasswordFile(text, file);
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const entry = formatPasswordEntry(v);
  let replaced = false;
  const out = lines.map((line) => {
    if (isBlankOrComment(line)) return line;
    if (line.trim().split(':')[0] === v.user) {
      replaced = true;
      return entry;
    }
    return line;
  });
  if (!replaced) out.push(entry);
  return out.join('\n') + '\n';
}

/** The file text without the user's entry; `removed` false if there was none. */
export function removePasswordEntry(text: string, user: string, file: string): { text: string; removed: boolean } {
  parsePasswordFile(text, file);
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const kept = lines.filter((line) => isBlankOrComment(line) || line.trim().split(':')[0] !== user);
  return { text: kept.length ? kept.join('\n') + '\n' : '', removed: kept.length !== lines.length };
}
