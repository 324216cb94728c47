/**
 * The deterministic simulator: N daemons' Totem engines on a simulated clock and network, with
 * seeded faults and simulated clients, recording a History for the EVS checker.
 *
 * Everything random comes from one seed through independent forked streams (network, clients,
 * faults, each engine incarnation), and simultaneous events run in the order they were
 * scheduled, so a seed replays byte for byte (see `logHash`).
 */
import type { TotemEngine, TotemOptions, TotemTimeouts, RingEvent } from '../ring/types.js';
import type { DaemonId } from '../util/ids.js';
import { ringIdEquals } from '../util/ids.js';
import { Service, type ServiceLevel } from '../util/service.js';
import { EventQueue } from './event-queue.js';
import { describeFault, generateSchedule, type FaultAction, type FaultMix } from './faults.js';
import { LogDigest } from './hash.js';
import type { ConfigEvent, FaultRecord, History, IncarnationHistory } from './history.js';
import { decodePayload, encodePayload, messageId, type MessageKey } from './payload.js';
import { Prng } from './prng.js';
import { ProtectedNetwork, type EpochKeyHistory, type ProtectionStats, type SimCryptoMode, type SimEpochKeyOptions } from './protected-network.js';
import type { TransmitEpoch } from '../ring/types.js';
import { Attacker, type AttackerOptions, type AttackStats } from './attacker.js';
import { GroupLayer, type GroupClientOptions, type GroupHistory } from './group-views.js';

export type EngineFactory = (opts: TotemOptions) => TotemEngine;

export interface ClientOptions {
  /** Streams (sessions) per daemon. */
  streams: number;
  /** Mean submissions per second per daemon during the faulty phase. */
  messagesPerSecond: number;
  /** Largest message body; a few messages are this big, to exercise fragmentation. */
  bodyBytesMax: number;
  /** Services the clients use, drawn uniformly. */
  services: readonly ServiceLevel[];
}

export interface NetworkOptions {
  /** One-way delay range in ms; the spread between them reorders packets. */
  delayMinMs: number;
  delayMaxMs: number;
  /** Base loss probability per packet and receiver during the faulty phase, 0..1. */
  lossRate: number;
  /** Probability that a packet is delivered twice. */
  duplicationRate: number;
  /**
   * Probability that a delivered copy is damaged (one bit flipped, or truncated). Zero by
   * default: the daemon's crypto layer drops damaged packets before the engine sees them, so with
   * corruption only engine errors (an engine must never throw on what the network hands it) are
   * meaningful, not the delivery properties.
   */
  corruptionRate?: number;
}

export interface SimOptions {
  seed: number;
  /** Number of daemons, 1..64 (the sweeps use 3..12). */
  daemons: number;
  /** Number of fault steps in the faulty phase. */
  steps: number;
  faults: FaultMix;
  /** Time between fault steps, ms. */
  stepMs: readonly [number, number];
  network: NetworkOptions;
  clients: ClientOptions;
  timeouts: TotemTimeouts;
  windowPacketsMax: number;
  personalWindowPacketsMax: number;
  /** Accelerated Ring (TotemOptions.acceleratedWindowPacketsMax); absent or 0: plain Totem. */
  acceleratedWindowPacketsMax?: number;
  /**
   * Request/response clients: a delivered message of another daemon is answered with this
   * probability; the daemon calls anticipateReply and its client submits the answer after a delay
   * of up to twice replyHoldMs (so some answers come after the hold has ended). Absent: none.
   */
  replies?: { replyHoldMs: number; chance: number };
  packetBytesMax: number;
  pendingMessagesMax: number;
  /** After the heal, every running daemon must be in one full regular configuration within this. */
  livenessBoundMs: number;
  /** Stop the run this long after the heal even if it has not settled. */
  settleMaxMs: number;
  /** Hard bound on processed events, against runaway engines. */
  eventsMax: number;
  /** Bound on configuration installs (all daemons together): beyond it the run is a membership storm. */
  configurationInstallsMax: number;
  engineFactory: EngineFactory;
  /** Each daemon's clock is offset from simulated time by a constant drawn from [0, this]. */
  clockOffsetMaxMs: number;
  /** Replace the drawn fault schedule (replay, shrinking). */
  schedule?: FaultAction[];
  /** Keep every packet event in the text log too (large; for debugging). */
  logPackets: boolean;
  /**
   * Packet protection between the daemons, as the daemon's crypto layer does it (absent or
   * 'none': plain packets). 'integrity' and 'encrypt' need `await initCrypto()` first.
   */
  crypto?: SimCryptoMode;
  /**
   * Per-configuration epoch keys on every daemon (keys/epoch-schedule.ts), with daemon
   * identities drawn from the seed. Needs crypto 'integrity' or 'encrypt'.
   */
  epochKeys?: SimEpochKeyOptions;
  /** An attacker on the network (see attacker.ts); it never changes legit scheduling. */
  attacker?: AttackerOptions;
  /** Process groups: a GroupTable per daemon and group client sessions (see group-views.ts). */
  groups?: GroupClientOptions;
}

/** Simulated wall-clock time at the start of every run, for incarnations (2023-11-14T22:13:20Z). */
export const INCARNATION_EPOCH_MS = 1_700_000_000_000;

/**
 * Timeouts for simulated daemons: short against the simulated 0-15 ms network delays, so that
 * rings form, carry traffic and break many times within one fault schedule.
 */
