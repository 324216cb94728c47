/**
 * Small engines for testing the simulator itself (not Totem): they exercise every driver path
 * (timers, transmits to each target kind, deliveries, back-pressure, randomness).
 */
import type { RingEvent, SubmittedMessage, TotemEngine, TotemOptions, TotemStatus, Transmit } from '../../src/ring/types.js';
import type { DaemonId, RingId } from '../../src/util/ids.js';

/**
 * Every daemon alone in its own singleton ring for ever: it delivers its own messages after a
 * random delay and chatters to the others, whose packets it counts. EVS-correct except liveness.
 */
export class SoloEngine implements TotemEngine {
  private readonly opts: TotemOptions;
  private readonly ring: RingId;
  private readonly out: Transmit[] = [];
  private readonly events: RingEvent[] = [];
  private readonly pending: { msg: SubmittedMessage; at: number }[] = [];
  private nextChatter = 0;
  private seq = 0;
  private received = 0;

  constructor(opts: TotemOptions) {
    this.opts = opts;
    this.ring = { rep: opts.self, seq: opts.incarnation };
  }

  start(now: number): void {
    this.events.push({ type: 'regular', ring: this.ring, members: [this.opts.self], previousRings: new Map(), formFields: new Map() });
    this.nextChatter = now + 5;
  }

  submit(now: number, msg: SubmittedMessage): boolean {
    if (this.pending.length >= this.opts.pendingMessagesMax) return false;
    // A random delay, but never before an earlier submission: delivery stays in submission order.
    const last = this.pending[this.pending.length - 1]?.at ?? 0;
    this.pending.push({ msg, at: Math.max(last, now + 1 + Math.floor(this.opts.random() * 20)) });
    return true;
  }

  handlePacket(_now: number, _from: DaemonId, bytes: Uint8Array): void {
    this.received += bytes.length;
  }

  handleTimeout(now: number): void {
    while (this.pending.length > 0 && this.pending[0]!.at <= now) {
      const { msg } = this.pending.shift()!;
      this.events.push({ type: 'message', ring: this.ring, seq: ++this.seq, sender: this.opts.self, stream: msg.stream, service: msg.service, payload: msg.payload });
    }
    if (now >= this.nextChatter) {
      const bytes = new Uint8Array(8 + Math.floor(this.opts.random() * 32));
      bytes.fill(this.received & 0xff);
      const targets: Transmit['to'][] = ['configured', 'ring', this.opts.configured.find((d) => d !== this.opts.self) ?? 'configured'];
      this.out.push({ to: targets[Math.floor(this.opts.random() * targets.length)]!, bytes });
      this.nextChatter = now + 5 + Math.floor(this.opts.random() * 10);
    }
  }

  leave(_now: number): void {
    this.out.push({ to: 'configured', bytes: new Uint8Array([0xff]) });
  }

  pollTransmit(): Transmit | undefined {
    return this.out.shift();
  }

  pollTimeout(): number | undefined {
    const due = this.pending[0]?.at;
    return due === undefined ? this.nextChatter : Math.min(due, this.nextChatter);
  }

  pollEvent(): RingEvent | undefined {
    return this.events.shift();
  }

  status(): TotemStatus {
    return {
      state: 'operational',
      ring: this.ring,
      members: [this.opts.self],
      aru: this.seq,
      highestSeq: this.seq,
      tokenRounds: 0,
      retransmissions: 0,
      membershipChanges: 0,
      pendingMessages: this.pending.length,
    };
  }
}

/** A SoloEngine that delivers every seventh message twice: a bug the simulator must surface. */
export class DuplicatingEngine extends SoloEngine {
  private count = 0;
  private readonly held: RingEvent[] = [];
  override pollEvent(): RingEvent | undefined {
    const again = this.held.shift();
    if (again !== undefined) return again;
    const ev = super.pollEvent();
    if (ev?.type === 'message' && ++this.count % 7 === 0) this.held.push(ev);
    return ev;
  }
}

/** Sends a numbered probe to every configured daemon every 5 ms and records what it receives. */
export class ProbeEngine extends SoloEngine {
  readonly probes: { from: DaemonId; atMs: number }[] = [];
  /** Packets that arrived damaged: not three bytes, or not starting with the probe marker. */
  damaged = 0;
  private readonly self: DaemonId;
  private next = 0;
  private counter = 0;
  private readonly outbox: Transmit[] = [];
  constructor(opts: TotemOptions) {
    super(opts);
    this.self = opts.self;
  }
  override start(now: number): void {
    super.start(now);
    this.next = now;
  }
  override handlePacket(now: number, from: DaemonId, bytes: Uint8Array): void {
    if (bytes.length === 3 && bytes[0] === 0x70) this.probes.push({ from, atMs: now });
    else this.damaged++;
  }
  override handleTimeout(now: number): void {
    if (now >= this.next) {
      this.outbox.push({ to: 'configured', bytes: new Uint8Array([0x70, this.counter++ & 0xff, this.self & 0xff]) });
      this.next = now + 5;
    }
  }
  override pollTransmit(): Transmit | undefined {
    return this.outbox.shift();
  }
  override pollTimeout(): number | undefined {
    return this.next;
  }
}
