/**
 * The ordering engine of a configuration with exactly one daemon. With no peer there is nothing
 * to agree on: the one-member regular configuration is installed at start and every submitted
 * message is delivered at once in submission order, which satisfies every service level
 * (SAFE included: the only member has it). It presents the same TotemEngine contract as the
 * Totem engine, so the group and session layers are identical in both cases.
 */
import type { DaemonId, RingId } from '../util/ids.js';
import type { RingEvent, SubmittedMessage, TotemEngine, TotemStatus, Transmit } from '../ring/types.js';

export class LocalOrderer implements TotemEngine {
  private readonly ring: RingId;
  private readonly events: RingEvent[] = [];
  private head = 0;
  private seq = 0;
  private started = false;

  constructor(
    private readonly self: DaemonId,
    incarnation: number,
    private readonly pendingMessagesMax: number,
  ) {
    this.ring = { rep: self, seq: Math.floor(incarnation / 1000) >>> 0 };
  }

  start(_now: number): void {
    if (this.started) return;
    this.started = true;
    this.push({
      type: 'regular',
      ring: this.ring,
      members: [this.self],
      previousRings: new Map([[this.self, this.ring]]),
      formFields: new Map(),
    });
  }

  submit(_now: number, msg: SubmittedMessage): boolean {
    if (this.events.length - this.head >= this.pendingMessagesMax) return false;
    this.seq++;
    this.push({ type: 'message', ring: this.ring, seq: this.seq, sender: this.self, stream: msg.stream, service: msg.service, payload: msg.payload });
    return true;
  }

  private push(ev: RingEvent): void {
    this.events.push(ev);
  }

  handlePacket(_now: number, _from: DaemonId, _bytes: Uint8Array): void {
    // No peers are configured; the transport never hands packets to a single-daemon engine.
  }

  handleTimeout(_now: number): void {}

  leave(_now: number): void {}

  pollTransmit(): Transmit | undefined {
    return undefined;
  }

  pollTimeout(): number | undefined {
    return undefined;
  }

  pollEvent(): RingEvent | undefined {
    if (this.head >= this.events.length) return undefined;
    const ev = this.events[this.head++];
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events.splice(0, this.head);
      this.head = 0;
    }
    return ev;
  }

  status(): TotemStatus {
    return {
      state: 'operational',
      ring: this.ring,
      members: [this.self],
      aru: this.seq,
      highestSeq: this.seq,
      tokenRounds: 0,
      retransmissions: 0,
      membershipChanges: 1,
      pendingMessages: this.events.length - this.head,
    };
  }
}
