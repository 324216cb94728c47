/**
 * The receive loop and output queue every method's state machine shares: one expected record at a
 * time, strict kinds and bounds, failures captured as a REJECT_AUTH result instead of exceptions.
 */
import { FRAME_HEADER_BYTES, FRAME_TAG_BYTES, keyedFramePlaintextBytesMax } from './keyed-frames.js';
import { RECORD_HEADER_BYTES, RecordReader, Transcript } from './records.js';
import { REJECT_AUTH, type AuthRejected } from './types.js';

export interface Expectation {
  readonly kind: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  /** Client side: a byte 0x80..0xFF in place of the record is the daemon's Spread reject code. */
  readonly rejectCodeAllowed: boolean;
}

/** Bytes a peer may send after the handshake before the caller takes them: one maximal keyed frame. */
const restBytesMax = FRAME_HEADER_BYTES + keyedFramePlaintextBytesMax + FRAME_TAG_BYTES;

export abstract class RecordMachine<A> {
  abstract readonly method: string;
  protected readonly transcript: Transcript;
  private readonly reader = new RecordReader(restBytesMax);
  private readonly out: Uint8Array[] = [];
  private need = RECORD_HEADER_BYTES;
  private rejected: AuthRejected | undefined;
  protected accepted: A | undefined;

  constructor(method: string) {
    this.transcript = new Transcript(method);
  }

  /** What the state machine waits for now; undefined when it waits for nothing from the peer. */
  protected abstract expectation(): Expectation | undefined;
  /** Handles one complete expected record (already added to the transcript). */
  protected abstract onRecord(body: Uint8Array): void;

  receive(bytes: Uint8Array): void {
    if (this.rejected) return;
    if (!this.reader.push(bytes)) {
      this.reject('peer sent more handshake bytes than any record allows');
      return;
    }
    this.drain();
  }

  /** Processes buffered records until more input (or a local computation) is needed. */
  protected drain(): void {
    for (;;) {
      if (this.rejected || this.accepted !== undefined) {
        this.need = 0;
        return;
      }
      const exp = this.expectation();
      if (!exp) {
        this.need = 0;
        return;
      }
      const r = this.reader.next(exp.kind, exp.minBytes, exp.maxBytes, exp.rejectCodeAllowed);
      if (r.kind === 'need') {
        this.need = r.bytes;
        return;
      }
      if (r.kind === 'reject-code') {
        this.reject(`the daemon refused the session (Spread code ${r.code})`, r.code);
        return;
      }
      if (r.kind === 'error') {
        this.reject(r.reason);
        return;
      }
      this.transcript.add(r.record);
      this.onRecord(r.body);
    }
  }

  protected emit(record: Uint8Array): void {
    this.transcript.add(record);
    this.out.push(record);
  }

  protected reject(reason: string, code: number = REJECT_AUTH): void {
    if (this.rejected || this.accepted !== undefined) return;
    this.rejected = { status: 'rejected', code, reason };
    this.out.length = 0;
    this.need = 0;
    this.wipe();
  }

  /** Zeroes secrets held by the method once it has finished either way. */
  protected abstract wipe(): void;

  protected get rejection(): AuthRejected | undefined {
    return this.rejected;
  }

  pollOutput(): Uint8Array | undefined {
    return this.out.shift();
  }

  bytesWanted(): number {
    return this.need;
  }

  takeUnconsumed(): Uint8Array {
    return this.reader.takeRest();
  }
}