export const DEFAULT_TIMEOUTS: TotemTimeouts = {
  tokenLossMs: 100,
  tokenRetransmitMs: 20,
  joinMs: 20,
  consensusMs: 150,
  formMs: 150,
  mergeDetectMs: 100,
};

export const DEFAULT_SERVICES: readonly ServiceLevel[] = [
  Service.UNRELIABLE,
  Service.RELIABLE,
  Service.FIFO,
  Service.CAUSAL,
  Service.AGREED,
  Service.SAFE,
];

export function defaultSimOptions(seed: number, engineFactory: EngineFactory): SimOptions {
  return {
    seed,
    daemons: 5,
    steps: 6,
    faults: { partitions: true, crashes: true, lossBursts: true },
    // Some faults follow each other faster than a ring forms, others leave time to form and work.
    stepMs: [100, 1000],
    network: { delayMinMs: 1, delayMaxMs: 4, lossRate: 0.05, duplicationRate: 0.01 },
    clients: { streams: 3, messagesPerSecond: 40, bodyBytesMax: 4000, services: DEFAULT_SERVICES },
    timeouts: { ...DEFAULT_TIMEOUTS },
    windowPacketsMax: 160,
    personalWindowPacketsMax: 20,
    packetBytesMax: 1200,
    pendingMessagesMax: 32,
    livenessBoundMs: 8000,
    settleMaxMs: 10000,
    eventsMax: 200_000,
    configurationInstallsMax: 1500,
    clockOffsetMaxMs: 1_000_000,
    engineFactory,
    logPackets: false,
  };
}

/** One line of the run's log: what happened, when, to whom. */
export interface LogEntry {
  atMs: number;
  /** Daemon concerned, if one. */
  daemon?: DaemonId;
  kind: 'fault' | 'phase' | 'config' | 'deliver' | 'submit' | 'packet' | 'error';
  text: string;
  /** Message ids this line concerns. */
  messages?: string[];
}

export interface SimRun {
  seed: number;
  options: SimOptions;
  schedule: FaultAction[];
  history: History;
  log: LogEntry[];
  /** Digest of every event of the run, packets and timers included. */
  logHash: string;
  eventsProcessed: number;
  packets: { sent: number; delivered: number; dropped: number };
  /** Display names of the daemons (`d0`..), by id. */
  names: ReadonlyMap<DaemonId, string>;
  /** With crypto: what every protector sealed, opened and rejected. */
  protection?: ProtectionStats;
  /** With epoch keys: every secret held and erased, and the outsider probes (see key-checker.ts). */
  epochKeys?: EpochKeyHistory;
  /** With an attacker: what it saw, sent and got through. */
  attack?: AttackStats & { attackerId: DaemonId };
  /** With groups: what every client session received, for the group view checker. */
  groups?: GroupHistory;
  /** With request/response clients: token visits held for an answer, and those the answer ended. */
  replyHolds?: { holds: number; hits: number };
}

/** Least spacing between one daemon's answers (SimOptions.replies), simulated ms. */
const REPLY_SPACING_MS_MIN = 10;

type SimEvent =
  | { kind: 'packet'; from: number; to: number; bytes: Uint8Array }
  | { kind: 'timer'; slot: number; gen: number }
  | { kind: 'client'; slot: number; incarnation: number }
  | { kind: 'reply'; slot: number; incarnation: number }
  | { kind: 'fault'; action: FaultAction }
  | { kind: 'start'; slot: number }
  | { kind: 'lossBurstEnd'; burst: number }
  | { kind: 'heal' }
  | { kind: 'check' }
  | { kind: 'groupClient'; slot: number; incarnation: number };

interface Slot {
  index: number;
  id: DaemonId;
  /** This daemon's clock reads simulated time plus this (daemons' clocks do not agree). */
  clockOffsetMs: number;
  engine: TotemEngine | undefined;
  incarnation: number;
  hist: IncarnationHistory | undefined;
  timerGen: number;
  timerAtMs: number | undefined;
  /** Timer firings at the current ms, against engines that never let time pass. */
  spinAtMs: number;
  spinCount: number;
  counters: number[];
  /** A message the engine refused (back-pressure), retried before any new one. */
  blocked: { key: MessageKey; service: ServiceLevel; payload: Uint8Array } | undefined;
  deliveredCount: number;
  /** Reliable messages this incarnation submitted and has not yet delivered to itself. */
  awaitingSelf: Set<string>;
  lastConfig: ConfigEvent | undefined;
  deliveredInConfig: number;
  /** No new answer from this daemon's request/response client before this time (maybeReply). */
  replyQuietUntilMs: number;
}

class EngineFailure extends Error {}

