/**
 * Ringcast's TypeScript client library: the Spread 4/5 client protocol as libspread speaks it,
 * usable with ringcastd and with real Spread daemons.
 */
export { connect, type ConnectOptions, CONNECT_TIMEOUT_MS_DEFAULT, RECEIVE_QUEUE_MESSAGES_MAX_DEFAULT, DISCONNECT_TIMEOUT_MS_DEFAULT } from './connect.js';
export {
  SpreadConnection,
  type MulticastOptions,
  type ReceiveOptions,
  type ServiceName,
  type SpreadConnectionEvents,
} from './connection.js';
export { resolveAddress, formatAddress, DEFAULT_SPREAD_PORT, UNIX_SOCKET_DIR, type Address, type ResolvedAddress } from './address.js';
export { SpreadError } from './errors.js';
export {
  nullAuth,
  ipAuth,
  BUILTIN_AUTH_METHODS,
  type ClientAuthMethod,
  type ClientAuthOutcome,
  type RecordTransport,
  type AuthContext,
  type AuthChannel,
} from './auth.js';
export { LIBRARY_VERSION, type LibraryVersion, type DaemonVersion } from './handshake.js';
export type {
  Received,
  DataMessage,
  MembershipMessage,
  MembershipReason,
  TransitionalMessage,
  SelfLeaveMessage,
  RejectMessage,
  GroupId,
} from './received.js';
export { describeReceived, formatGroupId, formatPayload } from './format.js';
export { isValidGroupName, isValidPrivateName } from '../session/protocol.js';
export { Service, SERVICE_NAMES, type ServiceLevel } from '../util/service.js';
