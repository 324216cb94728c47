/** The ring's ordering machinery: packet formats, log, token rules, packing, reassembly. */
export * from './types.js';
export * from './wire.js';
export { RingLog, type StoredPacket } from './log.js';
export { Packer, MESSAGE_BYTES_MAX } from './packer.js';
export { Reassembler, type Reassembled } from './reassembly.js';
export { updateTokenAru, takeServableRtr, addRtr, allowedNewPackets, type FlowInput } from './token.js';