/** Distinct daemon ids drawn from the seed: large, unordered with respect to configuration order. */
function drawDaemonIds(prng: Prng, n: number): DaemonId[] {
  const ids: DaemonId[] = [];
  while (ids.length < n) {
    const id = (0x01000000 + (prng.nextU32() % 0xfe000000)) >>> 0;
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

export class Simulation {
  readonly options: SimOptions;
  private readonly queue: EventQueue<SimEvent>;
  private readonly slots: Slot[];
  private readonly ids: DaemonId[];
  private readonly names = new Map<DaemonId, string>();
  private readonly netRng: Prng;
  private readonly clientRng: Prng;
  /** Request/response clients (SimOptions.replies): its own stream, so that seeds without them are unchanged. */
  private readonly replyRng: Prng;
  private readonly endedReplyHolds = { holds: 0, hits: 0 };
  private readonly root: Prng;
  private readonly digest = new LogDigest();
  private readonly log: LogEntry[] = [];
  private readonly incarnations: IncarnationHistory[] = [];
  private readonly faultRecords: FaultRecord[] = [];
  private readonly engineErrors: History['engineErrors'] = [];
  private readonly schedule: FaultAction[];
  private readonly healAtMs: number;
  private component: number[];
  private bursts = new Map<number, number>();
  private burstCounter = 0;
  private now = 0;
  private started = false;
  private healed = false;
  private finished = false;
  private quiescent = false;
  private aborted: string | undefined;
  private eventsProcessed = 0;
  private configurationInstalls = 0;
  private packets = { sent: 0, delivered: 0, dropped: 0 };
  private readonly protection: ProtectedNetwork | undefined;
  private readonly attacker: Attacker | undefined;
  private readonly groupLayer: GroupLayer | undefined;

  constructor(options: SimOptions) {
    if (!Number.isInteger(options.daemons) || options.daemons < 1 || options.daemons > 64) {
      throw new RangeError(`daemons must be 1..64, got ${options.daemons}`);
    }
    if (!(options.network.lossRate >= 0 && options.network.lossRate < 1)) {
      throw new RangeError(`loss rate must be in [0, 1), got ${options.network.lossRate}`);
    }
    if (options.network.delayMinMs < 0 || options.network.delayMaxMs < options.network.delayMinMs) {
      throw new RangeError('network delay range is empty or negative');
    }
    this.options = options;
    this.queue = new EventQueue<SimEvent>(options.eventsMax);
    this.root = new Prng(options.seed);
    this.netRng = this.root.fork('network');
    this.clientRng = this.root.fork('clients');
    this.replyRng = this.root.fork('replies');
    this.ids = drawDaemonIds(this.root.fork('ids'), options.daemons);
    this.ids.forEach((id, i) => this.names.set(id, `d${i}`));
    this.component = new Array<number>(options.daemons).fill(0);
    const mode = options.crypto ?? 'none';
    if (options.epochKeys !== undefined && mode === 'none') throw new RangeError('epoch keys need crypto integrity or encrypt');
    this.protection = mode === 'none' ? undefined : new ProtectedNetwork(mode, options.seed, this.ids, options.packetBytesMax, options.epochKeys);
    this.attacker = options.attacker === undefined ? undefined : new Attacker(options.seed, this.ids, options.attacker);
    this.groupLayer = options.groups === undefined ? undefined : new GroupLayer(options.seed, this.ids, this.ids.map((_, i) => `d${i}`), options.groups);
    const clockRng = this.root.fork('clocks');
    this.slots = this.ids.map((id, index) => ({
      index,
      id,
      clockOffsetMs: clockRng.int(options.clockOffsetMaxMs + 1),
      engine: undefined,
      incarnation: 0,
      hist: undefined,
      timerGen: 0,
      timerAtMs: undefined,
      spinAtMs: -1,
      spinCount: 0,
      counters: [],
      blocked: undefined,
      deliveredCount: 0,
      awaitingSelf: new Set(),
      lastConfig: undefined,
      deliveredInConfig: 0,
      replyQuietUntilMs: 0,
    }));
    const drawn = generateSchedule(this.root.fork('faults'), {
      daemons: options.daemons,
      steps: options.steps,
      firstFaultMs: [20, 400],
      stepMs: options.stepMs,
      mix: options.faults,
    });
    this.schedule = options.schedule ? options.schedule.map((a) => ({ ...a })) : drawn.actions;
    const lastFault = this.schedule.reduce((m, a) => Math.max(m, a.atMs + (a.kind === 'lossBurst' ? a.durationMs : 0)), 0);
    this.healAtMs = Math.max(drawn.healAtMs, lastFault + 1);
  }

  get daemonIds(): readonly DaemonId[] {
    return this.ids;
  }

  nameOf(id: DaemonId): string {
    return this.names.get(id) ?? `${id >>> 0}`;
  }

  /** Run to the end (settled, or a bound) and return the record. */
  run(): SimRun {
    if (this.started) throw new Error('a Simulation runs once; construct a new one to run again');
    this.started = true;
    const startRng = this.root.fork('starts');
    for (const slot of this.slots) this.queue.push(startRng.range(0, 30), { kind: 'start', slot: slot.index });
    for (const action of this.schedule) this.queue.push(action.atMs, { kind: 'fault', action });
    this.queue.push(this.healAtMs, { kind: 'heal' });
    const endBoundMs = this.healAtMs + this.options.settleMaxMs;
    while (!this.finished) {
      const next = this.queue.pop();
      if (next === undefined) break;
      if (this.attacker !== undefined) {
        // The attacker's packets due before (or with) this event go first; its agenda is its own.
        try {
          this.runAttacks(Math.min(next.atMs, endBoundMs));
        } catch (e) {
          if (e instanceof EngineFailure) break;
          throw e;
        }
        if (this.finished) break;
      }
      if (next.atMs > endBoundMs) {
        this.now = endBoundMs;
        break;
      }
      this.now = next.atMs;
      this.eventsProcessed++;
      if (this.eventsProcessed > this.options.eventsMax) {
        this.abort(`event bound of ${this.options.eventsMax} reached at ${this.now} ms`);
        break;
      }
      try {
        this.dispatch(next.item);
      } catch (e) {
        if (e instanceof EngineFailure) break;
        throw e;
      }
    }
    return this.result();
  }

  private result(): SimRun {
    const history: History = {
      daemons: this.ids,
      incarnations: this.incarnations,
      faults: this.faultRecords,
      engineErrors: this.engineErrors,
      endAtMs: this.now,
      quiescent: this.quiescent,
      livenessBoundMs: this.options.livenessBoundMs,
    };
    if (this.healed && this.aborted === undefined) history.healAtMs = this.healAtMs;
    if (this.aborted !== undefined) history.aborted = this.aborted;
    return {
      seed: this.options.seed,
      options: this.options,
      schedule: this.schedule,
      history,
      log: this.log,
      logHash: this.digest.hex(),
      eventsProcessed: this.eventsProcessed,
      packets: { ...this.packets },
      names: this.names,
      ...(this.protection === undefined ? {} : { protection: this.protection.stats() }),
      ...(this.options.epochKeys === undefined || this.protection === undefined ? {} : { epochKeys: this.protection.keyHistory }),
      ...(this.attacker === undefined ? {} : { attack: { ...this.attacker.stats, attackerId: this.attacker.id } }),
      ...(this.groupLayer === undefined ? {} : { groups: this.groupLayer.result() }),
      ...(this.options.replies === undefined ? {} : { replyHolds: this.replyHoldTotals() }),
    };
  }

  /** Reply holds over every incarnation: the ones that ended, and the running engines. */
  private replyHoldTotals(): { holds: number; hits: number } {
    const t = { ...this.endedReplyHolds };
    for (const slot of this.slots) {
      const st = slot.engine?.status();
      t.holds += st?.replyHolds ?? 0;
      t.hits += st?.replyHoldHits ?? 0;
    }
    return t;
  }

  /** Hand every attack packet due by `untilMs` to its receiver, through its protection. */
  private runAttacks(untilMs: number): void {
    const attacker = this.attacker!;
    for (let due = attacker.popDue(untilMs); due !== undefined; due = attacker.popDue(untilMs)) {
      const p = due.packet;
      const slot = this.slots[p.to]!;
      if (slot.engine === undefined || !attacker.admit(p, slot.incarnation)) continue;
      this.now = Math.max(this.now, due.atMs);
      let plain: Uint8Array | undefined = p.bytes;
      if (this.protection !== undefined) plain = this.protection.open(p.to, p.from, p.bytes);
      attacker.noteDelivered(p, slot.incarnation, plain !== undefined);
      if (plain === undefined) continue;
      this.digest.addString(`a${this.now}:${p.kind}>${p.to}`);
      const bytes = plain;
      this.call(slot, (e) => e.handlePacket(this.localNow(slot), p.from, bytes));
      if (this.finished) return;
    }
  }

  private abort(reason: string): void {
    this.aborted = reason;
    this.finished = true;
    this.note({ atMs: this.now, kind: 'error', text: reason });
  }

  /** The time as the daemon's own clock shows it. */
  private localNow(slot: Slot): number {
    return this.now + slot.clockOffsetMs;
  }

  private note(e: LogEntry): void {
    this.log.push(e);
    this.digest.addString(`${e.atMs}|${e.daemon ?? ''}|${e.kind}|${e.text}`);
  }

  private dispatch(ev: SimEvent): void {
    if (this.protection !== undefined) this.protection.nowMs = this.now;
    switch (ev.kind) {
      case 'packet':
        this.deliverPacket(ev.from, ev.to, ev.bytes);
        break;
      case 'timer': {
        const slot = this.slots[ev.slot]!;
        if (slot.engine === undefined || ev.gen !== slot.timerGen) return;
        slot.timerAtMs = undefined;
        if (slot.spinAtMs === this.now) {
          if (++slot.spinCount > 10_000) this.engineError(slot, `handleTimeout asked to run again at ${this.now} ms more than 10000 times`);
        } else {
          slot.spinAtMs = this.now;
          slot.spinCount = 0;
        }
        this.digest.addString(`t${this.now}:${ev.slot}`);
        this.call(slot, (e) => e.handleTimeout(this.localNow(slot)));
        break;
      }
      case 'client':
        this.clientTick(ev.slot, ev.incarnation);
        break;
      case 'reply':
        this.clientTick(ev.slot, ev.incarnation, true);
        break;
      case 'fault':
        this.applyFault(ev.action);
        break;
      case 'start':
        this.startDaemon(this.slots[ev.slot]!);
        break;
      case 'lossBurstEnd':
        this.bursts.delete(ev.burst);
        break;
      case 'heal':
        this.heal();
        break;
      case 'check':
        this.checkSettled();
        break;
      case 'groupClient':
        this.groupClientTick(ev.slot, ev.incarnation);
        break;
    }
  }

  // ---- Daemons ------------------------------------------------------------------------------

  private startDaemon(slot: Slot): void {
    if (slot.engine !== undefined) return;
    // As the daemon does: the incarnation is the start time in ms (here on a simulated wall
    // clock that starts at INCARNATION_EPOCH_MS), strictly increasing across restarts.
    slot.incarnation = Math.max(slot.incarnation + 1, INCARNATION_EPOCH_MS + Math.floor(this.now));
    this.protection?.start(slot.index, slot.incarnation);
    const formationKeys = this.protection?.formationKeys(slot.index);
    const rng = this.root.fork(`engine:${slot.index}:${slot.incarnation}`);
    const opts: TotemOptions = {
      self: slot.id,
      incarnation: slot.incarnation,
      configured: this.ids,
      timeouts: { ...this.options.timeouts },
      windowPacketsMax: this.options.windowPacketsMax,
      personalWindowPacketsMax: this.options.personalWindowPacketsMax,
      ...((this.options.acceleratedWindowPacketsMax ?? 0) > 0 ? { acceleratedWindowPacketsMax: this.options.acceleratedWindowPacketsMax } : {}),
      ...(this.options.replies ? { replyHoldMs: this.options.replies.replyHoldMs } : {}),
      packetBytesMax: this.options.packetBytesMax,
      pendingMessagesMax: this.options.pendingMessagesMax,
      random: rng.asRandom(),
      ...(formationKeys ? { formationKeys } : {}),
    };
    const hist: IncarnationHistory = { daemon: slot.id, incarnation: slot.incarnation, startedAtMs: this.now, events: [] };
    this.incarnations.push(hist);
    slot.hist = hist;
    slot.timerGen++;
    slot.timerAtMs = undefined;
    slot.counters = new Array<number>(this.options.clients.streams).fill(0);
    slot.blocked = undefined;
    slot.deliveredCount = 0;
    slot.awaitingSelf = new Set();
    slot.lastConfig = undefined;
    slot.deliveredInConfig = 0;
    this.note({ atMs: this.now, daemon: slot.id, kind: 'phase', text: `${this.nameOf(slot.id)} starts, incarnation ${slot.incarnation}` });
    let engine: TotemEngine;
    try {
      engine = this.options.engineFactory(opts);
    } catch (e) {
      this.engineError(slot, `constructor: ${errorText(e)}`);
      return;
    }
    slot.engine = engine;
    if (this.groupLayer !== undefined) {
      this.groupLayer.start(slot.index, slot.incarnation, this.now);
      if (!this.healed) this.scheduleGroupClient(slot);
    }
    this.call(slot, (e) => e.start(this.localNow(slot)));
    if (!this.healed) this.scheduleClient(slot);
  }

  private stopDaemon(slot: Slot, how: 'crash' | 'leave'): void {
    if (slot.engine === undefined || slot.hist === undefined) return;
    if (how === 'leave') this.call(slot, (e) => e.leave(this.localNow(slot)));
    const st = slot.engine?.status();
    this.endedReplyHolds.holds += st?.replyHolds ?? 0;
    this.endedReplyHolds.hits += st?.replyHoldHits ?? 0;
    slot.engine = undefined;
    this.protection?.stop(slot.index);
    slot.timerGen++;
    slot.hist.endedAtMs = this.now;
    slot.hist.end = how;
    this.groupLayer?.stop(slot.index, this.now, how);
  }

  /** Run one engine input, then drain its outputs; an exception ends the run as an engine error. */
  private call(slot: Slot, input: (e: TotemEngine) => void): void {
    const engine = slot.engine;
    if (engine === undefined) return;
    try {
      input(engine);
      this.drain(slot, engine);
    } catch (e) {
      if (e instanceof EngineFailure) throw e;
      this.engineError(slot, errorText(e));
    }
  }

  private engineError(slot: Slot, message: string): never {
    this.engineErrors.push({ atMs: this.now, daemon: slot.id, incarnation: slot.incarnation, message });
    this.abort(`engine of ${this.nameOf(slot.id)}#${slot.incarnation} failed: ${message}`);
    throw new EngineFailure(message);
  }

  private drain(slot: Slot, engine: TotemEngine): void {
    for (let tx = engine.pollTransmit(); tx !== undefined; tx = engine.pollTransmit()) {
      this.transmit(slot, engine, tx.to, tx.bytes, tx.epoch);
    }
    for (let ev = engine.pollEvent(); ev !== undefined; ev = engine.pollEvent()) {
      this.record(slot, ev);
      this.maybeReply(slot, engine, ev);
    }
    // The group layer's requests and state messages, in order, as far as the engine takes them
    // (the daemon's pump); accepting them may make the engine deliver at once.
    if (this.groupLayer !== undefined) {
      const layer = this.groupLayer;
      while (layer.flush(slot.index, (m) => engine.submit(this.localNow(slot), m))) {
        for (let ev = engine.pollEvent(); ev !== undefined; ev = engine.pollEvent()) this.record(slot, ev);
      }
    }
    // Recording may not make the engine produce more, but a leave() or delivery may have.
    for (let tx = engine.pollTransmit(); tx !== undefined; tx = engine.pollTransmit()) {
      this.transmit(slot, engine, tx.to, tx.bytes, tx.epoch);
    }
    const local = engine.pollTimeout();
    if (local !== undefined && !Number.isFinite(local)) {
      this.engineError(slot, `pollTimeout returned ${local}`);
    }
    const deadline = local === undefined ? undefined : local - slot.clockOffsetMs;
    if (deadline !== slot.timerAtMs) {
      slot.timerGen++;
      slot.timerAtMs = deadline;
      if (deadline !== undefined) this.queue.push(Math.max(deadline, this.now), { kind: 'timer', slot: slot.index, gen: slot.timerGen });
    }
  }

  private record(slot: Slot, ev: RingEvent): void {
    // Group traffic is the group layer's alone; configurations go to both.
    if (this.groupLayer !== undefined && this.groupLayer.handleEvent(slot.index, ev, this.now)) return;
    const hist = slot.hist!;
    const name = this.nameOf(slot.id);
    if (ev.type === 'message') {
      const decoded = decodePayload(ev.payload);
      const id = decoded.ok ? messageId(decoded.key) : decoded.key ? messageId(decoded.key) : `?${this.eventsProcessed}`;
      hist.events.push({
        kind: 'deliver',
        atMs: this.now,
        ring: { rep: ev.ring.rep, seq: ev.ring.seq },
        seq: ev.seq,
        sender: ev.sender,
        stream: ev.stream,
        service: ev.service,
        messageId: id,
        ...(decoded.ok ? {} : { payloadProblem: decoded.problem }),
      });
      slot.deliveredCount++;
      // Unreliable messages may reach some members and not others: they do not count for settling.
      if (ev.service !== Service.UNRELIABLE) slot.deliveredInConfig++;
      slot.awaitingSelf.delete(id);
      this.note({ atMs: this.now, daemon: slot.id, kind: 'deliver', text: `${name} delivers ${id} (ring ${ev.ring.rep >>> 0}.${ev.ring.seq} seq ${ev.seq} service ${ev.service})`, messages: [id] });
      return;
    }
    const members = [...ev.members];
    const config: ConfigEvent =
      ev.type === 'regular'
        ? {
            kind: 'config',
            atMs: this.now,
            type: 'regular',
            ring: { rep: ev.ring.rep, seq: ev.ring.seq },
            members,
            previousRings: [...ev.previousRings].map(([daemon, ring]) => ({ daemon, ring: { rep: ring.rep, seq: ring.seq } })),
          }
        : {
            kind: 'config',
            atMs: this.now,
            type: 'transitional',
            ring: { rep: ev.ring.rep, seq: ev.ring.seq },
            previous: { rep: ev.previous.rep, seq: ev.previous.seq },
            members,
          };
    hist.events.push(config);
    slot.lastConfig = config;
    if (++this.configurationInstalls > this.options.configurationInstallsMax && this.aborted === undefined) {
      this.abort(`membership storm: more than ${this.options.configurationInstallsMax} configuration installs by ${this.now} ms`);
    }
    slot.deliveredInConfig = 0;
    this.note({
      atMs: this.now,
      daemon: slot.id,
      kind: 'config',
      text: `${name} installs ${ev.type} ${ev.ring.rep >>> 0}.${ev.ring.seq}${ev.type === 'transitional' ? ` (after ${ev.previous.rep >>> 0}.${ev.previous.seq})` : ''} {${members.map((m) => this.nameOf(m)).join(',')}}`,
    });
  }

  // ---- Network ------------------------------------------------------------------------------

  private lossRate(): number {
    if (this.healed) return 0;
    let rate = this.options.network.lossRate;
    for (const r of this.bursts.values()) rate = Math.max(rate, r);
    return rate;
  }

  private transmit(slot: Slot, engine: TotemEngine, to: DaemonId | 'ring' | 'configured', bytes: Uint8Array, epoch?: TransmitEpoch): void {
    let targets: number[];
    if (to === 'configured') {
      targets = this.slots.filter((s) => s.index !== slot.index).map((s) => s.index);
    } else if (to === 'ring') {
      const members = engine.status().members;
      targets = this.slots.filter((s) => s.index !== slot.index && members.some((m) => m >>> 0 === s.id >>> 0)).map((s) => s.index);
    } else {
      const target = this.slots.find((s) => s.id >>> 0 === to >>> 0);
      if (target === undefined || target.index === slot.index) {
        this.engineError(slot, `transmit to ${to >>> 0}, which is ${target ? 'itself' : 'not a configured daemon'}`);
      }
      targets = [target.index];
    }
    if (bytes.length > this.options.packetBytesMax) {
      this.engineError(slot, `transmit of ${bytes.length} bytes exceeds packetBytesMax ${this.options.packetBytesMax}`);
    }
    this.digest.addString(`s${this.now}:${slot.index}>${typeof to === 'number' ? to >>> 0 : to}`);
    this.digest.addBytes(bytes);
    // One sealed datagram per transmission, whatever the fan-out (as the daemon sends it).
    if (this.protection !== undefined) {
      const sealed = this.protection.seal(slot.index, bytes, epoch);
      // As the daemon does: a packet of a configuration whose keys are already erased is not sent.
      if (sealed === undefined) return;
      bytes = sealed;
      this.protection.probeOutsiders(slot.index, bytes, epoch);
    }
    const net = this.options.network;
    for (const t of targets) {
      this.packets.sent++;
      if (this.component[slot.index] !== this.component[t] || this.netRng.chance(this.lossRate())) {
        this.packets.dropped++;
        continue;
      }
      const copies = !this.healed && this.netRng.chance(net.duplicationRate) ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        const delay = net.delayMinMs + this.netRng.float() * (net.delayMaxMs - net.delayMinMs);
        // Whole microseconds keep times exact in logs and comparisons.
        const at = Math.round((this.now + delay) * 1000) / 1000;
        let copy = bytes.slice();
        if (!this.healed && this.netRng.chance(net.corruptionRate ?? 0) && copy.length > 0) {
          if (this.netRng.chance(0.5)) copy = copy.subarray(0, this.netRng.int(copy.length));
          else copy[this.netRng.int(copy.length)]! ^= 1 << this.netRng.int(8);
        }
        this.queue.push(at, { kind: 'packet', from: slot.index, to: t, bytes: copy });
      }
    }
    if (this.options.logPackets) {
      this.note({ atMs: this.now, daemon: slot.id, kind: 'packet', text: `${this.nameOf(slot.id)} sends ${bytes.length} bytes to ${typeof to === 'number' ? this.nameOf(to) : to}` });
    }
  }

  private deliverPacket(from: number, to: number, bytes: Uint8Array): void {
    const slot = this.slots[to]!;
    // A partition that started while the packet was in flight drops it too.
    if (slot.engine === undefined || this.component[from] !== this.component[to]) {
      this.packets.dropped++;
      this.digest.addString(`x${this.now}:${from}>${to}`);
      return;
    }
    this.packets.delivered++;
    this.digest.addString(`r${this.now}:${from}>${to}`);
    const fromId = this.slots[from]!.id;
    // As the daemon does: what the receiver's protection rejects never reaches the engine.
    const plain = this.protection === undefined ? bytes : this.protection.open(to, fromId, bytes);
    if (plain === undefined) return;
    this.attacker?.observe(this.now, from, to, slot.incarnation, bytes);
    this.call(slot, (e) => e.handlePacket(this.localNow(slot), fromId, plain));
  }

  // ---- Clients ------------------------------------------------------------------------------

  private scheduleGroupClient(slot: Slot): void {
    const layer = this.groupLayer!;
    const rate = layer.options.actionsPerSecond;
    if (rate <= 0) return;
    const at = Math.round((this.now + layer.random.float() * (2000 / rate)) * 1000) / 1000;
    if (at >= this.healAtMs) return;
    this.queue.push(at, { kind: 'groupClient', slot: slot.index, incarnation: slot.incarnation });
  }

  private groupClientTick(index: number, incarnation: number): void {
    const slot = this.slots[index]!;
    if (slot.engine === undefined || slot.incarnation !== incarnation || this.healed) return;
    this.groupLayer!.act(index, this.now);
    // The request goes to the engine now if it takes it (as a session's request does).
    this.call(slot, () => undefined);
    this.scheduleGroupClient(slot);
  }

  private scheduleClient(slot: Slot, retry = false): void {
    const rate = this.options.clients.messagesPerSecond;
    if (rate <= 0) return;
    const wait = retry ? this.clientRng.range(5, 30) : this.clientRng.float() * (2000 / rate);
    const at = Math.round((this.now + wait) * 1000) / 1000;
    if (at >= this.healAtMs) return;
    this.queue.push(at, { kind: 'client', slot: slot.index, incarnation: slot.incarnation });
  }

  /**
   * A request/response client (SimOptions.replies) was handed another daemon's message: maybe it
   * answers; the daemon then anticipates the answer (TotemEngine.anticipateReply).
   */
  private maybeReply(slot: Slot, engine: TotemEngine, ev: RingEvent): void {
    const r = this.options.replies;
    if (r === undefined || this.healed || ev.type !== 'message' || ev.sender === slot.id) return;
    // Answers are themselves delivered elsewhere: one at a time per daemon, spaced out, so that
    // answering does not multiply the traffic (the clients' own rate stays what drives the load).
    if (this.now < slot.replyQuietUntilMs || !this.replyRng.chance(r.chance)) return;
    slot.replyQuietUntilMs = this.now + REPLY_SPACING_MS_MIN + this.replyRng.float() * REPLY_SPACING_MS_MIN;
    engine.anticipateReply?.(this.localNow(slot));
    const at = Math.round((this.now + this.replyRng.float() * 2 * r.replyHoldMs) * 1000) / 1000;
    if (at < this.healAtMs) this.queue.push(at, { kind: 'reply', slot: slot.index, incarnation: slot.incarnation });
  }

  /** A client submission; `reply`: an answer (maybeReply), which schedules no next submission. */
  private clientTick(index: number, incarnation: number, reply = false): void {
    const slot = this.slots[index]!;
    if (slot.engine === undefined || slot.incarnation !== incarnation || this.healed) return;
    const c = this.options.clients;
    let msg = slot.blocked;
    if (msg === undefined) {
      const stream = this.clientRng.int(c.streams);
      const key: MessageKey = { daemon: slot.id, incarnation: slot.incarnation, stream, counter: slot.counters[stream]! };
      const service = this.clientRng.pick(c.services);
      const sizeRoll = this.clientRng.float();
      const body =
        sizeRoll < 0.05 ? this.clientRng.range(0, c.bodyBytesMax) : sizeRoll < 0.25 ? this.clientRng.range(0, Math.min(1500, c.bodyBytesMax)) : this.clientRng.range(0, Math.min(120, c.bodyBytesMax));
      msg = { key, service, payload: encodePayload(key, body) };
    }
    const id = messageId(msg.key);
    const accepted = { value: false };
    const m = msg;
    this.call(slot, (e) => {
      accepted.value = e.submit(this.localNow(slot), { service: m.service, stream: m.key.stream, payload: m.payload });
      if (accepted.value) {
        // Recorded before draining, so a delivery made during submit() follows its submission.
        slot.hist!.events.push({ kind: 'submit', atMs: this.now, messageId: id, stream: m.key.stream, service: m.service, deliveredBefore: slot.deliveredCount });
        slot.counters[m.key.stream]!++;
        if (m.service !== Service.UNRELIABLE) slot.awaitingSelf.add(id);
        this.note({ atMs: this.now, daemon: slot.id, kind: 'submit', text: `${this.nameOf(slot.id)} submits ${id} service ${m.service} (${m.payload.length} bytes)`, messages: [id] });
      }
    });
    if (reply) {
      // An answer the engine refused (back-pressure) is dropped, not retried.
      if (accepted.value) slot.blocked = undefined;
      return;
    }
    if (accepted.value) {
      slot.blocked = undefined;
      this.scheduleClient(slot);
    } else {
      slot.blocked = msg;
      this.scheduleClient(slot, true);
    }
  }

  // ---- Faults -------------------------------------------------------------------------------

  private applyFault(a: FaultAction): void {
    if (this.healed) return;
    const name = (i: number): string => this.nameOf(this.slots[i]!.id);
    let applied = true;
    let daemons: DaemonId[] = [];
    switch (a.kind) {
      case 'partition': {
        const next = new Array<number>(this.slots.length).fill(-1);
        a.components.forEach((c, ci) => c.forEach((d) => {
          if (d >= 0 && d < next.length) next[d] = ci;
        }));
        // Daemons a (shrunk) schedule leaves out stay together in one more component.
        this.component = next.map((c) => (c < 0 ? a.components.length : c));
        daemons = [];
        break;
      }
      case 'merge': {
        const from = this.component[a.b];
        const to = this.component[a.a];
        if (from === undefined || to === undefined || from === to) applied = false;
        else this.component = this.component.map((c) => (c === from ? to : c));
        break;
      }
      case 'heal':
        this.component = this.component.map(() => 0);
        break;
      case 'crash':
      case 'leave': {
        const slot = this.slots[a.daemon];
        if (slot?.engine === undefined) applied = false;
        else {
          daemons = [slot.id];
          this.note({ atMs: this.now, daemon: slot.id, kind: 'fault', text: describeFault(a, name) });
          this.faultRecords.push({ atMs: this.now, description: describeFault(a, name), daemons });
          this.stopDaemon(slot, a.kind);
          return;
        }
        break;
      }
      case 'restart': {
        const slot = this.slots[a.daemon];
        if (slot === undefined || slot.engine !== undefined) applied = false;
        else {
          daemons = [slot.id];
          this.note({ atMs: this.now, daemon: slot.id, kind: 'fault', text: describeFault(a, name) });
          this.faultRecords.push({ atMs: this.now, description: describeFault(a, name), daemons });
          this.startDaemon(slot);
          return;
        }
        break;
      }
      case 'lossBurst': {
        const burst = this.burstCounter++;
        this.bursts.set(burst, a.rate);
        this.queue.push(this.now + a.durationMs, { kind: 'lossBurstEnd', burst });
        break;
      }
    }
    if (!applied) return;
    this.note({ atMs: this.now, kind: 'fault', text: describeFault(a, name) });
    this.faultRecords.push({ atMs: this.now, description: describeFault(a, name), daemons });
  }

  /** End of the faulty phase: one network, no loss, every daemon running, clients stop. */
  private heal(): void {
    this.healed = true;
    this.component = this.component.map(() => 0);
    this.bursts.clear();
    this.note({ atMs: this.now, kind: 'phase', text: 'heal: network whole, loss stopped, every daemon restarted, clients stop' });
    this.faultRecords.push({ atMs: this.now, description: 'heal everything', daemons: [] });
    for (const slot of this.slots) {
      // Clients stop: a message the engine refused is given up (it was never accepted).
      slot.blocked = undefined;
      if (slot.engine === undefined) this.startDaemon(slot);
    }
    this.queue.push(this.now + 10, { kind: 'check' });
  }

  /**
   * Settled: every daemon operational in one regular configuration of all of them, nothing
   * pending, every reliable message its own sender submitted delivered back to it, and every
   * daemon has delivered as many messages in the final configuration as the others.
   */
  private checkSettled(): void {
    let ring: ConfigEvent | undefined;
    let delivered = -1;
    let settled = true;
    for (const slot of this.slots) {
      const e = slot.engine;
      const c = slot.lastConfig;
      if (e === undefined || c === undefined || c.type !== 'regular' || c.members.length !== this.slots.length) {
        settled = false;
        break;
      }
      const st = e.status();
      if (st.state !== 'operational' || st.pendingMessages !== 0 || slot.awaitingSelf.size > 0 || slot.blocked !== undefined || !(this.groupLayer?.settled(slot.index) ?? true)) {
        settled = false;
        break;
      }
      if (ring === undefined) {
        ring = c;
        delivered = slot.deliveredInConfig;
      } else if (!ringIdEquals(ring.ring, c.ring) || delivered !== slot.deliveredInConfig) {
        settled = false;
        break;
      }
    }
    if (settled) {
      this.quiescent = true;
      this.finished = true;
      this.note({ atMs: this.now, kind: 'phase', text: 'settled' });
      return;
    }
    this.queue.push(this.now + 10, { kind: 'check' });
  }
}

function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
