/**
 * Typed errors. Every error Ringcast raises carries a stable `code` (a Spread result code where
 * one exists, otherwise a Ringcast code string) and a message that tells the user what to do.
 */
export class RingcastError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RingcastError';
    this.code = code;
  }
}

/** A configuration file problem: names the file, the line and what is wrong. */
export class ConfigError extends RingcastError {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, problem: string) {
    super('CONFIG_INVALID', `${file}:${line}: ${problem}`);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
  }
}
