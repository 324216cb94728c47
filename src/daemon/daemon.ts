/**
 * Composition root of one Ringcast daemon: wires the sans-IO cores (Totem engine, group table,
 * client sessions) to their adapters (UDP transport, TCP/Unix listeners, timers, log).
 *
 * Data flow (shared/architecture.md): session → groups request → engine.submit → ring →
 * engine.pollEvent (EVS order) → groups.handleRingEvent → frames → session queues. The pump
 * below is the only place where the cores meet; it never blocks and drains every poll queue.
 */
import type { DaemonEntry, RingcastConfig } from '../config/index.js';
import { GroupTable, encodeGroupRequest, type GroupRequest } from '../groups/index.js';
import type { ServerAuthContext } from '../../crypto/session/index.js';
import { ClientListener, type AccessControl, type SessionHandle, type SessionRequest } from '../session/listener.js';
import type { RingEvent, TotemEngine, TotemStatus, Transmit } from '../ring/types.js';
import { ringIdKey } from '../util/ids.js';
import { Service, type ServiceLevel } from '../util/service.js';
import type { Logger } from './log.js';

export interface DaemonOptions {
  config: RingcastConfig;
  self: DaemonEntry;
  logger: Logger;
  /** Strictly increasing across restarts of this daemon (its start time in ms). */
  incarnation: number;
  /** Client TCP port (defaults to the daemon's configured port). */
  clientPort?: number;
  /** Client listener addresses (default: the daemon's own address). */
  clientHosts?: string[];
  unixSocketPath: string | undefined;
  ipAllowed: (peer: { kind: 'tcp'; address: string } | { kind: 'unix' }) => boolean;
  /** Builds the ordering engine (single-daemon orderer or Totem over UDP). */
  engine: TotemEngine;
  /**
   * Hands engine transmissions to the network (absent for a single-daemon configuration): all
   * that one engine step produced, in order, so that the adapter can share datagrams among them.
   */
  transmit?: (txs: readonly Transmit[]) => void;
  /** Monotonic clock in ms. */
  now?: () => number;
  /** RC-PASSWORD / RC-PUBKEY credentials (hardening.ts); required when either method is enabled. */
  keyedAuth?: ServerAuthContext;
  /** Group access control (AccessControlFile); absent: every join and send is allowed. */
  accessControl?: AccessControl;
}

export interface DaemonStatus {
  name: string;
  id: number;
  uptimeMs: number;
  ring: TotemStatus;
  sessions: number;
  groups: number;
  groupMembers: number;
  submitBacklog: number;
  ringSubmissions: number;
  deliveries: number;
}

/** Requests waiting because the engine's pending queue is full; reading from clients is paused meanwhile. */
const SUBMIT_BACKLOG_MAX = 4096;

