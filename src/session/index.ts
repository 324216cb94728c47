export * from './protocol.js';
export * from './codec.js';
export * from './machine.js';
export {
  ClientListener,
  type ClientListenerOptions,
  type ClientListenerStats,
  type SessionHandle,
  type SessionRequestHandler,
  type LogLevel,
  type ListenerAuth,
  type AccessControl,
} from './listener.js';
