/**
 * Keyed framing of a session after authentication. Every later byte of the Spread session stream,
 * in both directions, travels inside frames:
 *
 *   u32 big-endian L | u64 big-endian counter | ChaCha20-Poly1305-IETF ciphertext + 16-byte tag
 *
 * L counts the counter and the ciphertext+tag (8 + plaintext + 16). The nonce is 4 zero bytes then
 * the counter; the additional data is the 12 header bytes, so the length and the counter are
 * authenticated too. Each direction has its own key (derived in handshake.ts), and its counter starts
 * at 0 and goes up by exactly one per frame: the opener accepts only the next counter, so a replayed,
 * reordered, dropped or tampered frame is an error, and after one error the opener refuses
 * everything (the session must be closed). Frame bodies carry Spread records; a sender puts one
 * whole record per frame, a receiver treats the plaintexts as one byte stream.
 */
import { RingcastError } from '../../src/util/errors.js';
import { sodiumReady } from './sodium.js';

export const FRAME_HEADER_BYTES = 12;
export const FRAME_TAG_BYTES = 16;
/** Largest plaintext per frame: a Spread record is at most 48 + 144000 + 4 + 32 bytes (spec §7.5, §11). */
export const keyedFramePlaintextBytesMax = 160 * 1024;
/** Counters stay exact in a double; a session that reaches this many frames must reconnect. */
export const keyedFrameCounterMax = Number.MAX_SAFE_INTEGER;

export class KeyedFrameError extends RingcastError {
  constructor(code: 'FRAME_TAMPERED' | 'FRAME_REPLAYED' | 'FRAME_OUT_OF_ORDER' | 'FRAME_TOO_LARGE' | 'FRAME_CLOSED' | 'FRAME_COUNTER_EXHAUSTED', message: string) {
    super(code, message);
    this.name = 'KeyedFrameError';
  }
}

export interface FrameSealer {
  /** Seals one plaintext into a complete frame (header included), using the next counter. */
  seal(plaintext: Uint8Array): Uint8Array;
  readonly framesSealed: number;
}

export interface FrameOpener {
  /** Opens one complete frame (header included); throws KeyedFrameError and fails for good on any problem. */
  open(frame: Uint8Array): Uint8Array;
  readonly framesOpened: number;
}

export interface SessionKeys {
  readonly send: FrameSealer;
  readonly receive: FrameOpener;
}

function nonceFor(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  const dv = new DataView(n.buffer);
  dv.setUint32(4, Math.floor(counter / 0x1_0000_0000));
  dv.setUint32(8, counter >>> 0);
  return n;
}

function header(length: number, counter: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER_BYTES);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, length);
  dv.setUint32(4, Math.floor(counter / 0x1_0000_0000));
  dv.setUint32(8, counter >>> 0);
  return h;
}

class Sealer implements FrameSealer {
  private counter = 0;
  constructor(private readonly key: Uint8Array) {}

  get framesSealed(): number {
    return this.counter;
  }

  seal(plaintext: Uint8Array): Uint8Array {
    if (plaintext.length > keyedFramePlaintextBytesMax) {
      throw new KeyedFrameError('FRAME_TOO_LARGE', `a keyed frame carries at most ${keyedFramePlaintextBytesMax} bytes; split the record stream (got ${plaintext.length})`);
    }
    if (this.counter >= keyedFrameCounterMax) throw new KeyedFrameError('FRAME_COUNTER_EXHAUSTED', 'this session sent its last frame: reconnect to get fresh keys');
    const sodium = sodiumReady();
    const h = header(8 + plaintext.length + FRAME_TAG_BYTES, this.counter);
    const ct = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, h, null, nonceFor(this.counter), this.key);
    this.counter++;
    const frame = new Uint8Array(FRAME_HEADER_BYTES + ct.length);
    frame.set(h, 0);
    frame.set(ct, FRAME_HEADER_BYTES);
    return frame;
  }
}

class Opener implements FrameOpener {
  private expected = 0;
  private failed: KeyedFrameError | undefined;
  constructor(private readonly key: Uint8Array) {}

  get framesOpened(): number {
    return this.expected;
  }

  open(frame: Uint8Array): Uint8Array {
    if (this.failed) throw new KeyedFrameError('FRAME_CLOSED', `the keyed stream already failed (${this.failed.message}); close the session`);
    try {
      return this.openChecked(frame);
    } catch (e) {
      this.failed = e instanceof KeyedFrameError ? e : new KeyedFrameError('FRAME_TAMPERED', 'keyed frame failed authentication');
      throw this.failed;
    }
  }

