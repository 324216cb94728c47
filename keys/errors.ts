import { RingcastError } from '../src/util/errors.js';

export type KeyFileErrorCode =
  | 'KEY_FILE_EXISTS'
  | 'KEY_FILE_NOT_FOUND'
  | 'KEY_FILE_UNREADABLE'
  | 'KEY_FILE_NOT_REGULAR'
  | 'KEY_FILE_PERMISSIONS'
  | 'KEY_FILE_OWNER'
  | 'KEY_FILE_MALFORMED'
  | 'KEY_FILE_MISMATCH'
  | 'KEY_FILE_WRITE_FAILED';

/** A key file problem; the message names the file and says how to fix it. */
export class KeyFileError extends RingcastError {
  readonly path: string;
  constructor(code: KeyFileErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'KeyFileError';
    this.path = path;
  }
}
