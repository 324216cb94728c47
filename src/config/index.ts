/**
 * Configuration: the spread.conf language plus Ringcast's options, daemon identity, the
 * configuration hash, and the IP allow-list. Sans-IO code should import from types.js,
 * parse.js, templates.js, self.js or access-ip-rules.js directly; this face also re-exports
 * the file loaders.
 */
export type {
  CryptoMode,
  DaemonEntry,
  DaemonInterface,
  Dissemination,
  EventPriority,
  InterfaceKind,
  MembershipTimeouts,
  RingcastConfig,
  SegmentEntry,
  SocketPortReuse,
  ChrootMode,
  ListenerAuthPolicy,
} from './types.js';
export { defaultConfig, parseConfig } from './parse.js';
export { loadConfig, loadTrustedDaemonKeys } from './load.js';
export { findSelf } from './self.js';
export { expandEventLogFile, unixSocketPathFor } from './templates.js';
export { canonicalMembership, configurationHash, daemonIdFromName } from './identity.js';
export {
  type AccessIpNetwork,
  type AccessIpPeer,
  type AccessIpRules,
  accessIpCandidates,
  emptyAccessIpRules,
  ipAllowed,
  loadAccessIp,
  loadAccessIpFor,
  parseAccessIp,
} from './access-ip.js';
export * as configLimits from './limits.js';
