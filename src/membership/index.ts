/** Totem membership and the engine that composes it with the ring: the public face is TotemNode. */
export * from '../ring/types.js';
export { TotemNode, type TotemStats } from './node.js';
export { Gather, type JoinOutcome } from './gather.js';
export { planRecovery, type RecoveryPlan } from './recovery.js';
export {
  encodeJoin,
  decodeJoin,
  encodeProbe,
  decodeProbe,
  encodeCommit,
  decodeCommit,
  MEMBERS_MAX,
  type JoinMessage,
  type CommitEntry,
  type CommitToken,
} from './wire.js';
