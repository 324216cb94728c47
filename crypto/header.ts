/**
 * The 16-byte packet-protection header, sent in clear and authenticated as associated data.
 *
 *   byte  0      version (high 4 bits, = 1) | mode (bits 3–2) | suite (bits 1–0)
 *   bytes 1–3    key epoch, u24 big-endian
 *   bytes 4–7    sender daemon id, u32 big-endian
 *   bytes 8–15   packet counter, u64 big-endian, per sender, strictly increasing
 *
 * With a 16-byte tag the total overhead is 32 bytes. Bytes 4–15 (sender ‖ counter) are also the
 * 96-bit AEAD nonce: see SECURITY.md "Nonce construction".
 */

export type ProtectionMode = 'none' | 'integrity' | 'encrypt';

export const HEADER_BYTES = 16;
export const FORMAT_VERSION = 1;
/** Epochs are 24-bit on the wire. */
export const EPOCH_MAX = 0xff_ffff;
export const COUNTER_MAX = 0xffff_ffff_ffff_ffffn;

export const MODE_CODES: Readonly<Record<ProtectionMode, number>> = { none: 0, integrity: 1, encrypt: 2 };

export interface PacketHeader {
  version: number;
  /** Mode code (0 none, 1 integrity, 2 encrypt, 3 not assigned). */
  modeCode: number;
  suiteCode: number;
  epoch: number;
  sender: number;
  counter: bigint;
}

export function modeName(code: number): ProtectionMode | undefined {
  return code === 0 ? 'none' : code === 1 ? 'integrity' : code === 2 ? 'encrypt' : undefined;
}

export function headerByte0(modeCode: number, suiteCode: number): number {
  return (FORMAT_VERSION << 4) | ((modeCode & 3) << 2) | (suiteCode & 3);
}

/** Writes the header into out[0..16). The caller has checked the ranges. */
export function writeHeader(out: Uint8Array, byte0: number, epoch: number, sender: number, counter: bigint): void {
  const view = new DataView(out.buffer, out.byteOffset, HEADER_BYTES);
  view.setUint32(0, ((byte0 & 0xff) << 24 | (epoch & EPOCH_MAX)) >>> 0);
  view.setUint32(4, sender >>> 0);
  view.setBigUint64(8, counter);
}

/** Reads the clear header of a packet, or undefined if it is shorter than a header. Never throws. */
export function parseHeader(packet: Uint8Array): PacketHeader | undefined {
  if (!(packet instanceof Uint8Array) || packet.length < HEADER_BYTES) return undefined;
  const view = new DataView(packet.buffer, packet.byteOffset, HEADER_BYTES);
  const word0 = view.getUint32(0);
  const b0 = word0 >>> 24;
  return {
    version: b0 >>> 4,
    modeCode: (b0 >>> 2) & 3,
    suiteCode: b0 & 3,
    epoch: word0 & EPOCH_MAX,
    sender: view.getUint32(4),
    counter: view.getBigUint64(8),
  };
}
