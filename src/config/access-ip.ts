/**
 * IP authentication allow-list (`spread.access_ip`). The parser and matcher are pure
 * (access-ip-rules.ts); this module adds reading the file.
 */
export {
  type AccessIpNetwork,
  type AccessIpPeer,
  type AccessIpRules,
  emptyAccessIpRules,
  ipAllowed,
  parseAccessIp,
} from './access-ip-rules.js';
export { accessIpCandidates, loadAccessIp, loadAccessIpFor } from './load.js';
