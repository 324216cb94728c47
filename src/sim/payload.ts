/**
 * Payloads of simulated client messages. Each carries its own identity (daemon, incarnation,
 * stream, counter) so the checker can tell every delivery of a message apart from every other,
 * and a body whose bytes are a function of that identity so corruption is detected too.
 *
 * Layout (big-endian): magic u32 | daemon u32 | incarnation f64 (a start time in ms, beyond 32
 * bits) | stream u32 | counter u32 | bodyLength u32 | body.
 */
import type { DaemonId } from '../util/ids.js';

const MAGIC = 0x52435331; // "RCS1"
const HEADER_BYTES = 28;
/** Largest body the simulator generates; bigger than a packet so fragmentation is exercised. */
export const SIM_BODY_BYTES_MAX = 65_536;

export interface MessageKey {
  daemon: DaemonId;
  incarnation: number;
  stream: number;
  counter: number;
}

/** The checker's name for a message: unique across the whole run. */
export function messageId(k: MessageKey): string {
  return `${k.daemon >>> 0}/${k.incarnation}/${k.stream}/${k.counter}`;
}

export function parseMessageId(id: string): MessageKey | undefined {
  const parts = id.split('/');
  if (parts.length !== 4) return undefined;
  const [d, i, s, c] = parts.map((p) => Number(p));
  if (![d, i, s, c].every((x) => x !== undefined && Number.isInteger(x) && x >= 0)) return undefined;
  return { daemon: d as number, incarnation: i as number, stream: s as number, counter: c as number };
}

function bodyByte(k: MessageKey, i: number): number {
  // A cheap identity-dependent pattern: any reordering or substitution of bytes shows.
  const base = (k.daemon ^ Math.imul(k.incarnation % 0x7fffffff, 31) ^ Math.imul(k.stream, 131) ^ Math.imul(k.counter, 8191)) >>> 0;
  return (base + Math.imul(i, 167) + (i >>> 8)) & 0xff;
}

export function encodePayload(k: MessageKey, bodyBytes: number): Uint8Array {
  if (!Number.isSafeInteger(k.incarnation) || k.incarnation < 0) throw new RangeError(`incarnation must be a non-negative safe integer, got ${k.incarnation}`);
  if (!Number.isInteger(bodyBytes) || bodyBytes < 0 || bodyBytes > SIM_BODY_BYTES_MAX) {
    throw new RangeError(`simulated body must be 0..${SIM_BODY_BYTES_MAX} bytes, got ${bodyBytes}`);
  }
  const out = new Uint8Array(HEADER_BYTES + bodyBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC);
  view.setUint32(4, k.daemon >>> 0);
  view.setFloat64(8, k.incarnation);
  view.setUint32(16, k.stream >>> 0);
  view.setUint32(20, k.counter >>> 0);
  view.setUint32(24, bodyBytes);
  for (let i = 0; i < bodyBytes; i++) out[HEADER_BYTES + i] = bodyByte(k, i);
  return out;
}

export type DecodedPayload = { ok: true; key: MessageKey } | { ok: false; problem: string; key?: MessageKey };

/** Decode and verify a delivered payload; never trusts the length field. */
export function decodePayload(bytes: Uint8Array): DecodedPayload {
  if (bytes.length < HEADER_BYTES) return { ok: false, problem: `payload of ${bytes.length} bytes is shorter than the header` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== MAGIC) return { ok: false, problem: 'payload magic is wrong' };
  const key: MessageKey = {
    daemon: view.getUint32(4),
    incarnation: view.getFloat64(8),
    stream: view.getUint32(16),
    counter: view.getUint32(20),
  };
  if (!Number.isSafeInteger(key.incarnation) || key.incarnation < 0) return { ok: false, problem: `payload incarnation ${key.incarnation} is not an integer` };
  const bodyBytes = view.getUint32(24);
  if (bodyBytes !== bytes.length - HEADER_BYTES) {
    return { ok: false, problem: `payload body length ${bodyBytes} but ${bytes.length - HEADER_BYTES} bytes present`, key };
  }
  for (let i = 0; i < bodyBytes; i++) {
    if (bytes[HEADER_BYTES + i] !== bodyByte(key, i)) return { ok: false, problem: `payload body corrupted at byte ${i}`, key };
  }
  return { ok: true, key };
}
