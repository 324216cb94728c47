/**
 * What a simulation run records, and what the EVS checker reads. Hand-made histories (tests)
 * and simulator histories have the same shape.
 *
 * One record per daemon incarnation: a restarted daemon is a new process to the others (Totem,
 * EVS), so its history starts afresh. Within an incarnation, `events` is in the order the engine
 * produced them (configuration changes and deliveries) interleaved with the client's submissions
 * at the moment each submit() was accepted.
 */
import type { DaemonId, RingId } from '../util/ids.js';
import { ringIdKey } from '../util/ids.js';
import type { ServiceLevel } from '../util/service.js';

export interface ConfigEvent {
  kind: 'config';
  atMs: number;
  type: 'regular' | 'transitional';
  ring: RingId;
  /** Transitional only: the regular configuration it follows. */
  previous?: RingId;
  members: readonly DaemonId[];
  /** Regular only: for each member, the regular ring it came from (RingEvent.previousRings). */
  previousRings?: readonly { daemon: DaemonId; ring: RingId }[];
}

export interface DeliveryEvent {
  kind: 'deliver';
  atMs: number;
  /** The ring id the engine reported the delivery in. */
  ring: RingId;
  seq: number;
  sender: DaemonId;
  stream: number;
  service: ServiceLevel;
  /** From the payload (see payload.ts); `?n` if the payload could not be decoded. */
  messageId: string;
  /** Set when the payload failed verification (decodePayload). */
  payloadProblem?: string;
}

export interface SubmitEvent {
  kind: 'submit';
  atMs: number;
  messageId: string;
  stream: number;
  service: ServiceLevel;
  /** How many deliveries this incarnation had made when the message was submitted (causal order). */
  deliveredBefore: number;
}

export type IncarnationEvent = ConfigEvent | DeliveryEvent | SubmitEvent;

export interface IncarnationHistory {
  daemon: DaemonId;
  incarnation: number;
  startedAtMs: number;
  /** Set if this incarnation stopped before the end of the run. */
  endedAtMs?: number;
  /** How it stopped: a crash (engine discarded) or a clean leave(). */
  end?: 'crash' | 'leave';
  events: IncarnationEvent[];
}

/** A fault or phase change, as applied (for traces). */
export interface FaultRecord {
  atMs: number;
  description: string;
  /** Daemons it concerns directly; empty for faults that concern everyone (heal, loss burst). */
  daemons: readonly DaemonId[];
}

export interface EngineErrorRecord {
  atMs: number;
  daemon: DaemonId;
  incarnation: number;
  message: string;
}

export interface History {
  /** Every configured daemon, in configuration order. */
  daemons: readonly DaemonId[];
  incarnations: IncarnationHistory[];
  faults: FaultRecord[];
  engineErrors: EngineErrorRecord[];
  /** End of the faulty phase: everything healed, every daemon running; absent if never healed. */
  healAtMs?: number;
  /** Liveness bound: after healAtMs, every running daemon must be in one regular configuration of all of them within this. */
  livenessBoundMs?: number;
  endAtMs: number;
  /** True if the run stopped because everything had settled (not because a bound was hit). */
  quiescent: boolean;
  /** Set if the run was cut short (engine error, event bound): end-of-run properties are not judged. */
  aborted?: string;
}

/** Configuration key: regular configurations by ring id; transitional ones by ring id and the ring they follow. */
export function configKey(ev: Pick<ConfigEvent, 'type' | 'ring' | 'previous'>): string {
  if (ev.type === 'regular') return `R${ringIdKey(ev.ring)}`;
  return `T${ringIdKey(ev.ring)}<${ev.previous ? ringIdKey(ev.previous) : '?'}`;
}

/** The regular configuration a configuration belongs to (itself, or the one a transitional follows). */
export function familyKey(ev: Pick<ConfigEvent, 'type' | 'ring' | 'previous'>): string {
  if (ev.type === 'regular') return `R${ringIdKey(ev.ring)}`;
  return ev.previous ? `R${ringIdKey(ev.previous)}` : `R?`;
}

export function incarnationName(daemon: DaemonId, incarnation: number): string {
  return `${daemon >>> 0}#${incarnation}`;
}
