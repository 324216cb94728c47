/**
 * Deterministic simulation of Totem engines with seeded faults, and the extended virtual
 * synchrony checker.
 *
 *   const options = buildOptions(seed, { daemons: 5, partitions: true }, totemEngineFactory);
 *   const run = new Simulation(options).run();      // SimRun: history, log, logHash, schedule
 *   const check = checkHistory(run.history);        // CheckResult: violations by property
 *   if (!check.ok) console.log(formatReport(run, check));
 *
 * runSeed(seed, spec, factory) does the middle two lines; sweep(from, to, spec, factory) loops;
 * shrinkFailure re-runs with fewer fault actions. The default engine factory is in engine.js
 * (kept out of this index so that the simulator and checker load without the Totem engine).
 */
export { Prng, splitmix32 } from './prng.js';
export { EventQueue } from './event-queue.js';
export { LogDigest } from './hash.js';
export { encodePayload, decodePayload, messageId, parseMessageId, SIM_BODY_BYTES_MAX, type MessageKey, type DecodedPayload } from './payload.js';
export {
  configKey,
  familyKey,
  incarnationName,
  type ConfigEvent,
  type DeliveryEvent,
  type SubmitEvent,
  type IncarnationEvent,
  type IncarnationHistory,
  type FaultRecord,
  type EngineErrorRecord,
  type History,
} from './history.js';
export { generateSchedule, describeFault, type FaultAction, type FaultMix, type FaultSchedule, type ScheduleOptions } from './faults.js';
export {
  Simulation,
  defaultSimOptions,
  DEFAULT_TIMEOUTS,
  DEFAULT_SERVICES,
  type EngineFactory,
  type SimOptions,
  type SimRun,
  type LogEntry,
  type ClientOptions,
  type NetworkOptions,
} from './simulator.js';
export { checkHistory, PROPERTIES, SPREAD_SERVICE_GUARANTEES, type PropertyName, type Violation, type CheckOptions, type CheckResult } from './checker.js';
export { formatReport, formatTrace, relevantEntries, prettify, type TraceOptions } from './trace.js';
export { shrinkFailure, type ShrinkResult } from './shrink.js';
export {
  buildOptions,
  scaledTimeouts,
  runSeed,
  sweep,
  parseSeedRange,
  LOSS_RATE_MAX,
  type SimSpec,
  type SeedResult,
  type SweepSummary,
  type SweepFailure,
} from './runner.js';
export { ProtectedNetwork, simClusterSecret, SIM_CRYPTO_MODES, type SimCryptoMode, type ProtectionStats } from './protected-network.js';
export {
  Attacker,
  defaultAttackerOptions,
  ATTACKER_VARIANTS,
  ATTACK_KINDS,
  type AttackerVariant,
  type AttackerOptions,
  type AttackKind,
  type AttackPacket,
  type AttackStats,
} from './attacker.js';
export { compareWithAttacker, historyDifference, groupHistoryDifference, type AttackComparison, type CheckedRun } from './attack-check.js';
export {
  GroupLayer,
  defaultGroupClientOptions,
  type GroupClientOptions,
  type GroupHistory,
  type SessionHistory,
  type SessionEvent,
} from './group-views.js';
export {
  checkGroupHistory,
  GROUP_PROPERTIES,
  type GroupPropertyName,
  type GroupViolation,
  type GroupCheckResult,
  type GroupCheckOptions,
} from './group-checker.js';
export { runExtendedSeed, extendSpec, type ExtendedSpec, type ExtendedResult } from './extended.js';
