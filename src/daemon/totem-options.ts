/** Maps a daemon's configuration to the Totem engine's options (Spread timeouts and windows). */
import type { DaemonEntry, RingcastConfig } from '../config/index.js';
import type { TotemOptions } from '../ring/types.js';
import { ENVELOPE_BYTES } from './udp-transport.js';

/** `protectionBytes`: what the crypto layer adds to each packet. */
export function totemOptionsFor(cfg: RingcastConfig, self: DaemonEntry, incarnation: number, protectionBytes = 0): TotemOptions {
  const t = cfg.timeouts;
  return {
    self: self.id,
    incarnation,
    configured: cfg.daemons.map((d) => d.id),
    timeouts: {
      tokenLossMs: t.tokenMs,
      tokenRetransmitMs: t.hurryMs < t.repMs ? t.hurryMs / 5 : t.repMs / 5,
      joinMs: t.joinMs,
      consensusMs: t.gatherMs,
      formMs: t.formMs,
      mergeDetectMs: t.aliveMs * 4,
    },
    windowPacketsMax: cfg.window,
    personalWindowPacketsMax: cfg.personalWindow,
    acceleratedWindowPacketsMax: cfg.acceleratedRing ? cfg.acceleratedWindow : 0,
    packetBytesMax: cfg.packetBytesMax - ENVELOPE_BYTES - protectionBytes,
    pendingMessagesMax: 10_000,
    random: Math.random,
  };
}
