export * from './protocol.js';
export * from './codec.js';
