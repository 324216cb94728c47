/**
 * Contracts shared by every session-authentication method. A method is a pair of sans-IO state
 * machines: the daemon's `ServerAuth` and the client's `ClientAuth`. The caller feeds whatever bytes
 * arrived (`receive`, any segmentation), drains `pollOutput()` to the socket, and reads `result()`.
 * No IO, no clock (the adapter enforces the handshake timeout), randomness injected.
 */
import type { SessionKeys } from './keyed-frames.js';

/** Injected randomness: `n` cryptographically strong random bytes. */
export type RandomBytes = (n: number) => Uint8Array;

/** Spread's REJECT_AUTH (-9, spec §10): the only code a failed authentication produces. */
export const REJECT_AUTH = -9 as const;

export type AuthRejected = {
  readonly status: 'rejected';
  /** Spread result code: REJECT_AUTH on the daemon; on the client the daemon's reject byte if it sent one. */
  readonly code: number;
  /** For logs. Never contains a password or key material. */
  readonly reason: string;
};

export type ServerAuthResult =
  | { readonly status: 'pending' }
  | {
      readonly status: 'accepted';
      /** Authenticated identity for access control: `password:<user>` or `key:<identity>`. */
      readonly identity: string;
      readonly keys: SessionKeys;
    }
  | AuthRejected;

export type ClientAuthResult =
  | { readonly status: 'pending' }
  | {
      readonly status: 'accepted';
      /** The daemon name the daemon announced (and, with a password, proved it knows the verifier for). */
      readonly daemonName: string;
      readonly keys: SessionKeys;
    }
  | AuthRejected;

interface AuthMachine<R> {
  /** Method name as listed in the daemon's method list and the 90-byte choice (≤ 29 characters). */
  readonly method: string;
  /** Feed bytes received from the peer, however segmented. Never throws: failures go to result(). */
  receive(bytes: Uint8Array): void;
  /** Next record to write to the peer (one write each), or undefined when nothing is due. */
  pollOutput(): Uint8Array | undefined;
  result(): R;
  /**
   * How many more bytes are needed before progress is possible (0 when none are wanted now, e.g.
   * finished or waiting for a local computation). Lets exact-read channels read no further than
   * the handshake, so the first keyed frame is never swallowed.
   */
  bytesWanted(): number;
  /** Bytes received after the method's last record (the start of the keyed stream); emptied by the call. */
  takeUnconsumed(): Uint8Array;
}

export type ServerAuth = AuthMachine<ServerAuthResult>;
export type ClientAuth = AuthMachine<ClientAuthResult>;
