/**
 * Errors of the client library. Every failure carries the Spread result code libspread would
 * have returned (§10 of the client protocol), so code written against libspread's codes can
 * match on `spreadCode`, and TypeScript code on the stable string `code`.
 */
import { RingcastError } from '../util/errors.js';
import { SpreadCode, spreadCodeName } from '../session/protocol.js';

export class SpreadError extends RingcastError {
  /** The numeric Spread result code, e.g. -6 for REJECT_NOT_UNIQUE. */
  readonly spreadCode: number;
  constructor(spreadCode: number, message: string, options?: { cause?: unknown }) {
    super(spreadCodeName(spreadCode), message, options);
    this.name = 'SpreadError';
    this.spreadCode = spreadCode;
  }
}

/** The error for a reject code the daemon sent in place of the auth list or the accept byte. */
export function rejectError(code: number, ctx: { name: string; address: string; methods: readonly string[] }): SpreadError {
  const who = ctx.name === '' ? 'a daemon-assigned name' : `private name "${ctx.name}"`;
  switch (code) {
    case SpreadCode.REJECT_QUOTA:
      return new SpreadError(code, `daemon ${ctx.address} refused the session: it has reached its session limit; close idle connections or use another daemon`);
    case SpreadCode.REJECT_ILLEGAL_NAME:
      return new SpreadError(code, `daemon ${ctx.address} refused ${who}: use 1..10 characters from '$' to '~' (no spaces, no '#')`);
    case SpreadCode.REJECT_NOT_UNIQUE:
      return new SpreadError(code, `daemon ${ctx.address} refused ${who}: a session with that name is already connected to it; choose another name, or connect without a name to get a unique one`);
    case SpreadCode.REJECT_VERSION:
      return new SpreadError(code, `daemon ${ctx.address} refused the announced library version`);
    case SpreadCode.REJECT_AUTH:
      return new SpreadError(code, `daemon ${ctx.address} refused authentication with ${ctx.methods.join(', ')}; check the daemon's AllowedAuthMethods/RequiredAuthMethods and access files`);
    case SpreadCode.REJECT_NO_NAME:
      return new SpreadError(code, `daemon ${ctx.address} refused the session because it has no name; pass a name`);
    default:
      return new SpreadError(code, `daemon ${ctx.address} refused the session with code ${code} (${spreadCodeName(code)})`);
  }
}
