/**
 * Tokens of the spread.conf language. The language is free-form like Spread's (newlines are not
 * significant); `#` starts a comment anywhere outside a quoted string.
 */
import { ConfigError } from '../util/errors.js';

export type TokenKind = 'word' | 'string' | '{' | '}' | '=';

export interface Token {
  kind: TokenKind;
  /** The word, or the string's content without quotes. */
  text: string;
  line: number;
}

const WHITESPACE = new Set([' ', '\t', '\r', '\n', '\f', '\v']);
const DELIMITERS = new Set(['{', '}', '=', '"', '#']);

export function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (WHITESPACE.has(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '{' || c === '}' || c === '=') {
      tokens.push({ kind: c, text: c, line });
      i++;
      continue;
    }
    if (c === '"') {
      const start = i + 1;
      let j = start;
      while (j < n && text[j] !== '"' && text[j] !== '\n') j++;
      if (j >= n || text[j] !== '"') {
        throw new ConfigError(file, line, 'unterminated quoted string: add the closing " on the same line');
      }
      tokens.push({ kind: 'string', text: text.slice(start, j), line });
      i = j + 1;
      continue;
    }
    const start = i;
    while (i < n) {
      const d = text[i] as string;
      if (WHITESPACE.has(d) || DELIMITERS.has(d)) break;
      i++;
    }
    tokens.push({ kind: 'word', text: text.slice(start, i), line });
  }
  return tokens;
}

/** How a token is shown in an error message. */
export function describeToken(t: Token | undefined): string {
  if (t === undefined) return 'the end of the file';
  if (t.kind === 'string') return `"${shorten(t.text)}"`;
  return `'${shorten(t.text)}'`;
}

function shorten(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? `${printable.slice(0, 37)}...` : printable;
}
