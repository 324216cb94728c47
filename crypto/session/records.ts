/**
 * Handshake records of the Ringcast authentication methods, and the transcript hash both sides
 * keep over them.
 *
 * Record: `u8 kind | u16 big-endian body length | body`. Every kind has a fixed or bounded body
 * length, checked from the 3-byte header before any body byte is buffered. A first byte with the
 * top bit set (0x80..0xFF) is not a record: it is a Spread reject code (a signed byte, spec §3.6)
 * that the daemon writes in place of the next record when it refuses the session.
 */
import { sha256 } from '@noble/hashes/sha2.js';

export const RecordKind = {
  CLIENT_HELLO: 0x01,
  SERVER_HELLO: 0x02,
  CLIENT_PROOF: 0x03,
  SERVER_FINAL: 0x04,
} as const;

export const RECORD_HEADER_BYTES = 3;
/** Largest record body any method defines (a bound on handshake buffering per session). */
export const recordBodyBytesMax = 512;

export function encodeRecord(kind: number, body: Uint8Array): Uint8Array {
  if (body.length > recordBodyBytesMax) throw new RangeError(`handshake record body of ${body.length} bytes exceeds ${recordBodyBytesMax}`);
  const out = new Uint8Array(RECORD_HEADER_BYTES + body.length);
  out[0] = kind;
  out[1] = body.length >>> 8;
  out[2] = body.length & 0xff;
  out.set(body, RECORD_HEADER_BYTES);
  return out;
}

export type ReadOutcome =
  | { readonly kind: 'need'; readonly bytes: number }
  | { readonly kind: 'record'; readonly record: Uint8Array; readonly body: Uint8Array }
  | { readonly kind: 'reject-code'; readonly code: number }
  | { readonly kind: 'error'; readonly reason: string };

/**
 * Incremental reader for one expected record at a time. `expect(kind, min, max)` then `next()`.
 * Input is buffered up to one record; bytes after it stay for the next call or for takeRest().
 */
export class RecordReader {
  private buf = new Uint8Array(0);
  private readonly restBytesMax: number;

  constructor(restBytesMax: number) {
    this.restBytesMax = restBytesMax;
  }

  push(bytes: Uint8Array): boolean {
    if (bytes.length === 0) return true;
    if (this.buf.length + bytes.length > RECORD_HEADER_BYTES + recordBodyBytesMax + this.restBytesMax) return false;
    const next = new Uint8Array(this.buf.length + bytes.length);
    next.set(this.buf, 0);
    next.set(bytes, this.buf.length);
    this.buf = next;
    return true;
  }

  /** Takes one record of `kind` with a body of minBytes..maxBytes, if complete. */
  next(kind: number, minBytes: number, maxBytes: number, acceptRejectCode: boolean): ReadOutcome {
    // Where a reject code may come, ask for one byte first: the daemon sends it alone and closes.
    if (this.buf.length < 1) return { kind: 'need', bytes: acceptRejectCode ? 1 : RECORD_HEADER_BYTES };
    const first = this.buf[0]!;
    if (acceptRejectCode && first >= 0x80) return { kind: 'reject-code', code: first - 0x100 };
    if (this.buf.length < RECORD_HEADER_BYTES) return { kind: 'need', bytes: RECORD_HEADER_BYTES - this.buf.length };
    if (first !== kind) return { kind: 'error', reason: `expected handshake record kind ${kind}, got ${first}` };
    const len = (this.buf[1]! << 8) | this.buf[2]!;
    if (len < minBytes || len > maxBytes) {
      return { kind: 'error', reason: `handshake record kind ${kind} has a ${len}-byte body, allowed ${minBytes}..${maxBytes}` };
    }
    const total = RECORD_HEADER_BYTES + len;
    if (this.buf.length < total) return { kind: 'need', bytes: total - this.buf.length };
    const record = this.buf.slice(0, total);
    this.buf = this.buf.slice(total);
    return { kind: 'record', record, body: record.subarray(RECORD_HEADER_BYTES) };
  }

  takeRest(): Uint8Array {
    const rest = this.buf;
    this.buf = new Uint8Array(0);
    return rest;
  }

  get buffered(): number {
    return this.buf.length;
  }
}

const encoder = new TextEncoder();

/**
 * SHA-256 over a domain label, the method name and every handshake record in order (header
 * included). Both sides feed the same records, so equal hashes mean both saw the same handshake:
 * nonces, ephemeral keys, salt, user, daemon name.
 */
export class Transcript {
  private readonly h = sha256.create();

  constructor(method: string) {
    this.h.update(encoder.encode(`Ringcast session authentication v1\0${method}\0`));
  }

  add(record: Uint8Array): void {
    this.h.update(record);
  }

  /** Hash of everything added so far; the transcript can keep growing afterwards. */
  snapshot(): Uint8Array {
    return this.h.clone().digest();
  }
}

/** Cursor over a record body with bounds checks on every read. */
export class BodyCursor {
  private off = 0;
  constructor(private readonly body: Uint8Array) {}

  bytes(n: number): Uint8Array | undefined {
    if (this.off + n > this.body.length) return undefined;
    const out = this.body.slice(this.off, this.off + n);
    this.off += n;
    return out;
  }

  u8(): number | undefined {
    if (this.off + 1 > this.body.length) return undefined;
    return this.body[this.off++]!;
  }

  /** u8 length, then that many bytes, the length within min..max. */
  short(min: number, max: number): Uint8Array | undefined {
    const n = this.u8();
    if (n === undefined || n < min || n > max) return undefined;
    return this.bytes(n);
  }

  get done(): boolean {
    return this.off === this.body.length;
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function shortField(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 255) throw new RangeError('short field longer than 255 bytes');
  return concatBytes(Uint8Array.of(bytes.length), bytes);
}
