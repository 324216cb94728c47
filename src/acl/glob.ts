/**
 * Glob patterns of the access-control file: `*` any run of characters (also none), `?` exactly one
 * character, `\x` the character x itself. A pattern matches the whole identity or group name.
 */
export interface Glob {
  readonly source: string;
  matches(s: string): boolean;
}

export function compileGlob(pattern: string): Glob {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new SyntaxError(`pattern "${pattern}" ends with a lone backslash`);
      re += escape(next);
      i++;
    } else if (c === '*') {
      // Collapse runs of * so a pattern like "a***b" cannot cause excessive backtracking.
      while (pattern[i + 1] === '*') i++;
      re += '.*';
    } else if (c === '?') {
      re += '.';
    } else {
      re += escape(c);
    }
  }
  const compiled = new RegExp(re + '$', 's');
  return { source: pattern, matches: (s) => compiled.test(s) };
}

function escape(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}