  private openChecked(frame: Uint8Array): Uint8Array {
    if (frame.length < FRAME_HEADER_BYTES + FRAME_TAG_BYTES) throw new KeyedFrameError('FRAME_TAMPERED', `keyed frame of ${frame.length} bytes is shorter than header and tag`);
    const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const length = dv.getUint32(0);
    if (length !== frame.length - 4) throw new KeyedFrameError('FRAME_TAMPERED', `keyed frame length field ${length} does not match ${frame.length - 4}`);
    if (length - 8 - FRAME_TAG_BYTES > keyedFramePlaintextBytesMax) throw new KeyedFrameError('FRAME_TOO_LARGE', `keyed frame of ${length} bytes exceeds the limit`);
    const counter = dv.getUint32(4) * 0x1_0000_0000 + dv.getUint32(8);
    if (counter < this.expected) throw new KeyedFrameError('FRAME_REPLAYED', `keyed frame counter ${counter} was already used (expected ${this.expected}): replayed frame`);
    if (counter > this.expected) throw new KeyedFrameError('FRAME_OUT_OF_ORDER', `keyed frame counter ${counter} skips ahead (expected ${this.expected}): reordered or dropped frame`);
    const sodium = sodiumReady();
    let pt: Uint8Array;
    try {
      pt = sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, frame.subarray(FRAME_HEADER_BYTES), frame.subarray(0, FRAME_HEADER_BYTES), nonceFor(counter), this.key);
    } catch {
      throw new KeyedFrameError('FRAME_TAMPERED', `keyed frame ${counter} failed authentication: tampered or not from this session's peer`);
    }
    this.expected++;
    return pt;
  }
}

/** Builds the two directions from 32-byte keys (handshake.ts derives them). */
export function makeSessionKeys(sendKey: Uint8Array, receiveKey: Uint8Array): SessionKeys {
  if (sendKey.length !== 32 || receiveKey.length !== 32) throw new RangeError('session keys are 32 bytes');
  return { send: new Sealer(sendKey.slice()), receive: new Opener(receiveKey.slice()) };
}

export function sealFrame(keys: SessionKeys, plaintext: Uint8Array): Uint8Array {
  return keys.send.seal(plaintext);
}

/**
 * Incremental decoder of the keyed stream: push() whatever arrived, then take next() until it returns
 * undefined. A length field beyond the bound fails immediately, before the body is buffered.
 */
export class KeyedStreamDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private failed: KeyedFrameError | undefined;

  constructor(private readonly opener: FrameOpener) {}

  push(bytes: Uint8Array): void {
    if (bytes.length > 0) {
      this.chunks.push(bytes.slice());
      this.buffered += bytes.length;
    }
  }

  /** Next plaintext, or undefined if no complete frame is buffered. Throws KeyedFrameError (close the session). */
  next(): Uint8Array | undefined {
    if (this.failed) throw this.failed;
    if (this.buffered < 4) return undefined;
    const head = this.peek(4);
    const length = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
    if (length < 8 + FRAME_TAG_BYTES || length - 8 - FRAME_TAG_BYTES > keyedFramePlaintextBytesMax) {
      this.failed = new KeyedFrameError(length < 8 + FRAME_TAG_BYTES ? 'FRAME_TAMPERED' : 'FRAME_TOO_LARGE', `keyed frame length ${length} is outside ${8 + FRAME_TAG_BYTES}..${8 + FRAME_TAG_BYTES + keyedFramePlaintextBytesMax}`);
      throw this.failed;
    }
    if (this.buffered < 4 + length) return undefined;
    const frame = this.take(4 + length);
    try {
      return this.opener.open(frame);
    } catch (e) {
      this.failed = e instanceof KeyedFrameError ? e : new KeyedFrameError('FRAME_TAMPERED', 'keyed frame failed');
      throw this.failed;
    }
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let off = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (off === n) break;
    }
    return out;
  }

  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

/**
 * The keyed stream as a record transport, the shape the client library's connection (and a daemon
 * adapter) uses: `seal` one outgoing record into one frame; `open` whatever bytes arrived and get
 * the plaintexts they completed. `open` throws KeyedFrameError: the session must then be closed.
 */
export interface KeyedRecordTransport {
  seal(record: Uint8Array): Uint8Array;
  open(bytes: Uint8Array): Uint8Array[];
}

export function keyedTransport(keys: SessionKeys): KeyedRecordTransport {
  const decoder = new KeyedStreamDecoder(keys.receive);
  return {
    seal: (record) => keys.send.seal(record),
    open(bytes) {
      decoder.push(bytes);
      const out: Uint8Array[] = [];
      for (let pt = decoder.next(); pt; pt = decoder.next()) out.push(pt);
      return out;
    },
  };
}