export class RingcastDaemon {
  readonly listener: ClientListener;
  readonly groups: GroupTable;
  private readonly engine: TotemEngine;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly startedAt: number;
  private readonly streams = new Map<string, number>();
  private readonly daemonNames: ReadonlyMap<number, string>;
  private nextStream = 1;
  private readonly backlog: { service: ServiceLevel; stream: number; payload: Uint8Array }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerDeadline: number | undefined;
  private pumping = false;
  private stopped = false;
  private ringSubmissions = 0;
  private deliveries = 0;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.logger;
    this.now = opts.now ?? (() => performance.now());
    this.startedAt = this.now();
    this.engine = opts.engine;
    const cfg = opts.config;
    this.daemonNames = new Map(cfg.daemons.map((d) => [d.id, d.name]));
    this.groups = new GroupTable({
      self: opts.self.id,
      selfName: opts.self.name,
      daemons: cfg.daemons.map((d) => ({ id: d.id, name: d.name })),
      groupsMax: 100_000,
      localMembersPerGroupMax: 3122,
    });
    const clientPort = opts.clientPort ?? opts.self.port;
    const hosts = opts.clientHosts ?? [opts.self.address];
    this.listener = new ClientListener(
      {
        daemonName: opts.self.name,
        tcp: hosts.map((host) => ({ host, port: clientPort })),
        unixPath: opts.unixSocketPath,
        allowedAuthMethods: cfg.allowedAuthMethods,
        requiredAuthMethods: cfg.requiredAuthMethods,
        tcpAuth: cfg.tcpAuth,
        unixAuth: cfg.unixAuth,
        nullAuthFromNetwork: cfg.nullAuthFromNetwork,
        keyedAuth: opts.keyedAuth,
        accessControl: opts.accessControl,
        ipAllowed: opts.ipAllowed,
        sessionQueueMessagesMax: cfg.maxSessionMessages,
        sessionsMax: 997,
        handshakeTimeoutMs: cfg.authHandshakeTimeoutMs,
        socketPortReuse: cfg.socketPortReuse,
        log: (level, msg) => this.log.log(level, msg, 'SESSION'),
      },
      { onRequest: (s, r) => this.onSessionRequest(s, r) },
    );
  }

  /** Binds the client listeners, runs `beforeRing` (the privilege drop), then joins the ring. */
  async start(opts: { beforeRing?: () => void } = {}): Promise<void> {
    await this.listener.listen();
    opts.beforeRing?.();
    this.engine.start(this.now());
    this.pump();
    this.log.log('info', `daemon ${this.opts.self.name} (${this.opts.self.address}:${this.opts.self.port}) serving clients`);
  }

  /** Clean shutdown: announce departure to the ring, then close every client. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.engine.leave(this.now());
    this.pump();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.listener.close();
  }

  /** Input from the network adapter. */
  handlePacket(from: number, bytes: Uint8Array): void {
    if (this.stopped) return;
    this.engine.handlePacket(this.now(), from, bytes);
    this.pump();
  }

  /** Runs the engine's outputs after a direct call into it (a reconfiguration on reload). */
  kick(): void {
    if (this.stopped) return;
    this.pump();
  }

  status(): DaemonStatus {
    const g = this.groups.stats();
    return {
      name: this.opts.self.name,
      id: this.opts.self.id,
      uptimeMs: Math.round(this.now() - this.startedAt),
      ring: this.engine.status(),
      sessions: this.listener.stats().sessions,
      groups: g.groups,
      groupMembers: g.members,
      submitBacklog: this.backlog.length,
      ringSubmissions: this.ringSubmissions,
      deliveries: this.deliveries,
    };
  }

  private streamOf(privateGroup: string): number {
    let s = this.streams.get(privateGroup);
    if (s === undefined) {
      s = this.nextStream++;
      this.streams.set(privateGroup, s);
    }
    return s;
  }

  private onSessionRequest(s: SessionHandle, r: SessionRequest): void {
    if (this.stopped) return;
    let req: GroupRequest;
    let service: ServiceLevel = Service.AGREED;
    switch (r.kind) {
      case 'join':
        req = { kind: 'join', member: s.privateGroup, group: r.group };
        break;
      case 'leave':
        req = { kind: 'leave', member: s.privateGroup, group: r.group };
        break;
      case 'kill':
        req = { kind: 'kill', member: s.privateGroup };
        break;
      case 'data':
        req = { kind: 'data', frame: r.frame };
        service = r.service;
        break;
    }
    this.submit(service, this.streamOf(s.privateGroup), encodeGroupRequest(req));
    if (r.kind === 'kill') this.streams.delete(s.privateGroup);
    // A request comes from inside a session's read loop, which may hold many more: what they
    // deliver (a single daemon delivers at once) shares that read's end-of-tick flush.
    this.pump(false);
  }

  /** Submit in order: once anything waits in the backlog, later requests queue behind it. */
  private submit(service: ServiceLevel, stream: number, payload: Uint8Array): void {
    if (this.backlog.length === 0 && this.engine.submit(this.now(), { service, stream, payload })) {
      this.ringSubmissions++;
      return;
    }
    this.backlog.push({ service, stream, payload });
    if (this.backlog.length >= SUBMIT_BACKLOG_MAX) this.listener.setReadingPaused(true);
  }

  private flushBacklog(): void {
    let i = 0;
    while (i < this.backlog.length) {
      const m = this.backlog[i]!;
      if (!this.engine.submit(this.now(), m)) break;
      this.ringSubmissions++;
      i++;
    }
    if (i > 0) this.backlog.splice(0, i);
    if (this.backlog.length < SUBMIT_BACKLOG_MAX / 2) this.listener.setReadingPaused(false);
  }

  /**
   * Drain every output of every core until all are quiet, then arm the engine's timer.
   * `flushClients`: write delivered frames to the clients before sending this round's packets.
   */
  private pump(flushClients = true): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let progressed = true; progressed; ) {
        progressed = false;
        if (this.backlog.length > 0) this.flushBacklog();
        for (let ev = this.engine.pollEvent(); ev; ev = this.engine.pollEvent()) {
          progressed = true;
          if (ev.type !== 'message') this.logConfiguration(ev);
          this.groups.handleRingEvent(ev);
          // A client here was handed another daemon's message: it may answer (anticipateReply).
          if (this.drainGroups() && ev.type === 'message' && ev.sender !== this.opts.self.id) this.engine.anticipateReply?.(this.now());
        }
        // Delivered frames leave before this round's packets: a client waiting for them is on the
        // critical path of a request/response exchange, the token pass a few µs later is not.
        if (flushClients) this.listener.flush();
        for (let sub = this.groups.pollSubmit(); sub; sub = this.groups.pollSubmit()) {
          progressed = true;
          this.submit(sub.service, sub.stream, sub.payload);
        }
        const txs: Transmit[] = [];
        for (let tx = this.engine.pollTransmit(); tx; tx = this.engine.pollTransmit()) txs.push(tx);
        if (txs.length > 0) {
          progressed = true;
          this.opts.transmit?.(txs);
        }
      }
    } finally {
      this.pumping = false;
    }
    this.armTimer();
  }

  private logConfiguration(ev: Exclude<RingEvent, { type: 'message' }>): void {
    const names = ev.members.map((id) => this.daemonNames.get(id) ?? String(id)).join(' ');
    this.log.log('info', `${ev.type} configuration ${ringIdKey(ev.ring)}: { ${names} }`, 'MEMBERSHIP');
  }

  /** Hands the group layer's output to the sessions; true if a data message reached a local client. */
  private drainGroups(): boolean {
    let dataDelivered = false;
    for (let out = this.groups.pollOutput(); out; out = this.groups.pollOutput()) {
      if (out.kind === 'deliver') {
        for (const to of out.to) this.listener.deliver(to, out.frame, out.membership);
        if (!out.membership && out.to.length > 0) dataDelivered = true;
        this.deliveries++;
      } else {
        this.listener.release(out.member);
      }
    }
    return dataDelivered;
  }

  /**
   * One timer for the engine's next deadline. Token visits push the token deadlines a little
   * later on every hop; re-arming for each would cost a clearTimeout and a setTimeout per packet.
   * A timer already due no later than the new deadline is kept instead: when it fires early, the
   * engine finds nothing due (handleTimeout acts only on deadlines that have passed) and the pump
   * arms the timer again for the deadline of that moment. Only an earlier deadline re-arms at once.
   */
  private armTimer(): void {
    if (this.stopped) return;
    const deadline = this.engine.pollTimeout();
    if (deadline === undefined) return;
    if (this.timer !== undefined && this.timerDeadline !== undefined && this.timerDeadline <= deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDeadline = deadline;
    const delay = Math.max(0, deadline - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDeadline = undefined;
      if (this.stopped) return;
      this.engine.handleTimeout(this.now());
      this.pump();
    }, delay);
  }
}
